// One sandbox's slot: a folder in the worker's run tmpfs that the sandbox sees as /var/task (the
// function's folder) and /var/bundle (a node function's bundle). A sandbox can be started before
// anyone knows which function it will run (a pre-started one): its slot is empty then, and the
// function's folder arrives later by mount propagation. The worker's tmpfs is a shared mount, the
// sandbox's binds of it are its slaves (bubblewrap makes every mount a slave), so a mount the
// worker makes on <slot>/task appears at /var/task inside, read-only and locked: nobody inside
// can unmount it or see what it covers (mount_namespaces(7), "Shared subtrees").
import { chmodSync, mkdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MNT_DETACH, MS_BIND, MS_MOVE, MS_NODEV, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT } from '../../native/constants.js';
import * as libc from '../../native/libc.js';
import { SyscallError } from '../../native/syscall-error.js';

export interface Slot {
  /** Host path of the slot. */
  readonly dir: string;
  /** Mounts `folder` read-only (nosuid, nodev) at /var/task of this slot's sandbox. Once. */
  mountTask(folder: string): void;
  /** Writes a node function's bundle, read-only, at /var/bundle/index.mjs. */
  writeBundle(code: Uint8Array): void;
  /** Unmounts and removes the slot. Idempotent. */
  remove(): void;
}

/**
 * Creates slot `name` under `slotsDir` (in the worker's shared tmpfs). `stagingDir` is a folder on
 * a private mount: a mount cannot be moved out from under a shared one, and a bind made straight
 * into the slot would propagate read-write before it could be made read-only.
 */
export function createSlot(slotsDir: string, stagingDir: string, name: string): Slot {
  const dir = join(slotsDir, name);
  const task = join(dir, 'task');
  const bundle = join(dir, 'bundle');
  const staging = join(stagingDir, name);
  mkdirSync(task, { recursive: true, mode: 0o755 });
  mkdirSync(bundle, { mode: 0o755 });
  let mounted = false;
  let removed = false;
  return {
    dir,
    mountTask(folder) {
      if (mounted) throw new Error(`slot ${name} already has a function`);
      mkdirSync(staging, { mode: 0o700 });
      try {
        libc.mount(folder, staging, null, MS_BIND | MS_REC);
        try {
          libc.mount(null, staging, null, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV);
          libc.mount(staging, task, null, MS_MOVE);
        } catch (error) {
          libc.umount2(staging, MNT_DETACH);
          throw error;
        }
        mounted = true;
      } finally {
        rmdirSync(staging);
      }
    },
    writeBundle(code) {
      const file = join(bundle, 'index.mjs');
      writeFileSync(file, code, { mode: 0o444 });
      chmodSync(bundle, 0o555);
    },
    remove() {
      if (removed) return;
      removed = true;
      if (mounted) unmountIgnoringGone(task);
      rmSync(dir, { recursive: true, force: true });
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
