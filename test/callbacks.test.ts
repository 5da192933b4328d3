// X-Callback-Url is no way into the network behind pidbox: the gateway refuses a URL that reaches
// loopback, private, link-local or other addresses that are not public (unless
// PIDBOX_CALLBACK_ALLOW_NETWORKS allows them), and the worker checks again the addresses it connects
// to. Real gateway, real worker, real redis-server, real HTTP receivers.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import type { EmbeddedRedis } from '../dev/embedded-redis.js';
import { openQueues } from '../redis/invocation-queues.js';
import { createRedisClient } from '../redis/redis-client.js';
import { INVOCATIONS_QUEUE, redisKeys } from '../redis/redis-keys.js';
import { loadWorkerConfig } from '../worker/jobs/worker-config.js';
import { startWorker, type WorkerHandle } from '../worker/jobs/start-worker.js';
import { startStack, type Stack } from './support/pidbox-stack.js';
import { waitFor } from './support/processes.js';
import { startTestRedis } from './support/redis-server.js';

let redis: EmbeddedRedis;
const stacks: Stack[] = [];
const workers: WorkerHandle[] = [];
const receivers: Server[] = [];

before(async () => {
  redis = await startTestRedis();
});
after(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all(stacks.map((s) => s.stop()));
  for (const r of receivers) r.close();
  await redis?.stop();
});

async function stackOn(prefix: string, env: Record<string, string>, worker: boolean): Promise<Stack> {
  const stack = await startStack({ redis, worker, env: { PIDBOX_REDIS_PREFIX: prefix, ...env } });
  stacks.push(stack);
  return stack;
}

/** An HTTP receiver on `host` that answers 200 and keeps the bodies it got. */
async function receiver(host: '127.0.0.1' | '::1'): Promise<{ port: number; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      bodies.push(body);
      res.end();
    });
  });
  receivers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { port: (server.address() as AddressInfo).port, bodies };
}

async function record(stack: Stack, id: string): Promise<InvocationRecord> {
  return (await (await stack.fetch(`/invocations/${id}`)).json()) as InvocationRecord;
}

/** Keys of invocation records, and jobs waiting, under a prefix. */
async function enqueued(prefix: string): Promise<{ records: string[]; waiting: number }> {
  const client = createRedisClient(redis.url, { name: 'test' });
  try {
    const wait = `${redisKeys(prefix).bullPrefix(INVOCATIONS_QUEUE)}:${INVOCATIONS_QUEUE}:wait`;
    return { records: await client.keys(redisKeys(prefix).invocation('*')), waiting: await client.llen(wait) };
  } finally {
    client.disconnect();
  }
}

const REFUSED: Array<[string, RegExp]> = [
  ['http://127.0.0.1:9/hook', /127\.0\.0\.1 is a loopback address/],
  ['http://127.1:9/hook', /127\.0\.0\.1 is a loopback address/],
  ['http://0.0.0.0:9/hook', /unspecified/],
  ['http://10.0.0.1/hook', /10\.0\.0\.1 is a private address/],
  ['http://192.168.1.1/hook', /private/],
  ['http://172.16.0.1/hook', /private/],
  ['http://100.64.0.1/hook', /carrier-grade NAT/],
  ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a link-local address/],
  ['http://[::1]:9/hook', /::1 is a loopback address/],
  ['http://[::]:9/hook', /unspecified/],
  ['http://[fd00::1]/hook', /private \(unique local\)/],
  ['http://[fe80::1]/hook', /link-local/],
  ['http://[::ffff:127.0.0.1]:9/hook', /IPv4-mapped address of 127\.0\.0\.1, a loopback address/],
  ['http://[::ffff:169.254.169.254]/', /IPv4-mapped address of 169\.254\.169\.254, a link-local/],
  ['http://[64:ff9b::a00:1]/', /NAT64 address of 10\.0\.0\.1, a private address/],
  ['http://localhost:9/hook', /localhost resolves to (127\.0\.0\.1|::1), a loopback address/],
  ['ftp://8.8.8.8/hook', /only http:\/\/ and https:\/\//],
  ['http://user:secret@8.8.8.8/hook', /user or password/],
];

test('callbacks to loopback, private, link-local and their IPv6 forms, or to localhost, are refused with 400 INVALID_CALLBACK_URL and nothing is enqueued', async () => {
  const stack = await stackOn('refused', {}, false);
  for (const route of ['/functions/slow-echo/invocations', '/async-function/slow-echo']) {
    for (const [url, why] of REFUSED) {
      const res = await stack.fetch(route, { method: 'POST', body: 'x', headers: { 'x-callback-url': url } });
      assert.equal(res.status, 400, `${route} ${url}`);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'INVALID_CALLBACK_URL', url);
      assert.match(error.message, why, url);
      assert.ok(error.message.startsWith('X-Callback-Url "'), error.message);
      if (!/ftp|secret/.test(url)) assert.match(error.message, /callbacks may reach only public addresses and the networks in PIDBOX_CALLBACK_ALLOW_NETWORKS/);
      // No invocation exists, so none is named.
      assert.equal(res.headers.get('x-invocation-id'), null, url);
      assert.equal(res.headers.get('x-call-id'), null, url);
    }
  }
  assert.deepEqual(await enqueued('refused'), { records: [], waiting: 0 });
  // The same route without a callback works: the refusal was the callback's.
  assert.equal((await stack.fetch('/functions/slow-echo/invocations', { method: 'POST', body: 'x' })).status, 202);
  assert.equal((await enqueued('refused')).records.length, 1);
});

