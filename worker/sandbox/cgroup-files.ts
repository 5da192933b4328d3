import { mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PidboxError } from '../../contracts/pidbox-error.js';

// The file operations that cgroup v1 and v2 share: reading and writing control files, moving a
// process, ending the tasks of a cgroup and removing it. Everything here is a cheap file operation
// except `migrate`, which is async because the kernel makes a write to cgroup.procs wait for an RCU
// grace period (1–2 ms measured on this machine, and migrations serialise).

/** Removes one cgroup directory (rmdir(2) by default: cgroupfs allows it while only control files remain). */
export type RemoveDirectory = (path: string) => void;

/** How long `remove` waits for the last tasks of a cgroup to leave (EBUSY) before it gives up. */
const REMOVE_WAIT_MS = 2_000;
/**
 * Rounds of reading cgroup.procs and killing what is new. A round finds something new only when a
 * fork raced the previous one, so few are ever needed; the bound keeps a broken case from spinning.
 */
const KILL_ROUNDS = 100;

/** What to do when the worker's cgroup is not its own to manage; ends the messages of setup failures. */
export const DELEGATE_ADVICE =
  'run the worker in a cgroup delegated to it (systemd-run --scope -p Delegate=yes …, or a unit with Delegate=yes), ' +
  'or in Docker with a writable cgroupfs of its own (--cgroupns=private and /sys/fs/cgroup mounted read-write)';

export function setupFailed(message: string, cause?: unknown): PidboxError {
  return new PidboxError('SANDBOX_SETUP_FAILED', message, cause);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

export function readText(path: string): string {
  return readFileSync(path, 'latin1');
}

/** The text of a file, or null when it does not exist (an optional controller file, a fake tree). */
export function readOptional(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}

/** The words of a space-separated file (cgroup.controllers, cgroup.subtree_control); none when it does not exist. */
export function readWords(path: string): string[] {
  return (readOptional(path) ?? '').split(/\s+/).filter((word) => word !== '');
}

/** A single-number control file: "123\n"; "max" reads as Infinity. */
export function readNumber(path: string): number {
  const text = readText(path).trim();
  return text === 'max' ? Infinity : Number(text);
}

export function readOptionalNumber(path: string): number | null {
  const text = readOptional(path);
  return text === null ? null : Number(text.trim());
}

/** The value after `key` in a flat keyed file (memory.events, cpu.stat, memory.oom_control), 0 when absent. */
export function keyedValue(text: string, key: string): number {
  const match = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/**
 * One write to a control file. cgroupfs takes each write(2) as one command, and a control file
 * that does not exist fails with EACCES (kernfs has no create), so the message names the file.
 */
export function writeControl(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (error) {
    throw setupFailed(`cgroup: writing "${value}" to ${path} failed: ${describe(error)}`, error);
  }
}

/** Moves process `pid` (all its threads) into the cgroup at `dir`, without blocking the event loop. */
export async function migrate(dir: string, pid: number): Promise<void> {
  try {
    await writeFile(join(dir, 'cgroup.procs'), String(pid));
  } catch (error) {
    throw setupFailed(`cgroup: moving pid ${pid} into ${dir} failed: ${describe(error)}`, error);
  }
}

/** The synchronous twin of `migrate`, for the worker's own move at open (before it serves anything). */
export function migrateSync(dir: string, pid: number): void {
  writeControl(join(dir, 'cgroup.procs'), String(pid));
}

/** Pids in a cgroup.procs file; none when the cgroup is gone. */
export function readPids(dir: string): number[] {
  const text = readOptional(join(dir, 'cgroup.procs'));
  if (text === null) return [];
  return text.split('\n').filter((line) => line !== '').map(Number);
}

/** Subdirectories (child cgroups) of a cgroup directory; none when it is gone. */
export function childCgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw error;
  }
}

