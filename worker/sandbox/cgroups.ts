import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  childCgroups, DELEGATE_ADVICE, defaultRemoveDirectory, readWords, removeCgroupsSync, setupFailed, type RemoveDirectory,
} from './cgroup-files.js';
import { openV1Tree } from './cgroup-v1.js';
import { isInstanceGone } from './instance-name.js';
import { openV2Tree } from './cgroup-v2.js';

// One cgroup per invocation, below a subtree of the worker's own cgroup (`<own>/pidbox-<pid>-<start>/
// <sandbox>`), in cgroup v1 (one hierarchy per controller, cgroup-v1.ts) or v2 (one unified
// hierarchy, cgroup-v2.ts) behind one interface, as nsjail's cgroup.cc and cgroup2.cc. The worker
// creates cgroups only below its own, never moves a process other than itself and the sandboxes it
// starts, and touches no cgroup it did not create, except the trees of workers that are gone.
// Kernel documentation: Documentation/admin-guide/cgroup-v1/ and cgroup-v2.rst.

export interface CgroupLimits {
  /** Most memory of all the cgroup's tasks together, bytes (v1 memory.limit_in_bytes and, when swap accounting exists, memory.memsw.limit_in_bytes set equal so nothing goes to swap; v2 memory.max, memory.swap.max 0). */
  memoryBytes: number;
  /** Most tasks at once, threads included (pids.max). */
  maxTasks: number;
  /** CPU bandwidth as a number of CPUs, fractions allowed (1.5): v1 cpu.cfs_quota_us over cpu.cfs_period_us 100000; v2 cpu.max "150000 100000". */
  cpus: number;
}

export interface CgroupUsage {
  /** CPU time of every task that ran in the cgroup, ns (v1 cpuacct.usage; v2 cpu.stat usage_usec × 1000). */
  cpuNanos: number;
  /** Memory charged now (v1 memory.usage_in_bytes; v2 memory.current). */
  memoryBytes: number;
  /** Highest charge since creation or the last resetPeaks (v1 memory.max_usage_in_bytes; v2 memory.peak), null when the kernel keeps none. */
  memoryPeakBytes: number | null;
  /** Tasks now (pids.current). */
  tasks: number;
  /** Most tasks at once (pids.peak; present here on v1), null when the kernel keeps none. */
  tasksPeak: number | null;
  /** Tasks the OOM killer killed in this cgroup (v1 memory.oom_control `oom_kill`; v2 memory.events `oom_kill`). */
  oomKills: number;
}

export interface SandboxCgroup {
  readonly name: string;
  /** Moves process `pid` (all its threads) into the cgroup in every hierarchy. Async: migrations are slow. */
  join(pid: number): Promise<void>;
  /** Writes the limits (order matters on v1: memsw must stay >= memory when raising or lowering). */
  setLimits(limits: CgroupLimits): void;
  /**
   * Its share of the CPU against its siblings, in cgroup v2's terms (cpu.weight, 1…10000, 100 by
   * default; v1's cpu.shares is 1024 × weight / 100). Group scheduling makes nice values count only
   * within a cgroup: this is what keeps a sandbox starting in the background from taking a core
   * from a call.
   */
  setCpuWeight(weight: number): void;
  /** Resets the peaks where the kernel allows (v1 write 0 to memory.max_usage_in_bytes; v2 memory.peak is resettable from 6.12 by writing to it). */
  resetPeaks(): void;
  usage(): CgroupUsage;
  /** SIGKILL to every task in the cgroup: v2 cgroup.kill when present; otherwise each pid of cgroup.procs, repeated until empty (bounded). */
  killAll(): void;
  /** Removes the cgroup in every hierarchy, retrying briefly while the last tasks leave (EBUSY); a task still in it is killed first. Idempotent, never throws for an already removed one. */
  remove(): Promise<void>;
}

export interface CgroupTree {
  readonly version: 'v1' | 'v2';
  /** The worker's subtree, one absolute directory per hierarchy used. */
  readonly paths: readonly string[];
  /** mkdir of a sandbox cgroup in every hierarchy (name: letters, digits, '-' only). */
  create(name: string): SandboxCgroup;
  /** Removes the worker's subtree (ends and removes any sandbox cgroup still in it). Idempotent. */
  close(): Promise<void>;
}

export interface CgroupTreeOptions {
  /** Name of the worker's subtree below its own cgroup in each hierarchy; always starts with `pidbox-`, e.g. `pidbox-1234-98765` (pid and start time). */
  name: string;
  /** Filesystem root to read /proc/self/cgroup, /proc/self/mountinfo and the cgroup mounts from: tests pass a fake tree. Default `/`. */
  root?: string;
  /** Whether a sibling subtree named `pidbox-…` belongs to a worker that is gone (its cgroups are then ended and removed). Default: parses `pidbox-<pid>-<starttime>` and compares with /proc/<pid>/stat's start time (field 22); anything it cannot parse is left alone. */
  isStale?: (name: string) => boolean;
  /**
   * Removes one cgroup directory. Default: rmdir(2), which cgroupfs allows while only its control
   * files remain. A fake tree is a plain directory, where rmdir fails on the files the layer wrote:
   * unit tests pass one that deletes them first, as the kernel would.
   */
  rmdir?: (path: string) => void;
}

