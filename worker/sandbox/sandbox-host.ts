// What a worker prepares once for all its sandboxes: a tmpfs of its own under the run folder (the
// generated /etc, a copy of the sandbox runtime, the compiled seccomp filter, one slot per
// sandbox), its cgroup subtree, and the facts about the host's root the containment mirrors. It also
// cleans up after workers of this host that were killed: their mounts and cgroups.
import { accessSync, constants, copyFileSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PidboxError } from '../../contracts/pidbox-error.js';
import { MNT_DETACH, MS_BIND, MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REMOUNT, MS_SHARED } from '../../native/constants.js';
import * as libc from '../../native/libc.js';
import { SyscallError } from '../../native/syscall-error.js';
import { findExecutable } from '../../dev/embedded-redis.js';
import type { ContainmentPlan } from './bwrap-args.js';
import { openCgroupTree, type CgroupTree } from './cgroups.js';
import { instanceName, isInstanceGone } from './instance-name.js';
import { SANDBOX_PATHS, readHostRoot, sandboxEtc, type HostRoot } from './root-fs.js';
import { compileSeccompFilter } from './seccomp-filter.js';
import { openUidPool, type UidRange } from './sandbox-uids.js';
import { createSlot, type Slot } from './slot.js';

export interface SandboxHostOptions {
  /** Folder where workers keep their sandboxes' mounts, one tmpfs per worker. Default: `/run/pidbox`. */
  runDir?: string;
  /** Host uids sandboxes run as, one of its own each: a range nothing else on the host uses. Default: DEFAULT_SANDBOX_UIDS. */
  uids?: UidRange;
  /** The bubblewrap program. Default: `bwrap`, looked up in PATH. */
  bwrap?: string;
  /** The Node.js binary sandboxes run. Default: the worker's own (process.execPath). */
  nodeBinary?: string;
  /** pidbox's sandbox runtime (init.cjs, node-host.cjs, koffi.node). Default: dist/runtime of this installation. */
  runtimeDir?: string;
}

export interface ContainmentOptions {
  network: 'loopback' | 'host';
  /** Size of the sandbox's /tmp, bytes. */
  tmpBytes: number;
  /** Descriptors (in bubblewrap) of the seccomp program and of the info pipe. */
  seccompFd: number;
  infoFd: number;
}

