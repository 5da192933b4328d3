import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClusterSeeds } from './cluster-seeds.js';
import { redact } from './redis-url.js';

test('seed nodes are read with their credentials, written before them or after them', () => {
  const seeds = [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-2', port: 7001 }, { host: '::1', port: 7002 }];
  assert.deepEqual(parseClusterSeeds('10.0.0.1:7000, redis-2:7001,[::1]:7002'), { seeds });
  assert.deepEqual(parseClusterSeeds('redis://:s3cret@10.0.0.1:7000,redis-2:7001,[::1]:7002'), { seeds, password: 's3cret' });
  assert.deepEqual(parseClusterSeeds('app:s3cret@10.0.0.1:7000,redis-2:7001,[::1]:7002'), { seeds, username: 'app', password: 's3cret' });
  assert.deepEqual(parseClusterSeeds('rediss://app:p%40ss%2C1@10.0.0.1:7000,redis-2:7001,[::1]:7002'), { seeds, username: 'app', password: 'p@ss,1', tls: {} });
  assert.deepEqual(parseClusterSeeds('10.0.0.1:7000,redis-2:7001,[::1]:7002?password=ab%26cd&username=app'), { seeds, username: 'app', password: 'ab&cd' });
  // A bare user part is a password, as redis-py and ioredis read `redis://password@host`.
  assert.deepEqual(parseClusterSeeds('redis://s3cret@redis-2:7001'), { seeds: [seeds[1]], password: 's3cret' });
});

test('a malformed seed or credentials is INVALID_CONFIG naming PIDBOX_REDIS_CLUSTER, its password hidden', () => {
  const cases: Array<[string, RegExp]> = [
    ['redis-1', /^PIDBOX_REDIS_CLUSTER: "redis-1" is not a node host:port/],
    ['redis-1:7000,,redis-2:7001', /^PIDBOX_REDIS_CLUSTER: "\(empty\)" is not a node host:port/],
    ['redis-1:7000,redis-2:70000', /^PIDBOX_REDIS_CLUSTER: "redis-2:70000" is not a node host:port \(a port from 1 to 65535\)/],
    ['redis-1:7000/1', /^PIDBOX_REDIS_CLUSTER: "redis-1:7000\/1" is not a node host:port/],
    ['::1:7000', /^PIDBOX_REDIS_CLUSTER: "::1:7000" is not a node host:port/],
    ['http://:secret@redis-1:7000', /^PIDBOX_REDIS_CLUSTER: "http:\/\/:\*\*\*@redis-1:7000" must start with redis:\/\/, rediss:\/\/ or the first node/],
    ['redis-1:7000,:secret@redis-2:7001', /^PIDBOX_REDIS_CLUSTER: ".*": the credentials go before the first node/],
    [':secret@redis-1:7000?password=secret', /^PIDBOX_REDIS_CLUSTER: ".*": the password is given twice/],
    ['redis-1:7000?pasword=secret', /^PIDBOX_REDIS_CLUSTER: unknown parameter "pasword"/],
    ['redis-1:7000?db=1', /^PIDBOX_REDIS_CLUSTER: unknown parameter "db" \(.*database 0 only\)/],
    ['redis-1:7000?password=', /^PIDBOX_REDIS_CLUSTER: .*password is empty/],
    [':sec%zzret@redis-1:7000', /^PIDBOX_REDIS_CLUSTER: .*malformed %-escape/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseClusterSeeds(value), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'INVALID_CONFIG', value);
      assert.match(error.message, message, value);
      assert.doesNotMatch(error.message, /secret|sec%zzret/, value);
      return true;
    });
  }
});

test('redact hides the password of a cluster value in every form', () => {
  assert.equal(redact(':s3cret@r1:7000,r2:7001'), ':***@r1:7000,r2:7001');
  assert.equal(redact('app:s3cret@r1:7000,r2:7001'), 'app:***@r1:7000,r2:7001');
  assert.equal(redact('redis://app:s3cret@r1:7000,r2:7001'), 'redis://app:***@r1:7000,r2:7001');
  assert.equal(redact('r1:7000,r2:7001?username=app&password=s3cret'), 'r1:7000,r2:7001?username=app&password=***');
  assert.equal(redact('r1:7000,r2:7001'), 'r1:7000,r2:7001');
});
