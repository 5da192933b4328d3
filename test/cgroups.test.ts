// Behaviour tests of the cgroup layer on this machine's real cgroup v1 hierarchies (memory, pids,
// cpu, cpuacct; the memory controller's own cgroup is nested, the others are at /). Real processes
// join real cgroups, and the kernel enforces the limits. Every test closes its tree and kills its
// processes even when it fails (t.after), and the last test checks that no cgroup of this file is
// left anywhere under /sys/fs/cgroup. Fixtures are tiny shell or `node -e` programs, named by what
// they do; each waits for a line on stdin, so that it starts only once it has joined its cgroup.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openCgroupTree, type CgroupTree } from '../worker/sandbox/cgroups.js';
import { instanceName } from '../worker/sandbox/instance-name.js';
import { collectOutput, type Output } from './helpers/output.js';
import { isAlive, readStat } from './helpers/proc.js';
import { waitUntil } from './helpers/wait.js';

const TREE = instanceName();
/** Every tree name this file uses, for the last test's check. */
const treeNames = new Set([TREE]);

const SPINS = 'read _; while :; do :; done';
const SLEEPS = 'read _; exec sleep 1000';
/** Starts 20 background sleeps; dash gives up ("Cannot fork") at the first fork that fails. */
const FORKS_TWENTY = 'read _; i=0; while [ $i -lt 20 ]; do sleep 1000 & i=$((i + 1)); done; wait';
/**
 * 300 sleeps, then four shells that each start sleeps as fast as they can. The shells come last in
 * cgroup.procs (sorted by pid), so they keep forking while the sleeps before them are killed.
 */
const FORKS_FOREVER =
  'read _; i=0; while [ $i -lt 300 ]; do sleep 1000 & i=$((i + 1)); done; for i in 1 2 3 4; do (while :; do sleep 1000 & done) & done; wait';
/** Keeps 1 MiB buffers, written so that every page is charged, until something stops it. */
const HOARDS_MEMORY = "process.stdin.once('data', () => { const kept = []; for (;;) kept.push(Buffer.alloc(1 << 20, 1)); });";
/** Holds 48 MiB until a second line, then exits. */
const HOLDS_48_MIB =
  "process.stdin.once('data', () => { const held = Buffer.alloc(48 << 20, 1); console.log('holding', held.length); process.stdin.once('data', () => process.exit(0)); });";

/**
 * Opens 32 loopback connections and writes into each as fast as the kernel takes it, never reading
 * the other end: the data waits in socket buffers (up to tcp_wmem's 4 MiB a sender and tcp_rmem's
 * 128 KiB a receiver here), kernel memory and not the process's. Holds it all until killed.
 */
const QUEUES_TCP = `
process.stdin.once('data', () => {
  const net = require('node:net');
  const server = net.createServer({ pauseOnConnect: true }, (peer) => held.push(peer)).listen(0, '127.0.0.1', () => {
    const chunk = Buffer.alloc(64 << 10, 1);
    for (let i = 0; i < 32; i++) {
      const client = net.connect(server.address().port, '127.0.0.1', function fill() {
        while (client.write(chunk));
        client.once('drain', fill);
      });
      held.push(client);
    }
  });
  const held = [];
});`;

const MiB = 1 << 20;

function openTree(t: TestContext): CgroupTree {
  const tree = openCgroupTree({ name: TREE });
  t.after(() => tree.close());
  return tree;
}

interface Fixture {
  child: ChildProcess;
  pid: number;
  stdout: Output;
  stderr: Output;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  /** Lets it go past its first `read`. */
  go(): void;
}

function start(t: TestContext, command: 'sh' | 'node', script: string): Fixture {
  const child = spawn(command === 'sh' ? '/bin/sh' : process.execPath, [command === 'sh' ? '-c' : '-e', script], { stdio: 'pipe' });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, pid: child.pid!, stdout: collectOutput(child.stdout), stderr: collectOutput(child.stderr), exited, go: () => child.stdin.write('go\n') };
}

