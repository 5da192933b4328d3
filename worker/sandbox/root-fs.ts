// The filesystem a function sees. bubblewrap builds it on an empty tmpfs from an allow-list of
// read-only binds; nothing of the host's root is visible unless it is listed here, and the host's
// old root is unmounted (README, "Security"). The layout follows Lambda's: code in /var/task, the
// runtime in /var/runtime, a private writable /tmp.
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Where things are inside every sandbox. */
export const SANDBOX_PATHS = {
  /** The function's own folder, read-only, and its working directory. */
  task: '/var/task',
  /** A node function's bundle (index.mjs), read-only. */
  bundle: '/var/bundle',
  /** pidbox's sandbox runtime (init.cjs, node-host.cjs, koffi.node), read-only. */
  runtime: '/var/runtime',
  /** The Node.js binary the worker runs, read-only (also in PATH). */
  node: '/var/runtime/bin/node',
  /** The only writable place: a size-limited tmpfs, also the function's HOME. */
  tmp: '/tmp',
} as const;

/** The PATH of every sandbox: the usual directories, then the runtime's, so `node` is found. */
export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/var/runtime/bin';

/** The hostname inside every sandbox (its own UTS namespace). */
export const SANDBOX_HOSTNAME = 'pidbox';

/** Top-level directories a Debian-like root has beside /usr; merged-/usr systems make them symlinks. */
const TOP_LEVEL = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'] as const;

/** Host files bound read-only over the generated /etc, when the host has them. */
const ETC_BINDS = ['ssl/certs', 'alternatives', 'ld.so.cache'] as const;

export type TopLevelEntry = { name: string; kind: 'symlink'; target: string } | { name: string; kind: 'dir' };

/** What the host's root looks like, read once per worker. */
export interface HostRoot {
  /** /bin, /lib, … as the host has them: each a symlink (into usr/) or a directory. */
  topLevel: TopLevelEntry[];
  /** Host paths under /etc to bind read-only at the same place (CA certificates, alternatives, the loader's cache). */
  etcBinds: string[];
  /** /etc/localtime: the symlink's target, or null when the host has none (UTC). */
  localtime: string | null;
  /** The host's resolver configuration, for functions with the host's network. */
  resolvConf: string;
}

export function readHostRoot(root = '/'): HostRoot {
  const topLevel: TopLevelEntry[] = [];
  for (const name of TOP_LEVEL) {
    const path = join(root, name);
    const stat = lstatOrNull(path);
    if (stat?.isSymbolicLink()) topLevel.push({ name, kind: 'symlink', target: readlinkSync(path) });
    else if (stat?.isDirectory()) topLevel.push({ name, kind: 'dir' });
  }
  const etcBinds = ETC_BINDS.filter((path) => lstatOrNull(join(root, 'etc', path)) !== null).map((path) => `/etc/${path}`);
  const localtime = lstatOrNull(join(root, 'etc/localtime'))?.isSymbolicLink() ? readlinkSync(join(root, 'etc/localtime')) : null;
  let resolvConf = '';
  try {
    resolvConf = readFileSync(join(root, 'etc/resolv.conf'), 'utf8');
  } catch {
    // No resolver: names do not resolve, as on the host.
  }
  return { topLevel, etcBinds, localtime, resolvConf };
}

/** One entry of the generated /etc: a file's content, a symlink, or an empty placeholder for a bind. */
export type EtcEntry =
  | { path: string; kind: 'file'; content: string }
  | { path: string; kind: 'symlink'; target: string }
  | { path: string; kind: 'mountpoint'; directory: boolean };

/**
 * The sandbox's /etc, written once per worker and bound read-only into every sandbox: the host's
 * name resolution, time zone and certificates, and mount points for what differs between
 * sandboxes (`passwd` and `group`, naming each sandbox's own uid: identityFiles).
 */
export function sandboxEtc(host: HostRoot): EtcEntry[] {
  const entries: EtcEntry[] = [
    { path: 'passwd', kind: 'mountpoint', directory: false },
    { path: 'group', kind: 'mountpoint', directory: false },
    { path: 'hosts', kind: 'file', content: `127.0.0.1\tlocalhost ${SANDBOX_HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n` },
    { path: 'hostname', kind: 'file', content: `${SANDBOX_HOSTNAME}\n` },
    { path: 'nsswitch.conf', kind: 'file', content: 'passwd: files\ngroup: files\nhosts: files dns\n' },
    { path: 'resolv.conf', kind: 'file', content: host.resolvConf },
  ];
  if (host.localtime) entries.push({ path: 'localtime', kind: 'symlink', target: host.localtime });
  for (const bind of host.etcBinds) {
    const path = bind.slice('/etc/'.length);
    entries.push({ path, kind: 'mountpoint', directory: path !== 'ld.so.cache' });
  }
  return entries;
}

/** /etc/passwd and /etc/group of one sandbox: its user (uid and gid as on the host) and little else. */
export function identityFiles(ids: { uid: number; gid: number }): { passwd: string; group: string } {
  return {
    passwd: `root:x:0:0:root:/root:/usr/sbin/nologin\npidbox:x:${ids.uid}:${ids.gid}:pidbox function:/tmp:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    group: `root:x:0:\npidbox:x:${ids.gid}:\nnogroup:x:65534:\n`,
  };
}

function lstatOrNull(path: string): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}
