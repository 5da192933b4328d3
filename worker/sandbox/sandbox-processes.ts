// The processes of a running sandbox, read by its worker from the host's /proc: every process whose
// PID namespace is the sandbox's, with its pid and parent as seen inside (the last field of NSpid),
// its state, command line, resident memory and CPU time (proc(5)).
//
// Everything here was written by the function, which may be hostile: a command line is any bytes
// of any length (up to the kernel's ARG_MAX), and the name in /proc/PID/stat may hold spaces and
// parentheses. So: at most `maxCommandBytes` of a command line are read, bytes that are not UTF-8
// become U+FFFD, control and bidirectional-override characters too (the CLI prints these to a
// terminal, a dashboard to a page), and at most `maxProcesses` processes are read, however many a
// fork loop makes. Reads are synchronous and bounded, so one request costs the worker little.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { PROCESS_LIST_LIMITS, type ProcessList, type SandboxProcess } from '../../contracts/process-list.js';
import { clockTicksPerSecond } from '../../native/libc.js';

export interface ProcessListOptions {
  /** `pid:[inode]` of the sandbox's PID namespace, as /proc/PID/ns/pid names it. */
  pidNamespace: string;
  /** Most processes listed: the first by host pid (the oldest, but for pid wrap-around). Default: PROCESS_LIST_LIMITS.maxProcesses (256). */
  maxProcesses?: number;
  /** Most bytes of one command line read; a longer one ends in `…`. Default: PROCESS_LIST_LIMITS.maxCommandBytes (1024). */
  maxCommandBytes?: number;
  /** The host's proc filesystem. Default: `/proc`. */
  procDir?: string;
}

/** A process read from /proc, before its parent's pid is translated into the namespace. */
interface HostProcess {
  hostPid: number;
  pid: number;
  hostPpid: number;
  state: string;
  command: string;
  rssBytes: number;
  cpuMs: number;
}

let ticksPerSecond = 0;

export function listSandboxProcesses(options: ProcessListOptions): ProcessList {
  const procDir = options.procDir ?? '/proc';
  const max = options.maxProcesses ?? PROCESS_LIST_LIMITS.maxProcesses;
  const maxCommandBytes = options.maxCommandBytes ?? PROCESS_LIST_LIMITS.maxCommandBytes;
  ticksPerSecond ||= clockTicksPerSecond();
  const members = namespaceMembers(procDir, options.pidNamespace);
  const read: HostProcess[] = [];
  for (const hostPid of members.slice(0, max)) {
    const found = readProcess(procDir, hostPid, maxCommandBytes);
    if (found) read.push(found); // else it ended while we looked
  }
  const inside = new Map(read.map((p) => [p.hostPid, p.pid]));
  const inNamespace = new Set(members);
  const processes: SandboxProcess[] = read.map((p) => ({
    pid: p.pid,
    ppid: parentInside(procDir, p.hostPpid, inside, inNamespace),
    state: p.state,
    command: p.command,
    rssBytes: p.rssBytes,
    cpuMs: p.cpuMs,
  }));
  processes.sort((a, b) => a.pid - b.pid);
  return { processes, truncated: members.length > max };
}

/** Host pids of the namespace's processes (thread-group leaders: /proc lists no thread at its top), ascending. */
function namespaceMembers(procDir: string, pidNamespace: string): number[] {
  const members: number[] = [];
  for (const name of readdirSync(procDir)) {
    if (name.charCodeAt(0) > 57) continue; // not a pid
    try {
      if (readlinkSync(`${procDir}/${name}/ns/pid`) === pidNamespace) members.push(Number(name));
    } catch {
      // Ended meanwhile, or a kernel thread.
    }
  }
  return members.sort((a, b) => a - b);
}

