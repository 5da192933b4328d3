// Temporary folders that name the process owning them: `<prefix><pid>-<start time>-XXXXXX`, like the
// workers' run folders (worker/sandbox/instance-name.ts). The start time (proc(5), /proc/PID/stat
// field 22, clock ticks since boot) tells a dead owner from a new process that got its pid, so a
// `pidbox dev` killed outright (SIGKILL, OOM) leaves a folder the next start can remove without
// ever touching a live one's — another `pidbox dev`, or a test's Redis, on the same machine.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Creates `<root>/<prefix><pid>-<start time>-XXXXXX` (mode 0700), owned by this process. */
export function makeOwnedTempDir(prefix: string, root = tmpdir()): string {
  const start = startTimeOf('/', process.pid);
  if (start === null) throw new Error('no /proc/self/stat: cannot name a temporary folder after its owner');
  return mkdtempSync(join(root, `${prefix}${process.pid}-${start}-`));
}

/**
 * The folders `<root>/<prefix>…` whose owner is gone (no such process, a zombie, or one whose start
 * time differs: the pid was reused). Folders of another form (made by an older pidbox, or by
 * something else) are never listed. `procRoot`: where /proc is read (tests pass a fake tree).
 */
export function orphanedTempDirs(prefix: string, root = tmpdir(), procRoot = '/'): string[] {
  const name = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)-(\\d+)-[A-Za-z0-9]{6}$`);
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  return entries
    .filter((entry) => {
      const match = name.exec(entry);
      return match !== null && startTimeOf(procRoot, Number(match[1])) !== match[2];
    })
    .map((entry) => join(root, entry));
}

/** Removes the orphaned folders (see orphanedTempDirs); returns those it removed. Never throws. */
export function removeOrphanedTempDirs(prefix: string, root = tmpdir()): string[] {
  const removed: string[] = [];
  for (const dir of orphanedTempDirs(prefix, root)) {
    try {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Another process removing it at the same moment, or not ours to remove: leave it.
    }
  }
  return removed;
}

/** Field 22 of /proc/PID/stat; null when the process is gone or a zombie (it owns nothing any more). */
function startTimeOf(procRoot: string, pid: number): string | null {
  try {
    const stat = readFileSync(join(procRoot, 'proc', String(pid), 'stat'), 'latin1');
    // After the command (which may hold spaces and parentheses): state is field 3, start time 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? null : (fields[19] ?? null);
  } catch {
    return null;
  }
}
