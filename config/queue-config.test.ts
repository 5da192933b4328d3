import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobRetention, MAX_FAILED_JOBS_KEPT } from '../redis/invocation-queues.js';
import { KEEP_LONGER_FACTOR, loadQueueConfig } from './queue-config.js';

test('by default records are kept a day when they succeeded and a week otherwise', () => {
  const config = loadQueueConfig({});
  assert.equal(config.recordTtlSeconds, 86_400);
  assert.equal(config.keepSucceededSeconds, 86_400);
  assert.equal(config.keepFailedSeconds, 604_800);
  assert.equal(config.keepPendingSeconds, 604_800);
});

test('PIDBOX_RECORD_TTL_S sets every retention that is not set on its own', () => {
  const config = loadQueueConfig({ PIDBOX_RECORD_TTL_S: '3600' });
  assert.equal(config.recordTtlSeconds, 3600);
  assert.equal(config.keepSucceededSeconds, 3600);
  assert.equal(config.keepFailedSeconds, KEEP_LONGER_FACTOR * 3600);
  assert.equal(config.keepPendingSeconds, KEEP_LONGER_FACTOR * 3600);
});

test('an unfinished record is kept at least a minute however short PIDBOX_RECORD_TTL_S is', () => {
  const config = loadQueueConfig({ PIDBOX_RECORD_TTL_S: '2' });
  assert.equal(config.keepSucceededSeconds, 2);
  assert.equal(config.keepFailedSeconds, 14);
  assert.equal(config.keepPendingSeconds, 60);
});

test('the PIDBOX_KEEP_* settings override what PIDBOX_RECORD_TTL_S gives', () => {
  const config = loadQueueConfig({
    PIDBOX_RECORD_TTL_S: '3600',
    PIDBOX_KEEP_SUCCEEDED_SECONDS: '10',
    PIDBOX_KEEP_FAILED_SECONDS: '20',
    PIDBOX_KEEP_PENDING_SECONDS: '300',
  });
  assert.deepEqual(
    [config.recordTtlSeconds, config.keepSucceededSeconds, config.keepFailedSeconds, config.keepPendingSeconds],
    [3600, 10, 20, 300],
  );
});

test('an invalid PIDBOX_RECORD_TTL_S fails at start naming the variable', () => {
  for (const value of ['0', '-5', '1.5', 'a day']) {
    assert.throws(() => loadQueueConfig({ PIDBOX_RECORD_TTL_S: value }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'INVALID_CONFIG');
      assert.match(error.message, /^PIDBOX_RECORD_TTL_S: must be a whole number of at least 1, got "/);
      return true;
    });
  }
});

test("BullMQ forgets a completed job at once and a failed one by age and by number", () => {
  const config = loadQueueConfig({ PIDBOX_RECORD_TTL_S: '100' });
  assert.deepEqual(jobRetention(config), { removeOnComplete: true, removeOnFail: { age: 700, count: MAX_FAILED_JOBS_KEPT } });
});