function readProcess(procDir: string, hostPid: number, maxCommandBytes: number): HostProcess | null {
  try {
    const status = parseStatus(readFileSync(`${procDir}/${hostPid}/status`, 'latin1'));
    const stat = parseStat(readFileSync(`${procDir}/${hostPid}/stat`, 'latin1'));
    if (!status || !stat) return null;
    const raw = readBounded(`${procDir}/${hostPid}/cmdline`, maxCommandBytes);
    return {
      hostPid,
      pid: status.pid,
      hostPpid: status.hostPpid,
      state: stat.state,
      command: renderCommand(raw.bytes, raw.truncated, stat.name),
      rssBytes: status.rssBytes,
      cpuMs: Math.round(((stat.utimeTicks + stat.stimeTicks) * 1000) / ticksPerSecond),
    };
  } catch {
    return null;
  }
}

/** The parent's pid inside the namespace; 0 when the parent is outside it (the init's, bubblewrap). */
function parentInside(procDir: string, hostPpid: number, inside: Map<number, number>, inNamespace: Set<number>): number {
  const known = inside.get(hostPpid);
  if (known !== undefined) return known;
  if (!inNamespace.has(hostPpid)) return 0;
  // A parent past the bound of the list: its own pid inside, read alone.
  try {
    return parseStatus(readFileSync(`${procDir}/${hostPpid}/status`, 'latin1'))?.pid ?? 0;
  } catch {
    return 0;
  }
}

/** From /proc/PID/status: pid in the innermost namespace (NSpid's last field), host ppid, VmRSS. */
export function parseStatus(text: string): { pid: number; hostPpid: number; rssBytes: number } | null {
  let pid: number | null = null;
  let hostPpid = 0;
  let rssBytes = 0;
  // Only the lines the kernel writes after Name (the one the process chose) are read by their key;
  // Name is a single line: the kernel escapes a newline in it as "\n".
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (key === 'NSpid') pid = Number(value.split(/\s+/).pop());
    else if (key === 'PPid') hostPpid = Number(value);
    else if (key === 'VmRSS') rssBytes = Number(value.split(/\s+/)[0]) * 1024;
  }
  if (pid === null || !Number.isSafeInteger(pid) || pid < 1) return null;
  return { pid, hostPpid: Number.isSafeInteger(hostPpid) ? hostPpid : 0, rssBytes: Number.isSafeInteger(rssBytes) ? rssBytes : 0 };
}

/** From /proc/PID/stat: the name, state and CPU times. The name may hold ") (": the fields follow the last `)`. */
export function parseStat(text: string): { name: string; state: string; utimeTicks: number; stimeTicks: number } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  // Fields 3 on: state (3), ppid (4), … utime (14), stime (15).
  const fields = text.slice(close + 2).split(' ');
  const utimeTicks = Number(fields[11]);
  const stimeTicks = Number(fields[12]);
  if (!Number.isFinite(utimeTicks) || !Number.isFinite(stimeTicks)) return null;
  return { name: text.slice(open + 1, close), state: (fields[0] ?? '?').slice(0, 1), utimeTicks, stimeTicks };
}

/** At most `maxBytes` of a file (a command line may be megabytes), and whether there was more. */
function readBounded(path: string, maxBytes: number): { bytes: Buffer; truncated: boolean } {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    return { bytes: buffer.subarray(0, Math.min(length, maxBytes)), truncated: length > maxBytes };
  } finally {
    closeSync(fd);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
/** C0 and C1 controls (ESC starts terminal sequences), and the characters that reorder text on display. */
const UNSAFE = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * A command line as text: its arguments (NUL-separated) joined by spaces, decoded as UTF-8 with
 * U+FFFD for what is not, unsafe characters replaced, `…` when it was cut. A process without one
 * (a zombie, or one that cleared it) is shown as ps shows it: its name in brackets.
 */
export function renderCommand(raw: Buffer, truncated: boolean, name: string): string {
  let end = raw.length;
  while (end > 0 && raw[end - 1] === 0) end--;
  if (end === 0) return `[${Buffer.from(name, 'latin1').toString('utf8').replace(UNSAFE, '\uFFFD')}]`;
  const args: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= end; i++) {
    if (i === end || raw[i] === 0) {
      args.push(raw.subarray(start, i));
      start = i + 1;
    }
  }
  const text = args.map((arg) => utf8.decode(arg)).join(' ').replace(UNSAFE, '\uFFFD');
  return truncated ? `${text}…` : text;
}