/** The controllers pidbox needs on each version: cpuacct counts CPU time on v1 (v2's cpu.stat always does). */
const V1_CONTROLLERS = ['memory', 'pids', 'cpu', 'cpuacct'] as const;
const V2_CONTROLLERS = ['memory', 'pids', 'cpu'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

/** Where the worker's own cgroup is, per controller on v1 (several may share a hierarchy). */
export interface V1Layout {
  version: 'v1';
  ownDirs: Record<V1Controller, string>;
}

export interface V2Layout {
  version: 'v2';
  ownDir: string;
  /** The controllers to delegate down to each sandbox cgroup. */
  controllers: readonly string[];
}

export type CgroupLayout = V1Layout | V2Layout;

/** What the version-specific trees need from the options. */
export interface TreeContext {
  name: string;
  root: string;
  rmdir: RemoveDirectory;
}

const TREE_NAME = /^pidbox-[A-Za-z0-9-]+$/;

/**
 * Finds the worker's own cgroup in every hierarchy it needs, removes the trees of workers that are
 * gone, and makes the worker's subtree (on v2 after delegating the controllers to it).
 */
export function openCgroupTree(options: CgroupTreeOptions): CgroupTree {
  if (!TREE_NAME.test(options.name)) {
    throw new RangeError(`cgroup tree name must be "pidbox-" and letters, digits or "-", got ${JSON.stringify(options.name)}`);
  }
  const root = options.root ?? '/';
  const isStale = options.isStale ?? ((name: string) => isInstanceGone(name, root));
  const context: TreeContext = { name: options.name, root, rmdir: options.rmdir ?? defaultRemoveDirectory };
  const layout = detectCgroupLayout(root);
  const ownDirs = layout.version === 'v1' ? [...new Set(Object.values(layout.ownDirs))] : [layout.ownDir];
  removeStaleTrees(ownDirs, options.name, isStale, context.rmdir);
  return layout.version === 'v1' ? openV1Tree(layout, context) : openV2Tree(layout, context);
}

// --- stale trees -------------------------------------------------------------------------------

/** Ends and removes, in every hierarchy, the sibling `pidbox-…` subtrees that `isStale` says are gone. */
function removeStaleTrees(ownDirs: readonly string[], ownName: string, isStale: (name: string) => boolean, rmdir: RemoveDirectory): void {
  const names = new Set(ownDirs.flatMap((dir) => childCgroups(dir)).filter((name) => name.startsWith('pidbox-') && name !== ownName));
  for (const name of names) {
    // What cannot be removed in time (a task stuck in the kernel) stays for the next open to retry.
    if (isStale(name)) removeCgroupsSync(ownDirs.map((dir) => join(dir, name)), rmdir);
  }
}

// --- detection ---------------------------------------------------------------------------------

interface Mount {
  /** The directory of the hierarchy this mount shows at its mountpoint ("/" for the whole). */
  root: string;
  mountpoint: string;
  readOnly: boolean;
  fstype: string;
  superOptions: string[];
}

/** /proc/self/mountinfo (proc(5)): `id parent dev root mountpoint options [optional…] - fstype source super-options`. */
function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0) continue;
    const superOptions = (fields[dash + 3] ?? '').split(',');
    mounts.push({
      root: unescapeMountPath(fields[3]!),
      mountpoint: unescapeMountPath(fields[4]!),
      readOnly: fields[5]!.split(',').includes('ro') || superOptions.includes('ro'),
      fstype: fields[dash + 1] ?? '',
      superOptions,
    });
  }
  return mounts;
}

/** mountinfo writes space, tab, newline and backslash in paths as octal escapes (`\040`). */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** /proc/self/cgroup (cgroups(7)): `N:controller,…:path` per v1 hierarchy, `0::path` for v2. */
function parseProcCgroup(text: string): { v1: Map<string, string>; v2: string | null } {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (line.slice(0, first) === '0' && controllers === '') v2 = path;
    else for (const controller of controllers.split(',')) v1.set(controller, path);
  }
  return { v1, v2 };
}

/**
 * Where the worker's own cgroup is for each controller pidbox needs: v1 when all of them are on v1
 * hierarchies, v2 when all are on the unified one. The own path comes from /proc/self/cgroup, per
 * controller (on this machine the memory controller's is `/process_api/<hash>`, the others `/`).
 */
