// pidbox on a real Redis Cluster (three masters, a replica each, a password): a gateway and worker
// processes given PIDBOX_REDIS_CLUSTER run sync, async and batch invocations, follow a log and
// honour an Idempotency-Key, and list recent invocations; pidbox's own keys all sit in the slot of
// its prefix's tag. Then, while invocations keep coming, the queue's master is failed over to its
// replica (CLUSTER FAILOVER), and the records' master is killed outright. Every invocation accepted
// finishes, and the books balance.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import { loadGatewayConfig } from '../gateway/gateway-config.js';
import { startGateway, type GatewayHandle } from '../gateway/start-gateway.js';
import { INVOCATIONS_QUEUE, redisKeys } from '../redis/redis-keys.js';
import { startLoad, settle } from './support/invocation-load.js';
import { FIXTURES } from './support/pidbox-stack.js';
import { isAlive, waitFor } from './support/processes.js';
import { startRedisCluster, type RedisCluster } from './support/redis-cluster.js';
import { spawnWorker, type WorkerProcess } from './support/worker-process.js';

const PREFIX = 'pbc';
let cluster: RedisCluster;
let gateway: GatewayHandle;
let cacheDir: string;
const workers: WorkerProcess[] = [];
/** The slot of the invocations queue: every job goes through its master. */
let queueSlot: number;
/** The slot of pidbox's own keys (records, logs, batches, the index): one master holds them all. */
let recordSlot: number;

before(async () => {
  cluster = await startRedisCluster();
  cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-cluster-test-cache-'));
  const env = {
    PIDBOX_REDIS_CLUSTER: cluster.seeds,
    PIDBOX_REDIS_PREFIX: PREFIX,
    PIDBOX_FUNCTIONS_DIR: FIXTURES,
    PIDBOX_CACHE_DIR: cacheDir,
    PIDBOX_WORKER_CONCURRENCY: '2',
    PIDBOX_POOL_SIZE: '2',
    // A job whose lock was lost in a failover is taken back within a few seconds.
    PIDBOX_LOCK_DURATION_MS: '5000',
    PIDBOX_STALLED_INTERVAL_MS: '2000',
    PIDBOX_SHUTDOWN_GRACE_MS: '2000',
  };
  for (let i = 0; i < 2; i++) workers.push(await spawnWorker(env));
  gateway = await startGateway(loadGatewayConfig({ ...env, PORT: '0', PIDBOX_HOST: '127.0.0.1' }));
  queueSlot = await cluster.keySlot(`${redisKeys(PREFIX).bullPrefix(INVOCATIONS_QUEUE)}:${INVOCATIONS_QUEUE}:wait`);
  recordSlot = await cluster.keySlot(redisKeys(PREFIX).invocation('x'));
});

after(async () => {
  await gateway?.close();
  await Promise.all(workers.map((w) => w.kill()));
  const pids = cluster?.nodes.map((node) => node.pid()) ?? [];
  await cluster?.stop();
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  // Nothing of the cluster is left: no redis-server, no folder.
  for (const pid of pids) assert.ok(pid === 0 || !isAlive(pid), `redis-server ${pid} is gone`);
});

const call = (path: string, init?: RequestInit): Promise<Response> => fetch(`${gateway.url}${path}`, init);

async function record(id: string): Promise<InvocationRecord> {
  const res = await call(`/invocations/${id}`);
  assert.equal(res.status, 200, `GET /invocations/${id}`);
  return (await res.json()) as InvocationRecord;
}

