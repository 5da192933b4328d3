import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PidboxError } from '../contracts/pidbox-error.js';
import { SyncWaiters } from '../gateway/sync-waiters.js';
import type { EmbeddedRedis } from '../dev/embedded-redis.js';
import { InvocationStore } from '../redis/invocation-store.js';
import { closeRedisClient, createRedisClient } from '../redis/redis-client.js';
import { redisKeys } from '../redis/redis-keys.js';
import { startTestRedis } from './support/redis-server.js';

let redis: EmbeddedRedis;
before(async () => {
  redis = await startTestRedis();
});
after(async () => {
  await redis.stop();
});

test('a caller that left before its wait began is let go at once, not after the sync timeout', async () => {
  const keys = redisKeys('waiters-test');
  const client = createRedisClient(redis.url, { name: 'test' });
  const subscriber = createRedisClient(redis.url, { name: 'test-sub' });
  const store = new InvocationStore(client, keys, { keepSucceededSeconds: 60, keepFailedSeconds: 60, keepPendingSeconds: 60, listMaxEntries: 100 });
  const waiters = new SyncWaiters({ subscriber, channel: keys.finishedChannel, store });
  try {
    await waiters.start();
    await assert.rejects(
      waiters.wait('00000000-0000-4000-8000-000000000000', { timeoutMs: 120_000, signal: AbortSignal.abort() }),
      (error: unknown) => error instanceof PidboxError && error.code === 'INVALID_REQUEST',
    );
    assert.equal(waiters.size, 0, 'no waiter is left behind');
  } finally {
    waiters.close();
    await Promise.all([closeRedisClient(subscriber), closeRedisClient(client)]);
  }
});