/** Gone, or a zombie waiting for its parent: either way it runs nothing. */
function ended(pid: number): boolean {
  return !isAlive(pid);
}

/** The cgroup path of each controller for a task, from /proc/PID/task/TID/cgroup. */
function cgroupsOf(path: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of readFileSync(path, 'latin1').split('\n')) {
    const [, controllers, cgroup] = line.split(':');
    for (const controller of (controllers ?? '').split(',')) if (cgroup !== undefined) paths.set(controller, cgroup);
  }
  return paths;
}

/** Pids in a cgroup directory, read from the kernel. */
function pidsIn(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readFileSync(join(dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
}

test('a joined process moves into the sandbox cgroup in every hierarchy, all its threads with it', async (t) => {
  const tree = openTree(t);
  assert.equal(tree.version, 'v1');
  const sandbox = tree.create('joins');
  const fixture = start(t, 'node', "console.log('ready'); setInterval(() => {}, 1000);");
  await fixture.stdout.waitFor('ready'); // by then Node has started its threads
  await sandbox.join(fixture.pid);

  const own = cgroupsOf('/proc/self/cgroup');
  const threads = readdirSync(`/proc/${fixture.pid}/task`);
  assert.ok(threads.length > 1, 'node runs several threads');
  for (const tid of threads) {
    const theirs = cgroupsOf(`/proc/${fixture.pid}/task/${tid}/cgroup`);
    for (const controller of ['memory', 'pids', 'cpu', 'cpuacct']) {
      const expected = `${own.get(controller)!.replace(/\/$/, '')}/${TREE}/joins`;
      assert.equal(theirs.get(controller), expected, `thread ${tid}, ${controller}`);
    }
    assert.equal(theirs.get('name=systemd'), own.get('name=systemd'), 'hierarchies pidbox does not use are left alone');
  }
  assert.equal(sandbox.usage().tasks, threads.length, 'pids counts threads');
  await assert.rejects(sandbox.join(1), /was not started by this worker/, 'the worker moves only the processes it starts');
  await sandbox.remove();
});

test('a memory hog over the limit is killed by the OOM killer and counted in oomKills', async (t) => {
  const tree = openTree(t);
  const sandbox = tree.create('hoards');
  sandbox.setLimits({ memoryBytes: 32 * MiB, maxTasks: 64, cpus: 1 });
  const fixture = start(t, 'node', HOARDS_MEMORY);
  await sandbox.join(fixture.pid);
  assert.equal(sandbox.usage().oomKills, 0);
  fixture.go();

  const [code, signal] = await fixture.exited;
  assert.equal(signal, 'SIGKILL', `exit code ${code}, stderr ${fixture.stderr.text()}`);
  const usage = sandbox.usage();
  assert.equal(usage.oomKills, 1);
  assert.ok(usage.memoryPeakBytes! > 24 * MiB && usage.memoryPeakBytes! <= 32 * MiB, `peak ${usage.memoryPeakBytes}`);
  await sandbox.remove();
});

test('limits can be raised and lowered again, memsw following memory', async (t) => {
  const tree = openTree(t);
  const sandbox = tree.create('limits');
  const dir = tree.paths[0]!;
  const read = (file: string): number => Number(readFileSync(join(dir, 'limits', file), 'latin1'));
  for (const memoryBytes of [64 * MiB, 256 * MiB, 16 * MiB]) {
    sandbox.setLimits({ memoryBytes, maxTasks: 10, cpus: 0.25 });
    assert.equal(read('memory.limit_in_bytes'), memoryBytes);
    assert.equal(read('memory.memsw.limit_in_bytes'), memoryBytes);
  }
  assert.equal(Number(readFileSync(join(tree.paths[2]!, 'limits', 'cpu.cfs_quota_us'), 'latin1')), 25_000);
});

test('TCP socket buffers are charged to the cgroup, up to its memory limit', async (t) => {
  const tree = openTree(t);
  const sandbox = tree.create('queues');
  sandbox.setLimits({ memoryBytes: 32 * MiB, maxTasks: 64, cpus: 1 });
  const dir = join(tree.paths[0]!, 'queues');
  const read = (file: string): number => Number(readFileSync(join(dir, file), 'latin1'));
  assert.equal(read('memory.kmem.tcp.limit_in_bytes'), 32 * MiB);
  const fixture = start(t, 'node', QUEUES_TCP);
  await sandbox.join(fixture.pid);
  fixture.go();

  // Uncharged (the limit never written), the usage stays 0 while the 32 connections queue about
  // 130 MiB. memory.kmem.tcp.failcnt cannot tell a refusal here: recent kernels count failures
  // only for the memory and memsw counters.
  await waitUntil(() => read('memory.kmem.tcp.usage_in_bytes') >= 28 * MiB, 'the socket buffers are charged up to near the limit');
  // Charges the kernel does not refuse (a sender's first skb past its sndbuf, __GFP_NOFAIL) may
  // pass the limit by a little.
  const peak = read('memory.kmem.tcp.max_usage_in_bytes');
  assert.ok(peak <= 40 * MiB, `peak ${peak}`);
  assert.ok(isAlive(fixture.pid), 'not killed: socket buffers have a counter of their own on v1, apart from memory.limit_in_bytes');
  sandbox.killAll();
  await fixture.exited;
  await sandbox.remove();
});

test('a fork loop is held at maxTasks: the fork past it fails', async (t) => {
  const tree = openTree(t);
  const sandbox = tree.create('forks');
  sandbox.setLimits({ memoryBytes: 256 * MiB, maxTasks: 8, cpus: 1 });
  const fixture = start(t, 'sh', FORKS_TWENTY);
  await sandbox.join(fixture.pid);
  fixture.go();

  const [code] = await fixture.exited;
  assert.match(fixture.stderr.text(), /Cannot fork/);
  assert.notEqual(code, 0);
  const usage = sandbox.usage();
  assert.equal(usage.tasksPeak, 8, 'the shell and 7 sleeps, never more');
  assert.equal(pidsIn(join(tree.paths[1]!, 'forks')).length, 7, 'the sleeps it started before the limit');
  sandbox.killAll();
  await sandbox.remove();
});

test('the CPU time of a busy loop is measured, and agrees with what the kernel counts for the process', async (t) => {
  const tree = openTree(t);
  const sandbox = tree.create('spins');
  const fixture = start(t, 'sh', SPINS);
  await sandbox.join(fixture.pid);
  assert.ok(sandbox.usage().cpuNanos < 50e6, 'little CPU before it starts');
  const startedAt = performance.now();
  fixture.go();
  await waitUntil(() => sandbox.usage().cpuNanos >= 300e6, 'the loop has used 300 ms of CPU');
  const wallNanos = (performance.now() - startedAt) * 1e6;

  fixture.child.kill('SIGSTOP');
  await waitUntil(() => readStat(fixture.pid)?.state === 'T', 'the loop is stopped');
  const cpuNanos = sandbox.usage().cpuNanos;
  const fields = readFileSync(`/proc/${fixture.pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  const processNanos = (Number(fields[11]) + Number(fields[12])) * 1e7; // utime + stime, in 100 Hz ticks
  assert.ok(cpuNanos <= wallNanos * 1.1 + 20e6, `one thread uses at most one CPU: ${cpuNanos} ns in ${wallNanos} ns`);
  // Generous: other programs on this machine may compete for its two CPUs.
  assert.ok(cpuNanos >= wallNanos * 0.2, `an unlimited busy loop runs much of the time: ${cpuNanos} ns in ${wallNanos} ns`);
  assert.ok(Math.abs(cpuNanos - processNanos) < 60e6, `cpuacct ${cpuNanos} ns, /proc/PID/stat ${processNanos} ns`);
  await sandbox.remove();
});

test('a 0.5-CPU limit holds a busy loop to about half a CPU', async (t) => {
  const tree = openTree(t);
  const sandbox = tree.create('throttled');
  sandbox.setLimits({ memoryBytes: 64 * MiB, maxTasks: 4, cpus: 0.5 });
  const fixture = start(t, 'sh', SPINS);
  await sandbox.join(fixture.pid);
  fixture.go();
  await waitUntil(() => sandbox.usage().cpuNanos >= 20e6, 'the loop runs');

  const cpuBefore = sandbox.usage().cpuNanos;
  const before = performance.now();
  await waitUntil(() => sandbox.usage().cpuNanos - cpuBefore >= 500e6, 'the loop has used 500 ms more CPU');
  const cpus = (sandbox.usage().cpuNanos - cpuBefore) / ((performance.now() - before) * 1e6);
  assert.ok(cpus > 0.2 && cpus < 0.7, `ran at ${cpus.toFixed(2)} CPU`);
  await sandbox.remove();
});

test('peaks are read, and resetPeaks brings the memory peak down to what is charged now', async (t) => {
  const tree = openTree(t);
  const sandbox = tree.create('peaks');
  const fixture = start(t, 'node', HOLDS_48_MIB);
  await sandbox.join(fixture.pid);
  fixture.go();
  await fixture.stdout.waitFor('holding');

  const holding = sandbox.usage();
  assert.ok(holding.memoryPeakBytes! >= 48 * MiB, `peak ${holding.memoryPeakBytes}`);
  assert.ok(holding.tasksPeak! >= holding.tasks && holding.tasks > 1, `tasks ${holding.tasks}, peak ${holding.tasksPeak}`);
  fixture.go();
  await fixture.exited;
  await waitUntil(() => sandbox.usage().memoryBytes < 16 * MiB, 'the memory is given back');
  assert.ok(sandbox.usage().memoryPeakBytes! >= 48 * MiB, 'the peak outlives the process');

  sandbox.resetPeaks();
  const after = sandbox.usage();
  assert.ok(after.memoryPeakBytes! < 16 * MiB, `peak after the reset ${after.memoryPeakBytes}`);
  assert.equal(after.tasksPeak, holding.tasksPeak, 'pids.peak cannot be reset on v1');
  await sandbox.remove();
});

test('killAll ends every process in the cgroup, those forked while it kills included', async (t) => {
  const tree = openTree(t);
  const sandbox = tree.create('killed');
  sandbox.setLimits({ memoryBytes: 256 * MiB, maxTasks: 2000, cpus: 1 });
  const fixture = start(t, 'sh', FORKS_FOREVER);
  await sandbox.join(fixture.pid);
  fixture.go();
  const pidsDir = join(tree.paths[1]!, 'killed');
  await waitUntil(() => pidsIn(pidsDir).length >= 400, 'the loops have started 100 processes after the first 300');

  sandbox.killAll();
  const [, signal] = await fixture.exited;
  assert.equal(signal, 'SIGKILL');
  await waitUntil(() => pidsIn(pidsDir).length === 0, 'every process has left the cgroup');
  await sandbox.remove();
  for (const path of tree.paths) assert.equal(existsSync(join(path, 'killed')), false);
});

test('remove ends what still runs in the cgroup and leaves nothing in any hierarchy; removing again is fine', async (t) => {
  const tree = openTree(t);
  const sandbox = tree.create('removed');
  const fixture = start(t, 'sh', SLEEPS);
  await sandbox.join(fixture.pid);
  fixture.go();

  await sandbox.remove();
  for (const path of tree.paths) assert.equal(existsSync(join(path, 'removed')), false, path);
  assert.deepEqual(await fixture.exited, [null, 'SIGKILL']);
  await sandbox.remove();
  await Promise.all([sandbox.remove(), sandbox.remove()]);
});

test('close ends and removes every sandbox cgroup still in the tree, then the tree', async (t) => {
  const tree = openTree(t);
  const fixtures = ['one', 'two'].map((name) => ({ sandbox: tree.create(name), fixture: start(t, 'sh', SLEEPS) }));
  for (const { sandbox, fixture } of fixtures) await sandbox.join(fixture.pid);

  await tree.close();
  for (const path of tree.paths) assert.equal(existsSync(path), false, path);
  for (const { fixture } of fixtures) assert.deepEqual(await fixture.exited, [null, 'SIGKILL']);
  assert.throws(() => tree.create('three'), /closed/);
  await tree.close();
});

/** A worker in a process of its own: opens its tree, starts a sleeper in a sandbox cgroup, and closes the tree on SIGTERM. */
const WORKER_WITH_A_SANDBOX = `
  import { spawn } from 'node:child_process';
  import { openCgroupTree } from ${JSON.stringify(new URL('../worker/sandbox/cgroups.js', import.meta.url).href)};
  import { instanceName } from ${JSON.stringify(new URL('../worker/sandbox/instance-name.js', import.meta.url).href)};
  const name = instanceName();
  const tree = openCgroupTree({ name });
  const sandbox = tree.create('left');
  const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
  await sandbox.join(sleeper.pid);
  process.on('SIGTERM', async () => { await tree.close(); process.exit(0); });
  console.log(JSON.stringify({ name, paths: tree.paths, sleeper: sleeper.pid }));
  setInterval(() => {}, 1000);
`;

interface OtherWorker {
  child: ChildProcess;
  name: string;
  paths: string[];
  sleeper: number;
}

async function startOtherWorker(t: TestContext): Promise<OtherWorker> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', WORKER_WITH_A_SANDBOX], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stdout = collectOutput(child.stdout);
  let sleeper = 0;
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    if (sleeper > 0 && isAlive(sleeper)) process.kill(sleeper, 'SIGKILL');
  });
  await stdout.waitFor('\n');
  const started = JSON.parse(stdout.text()) as Omit<OtherWorker, 'child'>;
  sleeper = started.sleeper;
  treeNames.add(started.name);
  return { child, ...started };
}

test("a tree whose worker is gone is removed by the next openCgroupTree, its processes ended; a live worker's tree stays", async (t) => {
  const gone = await startOtherWorker(t);
  const live = await startOtherWorker(t);
  // Whatever this test leaves, a later open in a fresh process would sweep; sweep it here too.
  t.after(() => openCgroupTree({ name: TREE }).close());
  gone.child.kill('SIGKILL');
  await once(gone.child, 'exit');
  assert.ok(isAlive(gone.sleeper), "the dead worker's sleeper outlives it");
  for (const path of gone.paths) assert.deepEqual(pidsIn(join(path, 'left')), [gone.sleeper], path);

  const tree = openTree(t);
  for (const path of gone.paths) assert.equal(existsSync(path), false, `${path} is removed`);
  await waitUntil(() => ended(gone.sleeper), "the dead worker's sleeper has ended");
  for (const path of live.paths) assert.deepEqual(pidsIn(join(path, 'left')), [live.sleeper], `${path} is left alone`);
  assert.ok(isAlive(live.sleeper));
  await tree.close();

  live.child.kill('SIGTERM');
  assert.deepEqual(await once(live.child, 'exit'), [0, null]);
  for (const path of live.paths) assert.equal(existsSync(path), false, `${path} is removed by its own worker`);
  assert.ok(ended(live.sleeper));
});

test('no cgroup of this file is left anywhere under /sys/fs/cgroup', () => {
  const left: string[] = [];
  const walk = (dir: string, depth: number): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (depth >= 1 && [...treeNames].some((name) => entry.name === name)) left.push(path);
      walk(path, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  assert.deepEqual(left, []);
  assert.ok(treeNames.size >= 3, 'the other workers\' trees are checked too');
});
