// What runs on the machine, read from /proc: to check that sandboxes and servers are really gone.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export function pidNamespaceOf(pid: number | 'self'): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

/**
 * Pids of the live processes in a pid namespace (`pid:[inode]`). Zombies are left out: they run
 * nothing, and an init whose worker was killed is reparented to the machine's PID 1, which may
 * be slow to reap it.
 */
export function processesIn(pidNamespace: string): number[] {
  return allPids().filter((pid) => pidNamespaceOf(pid) === pidNamespace && isAlive(pid));
}

/**
 * Which of `pids` (taken while the sandbox ran) still run in `pidNamespace`. Checking these pids,
 * not the namespace alone, matters: a namespace's inode number is reused as soon as it is freed, by
 * any new namespace on the machine.
 */
export function stillRunning(pids: number[], pidNamespace: string): number[] {
  return pids.filter((pid) => isAlive(pid) && pidNamespaceOf(pid) === pidNamespace);
}

/**
 * Every live process in a pid namespace other than ours and in our cgroups or below them: sandboxes
 * or their leftovers, wherever they were reparented after a killed worker (the workers a test starts
 * make their cgroups below its own, and a sandbox's processes stay in them). Programs in other
 * cgroups — where a machine gives each job one — are theirs and never counted.
 */
export function sandboxProcesses(): Array<{ pid: number; namespace: string; command: string }> {
  const ours = pidNamespaceOf('self');
  const ownCgroups = cgroupsOf('self');
  const found: Array<{ pid: number; namespace: string; command: string }> = [];
  for (const pid of allPids()) {
    const namespace = pidNamespaceOf(pid);
    if (!namespace || namespace === ours || !isAlive(pid)) continue;
    const theirs = cgroupsOf(pid);
    if (theirs && ![...ownCgroups ?? []].every(([hierarchy, path]) => isBelow(theirs.get(hierarchy), path))) continue;
    found.push({ pid, namespace, command: commandOf(pid) });
  }
  return found;
}

/** /proc/PID/cgroup as hierarchy id and controllers → path; null once the process is gone. */
function cgroupsOf(pid: number | 'self'): Map<string, string> | null {
  try {
    const map = new Map<string, string>();
    for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')) {
      const at = line.lastIndexOf(':/');
      if (at > 0) map.set(line.slice(0, at), line.slice(at + 1));
    }
    return map;
  } catch {
    return null;
  }
}

function isBelow(path: string | undefined, ancestor: string): boolean {
  if (path === undefined) return true;
  return ancestor === '/' || path === ancestor || path.startsWith(`${ancestor}/`);
}

export function isAlive(pid: number): boolean {
  try {
    // A zombie is dead for our purposes: it runs nothing and holds nothing but its entry.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** Polls `check` until it returns a value that is not null/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | null | false | Promise<T | null | false>, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

function allPids(): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
}

/** A process as a pid and its start time (proc(5), stat field 22): a pid alone may be reused by then. */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

/** The identities of those of `pids` that still exist. */
export function identify(pids: number[]): ProcessIdentity[] {
  return pids.flatMap((pid) => {
    const startTime = startTimeOf(pid);
    return startTime === null ? [] : [{ pid, startTime }];
  });
}

/** Which of `identities` still run, anywhere on the machine (zombies have ended). */
export function stillAlive(identities: ProcessIdentity[]): ProcessIdentity[] {
  return identities.filter((p) => isAlive(p.pid) && startTimeOf(p.pid) === p.startTime);
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // After the command, which may hold spaces and parentheses: state is field 3, start time 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
