// Attacks on the sandbox by an outsider who may deploy any function: each fixture under
// test/fixtures/hostile is hostile code, named by what it tries, and each test checks from the host
// what came of it. Two suites. "Holes" are attacks that got through when these tests were written:
// each test states what pidbox should guarantee and fails until that is so. "Held" are attacks that
// failed, kept so that they keep failing. Real sandboxes: bubblewrap, namespaces, cgroups, seccomp.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, constants, cpSync, mkdtempSync, openSync, rmSync, statfsSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { FunctionResult, InvocationRequest } from '../contracts/invocation.js';
import { PidboxError } from '../contracts/pidbox-error.js';
import { FunctionRegistry } from '../registry/function-registry.js';
import { runFunction, type RunOptions } from '../worker/invoke/run-function.js';
import { createNodeBuilder } from '../worker/runtimes/node-build.js';
import { DEFAULT_RUN_DIR, openSandboxHost, type SandboxHost } from '../worker/sandbox/sandbox-host.js';
import { DEFAULT_SANDBOX_CEILINGS, DEFAULT_SANDBOX_LIMITS, SANDBOX_PATH, spawnSandbox } from '../worker/sandbox/spawn-sandbox.js';
import { collectOutput } from './helpers/output.js';
import { holdPidNamespace, livingProcessesInPidNamespace } from './helpers/proc.js';
import { waitUntil } from './helpers/wait.js';
import { leftoverCgroups } from './support/cgroups.js';

// A variable of the worker's environment, as REDIS_URL or an API key would be: set before anything
// starts esbuild, whose service process inherits the environment of the process that starts it.
const CANARY = randomBytes(12).toString('hex');
process.env.PIDBOX_RED_TEAM_CANARY = CANARY;

const HOSTILE = fileURLToPath(new URL('../../test/fixtures/hostile', import.meta.url));
const registry = new FunctionRegistry(HOSTILE);
const cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-red-team-cache-'));
const builder = createNodeBuilder({ cacheDir });
let host: SandboxHost;