export interface SandboxHost {
  /** `pidbox-<pid>-<start time>`: names this worker's folders and cgroups. */
  readonly name: string;
  /** The host uids its sandboxes run as. */
  readonly uids: UidRange;
  /** Absolute path of bubblewrap. */
  readonly bwrap: string;
  readonly cgroups: CgroupTree;
  /** A new, empty slot for one sandbox, with a uid of its own. */
  createSlot(): Slot;
  /** The containment of a sandbox in `slot` (bwrapArguments turns it into bubblewrap's arguments). */
  containmentPlan(slot: Slot, options: ContainmentOptions): ContainmentPlan;
  /** A fresh read-only descriptor of the compiled seccomp program (bubblewrap reads it to the end): close it after the spawn. */
  openSeccomp(): number;
  /** Keeps count of a sandbox until it has closed: `settled` and `close` wait for it. */
  track(closed: Promise<void>): void;
  /** Resolves once every sandbox started so far is gone and cleaned up. */
  settled(): Promise<void>;
  /** Waits for its sandboxes to go (up to a few seconds), then unmounts and removes the worker's folders and cgroups. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_RUN_DIR = '/run/pidbox';
/** 65536 uids from 1,900,000,000: above the ranges distributions and container tools hand out. */
export const DEFAULT_SANDBOX_UIDS: UidRange = { first: 1_900_000_000, count: 65_536 };
const RUNTIME_FILES = ['init.cjs', 'node-host.cjs', 'koffi.node'] as const;
const DEFAULT_RUNTIME_DIR = fileURLToPath(new URL('../../runtime/', import.meta.url));
/** The worker's tmpfs holds small files only (the sandboxes' /etc, slots, the runtime). */
const RUN_TMPFS_BYTES = 64 * 1024 * 1024;
/** How long close() waits for sandboxes still tearing down. */
const CLOSE_WAIT_MS = 5000;

export async function openSandboxHost(options: SandboxHostOptions = {}): Promise<SandboxHost> {
  const runDir = options.runDir ?? DEFAULT_RUN_DIR;
  const uids = options.uids ?? DEFAULT_SANDBOX_UIDS;
  const bwrap = options.bwrap ?? findExecutable('bwrap');
  if (!bwrap) throw setupFailed('bubblewrap (bwrap) is not installed: install it (Debian/Ubuntu: apt-get install bubblewrap)');
  if (process.getuid?.() !== 0) throw setupFailed('sandboxes need root: the worker mounts their folders and creates their cgroups');
  const runtimeDir = options.runtimeDir ?? DEFAULT_RUNTIME_DIR;
  for (const file of RUNTIME_FILES) {
    try {
      accessSync(join(runtimeDir, file), constants.R_OK);
    } catch {
      throw setupFailed(`the sandbox runtime is incomplete: ${join(runtimeDir, file)} is missing (run npm run build)`);
    }
  }
  const name = instanceName();
  const nodeBinary = options.nodeBinary ?? process.execPath;
  const hostRoot = readHostRoot();
  // Compiled first: a library that is missing stops the worker before it mounts anything.
  const seccomp = compileSeccompFilter();

  makePrivateMountPoint(runDir);
  removeStaleRunFolders(runDir, bwrap);
  const dir = join(runDir, name);
  const stagingDir = join(runDir, `${name}.staging`);
  // The worker's tmpfs is shared: its sandboxes' binds of it become its slaves (see slot.ts). Its
  // own private staging tmpfs is where a function's folder is made read-only before it moves in.
  mountTmpfs(dir, 0o755, MS_SHARED);
  mountTmpfs(stagingDir, 0o700, MS_PRIVATE);

  let cgroups: CgroupTree;
  try {
    writeEtc(join(dir, 'etc'), hostRoot);
    copyRuntime(runtimeDir, join(dir, 'runtime'), nodeBinary);
    writeFileSync(join(dir, 'seccomp.bpf'), seccomp.bpf, { mode: 0o444 });
    mkdirSync(join(dir, 'slots'), { mode: 0o755 });
    cgroups = await openCgroupTree({ name, isStale: isInstanceGone });
  } catch (error) {
    unmountAndRemove(dir);
    unmountAndRemove(stagingDir);
    throw error instanceof PidboxError ? error : setupFailed((error as Error).message, error);
  }

  let slots = 0;
  let closing: Promise<void> | null = null;
  const live = new Set<Promise<void>>();
  const settled = async (): Promise<void> => {
    while (live.size > 0) await Promise.all([...live]);
  };
  const uidPool = openUidPool(join(runDir, 'uids'), uids);
  const plan = { hostRoot, etcDir: join(dir, 'etc'), runtimeDir: join(dir, 'runtime') };
  return {
    name,
    uids,
    bwrap,
    cgroups,
    createSlot() {
      const identity = uidPool.acquire();
      try {
        return createSlot(join(dir, 'slots'), stagingDir, String(++slots), identity);
      } catch (error) {
        identity.release();
        throw error;
      }
    },
    containmentPlan: (slot, args) => ({
      ...plan,
      uid: slot.uid,
      gid: slot.gid,
      network: args.network,
      tmpBytes: args.tmpBytes,
      slotDir: slot.dir,
      seccompFd: args.seccompFd,
      infoFd: args.infoFd,
      command: [SANDBOX_PATHS.node, `${SANDBOX_PATHS.runtime}/init.cjs`, '--sandbox'],
    }),
    openSeccomp: () => libc.open(join(dir, 'seccomp.bpf')),
    track(closed) {
      live.add(closed);
      void closed.finally(() => live.delete(closed));
    },
    settled,
    close() {
      closing ??= (async () => {
        await Promise.race([settled(), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
        await cgroups.close();
        unmountAndRemove(dir);
        unmountAndRemove(stagingDir);
      })();
      return closing;
    },
  };
}

/**
 * The run folder becomes a mount point of its own with private propagation (as ip-netns does with
 * /run/netns), so the tmpfs each worker mounts below it never propagates to the host's other mount
 * namespaces. It stays after the worker ends: empty, and reused by the next one.
 */
function makePrivateMountPoint(runDir: string): void {
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  if (!isMountPoint(runDir)) libc.mount(runDir, runDir, null, MS_BIND);
  libc.mount(null, runDir, null, MS_PRIVATE);
}

function mountTmpfs(path: string, mode: number, propagation: number): void {
  mkdirSync(path, { mode });
  libc.mount('pidbox', path, 'tmpfs', MS_NOSUID | MS_NODEV, `mode=${mode.toString(8)},size=${RUN_TMPFS_BYTES}`);
  // Private first, so that a shared mount gets a peer group of its own, never its parent's.
  libc.mount(null, path, null, MS_PRIVATE);
  if (propagation !== MS_PRIVATE) libc.mount(null, path, null, propagation);
}

/**
 * Folders of workers of this host that are gone: their mounts are detached, their folders removed,
 * and any sandbox of theirs still stuck in bubblewrap's setup is killed first.
 */
function removeStaleRunFolders(runDir: string, bwrap: string): void {
  killStrandedSetups(runDir, bwrap);
  for (const entry of readdirSync(runDir)) {
    const worker = entry.endsWith('.staging') ? entry.slice(0, -'.staging'.length) : entry;
    if (isInstanceGone(worker)) unmountAndRemove(join(runDir, entry));
  }
}

/**
 * bubblewrap's child waits on an eventfd for its parent to write its uid map, before it has a
 * parent-death signal or a cgroup of its own: when the worker dies at that moment, bubblewrap's
 * parent dies with it and the child waits forever, in the worker's cgroup. Such a process is a
 * bubblewrap whose command line names the run folder of a worker that is gone; nothing else is touched.
 */
function killStrandedSetups(runDir: string, bwrap: string): void {
  const program = realpathSync(bwrap);
  const prefix = `${runDir}/`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/exe`) !== program) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const at = command.indexOf(prefix);
      const worker = at < 0 ? '' : command.slice(at + prefix.length).split(/[/\0]/, 1)[0]!;
      if (worker.startsWith('pidbox-') && isInstanceGone(worker)) process.kill(Number(entry), 'SIGKILL');
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
}

function unmountAndRemove(path: string): void {
  try {
    libc.umount2(path, MNT_DETACH);
  } catch (error) {
    if (!(error instanceof SyscallError && (error.code === 'EINVAL' || error.code === 'ENOENT'))) throw error;
  }
  try {
    rmdirSync(path);
  } catch {
    // Already gone.
  }
}

function isMountPoint(path: string): boolean {
  // mountinfo's fifth field is the mount point, with spaces and such escaped as octal.
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) === path);
}

function writeEtc(etcDir: string, hostRoot: HostRoot): void {
  mkdirSync(etcDir, { mode: 0o755 });
  for (const entry of sandboxEtc(hostRoot)) {
    const path = join(etcDir, entry.path);
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o755 });
    switch (entry.kind) {
      case 'file':
        writeFileSync(path, entry.content, { mode: 0o644 });
        break;
      case 'symlink':
        symlinkSync(entry.target, path);
        break;
      case 'mountpoint':
        if (entry.directory) mkdirSync(path, { mode: 0o755 });
        else writeFileSync(path, '', { mode: 0o644 });
        break;
    }
  }
}

/**
 * A copy of the runtime in the worker's tmpfs: readable by the sandbox's uid wherever pidbox is
 * installed (under /root, say), and unchanged for the worker's life even if dist/ is rebuilt.
 */
function copyRuntime(from: string, to: string, nodeBinary: string): void {
  mkdirSync(join(to, 'bin'), { recursive: true, mode: 0o755 });
  for (const file of RUNTIME_FILES) copyFileSync(join(from, file), join(to, file));
  // The Node binary, bound read-only by root: the sandbox's uid needs no path to where it lives.
  const node = join(to, 'bin', 'node');
  writeFileSync(node, '', { mode: 0o755 });
  libc.mount(nodeBinary, node, null, MS_BIND);
  libc.mount(null, node, null, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV);
}

function setupFailed(message: string, cause?: unknown): PidboxError {
  return new PidboxError('SANDBOX_SETUP_FAILED', `cannot prepare sandboxes: ${message}`, cause);
}
