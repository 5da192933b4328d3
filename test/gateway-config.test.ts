// Configuration: pure functions of the environment, failing fast with the variable's name, and
// every variable listed in the README's table with its default.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gatewayVariables, loadGatewayConfig } from '../gateway/gateway-config.js';
import { LOOPBACK_NETWORKS, loadQueueConfig, queueVariables } from '../config/queue-config.js';
import { loadWorkerConfig, workerVariables } from '../worker/jobs/worker-config.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('an empty environment gives every default', () => {
  const gateway = loadGatewayConfig({}, {}, '/srv');
  assert.equal(gateway.port, 8080);
  assert.equal(gateway.host, '0.0.0.0');
  assert.equal(loadGatewayConfig({}, { host: '127.0.0.1' }).host, '127.0.0.1');
  assert.equal(gateway.functionsDir, '/srv/functions');
  assert.deepEqual(gateway.apiKeys, []);
  assert.equal(gateway.traceUrl, null);
  assert.equal(gateway.maxBodyBytes, 6 * 1024 * 1024);
  assert.equal(gateway.queue.redisUrl, 'redis://127.0.0.1:6379');
  assert.equal(gateway.queue.redisUrlSet, false);
  assert.equal(gateway.queue.prefix, 'pidbox');
  const worker = loadWorkerConfig({}, '/srv');
  assert.equal(worker.concurrency, availableParallelism());
  assert.equal(worker.cacheDir, '/srv/.pidbox-cache');
  assert.equal(worker.shutdownGraceMs, 10_000);
  assert.equal(worker.lockDurationMs, 30_000);
  assert.deepEqual(gateway.queue.callbackAllowNetworks, []);
  assert.deepEqual(worker.queue.callbackAllowNetworks, []);
});

