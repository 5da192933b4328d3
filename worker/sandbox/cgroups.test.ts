// Unit tests of the cgroup layer on fake trees: a temporary directory laid out like /sys/fs/cgroup,
// with /proc/self/cgroup, /proc/self/mountinfo and the /proc/PID files it reads. No root needed. The
// fake has no kernel behind it: control files hold what the test or the layer wrote, and a cgroup
// directory is removed by deleting its files first, as rmdir on cgroupfs ignores them. Nothing here
// lists a real process other than this one in a fake cgroup.procs, so no kill can reach one.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { PidboxError } from '../../contracts/pidbox-error.js';
import { memoryLimitWritesV1 } from './cgroup-v1.js';
import { openCgroupTree, type CgroupTreeOptions } from './cgroups.js';
import { instanceName, isInstanceGone } from './instance-name.js';

const NAME = 'pidbox-1-2';
const MAX = '9223372036854771712';

/** This machine's layout: every controller on its own v1 hierarchy, memory's own cgroup nested, an empty cgroup2. */
const HYBRID_MOUNTINFO = [
  '22 1 0:21 / /proc rw,nosuid - proc proc rw',
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');
const HYBRID_CGROUP = '9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n';
const HYBRID_DIRS = ['cpu', 'cpuacct', 'memory/process_api/abc', 'pids', 'systemd', 'unified'].map((dir) => `sys/fs/cgroup/${dir}/`);

/** A pure v2 host, the worker in a systemd service of its own. */
const V2_MOUNTINFO = '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot';
const V2_OWN = 'sys/fs/cgroup/system.slice/pidbox.service';

/**
 * A fake root for `openCgroupTree`: `files` maps paths (relative to it) to contents; a path ending
 * in "/" is a directory. Removed when the test ends.
 */
function fakeRoot(t: TestContext, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'cgroups-test-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    if (path.endsWith('/')) {
      mkdirSync(full, { recursive: true });
    } else {
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, content);
    }
  }
  return root;
}

function hybridRoot(t: TestContext, extra: Record<string, string> = {}): string {
  return fakeRoot(t, {
    'proc/self/mountinfo': HYBRID_MOUNTINFO,
    'proc/self/cgroup': HYBRID_CGROUP,
    ...Object.fromEntries(HYBRID_DIRS.map((dir) => [dir, ''])),
    'sys/fs/cgroup/unified/cgroup.controllers': '\n',
    ...extra,
  });
}

/** A pure v2 host where the worker is alone in its own cgroup, which passes no controller on yet. */
function v2Root(t: TestContext, extra: Record<string, string> = {}): string {
  return fakeRoot(t, {
    'proc/self/mountinfo': V2_MOUNTINFO,
    'proc/self/cgroup': '0::/system.slice/pidbox.service\n',
    'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
    [`${V2_OWN}/cgroup.type`]: 'domain\n',
    [`${V2_OWN}/cgroup.controllers`]: 'cpu memory pids\n',
    [`${V2_OWN}/cgroup.subtree_control`]: '\n',
    [`${V2_OWN}/cgroup.procs`]: `${process.pid}\n`,
    ...extra,
  });
}

/** rmdir as cgroupfs does it: the control files go with the directory. */
function fakeRmdir(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile()) unlinkSync(join(dir, entry.name));
  }
  rmdirSync(dir);
}

function open(root: string, options: Partial<CgroupTreeOptions> = {}) {
  return openCgroupTree({ name: NAME, root, rmdir: fakeRmdir, ...options });
}

function read(root: string, path: string): string {
  return readFileSync(join(root, path), 'latin1');
}

/** A fake /proc/PID/stat whose start time (field 22) is `startTime`; its command holds a space and parentheses. */
function procStat(pid: number, startTime: number, ppid = 1): string {
  return `${pid} (node (worker) x) S ${ppid} ${Array(17).fill('0').join(' ')} ${startTime} 0 0\n`;
}

function setupError(pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof PidboxError, `not a PidboxError: ${String(error)}`);
    assert.equal(error.code, 'SANDBOX_SETUP_FAILED');
    assert.match(error.message, pattern);
    return true;
  };
}

// --- detection ---------------------------------------------------------------------------------

