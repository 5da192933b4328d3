// A lab host's cgroup: one directory below the test process's own cgroup in each hierarchy a
// worker uses (v1: memory, pids, cpu, cpuacct; v2: the unified one), as a machine's service manager
// gives each service one. Everything a host runs starts in it, and a worker makes its sandboxes'
// cgroups only below its own, so this is where every process of the host is — its sandboxes', which
// sit in network namespaces of their own, included — and removing it removes all the host made.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPids, removeCgroups } from '../../worker/sandbox/cgroup-files.js';
import { cgroupMounts, shellQuote, type Mount } from './host-mounts.js';

const V1_CONTROLLERS = ['memory', 'pids', 'cpu', 'cpuacct'] as const;
const V2_CONTROLLERS = ['memory', 'pids', 'cpu'] as const;

export interface HostCgroup {
  /** The host's directory in each hierarchy. */
  readonly dirs: readonly string[];
  /** Shell lines that move the shell running them (`$$`) into it, in every hierarchy. */
  joinCommands(): string[];
  /** Every process in it or below it, in any hierarchy. */
  pids(): number[];
  /** Ends what is left in it and removes it with everything below; idempotent. */
  remove(): Promise<void>;
}

/** Makes the cgroup `name` below ours in every hierarchy a worker uses. */
export function createHostCgroup(name: string): HostCgroup {
  const dirs = hostCgroupDirs(name);
  for (const dir of dirs) mkdirSync(dir);
  let removing: Promise<void> | null = null;
  return {
    dirs,
    joinCommands: () => dirs.map((dir) => `echo $$ > ${shellQuote(join(dir, 'cgroup.procs'))}`),
    pids: () => [...new Set(dirs.flatMap((dir) => subtree(dir)).flatMap((dir) => readPids(dir)))].sort((a, b) => a - b),
    remove() {
      removing ??= removeCgroups(dirs.filter((dir) => existsSync(dir)), (path) => rmdirSync(path));
      return removing;
    },
  };
}

/** Where the cgroup `name` of a host is (or would be): below this process's own, in each hierarchy a worker uses. */
export function hostCgroupDirs(name: string): string[] {
  const own = ownPaths();
  const mounts = cgroupMounts().filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2');
  const v1 = V1_CONTROLLERS.map((controller) => mounts.find((m) => m.fstype === 'cgroup' && m.superOptions.includes(controller)));
  if (v1.every((m) => m !== undefined)) {
    const dirs = V1_CONTROLLERS.map((controller, i) => join(v1[i]!.mountpoint, ownPathOf(own, controller), name));
    return [...new Set(dirs)];
  }
  const unified = mounts.find((m) => m.fstype === 'cgroup2');
  if (!unified) throw new Error('the lab needs cgroup v1 hierarchies of memory, pids, cpu and cpuacct, or cgroup2');
  const parent = join(unified.mountpoint, ownPathOf(own, ''));
  delegateV2(parent, unified);
  return [join(parent, name)];
}

/** Every lab host cgroup below ours whose name `matches`, in any hierarchy: for leftovers of a lab whose test died. */
export function hostCgroupsMatching(matches: (name: string) => boolean): string[] {
  const own = ownPaths();
  const found: string[] = [];
  for (const mount of cgroupMounts()) {
    if (mount.fstype !== 'cgroup' && mount.fstype !== 'cgroup2') continue;
    const controllers = mount.fstype === 'cgroup2' ? [''] : mount.superOptions;
    const path = controllers.map((c) => own.get(c)).find((p) => p !== undefined);
    if (path === undefined) continue;
    const parent = join(mount.mountpoint, path);
    for (const entry of directories(parent)) if (matches(entry)) found.push(join(parent, entry));
  }
  return found;
}

/**
 * cgroup v2 passes a controller to a child only when the parent lists it in cgroup.subtree_control,
 * which it may only while it holds no process (the root cgroup excepted): the worker tests need it so
 * already, and so does a lab host.
 */
function delegateV2(parent: string, mount: Mount): void {
  const enabled = readFileSync(join(parent, 'cgroup.subtree_control'), 'utf8').split(/\s+/);
  const missing = V2_CONTROLLERS.filter((c) => !enabled.includes(c));
  if (missing.length === 0) return;
  try {
    // One write(2): cgroupfs takes each write as one command.
    writeFileSync(join(parent, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
  } catch (error) {
    throw new Error(`the lab cannot pass ${missing.join(', ')} to its hosts' cgroups below ${parent} (${mount.mountpoint}): ${(error as Error).message}`);
  }
}

/** /proc/self/cgroup (cgroups(7)): controller → path; the unified hierarchy's under ''. */
function ownPaths(): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const path = line.slice(second + 1);
    for (const controller of line.slice(first + 1, second).split(',')) paths.set(controller, path);
  }
  return paths;
}

function ownPathOf(own: Map<string, string>, controller: string): string {
  const path = own.get(controller);
  if (path === undefined) throw new Error(`/proc/self/cgroup has no line for ${controller || 'the unified hierarchy'}`);
  return path;
}

/** A cgroup directory and every one below it. */
function subtree(dir: string): string[] {
  return [dir, ...directories(dir).flatMap((child) => subtree(join(dir, child)))];
}

/** The subdirectories of `dir`; none when it is gone. */
function directories(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}