function detectCgroupLayout(root: string): CgroupLayout {
  const mounts = parseMountinfo(readProc(root, 'mountinfo'));
  const own = parseProcCgroup(readProc(root, 'cgroup'));
  const v1Mounts = mounts.filter((mount) => mount.fstype === 'cgroup');
  const v2Mounts = mounts.filter((mount) => mount.fstype === 'cgroup2');
  const v1Found = V1_CONTROLLERS.filter((controller) => v1Mounts.some((mount) => mount.superOptions.includes(controller)));
  // A controller bound to a v1 hierarchy is absent from cgroup2's cgroup.controllers (hybrid hosts).
  const v2Mount = own.v2 === null ? undefined : v2Mounts.find((mount) => relativeTo(mount, own.v2!) !== null);
  const v2Offered = v2Mount ? readWords(join(root, v2Mount.mountpoint, 'cgroup.controllers')) : [];
  const v2Found = V2_CONTROLLERS.filter((controller) => v2Offered.includes(controller));

  if (v1Found.length === V1_CONTROLLERS.length) return v1Layout(root, v1Mounts, own.v1);
  if (v2Found.length === V2_CONTROLLERS.length) return v2Layout(root, v2Mount!, own.v2!);

  const where = `cgroup v1 hierarchies offer ${v1Found.join(', ') || 'none'}; ` +
    (v2Mount ? `cgroup2 at ${v2Mount.mountpoint} offers ${v2Offered.join(', ') || 'none'}` : 'no cgroup2 mount holds this process');
  if (v1Found.length > 0 && v2Found.length > 0) {
    throw setupFailed(`cgroup: the controllers pidbox needs are split between cgroup v1 and v2 (${where}); ` +
      'they must all be on one version: boot with systemd.unified_cgroup_hierarchy=1 for pure v2, or mount them all as v1');
  }
  const missing = v1Found.length > 0 ? V1_CONTROLLERS.filter((c) => !v1Found.includes(c)) : V2_CONTROLLERS.filter((c) => !v2Found.includes(c));
  throw setupFailed(`cgroup: no hierarchy offers the ${missing.join(', ')} controller${missing.length > 1 ? 's' : ''} (${where}); ` +
    `enable and mount ${missing.length > 1 ? 'them' : 'it'}, or ${DELEGATE_ADVICE}`);
}

function v1Layout(root: string, mounts: readonly Mount[], ownPaths: ReadonlyMap<string, string>): V1Layout {
  const ownDirs = {} as Record<V1Controller, string>;
  for (const controller of V1_CONTROLLERS) {
    const path = ownPaths.get(controller);
    if (path === undefined) throw setupFailed(`cgroup: /proc/self/cgroup has no line for the ${controller} controller, though a v1 hierarchy offers it`);
    const candidates = mounts.filter((mount) => mount.superOptions.includes(controller));
    const mount = candidates.find((candidate) => relativeTo(candidate, path) !== null);
    if (!mount) {
      throw setupFailed(`cgroup: the worker's ${controller} cgroup ${path} is not visible under any mount of its hierarchy ` +
        `(${candidates.map((c) => `${c.mountpoint} shows ${c.root}`).join(', ')}); ${DELEGATE_ADVICE}`);
    }
    ownDirs[controller] = ownDir(root, mount, path, controller);
  }
  return { version: 'v1', ownDirs };
}

function v2Layout(root: string, mount: Mount, path: string): V2Layout {
  return { version: 'v2', ownDir: ownDir(root, mount, path, 'cgroup2'), controllers: V2_CONTROLLERS };
}

function ownDir(root: string, mount: Mount, path: string, what: string): string {
  if (mount.readOnly) {
    throw setupFailed(`cgroup: ${mount.mountpoint} (${what}) is mounted read-only, and the worker creates a cgroup per invocation; ${DELEGATE_ADVICE}`);
  }
  return join(root, mount.mountpoint, relativeTo(mount, path)!);
}

/**
 * `path` (a cgroup path from /proc/self/cgroup) relative to what `mount` shows, or null when the mount
 * shows another part of the hierarchy. In a cgroup namespace the paths start at the namespace's root;
 * a process outside it sees `/..`, which no mount shows.
 */
function relativeTo(mount: Mount, path: string): string | null {
  if (!path.startsWith('/') || path.split('/').includes('..')) return null;
  if (mount.root === '/') return path;
  if (path === mount.root) return '/';
  return path.startsWith(`${mount.root}/`) ? path.slice(mount.root.length) : null;
}

function readProc(root: string, file: string): string {
  try {
    return readFileSync(join(root, 'proc', 'self', file), 'latin1');
  } catch (error) {
    throw setupFailed(`cgroup: cannot read /proc/self/${file}: ${(error as Error).message}`, error);
  }
}