before(async () => {
  host = await openSandboxHost();
});
after(async () => {
  try {
    await host?.close();
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});

type InvokeOptions = Partial<RunOptions> & { registry?: FunctionRegistry };

/** Async, so that a registry error (FUNCTION_NOT_FOUND, INVALID_FUNCTION_CONFIG) rejects like any runner's error. */
async function invoke(name: string, body = '', options: InvokeOptions = {}): Promise<FunctionResult> {
  const fn = (options.registry ?? registry).get(name);
  const request: InvocationRequest = { method: 'POST', path: '/', headers: {}, bodyBase64: Buffer.from(body).toString('base64') };
  return runFunction(fn, request, { host, invocationId: `red-team-${name}`, builder, ...options });
}

/** The run's result, or the runner's PidboxError (a build that fails, a sandbox that breaks). */
async function outcomeOf(run: Promise<FunctionResult>): Promise<FunctionResult | PidboxError> {
  try {
    return await run;
  } catch (error) {
    if (error instanceof PidboxError) return error;
    throw error;
  }
}

function text(result: FunctionResult): string {
  return Buffer.from(result.response.bodyBase64, 'base64').toString('utf8');
}

function lines(result: FunctionResult, prefix: string): string[] {
  return text(result).split('\n').filter((l) => l.startsWith(prefix));
}

/**
 * A functions folder of the test's own holding a copy of hostile fixture `name`, readable by the
 * sandbox's uid, for the test to add what git cannot hold (a pipe, a symlink to a host path, a big
 * file).
 */
function copyOf(name: string): { registry: FunctionRegistry; dir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'pidbox-red-team-'));
  chmodSync(root, 0o755);
  const dir = join(root, name);
  cpSync(join(HOSTILE, name), dir, { recursive: true });
  chmodSync(dir, 0o755);
  return { registry: new FunctionRegistry(root), dir, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Bytes in use in the worker's run folder, a tmpfs that every sandbox of the worker shares. */
function runFolderBytes(): number {
  const stats = statfsSync(join(DEFAULT_RUN_DIR, host.name));
  return (stats.blocks - stats.bfree) * stats.bsize;
}

describe('holes: each of these fails until pidbox closes it', { timeout: 120_000 }, () => {
  // esbuild runs in the worker, as root, on the whole host: import attributes (`with { type:
  // 'text' }`) and symlinks make it read any file, /proc/self/environ (the worker's own
  // environment: REDIS_URL, PIDBOX_API_KEYS…) included, into the bundle the function then runs.
  test("a node function's build reads no file outside its folder and nothing of the worker's environment", async () => {
    const outcome = await outcomeOf(invoke('bundles-host-files'));
    const said = outcome instanceof PidboxError ? outcome.message : `${text(outcome)} ${outcome.log}`;
    assert.ok(!said.includes(CANARY), "the worker's environment reached the function");
    if (outcome instanceof PidboxError) {
      assert.equal(outcome.code, 'FUNCTION_BUILD_FAILED');
      assert.doesNotMatch(said, /root:/, 'nothing of /etc/shadow is told');
      return;
    }
    assert.deepEqual(JSON.parse(text(outcome)), { canary: null, environBytes: 0, shadowBytes: 0, neighbourBytes: 0 });
  });

  // The build has no time limit and reads what it is given to the end: a pipe of the function's
  // folder that nobody writes to holds the invocation (and its worker slot) for ever; /dev/zero,
  // imported the same way, grows esbuild's memory, outside any cgroup, by ~350 MB a second.
  test("a node function's build ends by the function's timeout, even when it reads a pipe that never ends", async () => {
    const { registry: own, dir, cleanup } = copyOf('builds-from-a-fifo');
    const fifo = join(dir, 'fifo.txt');
    execFileSync('mkfifo', ['-m', '644', fifo]);
    const run = outcomeOf(invoke('builds-from-a-fifo', '', { registry: own }));
    try {
      const settled = await Promise.race([run, sleep(15_000).then(() => 'still building' as const)]);
      if (settled === 'still building') assert.fail('the invocation still waits for its build after 15 s, its timeout being 3 s');
      assert.ok(settled instanceof PidboxError || settled.status !== 'succeeded');
    } finally {
      // A build that still reads the pipe gets its end: a writer opens it and closes it at once.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // ENXIO: nobody reads it any more.
      }
      await run;
      cleanup();
    }
  });

  // On cgroup v1 the memory of TCP socket buffers is charged to a cgroup only once its
  // memory.kmem.tcp.limit_in_bytes is set; pidbox never sets it. The buffers of a function's own
  // loopback connections are then kernel memory beyond memoryMb, up to the host-wide tcp_mem limit,
  // past which every TCP connection of the host (the worker's Redis included) is starved.
  test('what a function queues in TCP socket buffers counts toward its memoryMb', async () => {
    const result = await invoke('queues-tcp-in-the-kernel', '16');
    if (result.status === 'failed') {
      assert.equal(result.error?.code, 'FUNCTION_OUT_OF_MEMORY', result.log);
      return;
    }
    const queued = Number(lines(result, 'queued ')[0]?.split(' ')[1]);
    assert.ok(queued <= 64, `${queued} MiB waited in the kernel's socket buffers, its memoryMb being 64`);
  });

  // function.json may ask for up to 65536 MiB of memory, 32768 processes (pid_max on many hosts),
  // 1024 CPUs and a 65536 MiB /tmp: the worker's PIDBOX_SANDBOX_* settings are only defaults, and
  // nothing lets the operator cap what a function asks for itself.
  test('a function.json cannot give its function more memory than the worker allows', async () => {
    const outcome = await outcomeOf(invoke('asks-for-more-memory', '', {
      defaultLimits: { ...DEFAULT_SANDBOX_LIMITS, memoryMb: 64 },
      limitCeilings: { ...DEFAULT_SANDBOX_CEILINGS, memoryMb: 64 },
    }));
    if (outcome instanceof PidboxError) {
      assert.equal(outcome.code, 'INVALID_FUNCTION_CONFIG');
      return;
    }
    assert.deepEqual(lines(outcome, 'allocated'), [], 'it used 192 MiB where the worker allows 64');
    assert.equal(outcome.error?.code, 'FUNCTION_OUT_OF_MEMORY');
  });

  // The init and the function share one uid, and prlimit(2) asks nothing more of a caller (no
  // dumpable check, unlike ptrace): the function lowers the init's RLIMIT_NOFILE, the init's next
  // SIGCHLD fails to read /proc, and it dies without reporting the exit. RLIMIT_CPU of 1 s gets it
  // SIGKILLed by the kernel the same way. The invocation then has no result of its own: the runner
  // fails (SANDBOX_INIT_FAILED), and the log, CPU time and memory of the run are not recorded.
  test("a function cannot change its init's resource limits, and its run ends with its own result", async () => {
    const outcome = await outcomeOf(invoke('limits-its-init'));
    assert.ok(!(outcome instanceof PidboxError), `the run had no result: ${outcome instanceof PidboxError ? `${outcome.code}: ${outcome.message}` : ''}`);
    assert.equal(outcome.status, 'succeeded', outcome.log);
    assert.match(text(outcome), /^prlimit refused/m);
    assert.match(text(outcome), /^child reaped$/m);
  });

  // The registry reads function.json as root and follows symlinks; V8's JSON.parse message quotes
  // the start of what it read, and that message becomes the invocation's error and a problem listed
  // by GET /functions. A function.json that is a symlink to /etc/shadow says "root:*:202…".
  test("a function.json that is a symlink to a host file tells nothing of that file", async () => {
    const secretDir = mkdtempSync(join(tmpdir(), 'pidbox-red-team-secret-'));
    const secret = `${randomBytes(8).toString('hex')} not json`;
    writeFileSync(join(secretDir, 'secret'), secret, { mode: 0o600 });
    const { registry: own, dir, cleanup } = copyOf('links-its-config');
    symlinkSync(join(secretDir, 'secret'), join(dir, 'function.json'));
    try {
      const outcome = await outcomeOf(invoke('links-its-config', '', { registry: own })).catch((error: Error) => error);
      const said = [
        outcome instanceof Error ? outcome.message : JSON.stringify(outcome),
        ...own.list().problems.map((problem) => problem.message),
      ].join('\n');
      assert.ok(!said.includes(secret.slice(0, 6)), `the worker quoted the root-only file: ${said}`);
    } finally {
      cleanup();
      rmSync(secretDir, { recursive: true, force: true });
    }
  });

  // Every sandbox runs as the same host uid, and the kernel counts some resources per uid across
  // user namespaces: inotify instances (fs.inotify.max_user_instances, 128), POSIX message queue
  // bytes (RLIMIT_MSGQUEUE), pipe buffer pages (fs.pipe-user-pages-soft), RLIMIT_NPROC. One function
  // that takes them all takes them from every other function running at the same time.
  test("one function cannot take another function's inotify instances", async () => {
    const hoarding = new AbortController();
    let hoarded = '';
    const hoarder = invoke('hoards-inotify', '', {
      signal: hoarding.signal,
      onLog: (chunk) => (hoarded += chunk.toString()),
    });
    try {
      await waitUntil(() => hoarded.includes('hoarding'), 'the hoarder holds its inotify instances');
      const other = await invoke('uses-inotify');
      assert.equal(other.status, 'succeeded', other.log);
      assert.deepEqual(lines(other, 'inotify'), ['inotify ok'], `while another function holds ${hoarded.trim()}`);
    } finally {
      hoarding.abort();
      await hoarder;
    }
  });

  // The worker reads everything a function writes, and discards what is over its limits; the
  // reading costs the worker's own CPU, outside the function's cgroup: about three times what the
  // function spends writing. A function held to one CPU keeps about one more of the worker's busy.
  test("reading a function's flood of output costs the worker far less CPU than the run's wall time", async () => {
    const before = process.cpuUsage();
    const result = await invoke('floods-its-output');
    const used = process.cpuUsage(before);
    const workerMs = (used.user + used.system) / 1000;
    assert.ok(
      workerMs < 0.25 * result.timings.runMs + 200,
      `the worker used ${Math.round(workerMs)} ms of CPU reading ${result.timings.runMs} ms of output (the function itself: ${result.sandbox.cpuMs} ms)`,
    );
  });

  // A node function's bundle has no size limit, and each run reads all of it into the worker's
  // memory and writes a copy into the worker's run folder: one tmpfs of 1 GiB for all its
  // sandboxes, charged to no sandbox. A few runs of a function with a big asset fill it, and every
  // node function's sandbox then fails to start (ENOSPC).
  test("a node function's big bundle is not copied into the worker's shared run folder for each run", async () => {
    const { registry: own, dir, cleanup } = copyOf('ships-a-big-bundle');
    writeFileSync(join(dir, 'blob.txt'), Buffer.alloc(16 * 1024 * 1024, 'a'));
    chmodSync(join(dir, 'blob.txt'), 0o644);
    try {
      const before = runFolderBytes();
      let during = before;
      const outcome = await outcomeOf(invoke('ships-a-big-bundle', '', { registry: own, onSandbox: () => (during = runFolderBytes()) }));
      const grewMiB = (during - before) / 1024 / 1024;
      assert.ok(grewMiB < 4, `the run folder grew by ${grewMiB.toFixed(1)} MiB for one run (${outcome instanceof PidboxError ? outcome.code : outcome.status})`);
    } finally {
      cleanup();
    }
  });
});