test('PIDBOX_CALLBACK_ALLOW_NETWORKS is read by gateway and worker alike; pidbox dev defaults it to loopback', () => {
  const env = { PIDBOX_CALLBACK_ALLOW_NETWORKS: '10.20.0.0/16, fd00::/8,192.168.1.5' };
  const expected = [
    { address: '10.20.0.0', prefix: 16, family: 'ipv4' },
    { address: 'fd00::', prefix: 8, family: 'ipv6' },
    { address: '192.168.1.5', prefix: 32, family: 'ipv4' },
  ];
  assert.deepEqual(loadGatewayConfig(env).queue.callbackAllowNetworks, expected);
  assert.deepEqual(loadWorkerConfig(env).queue.callbackAllowNetworks, expected);
  const dev = { callbackAllowNetworks: LOOPBACK_NETWORKS };
  const loopback = [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' }, { address: '::1', prefix: 128, family: 'ipv6' }];
  assert.deepEqual(loadGatewayConfig({}, dev).queue.callbackAllowNetworks, loopback);
  assert.deepEqual(loadWorkerConfig({}, '/srv', dev).queue.callbackAllowNetworks, loopback);
  // Set, it wins over the default.
  assert.deepEqual(loadWorkerConfig(env, '/srv', dev).queue.callbackAllowNetworks, expected);
});

test('an invalid value fails at start with a message that names the variable', () => {
  const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
    [{ PORT: '80a' }, /^PORT: must be a whole number from 0 to 65535, got "80a"$/],
    [{ PORT: '70000' }, /^PORT: /],
    [{ PIDBOX_MAX_IN_FLIGHT: '0' }, /^PIDBOX_MAX_IN_FLIGHT: must be a whole number of at least 1/],
    [{ PIDBOX_SYNC_TIMEOUT_MS: '1.5' }, /^PIDBOX_SYNC_TIMEOUT_MS: /],
    [{ PIDBOX_API_KEYS: 'short' }, /^PIDBOX_API_KEYS: every key must be at least 16 characters/],
    // Only what an Authorization: Bearer header can carry (RFC 6750's token68).
    [{ PIDBOX_API_KEYS: 'a-good-key-0123456789,not a key with spaces' }, /^PIDBOX_API_KEYS: every key must be at least 16 characters: letters, digits/],
    [{ PIDBOX_API_KEYS: 'key!with!bangs!0123456789' }, /^PIDBOX_API_KEYS: /],
    [{ PIDBOX_TRACE_URL: 'http://localhost:16686/trace/' }, /^PIDBOX_TRACE_URL: must be an http\(s\) URL with \{traceId\} in it/],
    [{ PIDBOX_TRACE_URL: 'javascript:alert({traceId})' }, /^PIDBOX_TRACE_URL: /],
    [{ REDIS_URL: 'http://redis:6379' }, /^REDIS_URL: "http:\/\/redis:6379" must start with redis:\/\/, rediss:\/\/ or unix:\/\//],
    [{ REDIS_URL: 'redis://user:secret@[bad' }, /^REDIS_URL: "redis:\/\/user:\*\*\*@\[bad" is not a URL/],
    [{ REDIS_URL: 'redis://:secret@redis:6379?db=1' }, /^REDIS_URL: "redis:\/\/:\*\*\*@redis:6379\?db=1": /],
    [{ REDIS_URL: 'unix:///run/redis.sock?db=one' }, /^REDIS_URL: .*the database must be a whole number/],
    [{ REDIS_URL: 'unix://redis.sock' }, /^REDIS_URL: .*absolute path/],
    [{ PIDBOX_REDIS_PREFIX: 'a:b' }, /^PIDBOX_REDIS_PREFIX: /],
    [{ PIDBOX_CALLBACK_ALLOW_NETWORKS: '10.0.0.0/8,intranet' }, /^PIDBOX_CALLBACK_ALLOW_NETWORKS: "intranet" is not a network: write CIDRs such as 10\.0\.0\.0\/8/],
    [{ PIDBOX_CALLBACK_ALLOW_NETWORKS: '10.0.0.0/33' }, /^PIDBOX_CALLBACK_ALLOW_NETWORKS: "10\.0\.0\.0\/33" is not a network/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => loadGatewayConfig(env), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'INVALID_CONFIG');
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(() => loadWorkerConfig({ PIDBOX_WORKER_CONCURRENCY: 'all' }), /^PidboxError: PIDBOX_WORKER_CONCURRENCY: /);
  assert.throws(() => loadWorkerConfig({ PIDBOX_LOCK_DURATION_MS: '10' }), /PIDBOX_LOCK_DURATION_MS: must be a whole number of at least 1000/);
  assert.throws(() => loadWorkerConfig({ PIDBOX_CALLBACK_ALLOW_NETWORKS: '::1/200' }), /^PidboxError: PIDBOX_CALLBACK_ALLOW_NETWORKS: /);
  assert.throws(() => loadWorkerConfig({ PIDBOX_SANDBOX_CPUS: '0.5x' }), /^PidboxError: PIDBOX_SANDBOX_CPUS: must be a number from 0.01 to 1024, got "0.5x"$/);
  assert.throws(() => loadWorkerConfig({ PIDBOX_SANDBOX_MEMORY_MB: '512', PIDBOX_SANDBOX_CEILING_MEMORY_MB: '256' }), /^PidboxError: PIDBOX_SANDBOX_MEMORY_MB: 512 is above PIDBOX_SANDBOX_CEILING_MEMORY_MB \(256\)$/);
  assert.throws(() => loadWorkerConfig({ PIDBOX_SANDBOX_UID: '4294967200', PIDBOX_SANDBOX_UIDS: '1000' }), /^PidboxError: PIDBOX_SANDBOX_UIDS: must be a whole number from 1 to 94, got "1000"$/);
  assert.equal(loadGatewayConfig({ PIDBOX_TRACE_URL: 'http://jaeger:16686/trace/{traceId}' }).traceUrl, 'http://jaeger:16686/trace/{traceId}');
  assert.equal(loadQueueConfig({ REDIS_URL: 'unix:///run/redis.sock' }).redisUrl, 'unix:///run/redis.sock');
  assert.equal(loadQueueConfig({ REDIS_URL: 'unix:///run/redis.sock?password=pw&db=2' }).redisUrl, 'unix:///run/redis.sock?password=pw&db=2');
});

test("the README's configuration table lists every variable the configs read, with a default", () => {
  const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
  // The schemas loadXConfig reads the environment through: what they name is what is read.
  const names = new Set([queueVariables(), gatewayVariables(), workerVariables()].flatMap((schema) => Object.keys(schema.shape)));
  assert.ok(names.size >= 25, `found ${names.size} variables`);
  for (const name of names) {
    const row = new RegExp(`^\\| \`${name}\` \\| [^|]+ \\|`, 'm');
    assert.match(readme, row, `README lists ${name} with its default`);
  }
});
