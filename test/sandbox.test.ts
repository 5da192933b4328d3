// Behaviour tests of the sandbox core: spawnSandbox, the init as PID 1 of a fresh PID namespace,
// and the function under it. Everything is real — namespaces, signals, processes — and every test
// ends with no process of its sandbox left, which the tests check from the host's /proc — holding
// each sandbox's PID namespace open meanwhile, so that its name cannot pass to a namespace that
// another run on this machine creates. The suites' timeouts only keep a broken sandbox from
// hanging the run.

import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, afterEach, before, describe, test } from 'node:test';
import type { RunSpec } from '../worker/init/protocol.js';
import { openSandboxHost, type SandboxHost } from '../worker/sandbox/sandbox-host.js';
import { DEFAULT_SANDBOX_LIMITS, SANDBOX_PATH, spawnSandbox, type Sandbox, type SandboxOptions } from '../worker/sandbox/spawn-sandbox.js';
import { collectOutput, numbersAfter, type Output } from './helpers/output.js';
import { SANDBOX_FIXTURES, sandboxFixture } from './helpers/paths.js';
import {
  childrenOf, holdPidNamespace, isAlive, isTcpPortListening, livingProcessesInPidNamespace, openFdCount, pidNamespaceOf,
  processesInPidNamespace, readStat, type HeldNamespace,
} from './helpers/proc.js';
import { waitUntil } from './helpers/wait.js';
import { leftoverCgroups } from './support/cgroups.js';

const ENV = [`PATH=${SANDBOX_PATH}`];

/** A fixture as the sandbox sees it: test/fixtures/sandbox is mounted as its /var/task. */
const inside = (name: string): string => `/var/task/${name}`;

let host: SandboxHost;
before(async () => {
  host = await openSandboxHost();
});
after(() => host.close());

interface Started {
  sandbox: Sandbox;
  stdout: Output;
  stderr: Output;
  /** The sandbox's PID namespace, held until afterEach (or until the test releases it). */
  held: HeldNamespace;
}

// Sandboxes, worker-like processes and namespaces a test started or held, so that afterEach can
// end whatever a failed test left running.
const liveSandboxes = new Set<Sandbox>();
const liveWorkers = new Set<ChildProcess>();
const heldNamespaces = new Set<HeldNamespace>();

function hold(pid: number, expected?: string): HeldNamespace {
  const held = holdPidNamespace(pid, expected);
  heldNamespaces.add(held);
  return held;
}

/** Starts a sandbox with the fixtures as its /var/task, holds its PID namespace and waits until it is ready. */
async function start(options: SandboxOptions): Promise<Started> {
  const sandbox = spawnSandbox(host, { taskDir: SANDBOX_FIXTURES, ...options });
  liveSandboxes.add(sandbox);
  void sandbox.closed.finally(() => liveSandboxes.delete(sandbox));
  const stdout = collectOutput(sandbox.stdout);
  const stderr = collectOutput(sandbox.stderr);
  // Held before the function can start (it starts once the sandbox is ready), so that no other
  // namespace can take its name however fast the function ends.
  await sandbox.spawned;
  const held = hold(sandbox.pid);
  await sandbox.ready;
  return { sandbox, stdout, stderr, held };
}

function run(spec: RunSpec, options: Omit<SandboxOptions, 'run'> = {}): Promise<Started> {
  return start({ ...options, run: spec });
}

afterEach(async () => {
  for (const worker of liveWorkers) worker.kill('SIGKILL');
  liveWorkers.clear();
  for (const sandbox of liveSandboxes) sandbox.kill('SIGKILL');
  await Promise.allSettled([...liveSandboxes].map((s) => s.closed));
  for (const held of heldNamespaces) {
    for (const p of held.namespace ? livingProcessesInPidNamespace(held.namespace) : []) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // Ended meanwhile.
      }
    }
    held.release();
  }
  heldNamespaces.clear();
});

