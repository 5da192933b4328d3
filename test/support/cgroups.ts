// Cgroups left on this machine, for tests that check nothing stays behind: every hierarchy under
// /sys/fs/cgroup, searched for folders whose name holds `filter` (a worker's name, or `pidbox`).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function leftoverCgroups(filter = 'pidbox', root = '/sys/fs/cgroup'): string[] {
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
      if (depth >= 1 && entry.includes(filter)) found.push(path);
      if (depth < 6) walk(path, depth + 1);
    }
  };
  walk(root, 0);
  return found;
}