/** The cgroup directories from `dir` down, deepest first (the order rmdir needs). */
function depthFirst(dir: string): string[] {
  return [...childCgroups(dir).flatMap((child) => depthFirst(join(dir, child))), dir];
}

/**
 * SIGKILL to every process listed in the cgroup.procs of `dirs`, read again until a read shows no
 * process it has not already signalled. Looping until the files are empty would block the event loop
 * while the killed processes exit; what matters is that none escapes: a process forked between a read
 * and a kill appears in the next read, and a process with SIGKILL pending can no longer fork (fork
 * checks for fatal signals, kernel/fork.c). Never signals the worker itself, whatever a file says.
 */
export function killTasks(dirs: readonly string[]): void {
  const signalled = new Set<number>([process.pid]);
  for (let round = 0; round < KILL_ROUNDS; round++) {
    const fresh = dirs.flatMap((dir) => readPids(dir)).filter((pid) => pid > 0 && !signalled.has(pid));
    if (fresh.length === 0) break;
    for (const pid of fresh) {
      signalled.add(pid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch (error) {
        if (errorCode(error) !== 'ESRCH') throw error;
      }
    }
  }
}

/** Every pid still in any cgroup from `dirs` down, for error messages. */
function remainingPids(dirs: readonly string[]): number[] {
  return dirs.flatMap((dir) => depthFirst(dir)).flatMap((dir) => readPids(dir));
}

/**
 * One pass over the cgroups from each of `dirs` down: kills their tasks and removes every directory
 * it can, deepest first. Returns the directories still there (EBUSY while dying tasks leave).
 */
function removePass(dirs: readonly string[], rmdir: RemoveDirectory): string[] {
  const left: string[] = [];
  for (const top of dirs) {
    const all = depthFirst(top);
    killTasks(all);
    for (const dir of all) {
      try {
        rmdir(dir);
      } catch (error) {
        const code = errorCode(error);
        if (code === 'ENOENT') continue;
        if (code === 'EBUSY') left.push(dir);
        else throw setupFailed(`cgroup: removing ${dir} failed: ${describe(error)}`, error);
      }
    }
  }
  return [...new Set(left)];
}

function leftMessage(left: readonly string[]): string {
  return `cgroup: ${left.join(', ')} still busy after ${REMOVE_WAIT_MS} ms (pids left: ${remainingPids(left).join(' ') || 'none'})`;
}

/**
 * Ends every task in the cgroups at `dirs` and below and removes them, waiting (asynchronously, with
 * a growing pause) while the killed tasks leave. Already removed directories are fine.
 */
export async function removeCgroups(dirs: readonly string[], rmdir: RemoveDirectory): Promise<void> {
  const deadline = Date.now() + REMOVE_WAIT_MS;
  let pauseMs = 1;
  for (let left = removePass(dirs, rmdir); left.length > 0; left = removePass(left, rmdir)) {
    if (Date.now() > deadline) throw setupFailed(leftMessage(left));
    await sleep(pauseMs);
    pauseMs = Math.min(pauseMs * 2, 50);
  }
}

/**
 * The synchronous twin of `removeCgroups`, for stale trees at open. Returns what it could not remove
 * in time instead of throwing: a leftover from a dead worker must not keep a new one from starting,
 * and the next open tries again.
 */
export function removeCgroupsSync(dirs: readonly string[], rmdir: RemoveDirectory): string[] {
  const deadline = Date.now() + REMOVE_WAIT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let pauseMs = 1;
  let left = removePass(dirs, rmdir);
  while (left.length > 0 && Date.now() <= deadline) {
    Atomics.wait(pause, 0, 0, pauseMs);
    pauseMs = Math.min(pauseMs * 2, 50);
    left = removePass(left, rmdir);
  }
  return left;
}

export const defaultRemoveDirectory: RemoveDirectory = (path) => rmdirSync(path);

/** What a cgroup's CPU bandwidth is measured against, in µs (the kernel's default period). */
export const CPU_PERIOD_US = 100_000;

/** The quota for `cpus` CPUs over CPU_PERIOD_US; the kernel refuses quotas below 1 ms. */
export function cpuQuotaUs(cpus: number): number {
  return Math.round(cpus * CPU_PERIOD_US);
}

/** Refuses limits the control files would refuse or misread, naming the field. */
export function checkLimits(limits: { memoryBytes: number; maxTasks: number; cpus: number }): void {
  if (!Number.isSafeInteger(limits.memoryBytes) || limits.memoryBytes <= 0) {
    throw new RangeError(`cgroup limits: memoryBytes must be a positive whole number of bytes, got ${limits.memoryBytes}`);
  }
  if (!Number.isSafeInteger(limits.maxTasks) || limits.maxTasks <= 0) {
    throw new RangeError(`cgroup limits: maxTasks must be a positive whole number, got ${limits.maxTasks}`);
  }
  if (!Number.isFinite(limits.cpus) || cpuQuotaUs(limits.cpus) < 1_000) {
    throw new RangeError(`cgroup limits: cpus must be a number of CPUs of at least 0.01, got ${limits.cpus}`);
  }
}

/** The fields of /proc/PID/stat the cgroup layer needs, or null when the process is gone. */
export function readProcStat(root: string, pid: number): { ppid: number; startTime: string } | null {
  const text = readOptional(join(root, 'proc', String(pid), 'stat'));
  if (text === null) return null;
  // The command (field 2) sits in parentheses and may itself hold spaces and parentheses; the
  // fields after it start at field 3 (proc(5)).
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), startTime: fields[19] ?? '' };
}

