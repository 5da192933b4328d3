// Cgroups left on this machine, for tests that check nothing stays behind: below this process's own
// cgroup in every hierarchy (where the workers it starts make theirs, as delegation requires), folders
// whose name holds `filter` (a worker's name, or `pidbox`). Other programs' cgroups, elsewhere in the
// tree, are theirs and never looked at.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function leftoverCgroups(filter = 'pidbox', roots: readonly string[] = ownCgroupDirs()): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry);
      let isDir = false;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        continue;
      }
      if (!isDir) continue;
      if (entry.includes(filter)) found.push(path);
      if (depth < 6) walk(path, depth + 1);
    }
  };
  for (const root of new Set(roots)) walk(root, 0);
  return found;
}

/** This process's cgroup folder in each mounted hierarchy, from /proc/self/cgroup and /proc/self/mountinfo. */
export function ownCgroupDirs(): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => {
      const [left, right] = line.split(' - ');
      if (!left || !right) return null;
      const fields = left.split(' ');
      const [fstype, , superOptions] = right.split(' ');
      if (fstype !== 'cgroup' && fstype !== 'cgroup2') return null;
      const unescape = (path: string) => path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
      return { root: unescape(fields[3]!), mountpoint: unescape(fields[4]!), fstype, options: (superOptions ?? '').split(',') };
    })
    .filter((mount) => mount !== null);
  const dirs: string[] = [];
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) {
    const [id, controllers, path] = [line.slice(0, line.indexOf(':')), ...line.slice(line.indexOf(':') + 1).split(/:(.*)/s, 2)] as [string, string, string];
    const mount = id === '0' && controllers === ''
      ? mounts.find((m) => m.fstype === 'cgroup2')
      : mounts.find((m) => m.fstype === 'cgroup' && controllers.split(',').every((c) => m.options.includes(c)));
    if (!mount || !path.startsWith(mount.root)) continue;
    dirs.push(join(mount.mountpoint, path.slice(mount.root.length)));
  }
  return dirs;
}
