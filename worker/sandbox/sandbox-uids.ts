// The host uids sandboxes run as: one of its own for every sandbox alive on the host, from a range
// nothing else uses. The kernel counts some resources per uid whatever the user namespace
// (inotify instances, POSIX message queue bytes, pipe buffer pages, RLIMIT_NPROC): a uid shared by
// all sandboxes would let one function take them from every other. A uid is taken with an
// exclusive flock(2) on a file of its own under the run folder, so the workers of a host share the
// range without talking to each other, and a uid comes free when its sandbox is done — or when its
// worker dies, since the kernel drops the lock with the descriptor.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { O_CLOEXEC, O_CREAT, O_RDWR } from '../../native/constants.js';
import * as libc from '../../native/libc.js';
import { PidboxError } from '../../contracts/pidbox-error.js';

export interface SandboxIdentity {
  /** Host uid and gid of the sandbox (the same numbers inside). */
  readonly uid: number;
  readonly gid: number;
  /** Gives the uid back; idempotent. */
  release(): void;
}

export interface UidRange {
  /** First uid of the range. */
  first: number;
  /** How many uids the range holds: the most sandboxes alive at once on the host. */
  count: number;
}

export interface UidPool {
  readonly range: UidRange;
  /** The lowest free uid of the range, taken until released. */
  acquire(): SandboxIdentity;
}

export function openUidPool(lockDir: string, range: UidRange): UidPool {
  mkdirSync(lockDir, { recursive: true, mode: 0o700 });
  return {
    range,
    acquire() {
      // From the bottom each time: the lock files stay as few as sandboxes ever ran at once.
      for (let uid = range.first; uid < range.first + range.count; uid++) {
        const fd = libc.open(join(lockDir, String(uid)), O_RDWR | O_CREAT | O_CLOEXEC, 0o600);
        if (!libc.tryLockExclusive(fd)) {
          libc.close(fd);
          continue;
        }
        let released = false;
        return {
          uid,
          gid: uid,
          release() {
            if (released) return;
            released = true;
            libc.close(fd);
          },
        };
      }
      throw new PidboxError('SANDBOX_SPAWN_FAILED', `every sandbox uid from ${range.first} (PIDBOX_SANDBOX_UIDS: ${range.count}) is in use on this host`);
    },
  };
}