test('on a hybrid host like this one, every controller is found on its v1 hierarchy at the path /proc/self/cgroup gives it', async (t) => {
  const root = hybridRoot(t);
  const tree = open(root);
  assert.equal(tree.version, 'v1');
  assert.deepEqual(tree.paths, [
    join(root, 'sys/fs/cgroup/memory/process_api/abc', NAME),
    join(root, 'sys/fs/cgroup/pids', NAME),
    join(root, 'sys/fs/cgroup/cpu', NAME),
    join(root, 'sys/fs/cgroup/cpuacct', NAME),
  ]);
  for (const path of tree.paths) assert.ok(existsSync(path), `${path} was made`);
  assert.deepEqual(readdirSync(join(root, 'sys/fs/cgroup/unified')), ['cgroup.controllers'], 'the empty cgroup2 mount is left alone');
  await tree.close();
  for (const path of tree.paths) assert.equal(existsSync(path), false, `${path} is removed`);
  await tree.close();
});

test('controllers that share a v1 hierarchy share its directory, and a mount showing part of a hierarchy is followed', async (t) => {
  const root = fakeRoot(t, {
    'proc/self/mountinfo': [
      '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct',
      // Docker without a cgroup namespace: the mount shows the container's part of the hierarchy.
      '35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
      '39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids',
      '40 31 0:99 / /mnt/with\\040space rw - cgroup cgroup rw,name=elsewhere',
    ].join('\n'),
    'proc/self/cgroup': '5:pids:/\n4:memory:/docker/abc/inner\n1:cpu,cpuacct:/\n',
    'sys/fs/cgroup/cpu,cpuacct/': '',
    'sys/fs/cgroup/memory/inner/': '',
    'sys/fs/cgroup/pids/': '',
  });
  const tree = open(root);
  assert.equal(tree.version, 'v1');
  assert.deepEqual(tree.paths, [
    join(root, 'sys/fs/cgroup/memory/inner', NAME),
    join(root, 'sys/fs/cgroup/pids', NAME),
    join(root, 'sys/fs/cgroup/cpu,cpuacct', NAME),
  ]);
  await tree.close();
});

test('on a pure v2 host the tree is made in the unified hierarchy below the worker\'s own cgroup', async (t) => {
  const root = v2Root(t);
  const tree = open(root);
  assert.equal(tree.version, 'v2');
  assert.deepEqual(tree.paths, [join(root, V2_OWN, NAME)]);
  await tree.close();
});

test('a controller no hierarchy offers is named, with what to do', (t) => {
  const root = hybridRoot(t, {
    'proc/self/mountinfo': HYBRID_MOUNTINFO.split('\n').filter((line) => !line.endsWith(',pids')).join('\n'),
  });
  assert.throws(() => open(root), setupError(/no hierarchy offers the pids controller .*Delegate=yes/));
  assert.equal(existsSync(join(root, 'sys/fs/cgroup/memory/process_api/abc', NAME)), false, 'nothing is made');
});

test('controllers split between v1 and v2 are refused, saying so', (t) => {
  const root = hybridRoot(t, {
    'proc/self/mountinfo': HYBRID_MOUNTINFO.split('\n').filter((line) => !line.endsWith(',pids')).join('\n'),
    'sys/fs/cgroup/unified/cgroup.controllers': 'pids\n',
  });
  assert.throws(() => open(root), setupError(/split between cgroup v1 and v2 .*offers pids/));
});

test('a read-only cgroupfs is refused, naming the mount', (t) => {
  const root = v2Root(t, { 'proc/self/mountinfo': V2_MOUNTINFO.replace(' rw,nosuid', ' ro,nosuid') });
  assert.throws(() => open(root), setupError(/\/sys\/fs\/cgroup \(cgroup2\) is mounted read-only.*writable cgroupfs/));
});

