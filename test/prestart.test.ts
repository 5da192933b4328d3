// Pre-started sandboxes: started before the calls come, each used for one call only. These tests
// check that a warm call is as fresh as a cold one (module state, /tmp, processes, cgroup,
// namespaces), that the pool keeps to its bounds and replaces what changed, and that nothing of it
// outlives its worker. Real sandboxes, a real pool, real worker processes.
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FunctionResult, InvocationRequest } from '../contracts/invocation.js';
import { FunctionRegistry } from '../registry/function-registry.js';
import { runFunction, type RunOptions } from '../worker/invoke/run-function.js';
import { SandboxPool } from '../worker/invoke/sandbox-pool.js';
import { createNodeBuilder } from '../worker/runtimes/node-build.js';
import { openSandboxHost, type SandboxHost } from '../worker/sandbox/sandbox-host.js';
import { DEFAULT_SANDBOX_LIMITS } from '../worker/sandbox/spawn-sandbox.js';
import { leftoverCgroups } from './support/cgroups.js';
import { holdPidNamespace, type HeldNamespace } from './helpers/proc.js';
import { sandboxProcesses, waitFor } from './support/processes.js';
import { startTestRedis } from './support/redis-server.js';
import { cleanUpAfterKilledWorkers, staleSandboxState } from './support/sandbox-state.js';
import { spawnWorker } from './support/worker-process.js';

const PRESTART = fileURLToPath(new URL('../../test/fixtures/prestart', import.meta.url));
const HOSTILE = fileURLToPath(new URL('../../test/fixtures/hostile', import.meta.url));
const SAMPLES = fileURLToPath(new URL('../../functions', import.meta.url));
const cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-prestart-cache-'));
const builder = createNodeBuilder({ cacheDir });
let host: SandboxHost;

