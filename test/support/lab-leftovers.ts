// What a lab leaves on the machine is named by its id, `mhlab-<pid>-<start time>-<n>` (the test
// process's pid and start time, as worker/sandbox/instance-name.ts names a worker's folders): its
// network namespaces (`<id>-<host>`), its hosts' cgroups (the same names) and its folder under
// /tmp (`<id>-XXXXXX`). A lab whose test process is gone (killed before its `after` hooks ran) is
// removed by the next lab that starts; and a test can check that its own lab left nothing.
import { readdirSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instanceName, isInstanceGone } from '../../worker/sandbox/instance-name.js';
import { removeCgroups } from '../../worker/sandbox/cgroup-files.js';
import { hostCgroupsMatching } from './host-cgroup.js';
import { deleteNetns, listNetns, netnsPids } from './network-namespaces.js';

const LAB = /^mhlab-(\d+)-(\d+)-(\d+)/;

/** A new id for a lab of this process. */
export function newLabId(): string {
  return `mhlab-${instanceName().slice('pidbox-'.length)}`;
}

/** Everything on the machine that a lab named `id` made and that is still there. */
export async function labLeftovers(id: string): Promise<string[]> {
  const mine = (name: string): boolean => name.startsWith(`${id}-`);
  return [
    ...(await listNetns()).filter(mine).map((name) => `network namespace ${name}`),
    ...hostCgroupsMatching(mine).map((path) => `cgroup ${path}`),
    ...readdirSync(tmpdir()).filter(mine).map((name) => `folder ${join(tmpdir(), name)}`),
  ];
}

/** Removes what labs of test processes that are gone left behind; returns what it removed. */
export async function removeStaleLabs(): Promise<string[]> {
  const stale = (name: string): boolean => {
    const match = LAB.exec(name);
    return match !== null && isInstanceGone(`pidbox-${match[1]}-${match[2]}`);
  };
  const removed: string[] = [];
  for (const netns of (await listNetns()).filter(stale)) {
    for (const pid of await netnsPids(netns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    await deleteNetns(netns);
    removed.push(`network namespace ${netns}`);
  }
  const cgroups = hostCgroupsMatching(stale);
  // rmdir(2): cgroupfs allows it while only control files are left.
  await removeCgroups(cgroups, (path) => rmdirSync(path));
  removed.push(...cgroups.map((path) => `cgroup ${path}`));
  for (const name of readdirSync(tmpdir()).filter(stale)) {
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
    removed.push(`folder ${join(tmpdir(), name)}`);
  }
  return removed;
}