describe('a sandbox', { timeout: 60_000 }, () => {
  test('runs the function as a child of PID 1, the pidbox init, and its /proc shows only the sandbox', async () => {
    const { sandbox, stdout, stderr, held } = await run({ argv: [inside('describes-its-sandbox.sh')], env: ENV });
    assert.equal(held.namespace, sandbox.pidNamespace);
    await stdout.waitFor('listed\n');

    const self = numbersAfter(stdout, 'self')[0]!;
    assert.match(stdout.text(), /^ppid 1$/m);
    assert.match(stdout.text(), /^init \S*node .*init\.cjs --sandbox/m);
    const listed = [...stdout.text().matchAll(/^process (\d+) /gm)].map((m) => Number(m[1]));
    assert.deepEqual(listed, [1, self], 'inside, /proc lists the init and the function, nothing of the host');

    // The host sees the same two: the init, child of bubblewrap (this process's child), and the
    // function, the init's child.
    assert.notEqual(sandbox.pidNamespace, pidNamespaceOf('self'));
    const bwrap = readStat(sandbox.pid)?.ppid ?? 0;
    assert.equal(readStat(bwrap)?.comm, 'bwrap');
    assert.equal(readStat(bwrap)?.ppid, process.pid);
    const hostView = processesInPidNamespace(sandbox.pidNamespace);
    assert.equal(hostView.length, 2, JSON.stringify(hostView));
    assert.ok(hostView.some((p) => p.pid === sandbox.pid));
    assert.ok(hostView.some((p) => p.ppid === sandbox.pid));

    sandbox.stdin.end();
    const outcome = await sandbox.outcome;
    assert.equal(outcome.exitCode, 0);
    assert.equal(outcome.pidNamespace, sandbox.pidNamespace);
    assert.ok(outcome.peakProcesses >= 1, `peakProcesses ${outcome.peakProcesses}`);
    assert.equal(stderr.text(), '');
  });

  test('forwards SIGUSR1, SIGHUP and SIGTERM sent to the sandbox to the function, then reports its exit code', async () => {
    const { sandbox, stdout, stderr } = await run({
      argv: [inside('traps-signals.sh'), 'USR1', 'HUP', 'TERM'],
      env: ENV,
    });
    await stdout.waitFor('ready');
    for (const signal of ['SIGUSR1', 'SIGHUP', 'SIGTERM'] as const) {
      sandbox.kill(signal);
      await stdout.waitFor(`got ${signal.slice(3)}`);
    }
    sandbox.stdin.write('exit 42\n');
    const outcome = await sandbox.outcome;
    assert.deepEqual(
      { code: outcome.code, signal: outcome.signal, exitCode: outcome.exitCode, timedOut: outcome.timedOut },
      { code: 42, signal: null, exitCode: 42, timedOut: false },
    );
    assert.equal(stdout.text().replace(/^ready \d+\n/, ''), 'got USR1\ngot HUP\ngot TERM\n');
    assert.equal(stderr.text(), '');
  });

  test('reports the signal that ended the function, with 128 + its number as the exit code', async () => {
    const { sandbox, stdout } = await run({ argv: [inside('traps-signals.sh')], env: ENV });
    await stdout.waitFor('ready');
    sandbox.kill('SIGTERM');
    const outcome = await sandbox.outcome;
    assert.deepEqual(
      { code: outcome.code, signal: outcome.signal, exitCode: outcome.exitCode },
      { code: null, signal: 'SIGTERM', exitCode: 143 },
    );
  });

  test("reports the function's own exit code, and the signal it sent itself", async () => {
    const exited = await (await run({ argv: [inside('exits-with-code.sh'), '3'], env: ENV })).sandbox.outcome;
    assert.deepEqual({ code: exited.code, signal: exited.signal, exitCode: exited.exitCode }, { code: 3, signal: null, exitCode: 3 });

    const killed = await (await run({ argv: [inside('killed-by-signal.sh'), 'USR2'], env: ENV })).sandbox.outcome;
    assert.deepEqual(
      { code: killed.code, signal: killed.signal, exitCode: killed.exitCode },
      { code: null, signal: 'SIGUSR2', exitCode: 140 },
    );
  });

  test("gives the function and its init no realtime priority and no nice value below 0, whatever the worker's limits", async () => {
    // This process, the worker here, starts bubblewrap with its own limits. Root with
    // CAP_SYS_RESOURCE raises them for the test; without it (a container that drops it) they stay
    // as they are, 0 in most setups, and the test checks only that the sandbox gets no more.
    const limitsOf = (pid: number): string => execFileSync('prlimit', ['--pid', String(pid), '--rtprio', '--nice', '--noheadings', '--raw', '--output=SOFT,HARD'], { encoding: 'utf8' });
    const before = limitsOf(process.pid);
    try {
      execFileSync('prlimit', ['--pid', String(process.pid), '--rtprio=50:50', '--nice=30:30'], { stdio: 'ignore' });
    } catch {
      // EPERM: no CAP_SYS_RESOURCE.
    }
    try {
      const script = 'for pid in self 1; do grep -E "^Max (realtime|nice) priority" /proc/$pid/limits; done';
      const { sandbox, stdout } = await run({ argv: ['/bin/sh', '-c', script], env: ENV });
      assert.equal((await sandbox.outcome).exitCode, 0);
      const lines = stdout.text().trim().split('\n').map((line) => line.trim().split(/\s{2,}/).join(' | '));
      assert.deepEqual(lines, [
        'Max nice priority | 0 | 0', 'Max realtime priority | 0 | 0', 'Max nice priority | 0 | 0', 'Max realtime priority | 0 | 0',
      ]);
    } finally {
      const [rtprio, nice] = before.trim().split('\n').map((line) => line.trim().split(/\s+/).join(':'));
      execFileSync('prlimit', ['--pid', String(process.pid), `--rtprio=${rtprio}`, `--nice=${nice}`]);
    }
  });

  test('reaps 200 orphaned zombies while the function still runs', async () => {
    // 200 orphans and their short-lived parents: more than the default 128 processes.
    const limits = { ...DEFAULT_SANDBOX_LIMITS, maxProcesses: 1000 };
    const { sandbox, stdout, stderr } = await run({ argv: [inside('spawns-orphans.sh'), '200'], env: ENV }, { limits });
    await stdout.waitFor(/^adopted .*\n/m);
    assert.deepEqual(numbersAfter(stdout, 'adopted'), [200, 0], 'all 200 orphans went to the init, none exited yet');

    sandbox.stdin.end(); // the orphans exit, and become zombies until the init reaps them
    await stdout.waitFor(/^left .*\n/m, 20_000);
    assert.deepEqual(numbersAfter(stdout, 'left'), [0, 0], 'no orphan and no zombie left while the function runs');

    const outcome = await sandbox.outcome;
    assert.equal(outcome.exitCode, 0);
    assert.ok(outcome.zombiesReaped >= 200, `zombiesReaped ${outcome.zombiesReaped}`);
    assert.equal(stderr.text(), '');
  });

  test('ends every process of the sandbox when cancelled, and still reports the zombies its init reaped', async () => {
    const script = '( sleep 0.1 & ); ( sleep 0.1 & ); echo orphaned; while :; do sleep 1; done';
    const { sandbox, stdout } = await run({ argv: ['/bin/sh', '-c', script], env: ENV });
    await stdout.waitFor('orphaned');
    // The two orphans exit and are reaped by the init (state Z only until then).
    await waitUntil(() => !processesInPidNamespace(sandbox.pidNamespace).some((p) => p.ppid === sandbox.pid && p.comm === 'sleep'), 'the orphans to be reaped');
    sandbox.cancel();
    const outcome = await sandbox.outcome;
    assert.deepEqual(
      { signal: outcome.signal, code: outcome.code, exitCode: outcome.exitCode, zombiesReaped: outcome.zombiesReaped },
      { signal: 'SIGKILL', code: null, exitCode: 137, zombiesReaped: 2 },
      'the init reported the end (a SIGKILL to the init would have lost its count)',
    );
    await sandbox.closed;
    assert.deepEqual(processesInPidNamespace(outcome.pidNamespace), [], 'no process of the sandbox remains');
  });

  test('does not let a double-forked setsid daemon outlive the function', async () => {
    const { sandbox, stdout } = await run({ argv: [inside('double-forks-daemon.sh')], env: ENV });
    await stdout.waitFor(/^daemon \d+\n/m);
    const daemons = livingProcessesInPidNamespace(sandbox.pidNamespace).filter((p) => p.comm === 'sleep');
    assert.equal(daemons.length, 1, 'the daemon runs');
    assert.equal(daemons[0]!.session, daemons[0]!.pid, 'the daemon leads a session of its own');
    assert.equal(daemons[0]!.ppid, sandbox.pid, 'the init adopted the daemon');

    sandbox.stdin.end();
    const outcome = await sandbox.outcome;
    assert.equal(outcome.exitCode, 0);
    await sandbox.closed;
    assert.deepEqual(processesInPidNamespace(outcome.pidNamespace), [], 'no process of the sandbox remains');
  });

  test('ends a function that ignores SIGTERM with SIGKILL after its timeout and grace period', async () => {
    // A sandbox started before its call: the timeout counts from beginCall(), so the function has
    // all of it to set its trap.
    const { sandbox, stdout } = await start({ killGraceMs: 200 });
    sandbox.limit(DEFAULT_SANDBOX_LIMITS);
    sandbox.beginCall(500);
    sandbox.run({ argv: [inside('ignores-sigterm.sh')], env: ENV });
    await stdout.waitFor('ready');
    const outcome = await sandbox.outcome;
    assert.deepEqual(
      { timedOut: outcome.timedOut, signal: outcome.signal, code: outcome.code, exitCode: outcome.exitCode },
      { timedOut: true, signal: 'SIGKILL', code: null, exitCode: 137 },
    );
    await sandbox.closed;
    assert.deepEqual(processesInPidNamespace(outcome.pidNamespace), [], 'no process of the sandbox remains');
  });

  test('opens no debugger port when the init gets SIGUSR1, and keeps running', async () => {
    const { sandbox, stdout, stderr } = await run({ argv: [inside('traps-signals.sh'), 'USR1'], env: ENV });
    await stdout.waitFor('ready');
    assert.equal(isTcpPortListening(sandbox.pid, 9229), false, 'nothing listens on 9229 before the test');

    sandbox.kill('SIGUSR1');
    // Either the init's listener forwards it, or Node's own handler starts the inspector and says so.
    await Promise.race([stdout.waitFor('got USR1'), stderr.waitFor('Debugger listening')]);
    assert.doesNotMatch(stderr.text(), /Debugger listening/);
    assert.equal(isTcpPortListening(sandbox.pid, 9229), false, 'the inspector does not listen on 9229');
    assert.match(stdout.text(), /^got USR1$/m, 'the init forwarded SIGUSR1 to the function');
    assert.ok(isAlive(sandbox.pid), 'the init still runs');

    sandbox.stdin.write('exit 0\n');
    const outcome = await sandbox.outcome;
    assert.equal(outcome.exitCode, 0);
    assert.doesNotMatch(stderr.text(), /Debugger listening/);
    assert.equal(stderr.text(), '');
  });

  test('passes 5 MiB from stdin to stdout unchanged', async () => {
    const input = randomBytes(5 * 1024 * 1024);
    const { sandbox, stdout, stderr } = await run({ argv: ['cat'], env: ENV });
    sandbox.stdin.end(input);
    const outcome = await sandbox.outcome;
    await stdout.ended;
    assert.equal(outcome.exitCode, 0);
    assert.equal(stdout.bytes().length, input.length);
    assert.equal(sha256(stdout.bytes()), sha256(input));
    assert.equal(stderr.text(), '');
  });

  test('delivers all output, many pipe buffers of it, before the outcome resolves', async () => {
    const { sandbox, stdout, stderr } = await run({ argv: [inside('prints-a-lot.sh'), '20000', '1000'], env: ENV });
    const outcome = await sandbox.outcome;
    assert.equal(outcome.exitCode, 0);
    assert.equal(stdout.bytes().length, 20000 * 100);
    assert.equal(stdout.text(), `${'0'.repeat(99)}\n`.repeat(20000));
    assert.equal(stderr.text(), 'err\n'.repeat(1000));
  });

  test("gives the function exactly its RunSpec's environment, in order, and working directory", async () => {
    const env = ['PATH=/usr/bin:/bin', 'EMPTY=', 'SPACES=a b  c', 'UNICODE=é☃', 'EQUALS=a=b'];
    const printed = await run({ argv: ['env', '-0'], env });
    assert.equal((await printed.sandbox.outcome).exitCode, 0);
    assert.deepEqual(printed.stdout.bytes().toString('utf8').split('\0').slice(0, -1), env);

    const context = await run({ argv: [inside('prints-its-context.sh')], env: ENV, cwd: '/usr/share' });
    assert.equal((await context.sandbox.outcome).exitCode, 0);
    assert.match(context.stdout.text(), /^cwd \/usr\/share$/m);
  });
});

