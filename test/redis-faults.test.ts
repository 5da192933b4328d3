// pidbox when its one Redis misbehaves: restarted under load (append-only file on), full (maxmemory
// reached under noeviction), slow (every client paused). A gateway in this process and a worker in
// a process of its own, as they run in production; neither is told anything, they reconnect alone.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import { loadGatewayConfig } from '../gateway/gateway-config.js';
import { startGateway, type GatewayHandle } from '../gateway/start-gateway.js';
import { startLoad, settle } from './support/invocation-load.js';
import { FIXTURES } from './support/pidbox-stack.js';
import { isAlive, waitFor } from './support/processes.js';
import { startRedisNode, type RedisNode } from './support/redis-node.js';
import { spawnWorker, type WorkerProcess } from './support/worker-process.js';

/** The gateway's longest wait for one command (redis/redis-client.ts), and a margin for a busy machine. */
const COMMAND_TIMEOUT_MS = 5000;
const MARGIN_MS = 1500;

let node: RedisNode;
let gateway: GatewayHandle;
let worker: WorkerProcess;
let cacheDir: string;
/** The test's own connection, for CONFIG SET and CLIENT PAUSE. */
let admin: Redis;

before(async () => {
  node = await startRedisNode({ password: randomBytes(16).toString('hex'), args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-faults-test-cache-'));
  const env = {
    REDIS_URL: node.url,
    PIDBOX_REDIS_PREFIX: 'pbf',
    PIDBOX_FUNCTIONS_DIR: FIXTURES,
    PIDBOX_CACHE_DIR: cacheDir,
    PIDBOX_WORKER_CONCURRENCY: '2',
    PIDBOX_POOL_SIZE: '2',
    PIDBOX_LOCK_DURATION_MS: '5000',
    PIDBOX_STALLED_INTERVAL_MS: '2000',
    PIDBOX_SHUTDOWN_GRACE_MS: '2000',
  };
  worker = await spawnWorker(env);
  gateway = await startGateway(loadGatewayConfig({ ...env, PORT: '0', PIDBOX_HOST: '127.0.0.1' }));
  admin = new Redis(node.url, { maxRetriesPerRequest: null });
  admin.on('error', () => {});
});

after(async () => {
  admin?.disconnect();
  await gateway?.close();
  await worker?.kill();
  const pid = node?.pid() ?? 0;
  await node?.remove();
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  assert.ok(pid === 0 || !isAlive(pid), `redis-server ${pid} is gone`);
});

const call = (path: string, init?: RequestInit): Promise<Response> => fetch(`${gateway.url}${path}`, init);

async function timed(path: string, init?: RequestInit): Promise<{ res: Response; ms: number; body: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const started = Date.now();
  const res = await call(path, init);
  const body = (await res.json()) as { error?: { code: string; message: string } } & Record<string, unknown>;
  return { res, ms: Date.now() - started, body };
}

/** Redis up (a test that failed mid-outage leaves it stopped), so that one failure does not hide the next test's result. */
async function redisRunning(): Promise<void> {
  if (node.pid() === 0) await node.start();
  await waitFor('/readyz', async () => (await call('/readyz')).status === 200, 15_000, 50);
}

/** How many commands Redis has refused for maxmemory since it started (INFO errorstats). */
async function oomRefusals(): Promise<number> {
  return Number(/errorstat_OOM:count=(\d+)/.exec(await admin.info('errorstats'))?.[1] ?? 0);
}

async function finalRecord(id: string, timeoutMs = 30_000): Promise<InvocationRecord> {
  return waitFor(`invocation ${id} to finish`, async () => {
    const res = await call(`/invocations/${id}`);
    if (res.status !== 200) return null;
    const record = (await res.json()) as InvocationRecord;
    return record.status === 'queued' || record.status === 'running' ? null : record;
  }, timeoutMs, 100);
}

test('redis-server restarted under load: /readyz reports the outage, callers get a prompt 503 QUEUE_UNAVAILABLE, and no accepted invocation is lost', async (t) => {
  const load = startLoad(gateway.url);
  // A failure below still stops the load, or its requests would keep the test process alive.
  t.after(() => load.stop());
  await waitFor('some invocations to be accepted', () => load.ledger.accepted.size >= 15, 30_000);
  // Accepted just before the restart, run after it (slow-echo takes 1.5 s).
  const lastBefore = await timed('/functions/slow-echo/invocations', { method: 'POST', body: 'accepted before' });
  assert.equal(lastBefore.res.status, 202);
  await node.stop();

  const down = await timed('/readyz');
  assert.equal(down.res.status, 503);
  assert.equal((down.body.checks as { redis: { ok: boolean } }).redis.ok, false);
  const refused = await timed('/functions/echoes-body/invocations', { method: 'POST', body: 'during' });
  assert.equal(refused.res.status, 503);
  assert.equal(refused.res.headers.get('retry-after'), '1');
  assert.equal(refused.body.error?.code, 'QUEUE_UNAVAILABLE');
  assert.ok(refused.ms < 1000, `refused in ${refused.ms} ms, not after a wait`);
  const syncRefused = await timed('/functions/echoes-body', { method: 'POST', body: 'during' });
  assert.equal(syncRefused.res.status, 503);
  assert.equal(syncRefused.body.error?.code, 'QUEUE_UNAVAILABLE');
  assert.ok(syncRefused.ms < 1000, `sync refused in ${syncRefused.ms} ms`);

  await node.start();
  await waitFor('/readyz to recover', async () => (await call('/readyz')).status === 200, 15_000, 50);
  const before = load.ledger.accepted.size;
  await waitFor('invocations to be accepted after the restart', () => load.ledger.accepted.size >= before + 15, 60_000);
  const ledger = await load.stop();

  const settled = await settle(gateway.url, ledger);
  assert.deepEqual(settled.lost, [], 'no accepted invocation is lost');
  assert.deepEqual(settled.failures, []);
  assert.equal(settled.succeeded, ledger.accepted.size);
  assert.deepEqual(ledger.unexpected, []);
  assert.deepEqual(ledger.wrongBodies, []);
  assert.ok(ledger.slowestRefusalMs < COMMAND_TIMEOUT_MS + MARGIN_MS, `slowest refusal ${ledger.slowestRefusalMs} ms`);
  const record = await finalRecord(lastBefore.body.id as string);
  assert.equal(record.status, 'succeeded');
  assert.equal(record.response?.body, 'accepted before');
  assert.equal(worker.child.exitCode, null, 'the worker still runs');
});

test('Redis full (maxmemory under noeviction): a caller gets 503 QUEUE_FULL saying so, a running invocation finishes once there is room, nothing crashes', async () => {
  await redisRunning();
  const running = await timed('/functions/slow-echo/invocations', { method: 'POST', body: 'finishes later' });
  assert.equal(running.res.status, 202);
  const id = running.body.id as string;
  await waitFor('the invocation to run', async () => ((await (await call(`/invocations/${id}`)).json()) as InvocationRecord).status === 'running', 15_000, 50);
  const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  const refusedBefore = await oomRefusals();
  await admin.config('SET', 'maxmemory', String(Math.floor(used / 2)));
  try {
    const full = await timed('/functions/echoes-body/invocations', { method: 'POST', body: 'no room' });
    assert.equal(full.res.status, 503);
    assert.equal(full.res.headers.get('retry-after'), '1');
    assert.equal(full.body.error?.code, 'QUEUE_FULL');
    assert.match(full.body.error!.message, /full.*maxmemory/);
    const batch = await timed('/functions/echoes-body/batch', { method: 'POST', body: '["a","b"]', headers: { 'content-type': 'application/json' } });
    assert.equal(batch.res.status, 503);
    assert.equal(batch.body.error?.code, 'QUEUE_FULL');
    // Reads still work: the record of the running invocation, the gateway's readiness.
    assert.equal((await call(`/invocations/${id}`)).status, 200);
    // Its result waits for room: the worker's writes are refused (Redis counts each refusal), and
    // the record stays running rather than the result being dropped.
    await waitFor('the worker to be refused writes', async () => (await oomRefusals()) >= refusedBefore + 6, 15_000, 100);
    assert.equal(((await (await call(`/invocations/${id}`)).json()) as InvocationRecord).status, 'running');
  } finally {
    await admin.config('SET', 'maxmemory', '0');
  }
  const record = await finalRecord(id);
  assert.equal(record.status, 'succeeded');
  assert.equal(record.response?.body, 'finishes later');
  const again = await call('/functions/echoes-body', { method: 'POST', body: 'room again' });
  assert.equal(again.status, 200);
  assert.equal(await again.text(), 'room again');
  assert.equal(worker.child.exitCode, null, 'the worker still runs');
});

test('Redis too slow to answer (every client paused): callers and /readyz get bounded answers, then work resumes', async () => {
  await redisRunning();
  await admin.call('CLIENT', 'PAUSE', String(COMMAND_TIMEOUT_MS + 3000), 'ALL');
  try {
    const [ready, invoke] = await Promise.all([
      timed('/readyz'),
      timed('/functions/echoes-body/invocations', { method: 'POST', body: 'paused' }),
    ]);
    assert.equal(ready.res.status, 503);
    assert.match((ready.body.checks as { redis: { error: string } }).redis.error, /no answer within/);
    assert.ok(ready.ms < 1000 + MARGIN_MS, `/readyz answered in ${ready.ms} ms`);
    assert.equal(invoke.res.status, 503);
    assert.equal(invoke.body.error?.code, 'QUEUE_UNAVAILABLE');
    assert.match(invoke.body.error!.message, /timed out/i);
    assert.ok(invoke.ms < COMMAND_TIMEOUT_MS + MARGIN_MS, `refused in ${invoke.ms} ms`);
  } finally {
    await admin.call('CLIENT', 'UNPAUSE');
  }
  const res = await call('/functions/echoes-body', { method: 'POST', body: 'after the pause' });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'after the pause');
  assert.equal(worker.child.exitCode, null, 'the worker still runs');
});
