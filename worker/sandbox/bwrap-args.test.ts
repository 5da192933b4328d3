import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bwrapArguments, type ContainmentPlan } from './bwrap-args.js';
import { identityFiles, readHostRoot, sandboxEtc } from './root-fs.js';

const plan: ContainmentPlan = {
  uid: 99999,
  gid: 99999,
  network: 'loopback',
  hostRoot: {
    topLevel: [{ name: 'bin', kind: 'symlink', target: 'usr/bin' }, { name: 'lib64', kind: 'dir' }],
    etcBinds: ['/etc/ssl/certs'],
    localtime: null,
    resolvConf: '',
  },
  etcDir: '/run/pidbox/w/etc',
  runtimeDir: '/run/pidbox/w/runtime',
  slotDir: '/run/pidbox/w/slots/1',
  tmpBytes: 1024,
  seccompFd: 5,
  infoFd: 6,
  command: ['/var/runtime/bin/node', '/var/runtime/init.cjs', '--sandbox'],
};

/** The (source, destination) pairs of every bind of a kind. */
function binds(args: string[], kind: string): Array<[string, string]> {
  const found: Array<[string, string]> = [];
  args.forEach((arg, i) => {
    if (arg === kind) found.push([args[i + 1]!, args[i + 2]!]);
  });
  return found;
}

test('the sandbox gets its own user, PID, IPC, UTS, cgroup and network namespaces, as a non-root uid, with no nested user namespaces', () => {
  const args = bwrapArguments(plan);
  for (const flag of ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--unshare-net', '--disable-userns', '--as-pid-1', '--die-with-parent', '--new-session']) {
    assert.ok(args.includes(flag), flag);
  }
  assert.equal(args[args.indexOf('--uid') + 1], '99999');
  assert.equal(args[args.indexOf('--gid') + 1], '99999');
});

test('the host network is shared only when the function asks for it', () => {
  assert.ok(!bwrapArguments({ ...plan, network: 'host' }).includes('--unshare-net'));
});

test('the root is built from an allow-list of read-only binds and is itself read-only; only /tmp is writable', () => {
  const args = bwrapArguments(plan);
  assert.deepEqual(binds(args, '--bind'), [], 'no writable bind of anything of the host');
  assert.deepEqual(binds(args, '--ro-bind'), [
    ['/usr', '/usr'],
    ['/lib64', '/lib64'],
    ['/run/pidbox/w/etc', '/etc'],
    ['/run/pidbox/w/slots/1/passwd', '/etc/passwd'],
    ['/run/pidbox/w/slots/1/group', '/etc/group'],
    ['/etc/ssl/certs', '/etc/ssl/certs'],
    ['/run/pidbox/w/runtime', '/var/runtime'],
    ['/run/pidbox/w/slots/1/task', '/var/task'],
    ['/run/pidbox/w/slots/1/bundle', '/var/bundle'],
  ]);
  assert.deepEqual(binds(args, '--dev-bind').map(([from]) => from), ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']);
  assert.equal(args[args.indexOf('--tmpfs', args.indexOf('--size')) + 1], '/tmp');
  assert.equal(args[args.indexOf('--size') + 1], '1024');
  const remounts = args.flatMap((a, i) => (a === '--remount-ro' ? [args[i + 1]] : []));
  assert.deepEqual(remounts, ['/dev', '/']);
  assert.ok(args.indexOf('--remount-ro') > args.lastIndexOf('--ro-bind'), 'the root turns read-only after every bind');
  assert.equal(args[args.indexOf('--chdir') + 1], '/var/task');
});

test('the seccomp filter is the last step before the init, which runs as PID 1 with PATH alone', () => {
  const args = bwrapArguments(plan);
  const end = args.indexOf('--');
  assert.deepEqual(args.slice(end + 1), plan.command);
  assert.ok(args.indexOf('--seccomp') > args.indexOf('--remount-ro'));
  assert.equal(args[args.indexOf('--seccomp') + 1], '5');
  assert.equal(args[args.indexOf('--info-fd') + 1], '6');
  assert.ok(args.includes('--clearenv'));
  assert.deepEqual(binds(args, '--setenv').map(([name]) => name), ['PATH']);
});

test('the host root is mirrored as it is: merged-/usr symlinks stay symlinks, real directories are bound', () => {
  const root = mkdtempSync(join(tmpdir(), 'pidbox-root-'));
  try {
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    symlinkSync('usr/bin', join(root, 'bin'));
    mkdirSync(join(root, 'lib64'));
    mkdirSync(join(root, 'etc/ssl/certs'), { recursive: true });
    writeFileSync(join(root, 'etc/ld.so.cache'), '');
    symlinkSync('/usr/share/zoneinfo/Europe/Paris', join(root, 'etc/localtime'));
    writeFileSync(join(root, 'etc/resolv.conf'), 'nameserver 10.0.0.1\n');
    const host = readHostRoot(root);
    assert.deepEqual(host.topLevel, [{ name: 'bin', kind: 'symlink', target: 'usr/bin' }, { name: 'lib64', kind: 'dir' }]);
    assert.deepEqual(host.etcBinds, ['/etc/ssl/certs', '/etc/ld.so.cache']);
    assert.equal(host.localtime, '/usr/share/zoneinfo/Europe/Paris');
    const etc = sandboxEtc(host);
    assert.match(identityFiles({ uid: 4242, gid: 4343 }).passwd, /^pidbox:x:4242:4343:/m);
    assert.match(identityFiles({ uid: 4242, gid: 4343 }).group, /^pidbox:x:4343:$/m);
    assert.deepEqual(etc.filter((e) => e.kind === 'mountpoint').map((e) => e.path), ['passwd', 'group', 'ssl/certs', 'ld.so.cache']);
    assert.ok(etc.some((e) => e.path === 'resolv.conf' && e.kind === 'file' && e.content === 'nameserver 10.0.0.1\n'));
    assert.ok(!etc.some((e) => e.path === 'shadow'), 'no shadow file at all');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
