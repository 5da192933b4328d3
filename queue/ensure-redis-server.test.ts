import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisServerPlan } from './ensure-redis-server.js';

test('redis-server found is ready; missing, it is installed only as root with apt-get, else explained', () => {
  assert.equal(redisServerPlan({ found: true, isRoot: false, hasAptGet: false }), 'ready');
  assert.equal(redisServerPlan({ found: false, isRoot: true, hasAptGet: true }), 'install');
  assert.equal(redisServerPlan({ found: false, isRoot: true, hasAptGet: false }), 'instruct');
  assert.equal(redisServerPlan({ found: false, isRoot: false, hasAptGet: true }), 'instruct');
});