describe('a worker killed with SIGKILL', { timeout: 60_000 }, () => {
  interface WorkerReport {
    worker: ChildProcess;
    initPid: number;
    /** Its namespace is null when the whole sandbox had ended by the time the test looked. */
    held: HeldNamespace;
  }

  /** Starts worker-with-a-sandbox.mjs and reads the init's pid and namespace it prints. */
  async function startWorker(when: 'at-spawn' | 'when-running', argv: string[]): Promise<WorkerReport> {
    const worker = spawn(process.execPath, [sandboxFixture('worker-with-a-sandbox.mjs'), when, ...argv], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    liveWorkers.add(worker);
    const lines = createInterface({ input: worker.stdout! });
    const [line] = (await Promise.race([
      once(lines, 'line'),
      once(worker, 'exit').then(([code]) => {
        throw new Error(`the worker exited (${code}) before reporting its sandbox`);
      }),
    ])) as [string];
    lines.close();
    const report = JSON.parse(line) as { initPid: number; pidNamespace: string; worker: string };
    assert.match(report.pidNamespace, /^pid:\[\d+\]$/);
    killedWorkers.add(report.worker);
    return { worker, initPid: report.initPid, held: hold(report.initPid, report.pidNamespace) };
  }

  // What the killed workers left behind (their run folders and cgroups) goes when the next worker
  // of this host prepares its sandboxes.
  const killedWorkers = new Set<string>();
  after(async () => {
    const next = await openSandboxHost();
    await next.close();
    for (const name of killedWorkers) {
      assert.equal(existsSync(`/run/pidbox/${name}`), false, `${name}'s run folder is gone`);
      assert.deepEqual(leftoverCgroups(name), [], `${name}'s cgroups are gone`);
    }
  });

  async function killWorker(worker: ChildProcess): Promise<void> {
    const exited = once(worker, 'exit');
    worker.kill('SIGKILL');
    await exited;
    liveWorkers.delete(worker);
  }

  test('leaves no process of its running sandbox alive', async () => {
    const { worker, initPid, held } = await startWorker('when-running', [inside('ignores-sigterm.sh')]);
    const pidNamespace = held.namespace;
    assert.ok(pidNamespace, 'the sandbox runs');
    const before = livingProcessesInPidNamespace(pidNamespace);
    assert.ok(before.length >= 3, `the init, the function and its helper run: ${JSON.stringify(before)}`);
    assert.ok(before.some((p) => p.pid === initPid));

    await killWorker(worker);
    await waitUntil(() => livingProcessesInPidNamespace(pidNamespace).length === 0, 'the sandbox has ended');
  });

  test('leaves no process of its sandbox alive when it dies while the init is starting, 20 times over', async () => {
    // Half of the sandboxes are warm (no function yet): only the init's lifeline can end those.
    let checked = 0;
    for (let i = 0; i < 20; i++) {
      const argv = i % 2 === 0 ? [inside('ignores-sigterm.sh')] : [];
      const { worker, held } = await startWorker('at-spawn', argv);
      await killWorker(worker);
      const pidNamespace = held.namespace;
      if (pidNamespace === null) continue; // the whole sandbox had ended already
      checked++;
      await waitUntil(
        () => livingProcessesInPidNamespace(pidNamespace).length === 0,
        `the sandbox of run ${i} has ended (left: ${JSON.stringify(livingProcessesInPidNamespace(pidNamespace))})`,
      );
      held.release();
    }
    // The namespace is held as soon as the sandbox exists, before the worker is killed: nearly every
    // run is checked, and a run of twenty where none is would check nothing.
    assert.ok(checked >= 10, `${checked} of 20 sandboxes were looked at`);
  });

  test('leaves no bubblewrap stuck in its setup: the next worker of the host kills it', async () => {
    // Killed between bubblewrap's clone and its uid map, a worker leaves bubblewrap's child waiting
    // forever, before it has a parent-death signal or a cgroup. Such a process is a bubblewrap whose
    // command line names a gone worker's run folder; here one stands in for it, as a gone worker's.
    const gone = 'pidbox-999999-1-1';
    const stuck = spawn('bwrap', ['--ro-bind', '/', '/', '--setenv', 'RUN', `/run/pidbox/${gone}/slots/1/task`, 'sleep', '600'], { stdio: 'ignore', detached: true });
    await once(stuck, 'spawn');
    const bystander = spawn('bwrap', ['--ro-bind', '/', '/', '--setenv', 'RUN', '/run/pidbox/not-a-worker/', 'sleep', '600'], { stdio: 'ignore', detached: true });
    await once(bystander, 'spawn');
    try {
      const next = await openSandboxHost();
      await next.close();
      const [, signal] = (await once(stuck, 'exit')) as [number | null, NodeJS.Signals | null];
      assert.equal(signal, 'SIGKILL');
      assert.ok(isAlive(bystander.pid!), 'a bubblewrap that names no gone worker is left alone');
    } finally {
      stuck.kill('SIGKILL');
      bystander.kill('SIGKILL');
    }
  });
});

describe('1000 sandboxes in a row', { timeout: 300_000 }, () => {
  test('leak no file descriptor and no process', async () => {
    // Each run's namespace is checked as soon as the run ends, while it is still held.
    const runOnce = async (i: number): Promise<void> => {
      const { sandbox, stdout, held } = await run({ argv: ['echo', 'run', String(i)], env: ENV });
      const outcome = await sandbox.outcome;
      assert.equal(outcome.exitCode, 0, `run ${i}`);
      assert.equal(stdout.text(), `run ${i}\n`);
      await sandbox.closed;
      assert.deepEqual(processesInPidNamespace(outcome.pidNamespace), [], `no process of run ${i} remains`);
      held.release();
      heldNamespaces.delete(held);
    };
    // Warm up: the first sandbox opens the host's PID namespace once, libuv its signal pipe.
    for (let i = 0; i < 3; i++) await runOnce(-1);
    const fdsBefore = openFdCount();
    assert.deepEqual(childrenOf(process.pid), []);

    const RUNS = 1000;
    const PARALLEL = 2;
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < RUNS) await runOnce(next++);
      }),
    );

    assert.equal(openFdCount(), fdsBefore, 'as many descriptors open as before');
    assert.deepEqual(childrenOf(process.pid), [], 'no child process remains');
  });
});

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