before(async () => {
  host = await openSandboxHost();
});
after(async () => {
  await host.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

function pool(options: Partial<ConstructorParameters<typeof SandboxPool>[0]> = {}): SandboxPool {
  return new SandboxPool({
    host,
    builder,
    maxSandboxes: 4,
    maxMemoryMb: 1024,
    idleMs: 60_000,
    reserve: 1,
    limits: () => DEFAULT_SANDBOX_LIMITS,
    maxResultBytes: 1 << 20,
    tracing: false,
    ...options,
  });
}

function request(body = ''): InvocationRequest {
  return { method: 'POST', path: '/', headers: {}, bodyBase64: Buffer.from(body).toString('base64') };
}

function invoke(registry: FunctionRegistry, name: string, options: Partial<RunOptions> = {}, body = ''): Promise<FunctionResult> {
  return runFunction(registry.get(name), request(body), { host, invocationId: `inv-${Math.random().toString(36).slice(2)}`, builder, ...options });
}

function json<T>(result: FunctionResult): T {
  return JSON.parse(Buffer.from(result.response.bodyBase64, 'base64').toString('utf8')) as T;
}

/** Waits until the pool has `count` sandboxes ready for `key` (a function, or *exec / *node). */
function readyFor(sandboxes: SandboxPool, key: string, count = 1): Promise<unknown> {
  return waitFor(`${count} sandbox(es) ready for ${key}`, () => (sandboxes.figures().ready[key] ?? 0) >= count, 20_000);
}

describe('a warm call', { timeout: 120_000 }, () => {
  const prestart = new FunctionRegistry(PRESTART);
  const hostile = new FunctionRegistry(HOSTILE);

  test("is as fresh as a cold one: a module's state is new (its count is always 1), in an init, a cgroup and a namespace of its own", async (t) => {
    const sandboxes = pool();
    t.after(() => sandboxes.close());
    // Each PID namespace is held while the test runs: a freed one's name goes to the next at once.
    const held: HeldNamespace[] = [];
    t.after(() => held.forEach((h) => h.release()));
    const onSandbox = (info: { hostPid: number }): void => void held.push(holdPidNamespace(info.hostPid));
    const cold = await invoke(prestart, 'counts-its-calls', { pool: sandboxes, onSandbox });
    assert.equal(cold.sandbox.prestarted, false, 'nothing was ready for the first call');
    const results = [cold];
    for (let i = 0; i < 4; i++) {
      await readyFor(sandboxes, 'counts-its-calls');
      results.push(await invoke(prestart, 'counts-its-calls', { pool: sandboxes, onSandbox }));
    }
    assert.deepEqual(results.map((r) => r.status), Array(5).fill('succeeded'));
    assert.deepEqual(results.slice(1).map((r) => r.sandbox.prestarted), [true, true, true, true]);
    const answers = results.map((r) => json<{ calls: number; cgroup: string; deadlineInFuture: boolean; invocationId: string }>(r));
    assert.deepEqual(answers.map((a) => a.calls), [1, 1, 1, 1, 1]);
    assert.ok(answers.every((a) => a.deadlineInFuture && a.invocationId.startsWith('inv-')), 'the call\'s facts come in its context');
    assert.equal(new Set(results.map((r) => r.sandbox.hostPid)).size, 5, 'five inits');
    assert.equal(new Set(held.map((h) => h.namespace)).size, 5, 'five PID namespaces');
    assert.equal(new Set(answers.map((a) => a.cgroup)).size, 5, 'five cgroups');
  });

  test('never sees what an earlier call left in /tmp', async (t) => {
    const sandboxes = pool();
    t.after(() => sandboxes.close());
    const said: string[] = [];
    for (let i = 0; i < 4; i++) {
      if (i > 0) await readyFor(sandboxes, 'leaves-a-file-in-tmp');
      const result = await invoke(hostile, 'leaves-a-file-in-tmp', { pool: sandboxes });
      said.push(`${result.sandbox.prestarted ? 'warm' : 'cold'} ${Buffer.from(result.response.bodyBase64, 'base64').toString().split('\n')[0]}`);
    }
    assert.deepEqual(said, ['cold clean', 'warm clean', 'warm clean', 'warm clean']);
  });

  test('of a function without sandboxes of its own takes one of the reserve, given the function then', async (t) => {
    const sandboxes = pool();
    t.after(() => sandboxes.close());
    await readyFor(sandboxes, '*node');
    await readyFor(sandboxes, '*exec');
    const samples = new FunctionRegistry(SAMPLES);
    const node = await invoke(samples, 'hello', { pool: sandboxes }, 'reserve');
    const exec = await invoke(samples, 'echo', { pool: sandboxes }, 'reserve');
    assert.deepEqual([node.sandbox.prestarted, exec.sandbox.prestarted], [true, true]);
    assert.equal(json<{ message: string }>(node).message, 'Hello, reserve!');
    assert.equal(Buffer.from(exec.response.bodyBase64, 'base64').toString(), 'reserve');
  });

  test('that is killed or times out leaves the next call a sound sandbox', async (t) => {
    const sandboxes = pool();
    t.after(() => sandboxes.close());
    const fixtures = new FunctionRegistry(fileURLToPath(new URL('../../test/fixtures/functions', import.meta.url)));
    await readyFor(sandboxes, '*exec');
    const controller = new AbortController();
    const cancelled = invoke(fixtures, 'sleeps', { pool: sandboxes, signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    assert.equal((await cancelled).status, 'cancelled');
    const timedOut = await invoke(fixtures, 'times-out', { pool: sandboxes, killGraceMs: 100 });
    assert.equal(timedOut.status, 'timed_out');
    await readyFor(sandboxes, 'sleeps');
    const again = await invoke(new FunctionRegistry(SAMPLES), 'echo', { pool: sandboxes }, 'still fine');
    assert.equal(again.status, 'succeeded');
    assert.equal(Buffer.from(again.response.bodyBase64, 'base64').toString(), 'still fine');
  });
});

describe('the pool', { timeout: 120_000 }, () => {
  test('keeps to its bounds under a burst, and the calls beyond what is ready start cold', async (t) => {
    const sandboxes = pool({ maxSandboxes: 2, reserve: 1 });
    t.after(() => sandboxes.close());
    await readyFor(sandboxes, '*exec');
    await readyFor(sandboxes, '*node');
    const samples = new FunctionRegistry(SAMPLES);
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(most, Object.values(sandboxes.figures().ready).reduce((a, b) => a + b, 0));
    }, 5);
    try {
      const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => invoke(samples, 'echo', { pool: sandboxes }, String(i))));
      assert.deepEqual(burst.map((r) => r.status), Array(8).fill('succeeded'));
      const warm = burst.filter((r) => r.sandbox.prestarted).length;
      assert.ok(warm >= 1 && warm < 8, `${warm} of 8 were warm`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      clearInterval(watch);
    }
    assert.ok(most <= 2, `at most 2 ready at once: ${most}`);
  });

  test('keeps to its memory bound: what does not fit is not started', async (t) => {
    // 100 MiB holds two exec sandboxes (40 MB each, at least) but not a node one (90 MB) on top.
    const sandboxes = pool({ maxSandboxes: 8, maxMemoryMb: 100, reserve: 2 });
    t.after(() => sandboxes.close());
    await readyFor(sandboxes, '*exec', 2);
    await new Promise((resolve) => setTimeout(resolve, 2500)); // two maintenance turns
    assert.deepEqual(sandboxes.figures().ready, { '*exec': 2 });
  });

  test("answers every node call of a crowd, warm or cold, however the answer and the init's exit report race", async (t) => {
    // A node call is over once its result is complete; the init's report of the host's exit comes
    // just after, and on a loaded machine it can overtake the outcome's settling.
    const sandboxes = pool({ maxSandboxes: 4, reserve: 1 });
    t.after(() => sandboxes.close());
    const samples = new FunctionRegistry(SAMPLES);
    const results: FunctionResult[] = [];
    for (let round = 0; round < 4; round++) {
      results.push(...(await Promise.all(Array.from({ length: 16 }, (_, i) => invoke(samples, 'hello', { pool: sandboxes }, `n${round}-${i}`)))));
    }
    const failed = results.filter((r) => r.status !== 'succeeded').map((r) => `${r.status}: ${r.error?.code} ${r.error?.message}`);
    assert.deepEqual(failed, []);
    assert.deepEqual(results.map((r) => json<{ message: string }>(r).message), Array.from({ length: 64 }, (_, i) => `Hello, n${Math.floor(i / 16)}-${i % 16}!`));
  });

  test("ends a changed function's sandboxes before a call could take them", async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'pidbox-prestart-functions-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    chmodSync(root, 0o755);
    cpSync(join(PRESTART, 'counts-its-calls'), join(root, 'versioned'), { recursive: true });
    chmodSync(join(root, 'versioned'), 0o755);
    const source = join(root, 'versioned', 'index.ts');
    const write = (version: number, ageMs: number): void => {
      writeFileSync(source, `export default () => ({ version: ${version} });\n`, { mode: 0o644 });
      utimesSync(source, new Date(Date.now() - ageMs), new Date(Date.now() - ageMs));
    };
    write(1, 10_000);
    const registry = new FunctionRegistry(root);
    // No reserve: a warm call could only be in a sandbox made for this function.
    const sandboxes = pool({ reserve: 0 });
    t.after(() => sandboxes.close());
    assert.equal(json<{ version: number }>(await invoke(registry, 'versioned', { pool: sandboxes })).version, 1);
    await readyFor(sandboxes, 'versioned');
    write(2, 5_000);
    const changed = await invoke(registry, 'versioned', { pool: sandboxes });
    assert.equal(json<{ version: number }>(changed).version, 2, 'the call ran the new version');
    assert.equal(changed.sandbox.prestarted, false, 'not in a sandbox made for the old one');
    await readyFor(sandboxes, 'versioned');
    const warm = await invoke(registry, 'versioned', { pool: sandboxes });
    assert.deepEqual([warm.sandbox.prestarted, json<{ version: number }>(warm).version], [true, 2]);
  });

  test('leaves no sandbox, cgroup or mount behind when it closes', async () => {
    const sandboxes = pool();
    await readyFor(sandboxes, '*exec');
    await readyFor(sandboxes, '*node');
    await sandboxes.close();
    await host.settled();
    assert.deepEqual(sandboxProcesses(), []);
    assert.deepEqual(leftoverCgroups(host.name).filter((path) => !host.cgroups.paths.includes(path)), []);
  });
});

describe('a worker with a full pool', { timeout: 120_000 }, () => {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    test(`leaves no process and no cgroup behind when it gets ${signal}`, async () => {
      const redis = await startTestRedis();
      try {
        const worker = await spawnWorker({ REDIS_URL: redis.url, PIDBOX_FUNCTIONS_DIR: SAMPLES, PIDBOX_CACHE_DIR: cacheDir, PIDBOX_POOL_SIZE: '4', PIDBOX_POOL_RESERVE: '2' });
        await waitFor('its pool to fill', () => sandboxProcesses().length >= 4, 30_000);
        worker.child.kill(signal);
        await worker.exited;
        if (signal === 'SIGKILL') await cleanUpAfterKilledWorkers();
        await waitFor('every sandbox to end', () => sandboxProcesses().length === 0, 10_000);
        assert.deepEqual(staleSandboxState(), []);
        assert.deepEqual(leftoverCgroups(`pidbox-${worker.child.pid}-`), []);
      } finally {
        await redis.stop();
      }
    });
  }
});
