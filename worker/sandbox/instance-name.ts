// A worker's name on its host, for the folders and cgroups it makes: `pidbox-<pid>-<start time>-<n>`
// (n counts the sandbox hosts one process opens: tests and benchmarks open several). The start time
// (proc(5), /proc/PID/stat field 22, in clock ticks since boot) tells a worker that is gone from a
// new process that got its pid, so a worker can clean up after a killed one without ever touching a
// live one's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const NAME = /^pidbox-(\d+)-(\d+)(?:-\d+)?$/;
let opened = 0;

/** A new name for this process's next sandbox host. */
export function instanceName(): string {
  const start = startTimeOf('/', process.pid);
  if (start === null) throw new Error('no /proc/self/stat');
  return `pidbox-${process.pid}-${start}-${++opened}`;
}

/**
 * True when `name` is a worker's name and that worker no longer runs (no such process, or one whose
 * start time differs: the pid was reused); false for anything else, which may be another program's.
 * The pid is one of this process's pid namespace, so workers whose folders and cgroups are siblings
 * must share one. `root`: where /proc is read (tests pass a fake tree).
 */
export function isInstanceGone(name: string, root = '/'): boolean {
  const match = NAME.exec(name);
  if (!match) return false;
  return startTimeOf(root, Number(match[1])) !== match[2];
}

function startTimeOf(root: string, pid: number): string | null {
  try {
    const stat = readFileSync(join(root, 'proc', String(pid), 'stat'), 'latin1');
    // After the command (which may hold spaces and parentheses): state is field 3, start time 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