test('a callback to an allowed network is delivered end to end, by address, by name and over IPv6', async () => {
  const stack = await stackOn('allowed', { PIDBOX_CALLBACK_ALLOW_NETWORKS: '127.0.0.0/8,::1/128' }, true);
  const v4 = await receiver('127.0.0.1');
  const v6 = await receiver('::1');
  const hooks = [`http://127.0.0.1:${v4.port}/hook`, `http://localhost:${v4.port}/hook`, `http://[::1]:${v6.port}/hook`];
  const ids: string[] = [];
  for (const hook of hooks) {
    const res = await stack.fetch('/functions/slow-echo/invocations', { method: 'POST', body: hook, headers: { 'x-callback-url': hook } });
    assert.equal(res.status, 202, hook);
    ids.push(((await res.json()) as { id: string }).id);
  }
  await waitFor('three deliveries', () => v4.bodies.length + v6.bodies.length >= 3, 20_000);
  const delivered = [...v4.bodies, ...v6.bodies].map((b) => JSON.parse(b) as InvocationRecord);
  assert.deepEqual(delivered.map((r) => r.id).sort(), [...ids].sort());
  assert.equal(v6.bodies.length, 1);
  for (const id of ids) {
    const r = await waitFor(`the delivery of ${id} recorded`, async () => {
      const x = await record(stack, id);
      return x.callback?.status === 'delivered' ? x : null;
    });
    assert.equal(r.callback?.attempts, 1);
    assert.equal(r.callback?.lastStatus, 200);
  }
  // Allowed are these networks, not every one that is not public.
  const res = await stack.fetch('/functions/slow-echo/invocations', { method: 'POST', headers: { 'x-callback-url': 'http://10.0.0.1/hook' } });
  assert.equal(res.status, 400);
});

test('a worker stricter than the gateway refuses the delivery, by address and by name, does not retry it, and records why', async () => {
  // The gateway lets callbacks reach loopback; its worker (PIDBOX_CALLBACK_ALLOW_NETWORKS unset) does not.
  const stack = await stackOn('stricter', { PIDBOX_CALLBACK_ALLOW_NETWORKS: '127.0.0.0/8' }, false);
  const worker = await startWorker(loadWorkerConfig({ ...stack.env, PIDBOX_CALLBACK_ALLOW_NETWORKS: '' }));
  workers.push(worker);
  const target = await receiver('127.0.0.1');
  const cases: Array<[string, RegExp]> = [
    [`http://127.0.0.1:${target.port}/hook`, /: refused by the worker: 127\.0\.0\.1 is a loopback address; callbacks may reach only public addresses and the networks in PIDBOX_CALLBACK_ALLOW_NETWORKS$/],
    // A name is checked at connection time, against the addresses connected to.
    [`http://localhost:${target.port}/hook`, /: refused by the worker: localhost resolves to 127\.0\.0\.1, a loopback address; .*PIDBOX_CALLBACK_ALLOW_NETWORKS$/],
  ];
  const client = createRedisClient(redis.url, { name: 'test' });
  const queues = openQueues(client, redisKeys('stricter'));
  try {
    for (const [hook, why] of cases) {
      const res = await stack.fetch('/functions/slow-echo/invocations', { method: 'POST', body: 'x', headers: { 'x-callback-url': hook } });
      assert.equal(res.status, 202, 'the gateway accepts it');
      const { id } = (await res.json()) as { id: string };
      const r = await waitFor(`the refusal of ${hook} recorded`, async () => {
        const x = await record(stack, id);
        return x.callback?.status === 'failed' ? x : null;
      }, 15_000);
      assert.equal(r.status, 'succeeded', 'the invocation itself is not affected');
      assert.equal(r.callback?.url, hook);
      assert.equal(r.callback?.attempts, 1);
      assert.equal(r.callback?.lastStatus, undefined, 'nothing answered: nothing was sent');
      assert.match(r.callback?.lastError ?? '', why);
      // Failed for good after one attempt, though PIDBOX_CALLBACK_ATTEMPTS allows 5.
      const job = await queues.callbacks.getJob(`callback-${id}`);
      assert.equal(await job?.getState(), 'failed');
      assert.equal(job?.attemptsMade, 1);
    }
    assert.deepEqual(target.bodies, []);
  } finally {
    await queues.close();
    client.disconnect();
  }
});