/** `pid (command)` for each pid, for messages. */
export function describePids(root: string, pids: readonly number[]): string {
  return pids.map((pid) => `${pid} (${readOptional(join(root, 'proc', String(pid), 'comm'))?.trim() ?? 'gone'})`).join(', ');
}

/**
 * The worker moves only itself and the sandboxes it starts: `pid` must be a child of this process,
 * or a child of one (a sandbox's init is the child of the bubblewrap the worker started). A child
 * keeps its pid until it is reaped, and Node reaps on the event loop, so the check and the move see
 * the same process unless it exits, is reaped and its pid reused within the move's few milliseconds.
 */
export function assertOwnChild(root: string, pid: number): void {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new RangeError(`cgroup: not a pid: ${pid}`);
  const stat = readProcStat(root, pid);
  if (stat === null) throw setupFailed(`cgroup: pid ${pid} is gone before it could join its cgroup`);
  if (stat.ppid !== process.pid && readProcStat(root, stat.ppid)?.ppid !== process.pid) {
    throw setupFailed(`cgroup: pid ${pid} was not started by this worker (its parent is ${stat.ppid}); the worker moves only itself and the sandboxes it starts`);
  }
}

/**
 * A sandbox cgroup's name: letters, digits and '-', not `worker` (on v2 the leaf the worker may move
 * itself into). Anything else could climb out of the subtree or collide with a control file.
 */
export function checkSandboxName(name: string): void {
  if (!/^[A-Za-z0-9-]{1,200}$/.test(name) || name === 'worker') {
    throw new RangeError(`sandbox cgroup name must be letters, digits or "-" (and not "worker"), got ${JSON.stringify(name)}`);
  }
}

/** mkdir of a cgroup; the message says what to do when the cgroupfs refuses it. */
export function makeCgroup(dir: string, options: { existing: 'reuse' | 'fail' }): void {
  try {
    mkdirSync(dir);
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST' && options.existing === 'reuse') return;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw setupFailed(`cgroup: cannot create ${dir} (${code}): the worker's cgroup is not writable by it; ${DELEGATE_ADVICE}`, error);
    }
    throw setupFailed(`cgroup: cannot create ${dir}: ${describe(error)}`, error);
  }
}
