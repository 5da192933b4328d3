// One sandbox's slot: a folder in the worker's run tmpfs that the sandbox sees as /var/task (the
// function's folder) and /var/bundle (a node function's bundle). A sandbox can be started before
// anyone knows which function it will run (a pre-started one): its slot is empty then, and the
// function's folder arrives later by mount propagation. The worker's tmpfs is a shared mount, the
// sandbox's binds of it are its slaves (bubblewrap makes every mount a slave), so a mount the
// worker makes on <slot>/task appears at /var/task inside, read-only and locked: nobody inside
// can unmount it or see what it covers (mount_namespaces(7), "Shared subtrees").
import { mkdirSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MNT_DETACH, MS_BIND, MS_MOVE, MS_NODEV, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT } from '../../native/constants.js';
import * as libc from '../../native/libc.js';
import { SyscallError } from '../../native/syscall-error.js';
import { identityFiles } from './root-fs.js';
import type { SandboxIdentity } from './sandbox-uids.js';

export interface Slot {
  /** Host path of the slot. */
  readonly dir: string;
  /** The host uid and gid its sandbox runs as, its own while the slot lives. */
  readonly uid: number;
  readonly gid: number;
  /** Mounts `folder` read-only (nosuid, nodev) at /var/task of this slot's sandbox. Once. */
  mountTask(folder: string): void;
  /**
   * Mounts a node function's bundle read-only at /var/bundle/index.mjs: `file` is a path, or
   * /proc/self/fd/N of a descriptor whose content was checked (the mount takes that very file). Once.
   */
  mountBundle(file: string): void;
  /** Unmounts and removes the slot, and gives its uid back. Idempotent. */
  remove(): void;
}

/**
 * Creates slot `name` under `slotsDir` (in the worker's shared tmpfs). `stagingDir` is a folder on
 * a private mount: a mount cannot be moved out from under a shared one, and a bind made straight
 * into the slot would propagate read-write before it could be made read-only.
 */
export function createSlot(slotsDir: string, stagingDir: string, name: string, identity: SandboxIdentity): Slot {
  const dir = join(slotsDir, name);
  const task = join(dir, 'task');
  const bundle = join(dir, 'bundle');
  const staging = join(stagingDir, name);
  mkdirSync(task, { recursive: true, mode: 0o755 });
  mkdirSync(bundle, { mode: 0o755 });
  const { passwd, group } = identityFiles(identity);
  writeFileSync(join(dir, 'passwd'), passwd, { mode: 0o444 });
  writeFileSync(join(dir, 'group'), group, { mode: 0o444 });
  // The mount point of the bundle: a mount takes the place of a file as well as of a folder.
  const bundleFile = join(bundle, 'index.mjs');
  writeFileSync(bundleFile, '', { mode: 0o444 });
  const mounted: string[] = [];
  let removed = false;
  /**
   * Binds `source` read-only (nosuid, nodev) at `target`, through the private staging folder: a
   * mount cannot be moved out from under a shared one, and a bind made straight into the slot would
   * propagate read-write before it could be made read-only.
   */
  const bindReadOnly = (source: string, target: string, isFile: boolean): void => {
    if (mounted.includes(target)) throw new Error(`slot ${name} already has ${target}`);
    if (isFile) writeFileSync(staging, '', { mode: 0o400 });
    else mkdirSync(staging, { mode: 0o700 });
    try {
      libc.mount(source, staging, null, MS_BIND | MS_REC);
      try {
        libc.mount(null, staging, null, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV);
        libc.mount(staging, target, null, MS_MOVE);
      } catch (error) {
        libc.umount2(staging, MNT_DETACH);
        throw error;
      }
      mounted.push(target);
    } finally {
      if (isFile) unlinkSync(staging);
      else rmdirSync(staging);
    }
  };
  return {
    dir,
    uid: identity.uid,
    gid: identity.gid,
    mountTask(folder) {
      bindReadOnly(folder, task, false);
    },
    mountBundle(file) {
      bindReadOnly(file, bundleFile, true);
    },
    remove() {
      if (removed) return;
      removed = true;
      for (const target of mounted.reverse()) unmountIgnoringGone(target);
      rmSync(dir, { recursive: true, force: true });
      identity.release();
    },
  };
}

function unmountIgnoringGone(path: string): void {
  try {
    libc.umount2(path, MNT_DETACH);
  } catch (error) {
    // EINVAL: not a mount point any more; ENOENT: already removed.
    if (!(error instanceof SyscallError && (error.code === 'EINVAL' || error.code === 'ENOENT'))) throw error;
  }
}
