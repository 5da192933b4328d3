// What a lab host's mount namespace needs that `ip netns exec` does not give it. ip netns exec
// (ip-netns(8)) unshares a mount namespace, makes it a slave of ours (nothing mounted in it comes
// back), and mounts a fresh sysfs on /sys so that /sys/class/net shows the host's interfaces; the
// cgroup filesystems that were mounted below /sys/fs/cgroup are gone with the old /sys. A worker
// reads /proc/self/mountinfo to find its cgroups, so they are mounted again, the same hierarchies at
// the same places (mounting a cgroup v1 hierarchy whose controllers are already mounted shows that
// same hierarchy, cgroups(7)). The host also gets a /run of its own, as a separate machine has: a
// worker's run folder (PIDBOX_RUN_DIR, /run/pidbox) is then its host's alone, and whatever a killed
// host left there goes with its mount namespace.
import { readFileSync } from 'node:fs';

export interface Mount {
  /** The directory of its filesystem that the mount shows ("/" for the whole). */
  root: string;
  mountpoint: string;
  /** Per-mount options (`rw,nosuid,relatime`). */
  options: string[];
  fstype: string;
  source: string;
  /** Options of the filesystem itself (`rw,memory`, `rw,mode=755`). */
  superOptions: string[];
}

/** /proc/self/mountinfo (proc(5)): `id parent dev root mountpoint options [optional…] - fstype source super-options`. */
export function readMounts(text = readFileSync('/proc/self/mountinfo', 'utf8')): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0) continue;
    mounts.push({
      root: unescape(fields[3]!),
      mountpoint: unescape(fields[4]!),
      options: fields[5]!.split(','),
      fstype: fields[dash + 1] ?? '',
      source: unescape(fields[dash + 2] ?? ''),
      superOptions: (fields[dash + 3] ?? '').split(','),
    });
  }
  return mounts;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The mounts at and below /sys/fs/cgroup, in the order they were made (parents first). */
export function cgroupMounts(mounts = readMounts()): Mount[] {
  return mounts.filter((m) => m.mountpoint === CGROUP_ROOT || m.mountpoint.startsWith(`${CGROUP_ROOT}/`));
}

/**
 * Shell lines, run as root inside the host's new mount namespace, that mount /sys/fs/cgroup again as
 * ours is and a tmpfs on /run. A cgroup mount that shows part of its hierarchy (a container's
 * cgroupns=host view) cannot be made again by a plain mount: that stops the lab, saying so.
 */
export function hostMountCommands(mounts = readMounts()): string[] {
  const lines: string[] = [];
  for (const mount of cgroupMounts(mounts)) {
    if (mount.root !== '/') {
      throw new Error(`the lab cannot mount ${mount.mountpoint} again in a host: it shows ${mount.root} of its hierarchy, not the whole`);
    }
    // Per-mount flags, then the filesystem's own options (the controllers of a v1 hierarchy, name=…).
    const options = [...new Set([...mount.options, ...mount.superOptions.filter((o) => o !== 'rw' && o !== 'ro')])];
    if (mount.mountpoint !== CGROUP_ROOT) lines.push(`mkdir -p ${shellQuote(mount.mountpoint)}`);
    lines.push(`mount -t ${shellQuote(mount.fstype)} -o ${shellQuote(options.join(','))} ${shellQuote(mount.source)} ${shellQuote(mount.mountpoint)}`);
  }
  // What the machine mounts below /run (its /run/pidbox, /run/netns) is detached first, deepest first:
  // hidden under the new /run it would still be listed in mountinfo, and a worker that finds its
  // run folder listed takes it for a mount point it can make private (EINVAL). Other workers of the
  // machine mount and unmount their sandboxes' folders there all the time: one that is gone by the
  // time it is detached is fine.
  lines.push(
    `sed -n 's/^[^ ]* [^ ]* [^ ]* [^ ]* \\(\\/run\\/[^ ]*\\) .*/\\1/p' /proc/self/mountinfo | sort -r | while read -r mountpoint; do umount -l "$mountpoint" 2>/dev/null || true; done`,
    'mount -t tmpfs -o rw,nosuid,nodev,mode=755,size=64m host-run /run',
  );
  return lines;
}

/** `s` as one word of sh, whatever it holds. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=,:@%+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** mountinfo writes space, tab, newline and backslash in paths as octal escapes (`\040`). */
function unescape(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
