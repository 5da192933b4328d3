// The record's scripts against a real redis-server: which run may finish, requeue or describe an
// invocation once a second run has taken it over (a worker cut off past its job's lock).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import type { EmbeddedRedis } from '../dev/embedded-redis.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { InvocationStore } from './invocation-store.js';
import { closeRedisClient, createRedisClient } from './redis-client.js';
import { redisKeys, type RedisKeys } from './redis-keys.js';
import { unrunResult } from './unrun-result.js';

let server: EmbeddedRedis;
let redis: Redis;
let keys: RedisKeys;
let store: InvocationStore;

before(async () => {
  server = await startTestRedis();
  redis = createRedisClient(server.url, { name: 'invocation-store-test' });
  keys = redisKeys(`store-test-${randomUUID()}`);
  store = new InvocationStore(redis, keys, { keepSucceededSeconds: 60, keepFailedSeconds: 60, keepPendingSeconds: 60, listMaxEntries: 1000 });
});

after(async () => {
  await closeRedisClient(redis);
  await server.stop();
});

const request = { method: 'POST', path: '/', headers: {}, bodyBase64: '' };
const first = { attempt: 1, worker: 'host-a:100' };
const second = { attempt: 2, worker: 'host-b:200' };

/** A queued invocation in a batch of one, then run twice: by `first`, then (taken over) by `second`. */
async function takenOver(): Promise<{ id: string; batchId: string }> {
  const id = randomUUID();
  const batchId = randomUUID();
  await store.create({ id, functionName: 'fn', request, maxAttempts: 1, batchId });
  await redis.hset(keys.batch(batchId), 'count', 1, 'queued', 1);
  await redis.rpush(keys.batchMembers(batchId), id);
  assert.deepEqual(await store.begin(id, 'fn', first.worker, Date.now(), batchId), { kind: 'run', attempt: 1 });
  assert.deepEqual(await store.begin(id, 'fn', second.worker, Date.now(), batchId), { kind: 'run', attempt: 2 });
  return { id, batchId };
}

test('a run that is no longer the current one cannot finish the invocation, requeue it or set its sandbox', async () => {
  const { id, batchId } = await takenOver();
  const stale = unrunResult('failed', 'FUNCTION_FAILED', 'the first run');
  assert.deepEqual(await store.finish(id, 'fn', stale, batchId, first), { kind: 'stale', status: 'running', current: second });
  assert.equal(await store.requeue(id, 'fn', null, batchId, first), false);
  await store.setSandbox(id, { hostPid: 100, pidNamespace: 'pid:[1]' }, first);

  const record = await redis.hgetall(keys.invocation(id));
  assert.deepEqual(
    { status: record.status, attempts: record.attempts, worker: record.worker, result: record.result, sandbox: record.sandbox, finishedAt: record.finishedAt },
    { status: 'running', attempts: '2', worker: second.worker, result: undefined, sandbox: undefined, finishedAt: undefined },
  );
  assert.equal(await redis.xlen(keys.log(id)), 0, 'no end entry in the log');
  assert.deepEqual(await redis.hgetall(keys.batch(batchId)), { count: '1', queued: '0', running: '1' });

  // The current run's writes go through.
  await store.setSandbox(id, { hostPid: 200, pidNamespace: 'pid:[2]' }, second);
  assert.equal(await redis.hget(keys.invocation(id), 'sandbox'), JSON.stringify({ hostPid: 200, pidNamespace: 'pid:[2]' }));
  const current = unrunResult('failed', 'FUNCTION_FAILED', 'the second run');
  assert.deepEqual(await store.finish(id, 'fn', current, batchId, second), { kind: 'finished', callback: null });
  const done = await store.get(id);
  assert.deepEqual({ status: done?.status, attempts: done?.attempts, worker: done?.worker, error: done?.error }, {
    status: 'failed', attempts: 2, worker: second.worker, error: { code: 'FUNCTION_FAILED', message: 'the second run' },
  });
  assert.deepEqual(await redis.hgetall(keys.batch(batchId)), {
    count: '1', queued: '0', running: '0', failed: '1', finished: '1', finishedAt: await redis.hget(keys.batch(batchId), 'finishedAt'),
  });

  // Later still, the first run is told the invocation has finished: nothing changes.
  assert.deepEqual(await store.finish(id, 'fn', stale, batchId, first), { kind: 'already', status: 'failed' });
  assert.equal((await store.get(id))?.error?.message, 'the second run');
});

test('the current run requeues it; a finish that names no run finishes whatever runs', async () => {
  const { id, batchId } = await takenOver();
  assert.equal(await store.requeue(id, 'fn', { code: 'FUNCTION_FAILED', message: 'retry' }, batchId, second), true);
  assert.equal(await redis.hget(keys.invocation(id), 'status'), 'queued');
  // Queued now: a late requeue or finish of either run changes nothing.
  assert.equal(await store.requeue(id, 'fn', null, batchId, second), false);
  assert.deepEqual(await store.finish(id, 'fn', unrunResult('failed', 'FUNCTION_FAILED', 'late'), batchId, first), {
    kind: 'stale', status: 'queued', current: second,
  });

  // A gateway's or a lost job's finish (no run named) ends it.
  const lost = unrunResult('failed', 'WORKER_LOST', 'lost');
  assert.deepEqual(await store.finish(id, 'fn', lost, batchId), { kind: 'finished', callback: null });
  assert.equal((await store.get(id))?.error?.code, 'WORKER_LOST');
});