test('on v2 a controller not delegated to the worker\'s cgroup is named, with what to do', (t) => {
  const root = v2Root(t, { [`${V2_OWN}/cgroup.controllers`]: 'cpu memory\n' });
  assert.throws(() => open(root), setupError(/the pids controller is not delegated to the worker's cgroup .*pidbox\.service .*Delegate=yes/));
  assert.equal(existsSync(join(root, V2_OWN, NAME)), false);
});

test('the tree name and sandbox names are checked before anything is made', async (t) => {
  const root = hybridRoot(t);
  assert.throws(() => open(root, { name: 'other-1' }), RangeError);
  assert.throws(() => open(root, { name: 'pidbox-../x' }), RangeError);
  const tree = open(root);
  t.after(() => tree.close());
  for (const bad of ['', '../up', 'a/b', 'a.b', 'worker', 'x'.repeat(201)]) assert.throws(() => tree.create(bad), RangeError, bad);
  assert.equal(readdirSync(tree.paths[0]!).length, 0);
});

// --- v2 delegation -----------------------------------------------------------------------------

test('on v2 the worker alone in its cgroup moves itself into a leaf, then the controllers are enabled down to the sandboxes; close undoes it', async (t) => {
  const root = v2Root(t);
  const own = join(root, V2_OWN);
  const tree = open(root);
  const subtree = join(own, NAME);
  assert.equal(read(root, `${V2_OWN}/${NAME}/worker/cgroup.procs`), String(process.pid), 'the worker moved itself into the leaf');
  assert.equal(read(root, `${V2_OWN}/cgroup.subtree_control`), '+memory +pids +cpu');
  assert.equal(read(root, `${V2_OWN}/${NAME}/cgroup.subtree_control`), '+memory +pids +cpu');
  const sandbox = tree.create('call-1');
  assert.ok(existsSync(join(subtree, 'call-1')));

  await tree.close();
  assert.equal(existsSync(join(subtree, 'call-1')), false, 'the sandbox is removed');
  assert.equal(existsSync(subtree), false, 'the subtree and the worker leaf are removed');
  assert.equal(read(root, `${V2_OWN}/cgroup.subtree_control`), '-memory -pids -cpu', 'the own cgroup passes nothing on again');
  assert.equal(read(root, `${V2_OWN}/cgroup.procs`), String(process.pid), 'the worker moved back');
  await sandbox.remove();
  await tree.close();
});

test('on v2 a cgroup shared with other processes is refused, naming them, and nothing is moved or made', (t) => {
  const root = v2Root(t, {
    [`${V2_OWN}/cgroup.procs`]: `4242\n${process.pid}\n`,
    'proc/4242/comm': 'tini\n',
  });
  assert.throws(() => open(root), setupError(/cgroup .*pidbox\.service also holds 4242 \(tini\)\. .*must be alone in its cgroup/));
  assert.deepEqual(readdirSync(join(root, V2_OWN)).sort(), ['cgroup.controllers', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.type']);
  assert.equal(read(root, `${V2_OWN}/cgroup.subtree_control`), '\n');
});

test('on v2 the root cgroup passes the controllers on already and holds processes of its own: nobody moves', async (t) => {
  const root = fakeRoot(t, {
    'proc/self/mountinfo': V2_MOUNTINFO,
    'proc/self/cgroup': '0::/\n',
    'sys/fs/cgroup/cgroup.controllers': 'cpu memory pids\n',
    'sys/fs/cgroup/cgroup.subtree_control': 'cpu memory pids\n',
    'sys/fs/cgroup/cgroup.procs': `1\n${process.pid}\n`,
    'sys/fs/cgroup/init.scope/': '',
  });
  const tree = open(root);
  const subtree = join(root, 'sys/fs/cgroup', NAME);
  assert.deepEqual(tree.paths, [subtree]);
  assert.equal(existsSync(join(subtree, 'worker')), false);
  assert.equal(read(root, 'sys/fs/cgroup/cgroup.subtree_control'), 'cpu memory pids\n', 'left as it was');
  assert.equal(read(root, `sys/fs/cgroup/${NAME}/cgroup.subtree_control`), '+memory +pids +cpu');
  await tree.close();
  assert.equal(existsSync(subtree), false);
  assert.equal(read(root, 'sys/fs/cgroup/cgroup.subtree_control'), 'cpu memory pids\n');
});

test('on v2 close leaves the worker in its leaf when another program has made a cgroup beside the subtree', async (t) => {
  const root = v2Root(t);
  const tree = open(root);
  tree.create('call-1');
  mkdirSync(join(root, V2_OWN, 'someone-else'));
  await tree.close();
  assert.equal(read(root, `${V2_OWN}/cgroup.subtree_control`), '+memory +pids +cpu', 'their controllers stay enabled');
  assert.equal(read(root, `${V2_OWN}/${NAME}/worker/cgroup.procs`), String(process.pid), 'the worker stays in its leaf');
  assert.equal(read(root, `${V2_OWN}/${NAME}/cgroup.subtree_control`), '+memory +pids +cpu', 'a tree opened later below the leaf still gets the controllers');
  assert.deepEqual(readdirSync(join(root, V2_OWN, NAME)).filter((name) => !name.includes('.')), ['worker'], 'the sandbox is gone');
});

// --- limits and usage --------------------------------------------------------------------------

test('v1 limits go to memory.limit_in_bytes, memory.memsw.limit_in_bytes and memory.kmem.tcp.limit_in_bytes alike, pids.max and the CFS quota', async (t) => {
  const root = hybridRoot(t);
  const tree = open(root);
  t.after(() => tree.close());
  const [memory, pids, cpu] = tree.paths.map((path) => join(path, 'call-1'));
  const sandbox = tree.create('call-1');
  writeFileSync(join(memory!, 'memory.limit_in_bytes'), MAX);
  writeFileSync(join(memory!, 'memory.memsw.limit_in_bytes'), MAX);
  writeFileSync(join(memory!, 'memory.kmem.tcp.limit_in_bytes'), MAX);
  sandbox.setLimits({ memoryBytes: 64 << 20, maxTasks: 32, cpus: 1.5 });
  assert.equal(readFileSync(join(memory!, 'memory.limit_in_bytes'), 'latin1'), String(64 << 20));
  assert.equal(readFileSync(join(memory!, 'memory.memsw.limit_in_bytes'), 'latin1'), String(64 << 20));
  assert.equal(readFileSync(join(memory!, 'memory.kmem.tcp.limit_in_bytes'), 'latin1'), String(64 << 20));
  assert.equal(readFileSync(join(pids!, 'pids.max'), 'latin1'), '32');
  assert.equal(readFileSync(join(cpu!, 'cpu.cfs_period_us'), 'latin1'), '100000');
  assert.equal(readFileSync(join(cpu!, 'cpu.cfs_quota_us'), 'latin1'), '150000');

  const noSwap = tree.create('call-2');
  writeFileSync(join(tree.paths[0]!, 'call-2', 'memory.limit_in_bytes'), MAX);
  noSwap.setLimits({ memoryBytes: 4096, maxTasks: 1, cpus: 0.01 });
  assert.equal(existsSync(join(tree.paths[0]!, 'call-2', 'memory.memsw.limit_in_bytes')), false, 'no memsw without swap accounting');
  assert.equal(existsSync(join(tree.paths[0]!, 'call-2', 'memory.kmem.tcp.limit_in_bytes')), false, 'no TCP limit where the kernel has no such file');
  assert.equal(readFileSync(join(tree.paths[2]!, 'call-2', 'cpu.cfs_quota_us'), 'latin1'), '1000');
});

test('on v1 memsw is written first when the limit rises and last when it falls, so it never drops below memory', () => {
  const swap = { swapAccounting: true, tcpAccounting: false };
  assert.deepEqual(memoryLimitWritesV1(Number(MAX), 64, swap), [['memory.limit_in_bytes', '64'], ['memory.memsw.limit_in_bytes', '64']]);
  assert.deepEqual(memoryLimitWritesV1(64, 128, swap), [['memory.memsw.limit_in_bytes', '128'], ['memory.limit_in_bytes', '128']]);
  assert.deepEqual(memoryLimitWritesV1(64, 64, swap), [['memory.limit_in_bytes', '64'], ['memory.memsw.limit_in_bytes', '64']]);
  assert.deepEqual(memoryLimitWritesV1(64, 128, { swapAccounting: false, tcpAccounting: false }), [['memory.limit_in_bytes', '128']]);
});

test('on v1 the TCP socket buffer limit is written too, equal to the memory limit, after memory and memsw', () => {
  const all = { swapAccounting: true, tcpAccounting: true };
  assert.deepEqual(memoryLimitWritesV1(Number(MAX), 64, all), [
    ['memory.limit_in_bytes', '64'], ['memory.memsw.limit_in_bytes', '64'], ['memory.kmem.tcp.limit_in_bytes', '64'],
  ]);
  assert.deepEqual(memoryLimitWritesV1(64, 128, all), [
    ['memory.memsw.limit_in_bytes', '128'], ['memory.limit_in_bytes', '128'], ['memory.kmem.tcp.limit_in_bytes', '128'],
  ]);
  assert.deepEqual(memoryLimitWritesV1(Number(MAX), 64, { swapAccounting: false, tcpAccounting: true }), [
    ['memory.limit_in_bytes', '64'], ['memory.kmem.tcp.limit_in_bytes', '64'],
  ]);
});

test('v2 limits go to memory.max, memory.swap.max 0 when swap is accounted, pids.max and cpu.max', async (t) => {
  const root = v2Root(t);
  const tree = open(root);
  t.after(() => tree.close());
  const dir = join(tree.paths[0]!, 'call-1');
  const sandbox = tree.create('call-1');
  writeFileSync(join(dir, 'memory.swap.max'), 'max\n');
  sandbox.setLimits({ memoryBytes: 128 << 20, maxTasks: 64, cpus: 1.5 });
  assert.equal(readFileSync(join(dir, 'memory.max'), 'latin1'), String(128 << 20));
  assert.equal(readFileSync(join(dir, 'memory.swap.max'), 'latin1'), '0');
  assert.equal(readFileSync(join(dir, 'pids.max'), 'latin1'), '64');
  assert.equal(readFileSync(join(dir, 'cpu.max'), 'latin1'), '150000 100000');

  tree.create('call-2').setLimits({ memoryBytes: 4096, maxTasks: 1, cpus: 2 });
  assert.equal(existsSync(join(tree.paths[0]!, 'call-2', 'memory.swap.max')), false, 'none without swap accounting');
});

test('limits the control files would refuse are refused, naming the field', async (t) => {
  const tree = open(hybridRoot(t));
  t.after(() => tree.close());
  const sandbox = tree.create('call-1');
  const good = { memoryBytes: 1 << 20, maxTasks: 8, cpus: 1 };
  assert.throws(() => sandbox.setLimits({ ...good, memoryBytes: 0 }), /memoryBytes/);
  assert.throws(() => sandbox.setLimits({ ...good, memoryBytes: 1.5 }), /memoryBytes/);
  assert.throws(() => sandbox.setLimits({ ...good, maxTasks: -1 }), /maxTasks/);
  assert.throws(() => sandbox.setLimits({ ...good, cpus: 0.001 }), /cpus/);
  assert.throws(() => sandbox.setLimits({ ...good, cpus: Infinity }), /cpus/);
});

test('v1 usage is read from cpuacct, memory and pids, with null peaks where the kernel keeps none', async (t) => {
  const tree = open(hybridRoot(t));
  t.after(() => tree.close());
  const [memory, pids, , cpuacct] = tree.paths.map((path) => join(path, 'call-1'));
  const sandbox = tree.create('call-1');
  writeFileSync(join(cpuacct!, 'cpuacct.usage'), '1234567890\n');
  writeFileSync(join(memory!, 'memory.usage_in_bytes'), '4096\n');
  writeFileSync(join(memory!, 'memory.max_usage_in_bytes'), '8192\n');
  writeFileSync(join(memory!, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
  writeFileSync(join(pids!, 'pids.current'), '2\n');
  writeFileSync(join(pids!, 'pids.peak'), '5\n');
  assert.deepEqual(sandbox.usage(), { cpuNanos: 1234567890, memoryBytes: 4096, memoryPeakBytes: 8192, tasks: 2, tasksPeak: 5, oomKills: 3 });
  unlinkSync(join(pids!, 'pids.peak'));
  writeFileSync(join(memory!, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\n');
  assert.deepEqual(sandbox.usage(), { cpuNanos: 1234567890, memoryBytes: 4096, memoryPeakBytes: 8192, tasks: 2, tasksPeak: null, oomKills: 0 });

  sandbox.resetPeaks();
  assert.equal(readFileSync(join(memory!, 'memory.max_usage_in_bytes'), 'latin1'), '0');
});

test('v2 usage is read from cpu.stat, memory and pids files, and a reset peak through the descriptor that reset it', async (t) => {
  const tree = open(v2Root(t));
  t.after(() => tree.close());
  const dir = join(tree.paths[0]!, 'call-1');
  const sandbox = tree.create('call-1');
  writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n');
  writeFileSync(join(dir, 'memory.current'), '4096\n');
  writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n');
  writeFileSync(join(dir, 'pids.current'), '1\n');
  assert.deepEqual(sandbox.usage(), { cpuNanos: 1_500_000, memoryBytes: 4096, memoryPeakBytes: null, tasks: 1, tasksPeak: null, oomKills: 2 });

  writeFileSync(join(dir, 'memory.peak'), '65536\n');
  writeFileSync(join(dir, 'pids.peak'), '3\n');
  assert.equal(sandbox.usage().memoryPeakBytes, 65536);
  assert.equal(sandbox.usage().tasksPeak, 3);
  sandbox.resetPeaks();
  assert.match(readFileSync(join(dir, 'memory.peak'), 'latin1'), /^reset/, 'the reset is a write to memory.peak');
  // The kernel answers a read through the resetting descriptor with the peak since the reset:
  // stand in for it by rewriting the same file the descriptor is open on.
  writeFileSync(join(dir, 'memory.peak'), '4096\n');
  assert.equal(sandbox.usage().memoryPeakBytes, 4096);
  await sandbox.remove();
});

test('v2 killAll writes cgroup.kill when the kernel has it', async (t) => {
  const tree = open(v2Root(t));
  t.after(() => tree.close());
  const dir = join(tree.paths[0]!, 'call-1');
  const sandbox = tree.create('call-1');
  writeFileSync(join(dir, 'cgroup.kill'), '');
  sandbox.killAll();
  assert.equal(readFileSync(join(dir, 'cgroup.kill'), 'latin1'), '1');
});

// --- stale trees -------------------------------------------------------------------------------

test('open removes the sibling trees of workers that are gone, in every hierarchy, and leaves every other one', async (t) => {
  const live = 4242;
  const siblings = {
    gone: 'pidbox-4343-100',
    reused: `pidbox-${live}-999`,
    live: `pidbox-${live}-555`,
    unparsable: 'pidbox-custom',
    other: 'other-program',
  };
  const files: Record<string, string> = { [`proc/${live}/stat`]: procStat(live, 555) };
  for (const dir of HYBRID_DIRS.slice(0, 4)) {
    for (const sibling of Object.values(siblings)) files[`${dir}${sibling}/call-9/`] = '';
  }
  delete files[`${HYBRID_DIRS[1]}${siblings.gone}/call-9/`];
  const root = hybridRoot(t, files);
  const tree = open(root);
  t.after(() => tree.close());
  for (const dir of HYBRID_DIRS.slice(0, 4)) {
    const left = readdirSync(join(root, dir)).sort();
    assert.deepEqual(left, [NAME, siblings.other, siblings.live, siblings.unparsable].sort(), dir);
  }
});

test('an isStale given in the options decides alone which sibling trees go', async (t) => {
  const files: Record<string, string> = {};
  for (const sibling of ['pidbox-4343-100', 'pidbox-custom']) files[`${HYBRID_DIRS[0]}${sibling}/`] = '';
  const root = hybridRoot(t, files);
  const asked: string[] = [];
  const tree = open(root, { isStale: (name) => (asked.push(name), name === 'pidbox-custom') });
  t.after(() => tree.close());
  assert.deepEqual(asked.sort(), ['pidbox-4343-100', 'pidbox-custom'], 'asked about pidbox- siblings only, not its own tree');
  assert.deepEqual(readdirSync(join(root, HYBRID_DIRS[0]!)).sort(), ['pidbox-1-2', 'pidbox-4343-100']);
});

test('a worker is gone when its pid is free or started at another time; a name it cannot parse is never stale', (t) => {
  const root = fakeRoot(t, { 'proc/4242/stat': procStat(4242, 555) });
  assert.equal(isInstanceGone('pidbox-4242-555', root), false);
  assert.equal(isInstanceGone('pidbox-4242-556', root), true);
  assert.equal(isInstanceGone('pidbox-4343-555', root), true);
  assert.equal(isInstanceGone('pidbox-4343', root), false);
  assert.equal(isInstanceGone('pidbox-4343-555-x', root), false);
  assert.match(instanceName(), /^pidbox-\d+-\d+-\d+$/);
  assert.equal(isInstanceGone('pidbox-4242-555-3', root), false);
  assert.equal(isInstanceGone(instanceName()), false, 'this process is not gone');
});
