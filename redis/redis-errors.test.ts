import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisTrouble } from './redis-errors.js';

test("Redis down, restarting, failing over or too slow reads as unreachable, from ioredis's and Redis's messages", () => {
  for (const message of [
    'Command timed out',
    'Connection is closed.',
    'connect ECONNREFUSED 127.0.0.1:6379',
    'read ECONNRESET',
    "Stream isn't writeable and enableOfflineQueue options is false",
    'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.',
    "Cluster isn't ready and enableOfflineQueue options is false",
    'Too many Cluster redirections. Last error: Error: Connection is closed.',
    'LOADING Redis is loading the dataset in memory',
    'CLUSTERDOWN The cluster is down',
    "READONLY You can't write against a read only replica.",
  ]) {
    assert.equal(redisTrouble(new Error(message)), 'unreachable', message);
  }
});

test('a write refused past maxmemory reads as full, in a script or a MULTI too', () => {
  const oom = new Error("OOM command not allowed when used memory > 'maxmemory'.");
  assert.equal(redisTrouble(oom), 'full');
  // EXEC of a MULTI whose commands were refused while queued: the cause is in previousErrors.
  const aborted = Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: [oom] });
  assert.equal(redisTrouble(aborted), 'full');
});

test('any other error is not blamed on Redis', () => {
  for (const message of ['ERR wrong number of arguments', 'WRONGTYPE Operation against a key holding the wrong kind of value', 'TypeError: x is undefined', 'a message that mentions OOM later']) {
    assert.equal(redisTrouble(new Error(message)), null, message);
  }
  assert.equal(redisTrouble(Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: [new Error('ERR syntax error')] })), null);
});