describe('held: attacks that failed, kept so that they keep failing', { timeout: 120_000 }, () => {
  test('every signal number sent to PID 1, 200 times over, leaves the init running, and it reports the exit code 3', async () => {
    const result = await invoke('signals-its-init');
    assert.equal(result.status, 'failed');
    assert.deepEqual(result.exit, { code: 3, signal: null });
    assert.match(result.log, /^init S/m, 'the init was sleeping, neither stopped nor gone');
  });

  test('a function that asks the init to trace it and stops is ended by its timeout', async () => {
    const result = await invoke('traces-itself-to-the-init');
    assert.equal(result.status, 'timed_out', result.log);
    assert.equal(result.error?.code, 'FUNCTION_TIMED_OUT');
  });

  test("symlinks in a function's own folder resolve in the sandbox's view, never the host's", async () => {
    const { registry: own, dir, cleanup } = copyOf('follows-its-own-symlinks');
    for (const [name, target] of [['shadow', '/etc/shadow'], ['root', '/'], ['init-root', '/proc/1/root'], ['host-tmp', '/tmp']]) {
      symlinkSync(target!, join(dir, name!));
    }
    try {
      const result = await invoke('follows-its-own-symlinks', '', { registry: own });
      assert.equal(result.status, 'succeeded', result.log);
      assert.deepEqual(text(result).split('\n').map((line) => line.trimEnd()).filter(Boolean), ['no shadow', 'root is its own', 'no init-root', 'host-tmp: . ..']);
    } finally {
      cleanup();
    }
  });

  test('processes still forking when the function exits all die with it, and its cgroup goes', async () => {
    let held: ReturnType<typeof holdPidNamespace> | null = null;
    const result = await invoke('forks-while-it-exits', '', { onSandbox: (sandbox) => (held = holdPidNamespace(sandbox.hostPid)) });
    try {
      assert.equal(result.status, 'succeeded', result.log);
      const namespace = held!.namespace;
      assert.ok(namespace);
      await waitUntil(() => livingProcessesInPidNamespace(namespace).length === 0, 'nothing of the sandbox lives');
      assert.deepEqual(leftoverCgroups(host.name).filter((path) => !host.cgroups.paths.includes(path)), []);
    } finally {
      held!.release();
    }
  });

  test("by default a function reaches no abstract unix socket of the host and no cloud metadata address", async () => {
    const name = `pidbox-red-team-${randomBytes(4).toString('hex')}`;
    const server: Server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(`\0${name}`, resolve));
    try {
      const result = await invoke('dials-abstract-sockets', `@${name}\n169.254.169.254 80\n`);
      assert.equal(result.status, 'succeeded', result.log);
      assert.deepEqual(lines(result, 'open'), []);
      assert.equal(lines(result, 'closed').length, 2);
      // The probe itself works: in the host's network namespace the same function reaches the socket.
      const { registry: hostNetwork, dir, cleanup } = copyOf('dials-abstract-sockets');
      writeFileSync(join(dir, 'function.json'), JSON.stringify({ network: 'host' }));
      try {
        const reached = await invoke('dials-abstract-sockets', `@${name}\n`, { registry: hostNetwork });
        assert.deepEqual(lines(reached, 'open'), [`open @${name}`]);
      } finally {
        cleanup();
      }
    } finally {
      server.close();
    }
  });

  test('what a function writes to /tmp counts toward its memory, even when /tmp is larger', async () => {
    const result = await invoke('fills-tmp-past-memory');
    assert.equal(result.status, 'failed', text(result));
    assert.equal(result.error?.code, 'FUNCTION_OUT_OF_MEMORY');
  });

  test('a function folder mounted into a sandbox that was started without one is read-only there', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'pidbox-red-team-late-'));
    chmodSync(folder, 0o755);
    const writable = join(folder, 'world-writable');
    execFileSync('mkdir', ['-m', '777', writable]);
    const sandbox = spawnSandbox(host, {});
    try {
      await sandbox.ready;
      sandbox.mountTask(folder);
      const output = collectOutput(sandbox.stdout);
      sandbox.run({ argv: ['/bin/sh', '-c', 'touch /var/task/world-writable/x 2>/dev/null && echo wrote || echo refused'], env: [`PATH=${SANDBOX_PATH}`] });
      sandbox.stdin.end();
      assert.equal((await sandbox.outcome).exitCode, 0);
      await output.ended;
      assert.equal(output.text().trim(), 'refused');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