test("on a Redis Cluster, sync, async, batch and idempotent invocations run and are listed, and pidbox's keys sit on one master", async () => {
  const ready = await call('/readyz');
  assert.equal(ready.status, 200);
  assert.deepEqual(((await ready.json()) as { checks: { redis: unknown } }).checks.redis, { ok: true, cluster: { state: 'ok', masters: 3 } });

  const sync = await Promise.all(Array.from({ length: 6 }, (_, i) => call('/functions/echoes-body', { method: 'POST', body: `sync ${i}` })));
  for (const [i, res] of sync.entries()) {
    assert.equal(res.status, 200);
    assert.equal(await res.text(), `sync ${i}`);
  }
  const asyncIds = await Promise.all(Array.from({ length: 6 }, async (_, i) => {
    const res = await call('/functions/echoes-body/invocations', { method: 'POST', body: `async ${i}` });
    assert.equal(res.status, 202);
    return ((await res.json()) as { id: string }).id;
  }));
  const batchRes = await call('/functions/echoes-body/batch', { method: 'POST', body: JSON.stringify(['a', 'b', 'c', 'd']), headers: { 'content-type': 'application/json' } });
  assert.equal(batchRes.status, 202);
  const { batchId } = (await batchRes.json()) as { batchId: string };
  const batch = await waitFor('the batch to finish', async () => {
    const b = (await (await call(`/batches/${batchId}`)).json()) as { progress: number; counts: Record<string, number>; results: Array<{ status: string; response: { body: string } | null }> };
    return b.progress === 1 ? b : null;
  }, 30_000, 100);
  assert.equal(batch.counts.succeeded, 4);
  assert.deepEqual(batch.results.map((r) => r.response?.body), ['"a"', '"b"', '"c"', '"d"']);
  for (const [i, id] of asyncIds.entries()) {
    const r = await waitFor(`async invocation ${id}`, async () => {
      const current = await record(id);
      return current.status === 'succeeded' ? current : null;
    }, 30_000, 100);
    assert.equal(r.response?.body, `async ${i}`);
  }
  // Its log is a stream in the record's slot, followed live on a connection of its own to that node.
  const slow = await call('/functions/slow-echo/invocations', { method: 'POST', body: '' });
  const slowId = ((await slow.json()) as { id: string }).id;
  const events = await (await call(`/invocations/${slowId}/logs?follow=true`)).text();
  assert.match(events, /event: log\ndata: slow-echo started/);
  assert.match(events, /event: end\ndata: {"status":"succeeded"}/);
  assert.equal(await (await call(`/invocations/${slowId}/logs`)).text(), 'slow-echo started\n');

  // An Idempotency-Key finds the first invocation, on whichever node the key lives.
  const first = await call('/functions/echoes-body/invocations', { method: 'POST', body: 'once', headers: { 'idempotency-key': 'order-42' } });
  const again = await call('/functions/echoes-body', { method: 'POST', body: 'twice', headers: { 'idempotency-key': 'order-42' } });
  const firstId = ((await first.json()) as { id: string }).id;
  assert.equal(again.headers.get('x-invocation-id'), firstId);
  assert.equal(await again.text(), 'once');

  // The index is read on the cluster too: every invocation above, newest first, filters and all.
  const listed = (await (await call('/invocations?function=echoes-body&status=succeeded&limit=100')).json()) as { invocations: Array<{ id: string }> };
  const listedIds = new Set(listed.invocations.map((s) => s.id));
  for (const id of [...asyncIds, firstId]) assert.ok(listedIds.has(id), `${id} is listed`);
  assert.equal(listed.invocations.length, 6 + 6 + 4 + 1);

  // pidbox's own keys (records, logs, the batch, the Idempotency-Key, the index) are all on the
  // master of their tag's slot, and on no other master.
  const owner = (await cluster.shardOf(recordSlot)).master;
  const own = `${PREFIX}:{${PREFIX}}:`;
  const holders = new Map<string, string[]>();
  for (const node of cluster.nodes) {
    const role = String(await cluster.command(node, 'ROLE'));
    const keys = (await cluster.command(node, 'KEYS', `${own}*`)) as string[];
    if (role.startsWith('master') && keys.length > 0) holders.set(node.address, keys);
  }
  assert.deepEqual([...holders.keys()], [owner.address]);
  const kinds = new Set(holders.get(owner.address)!.map((key) => key.slice(own.length).split(':')[0]));
  assert.deepEqual(kinds, new Set(['invocation', 'batch', 'idempotency', 'invocations']));
});

test("the queue's master failed over to its replica (CLUSTER FAILOVER) while invocations run loses none of them", async (t) => {
  const { master, replicas } = await cluster.shardOf(queueSlot);
  const load = startLoad(gateway.url);
  // A failure below still stops the load, or its requests would keep the test process alive.
  t.after(() => load.stop());
  await waitFor('some invocations to be accepted', () => load.ledger.accepted.size >= 20, 30_000);
  assert.equal(await cluster.command(replicas[0]!, 'CLUSTER', 'FAILOVER'), 'OK');
  await waitFor('the replica to take over', async () => (await cluster.shardOf(queueSlot).catch(() => null))?.master === replicas[0], 15_000, 50);
  const before = load.ledger.accepted.size;
  await waitFor('invocations to be accepted after the failover', () => load.ledger.accepted.size >= before + 20, 60_000);
  const ledger = await load.stop();
  const settled = await settle(gateway.url, ledger);
  assert.deepEqual(settled.lost, [], 'no accepted invocation is lost');
  assert.equal(settled.succeeded + settled.failed, ledger.accepted.size);
  assert.deepEqual(settled.failures, []);
  assert.equal(settled.succeeded, ledger.accepted.size);
  assert.deepEqual(ledger.unexpected, []);
  assert.deepEqual(ledger.wrongBodies, []);
  assert.notEqual((await cluster.shardOf(queueSlot)).master, master);
  await cluster.untilHealthy();
});

test("the records' master killed outright while invocations run: /readyz says so until its replica takes over, and no invocation is lost", async (t) => {
  const { master, replicas } = await cluster.shardOf(recordSlot);
  const load = startLoad(gateway.url);
  // A failure below still stops the load, or its requests would keep the test process alive.
  t.after(() => load.stop());
  await waitFor('some invocations to be accepted', () => load.ledger.accepted.size >= 20, 30_000);
  await master.kill();
  // Its slots are served by nobody until the others hold it failed and its replica is elected.
  const unready = await waitFor('/readyz to report the dead master', async () => {
    const res = await call('/readyz');
    return res.status === 503 ? ((await res.json()) as { checks: { redis: { ok: boolean; error: string } } }).checks.redis : null;
  }, 10_000, 50);
  assert.equal(unready.ok, false);
  // Between the master's failure and its replica's election the slot has no master at all.
  await waitFor('the replica to take over', async () => (await cluster.shardOf(recordSlot).catch(() => null))?.master === replicas[0], 30_000, 100);
  await waitFor('/readyz to recover', async () => (await call('/readyz')).status === 200, 30_000, 100);
  const before = load.ledger.accepted.size;
  await waitFor('invocations to be accepted after the failover', () => load.ledger.accepted.size >= before + 20, 60_000);
  const ledger = await load.stop();
  const settled = await settle(gateway.url, ledger);
  assert.deepEqual(settled.lost, [], 'no accepted invocation is lost');
  assert.equal(settled.succeeded + settled.failed, ledger.accepted.size);
  assert.deepEqual(settled.failures, []);
  assert.deepEqual(ledger.unexpected, []);
  assert.deepEqual(ledger.wrongBodies, []);
  assert.ok(workers.every((w) => w.child.exitCode === null), 'the workers still run');
});
