import { closeSync, openSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';

// What the host's /proc says about processes. Every reader tolerates a process that ends while it
// looks: /proc/PID disappears between readdir and open.

export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, T, Z, … (proc(5)). */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Foreground process group of the process's terminal, -1 without one. */
  tpgid: number;
}

export function readStat(pid: number | 'self'): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command sits in parentheses and may itself hold spaces and parentheses.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return {
    pid: Number(text.slice(0, open - 1)),
    comm: text.slice(open + 1, close),
    state: fields[0]!,
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    session: Number(fields[3]),
    tpgid: Number(fields[5]),
  };
}

export function allPids(): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
}

/** `pid:[inode]` of the process's PID namespace, or null when it is gone. */
export function pidNamespaceOf(pid: number | 'self'): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

/** A PID namespace kept from being freed; see holdPidNamespace. */
export interface HeldNamespace {
  /** `pid:[inode]`, or null when the process had already gone (or was another one by then). */
  readonly namespace: string | null;
  /** Lets the namespace go; safe to call twice. */
  release(): void;
}

/**
 * Holds the PID namespace of `pid` open. A namespace is named by an inode, and the kernel hands a
 * freed one to the next namespace anyone creates: a test that looks for leftovers of a sandbox
 * after it ended would otherwise find the processes of some other sandbox made meanwhile. Held,
 * the inode stays this namespace's, and only its own processes can show it. Pass `expected` when
 * the pid was learnt from elsewhere, in case the process ended and its pid went to another.
 */
export function holdPidNamespace(pid: number, expected?: string): HeldNamespace {
  let fd: number | null = null;
  let namespace: string | null = null;
  try {
    fd = openSync(`/proc/${pid}/ns/pid`, 'r');
    namespace = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    // The process has gone.
  }
  if (fd !== null && expected !== undefined && namespace !== expected) {
    closeSync(fd);
    fd = null;
    namespace = null;
  }
  return {
    namespace,
    release() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/** Every process in a PID namespace, zombies included, as the host sees them. */
export function processesInPidNamespace(namespace: string): ProcStat[] {
  const found: ProcStat[] = [];
  for (const pid of allPids()) {
    if (pidNamespaceOf(pid) !== namespace) continue;
    const stat = readStat(pid);
    if (stat) found.push(stat);
  }
  return found;
}

/**
 * The processes of a PID namespace that still run. A zombie has ended; it only waits for its
 * parent — after a worker is killed, that is the host's init, which may take its time.
 */
export function livingProcessesInPidNamespace(namespace: string): ProcStat[] {
  return processesInPidNamespace(namespace).filter((p) => p.state !== 'Z' && p.state !== 'X');
}

export function childrenOf(pid: number): ProcStat[] {
  const found: ProcStat[] = [];
  for (const other of allPids()) {
    const stat = readStat(other);
    if (stat?.ppid === pid) found.push(stat);
  }
  return found;
}

/** Running, sleeping or stopped; not gone and not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

/** `pid` and everything below it, by parent links (orphans adopted by a subreaper included). */
export function processTree(pid: number): number[] {
  const stats = allPids().map(readStat).filter((s): s is ProcStat => s !== null);
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const s of stats) if (s.ppid === tree[i] && !tree.includes(s.pid)) tree.push(s.pid);
  }
  return tree;
}

/** SIGKILLs a process and all it started, for cleanup after a test; ESRCH is fine. */
export function killProcessTree(pid: number): void {
  for (const member of processTree(pid).reverse()) {
    try {
      process.kill(member, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Whether anything listens on a TCP port in the network namespace of `pid` (IPv4 or IPv6). */
export function isTcpPortListening(pid: number, port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (local?.endsWith(`:${hexPort}`) && state === '0A') return true; // 0A: TCP_LISTEN
    }
  }
  return false;
}
