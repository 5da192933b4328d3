// Redis with a password: the private redis-server (pidbox dev's, the tests') asks for one, and a
// gateway and worker given REDIS_URL with credentials, over TCP and over a unix socket, run
// invocations end to end.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startEmbeddedRedis, type EmbeddedRedis } from '../dev/embedded-redis.js';
import { createRedisClient } from '../redis/redis-client.js';
import { parseRedisUrl, redact } from '../redis/redis-url.js';
import { FIXTURES, startStack } from './support/pidbox-stack.js';
import { commandOf } from './support/processes.js';
import { spawnWorker, type WorkerProcess } from './support/worker-process.js';

let tcp: EmbeddedRedis;
let unix: EmbeddedRedis;
const workers: WorkerProcess[] = [];

before(async () => {
  [tcp, unix] = await Promise.all([startEmbeddedRedis({ listen: 'tcp' }), startEmbeddedRedis({ listen: 'unix' })]);
});
after(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await Promise.all([tcp?.stop(), unix?.stop()]);
});

/** PING with `url` as given: PONG, or the error Redis answered. */
async function ping(url: string): Promise<string> {
  const client = createRedisClient(url, { name: 'test', mode: 'request', log: { error: () => {} } });
  try {
    return await client.ping();
  } catch (error) {
    return (error as Error).message;
  } finally {
    client.disconnect();
  }
}

/** The URL with its password replaced (null: taken out), in the same form. */
function withPassword(redis: EmbeddedRedis, password: string | null): string {
  const { path, port } = parseRedisUrl(redis.url);
  if (path) return password === null ? `unix://${path}` : `unix://${path}?password=${password}`;
  return password === null ? `redis://127.0.0.1:${port}` : `redis://:${password}@127.0.0.1:${port}`;
}

test('the private redis-server refuses a client without its password or with a wrong one, and accepts its URL', async () => {
  for (const redis of [tcp, unix]) {
    assert.equal(await ping(redis.url), 'PONG', redact(redis.url));
    assert.match(await ping(withPassword(redis, null)), /NOAUTH/, redact(redis.url));
    assert.match(await ping(withPassword(redis, 'wrong')), /WRONGPASS|invalid password/, redact(redis.url));
  }
  const [tcpPassword, unixPassword] = [tcp, unix].map((r) => parseRedisUrl(r.url).password ?? '');
  assert.match(tcpPassword!, /^[0-9a-f]{64}$/, '32 random bytes, as hex');
  assert.notEqual(tcpPassword, unixPassword, 'a new password at each start');
  assert.equal(redact(unix.url), `unix://${join(unix.dir, 'redis.sock')}?password=***`);
  assert.equal(redact(tcp.url), tcp.url.replace(tcpPassword!, '***'));
  // Given on stdin, the password never shows in the command line other users can read.
  assert.doesNotMatch(commandOf(unix.pid), /requirepass|[0-9a-f]{64}/);
});

for (const form of ['tcp', 'unix'] as const) {
  test(`a gateway and a worker process given REDIS_URL with a password (${form}) run an invocation end to end`, async () => {
    const redis = form === 'tcp' ? tcp : unix;
    const stack = await startStack({ redis, worker: false, env: { PIDBOX_REDIS_PREFIX: `auth-${form}` } });
    const cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-auth-test-cache-'));
    try {
      assert.equal(stack.env.REDIS_URL, redis.url);
      const worker = await spawnWorker({ REDIS_URL: redis.url, PIDBOX_REDIS_PREFIX: `auth-${form}`, PIDBOX_FUNCTIONS_DIR: FIXTURES, PIDBOX_CACHE_DIR: cacheDir });
      workers.push(worker);
      // What it prints names the Redis without its password.
      assert.match(worker.output(), new RegExp(`redis ${redact(redis.url).replace(/[.*?+[\]()\\/]/g, '\\$&')},`));
      assert.ok(!worker.output().includes(redis.url));
      const res = await stack.fetch('/functions/slow-echo', { method: 'POST', body: `over ${form}` });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), `over ${form}`);
      assert.equal((await stack.fetch('/readyz')).status, 200);
      await worker.kill();
    } finally {
      await stack.stop();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
}
