// The live routes end to end: recent invocations listed from Redis's index (order, pages, filters,
// expiry, bounds), and a running invocation's processes and signals, asked by a gateway of the
// worker process that runs it — real HTTP, a real redis-server, real worker processes, real sandboxes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { InvocationSummary } from '../contracts/invocation-list.js';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import type { ProcessList } from '../contracts/process-list.js';
import type { EmbeddedRedis } from '../dev/embedded-redis.js';
import { createRedisClient } from '../redis/redis-client.js';
import { FIXTURES, startStack, type Stack } from './support/pidbox-stack.js';
import { processesIn, sandboxProcesses, waitFor } from './support/processes.js';
import { startTestRedis } from './support/redis-server.js';
import { spawnWorker, type WorkerProcess } from './support/worker-process.js';

let redis: EmbeddedRedis;
let cacheDir: string;
const stacks: Stack[] = [];
const workers: WorkerProcess[] = [];

before(async () => {
  redis = await startTestRedis();
  cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-live-test-cache-'));
});
after(async () => {
  await Promise.all([...workers.map((w) => w.kill()), ...stacks.map((s) => s.stop())]);
  await redis?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

/** A gateway (with an in-process worker unless `worker: false`) on keys of its own. */
async function stackOn(prefix: string, env: Record<string, string> = {}, worker = true): Promise<Stack> {
  const stack = await startStack({ redis, worker, env: { PIDBOX_REDIS_PREFIX: prefix, ...env } });
  stacks.push(stack);
  return stack;
}

/** A gateway in this process and a worker in a process of its own: every request crosses Redis. */
async function apartOn(prefix: string): Promise<Stack> {
  const stack = await stackOn(prefix, {}, false);
  workers.push(await spawnWorker({
    REDIS_URL: redis.url,
    PIDBOX_REDIS_PREFIX: prefix,
    PIDBOX_FUNCTIONS_DIR: FIXTURES,
    PIDBOX_CACHE_DIR: cacheDir,
  }));
  return stack;
}

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text) as T;
}

async function errorOf(res: Response, status: number): Promise<{ code: string; message: string }> {
  return (await json<{ error: { code: string; message: string } }>(res, status)).error;
}

async function record(stack: Stack, id: string): Promise<InvocationRecord> {
  return json<InvocationRecord>(await stack.fetch(`/invocations/${id}`));
}

async function until(stack: Stack, id: string, what: string, check: (r: InvocationRecord) => boolean): Promise<InvocationRecord> {
  return waitFor(`invocation ${id} ${what}`, async () => {
    const r = await record(stack, id);
    return check(r) ? r : null;
  }, 20_000);
}

async function invokeAsync(stack: Stack, name: string, body = ''): Promise<string> {
  return (await json<{ id: string }>(await stack.fetch(`/functions/${name}/invocations`, { method: 'POST', body }), 202)).id;
}

async function invokeSync(stack: Stack, name: string, body = ''): Promise<string> {
  const res = await stack.fetch(`/functions/${name}`, { method: 'POST', body });
  await res.arrayBuffer();
  return res.headers.get('x-invocation-id')!;
}

type Page = { invocations: InvocationSummary[]; nextCursor: string | null };

/** Every page of a listing, followed by its cursors. */
async function listAll(stack: Stack, query: string, limit: number): Promise<{ pages: Page[]; all: InvocationSummary[] }> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const page: Page = await json<Page>(await stack.fetch(`/invocations?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`));
    pages.push(page);
    cursor = page.nextCursor;
    assert.ok(pages.length < 100, 'the cursors end');
  } while (cursor !== null);
  return { pages, all: pages.flatMap((p) => p.invocations) };
}

/** Newest first: by creation time, then by id, as the index keeps them. */
function newestFirst(a: { id: string; createdAt: string }, b: { id: string; createdAt: string }): number {
  return b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);
}

async function signal(stack: Stack, id: string, name: string): Promise<Response> {
  return stack.fetch(`/invocations/${id}/signal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ signal: name }) });
}

async function logOf(stack: Stack, id: string): Promise<string> {
  return (await stack.fetch(`/invocations/${id}/logs`)).text();
}

test('recent invocations are listed newest first, one page at a time, each once, as summaries of their records', async () => {
  const stack = await stackOn('list-order', { PIDBOX_WORKER_CONCURRENCY: '2' });
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(await invokeSync(stack, 'echoes-body', `call ${i}`));
  ids.push(await invokeSync(stack, 'fails-with-code-3'), await invokeSync(stack, 'fails-with-code-3'));
  const records = await Promise.all(ids.map((id) => record(stack, id)));

  const { pages, all } = await listAll(stack, '', 3);
  assert.deepEqual(pages.map((p) => p.invocations.length), [3, 3, 1]);
  assert.equal(pages[2]!.nextCursor, null);
  assert.deepEqual(all.map((s) => s.id), [...records].sort(newestFirst).map((r) => r.id));

  // A summary is the record's fields of those names, and nothing of its response or log.
  for (const summary of all) {
    const r = records.find((x) => x.id === summary.id)!;
    assert.deepEqual(summary, {
      id: r.id, function: r.function, status: r.status, attempts: r.attempts, maxAttempts: r.maxAttempts, createdAt: r.createdAt,
      startedAt: r.startedAt, finishedAt: r.finishedAt, timings: r.timings, error: r.error, batchId: r.batchId,
    });
  }
  assert.ok(all.every((s) => s.timings.runMs !== null && s.timings.runMs > 0));

  // The default page, and parameters it does not take, each named.
  assert.equal((await json<Page>(await stack.fetch('/invocations'))).invocations.length, 7);
  for (const [query, parameter] of [
    ['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=ten', 'limit'], ['status=done', 'status'],
    ['function=Not%20A%20Name', 'function'], ['cursor=bm90LWEtY3Vyc29y', 'cursor'], ['cursor=%3A%3A', 'cursor'],
  ] as const) {
    const error = await errorOf(await stack.fetch(`/invocations?${query}`), 400);
    assert.equal(error.code, 'INVALID_REQUEST', query);
    assert.match(error.message, new RegExp(`"${parameter}"`), query);
  }
});

test('filters by function and by status are exact, and follow an invocation from status to status', async () => {
  const stack = await stackOn('list-filters');
  const echoed = [await invokeSync(stack, 'echoes-body', 'a'), await invokeSync(stack, 'echoes-body', 'b')];
  const failed = await invokeSync(stack, 'fails-with-code-3');
  const statusOf = async (query: string): Promise<string[]> => (await listAll(stack, query, 2)).all.map((s) => s.id);

  assert.deepEqual(new Set(await statusOf('function=echoes-body')), new Set(echoed));
  assert.deepEqual(await statusOf('status=failed'), [failed]);
  assert.deepEqual(await statusOf('function=echoes-body&status=failed'), []);
  assert.deepEqual(new Set(await statusOf('function=echoes-body&status=succeeded')), new Set(echoed));
  assert.deepEqual(await statusOf('function=never-invoked'), []);

  // queued → running → cancelled: in one status list at a time.
  const id = await invokeAsync(stack, 'forks-a-tree');
  await until(stack, id, 'to run', (r) => r.status === 'running');
  assert.deepEqual(await statusOf('status=running'), [id]);
  assert.deepEqual(await statusOf('status=queued'), []);
  assert.deepEqual(await statusOf('function=forks-a-tree&status=running'), [id]);
  assert.equal((await stack.fetch(`/invocations/${id}`, { method: 'DELETE' })).status, 200);
  assert.deepEqual(await statusOf('status=running'), []);
  assert.deepEqual(await statusOf('status=cancelled'), [id]);
  const [cancelled] = (await listAll(stack, 'status=cancelled', 5)).all;
  assert.equal(cancelled!.error?.code, 'INVOCATION_CANCELLED');

  // Each status list holds exactly the invocations in that status: one entry each, nowhere else.
  const client = createRedisClient(redis.url, { name: 'test' });
  try {
    const members = await Promise.all(['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'].map((s) => client.zcard(`list-filters:invocations:status:${s}`)));
    assert.deepEqual(members, [0, 0, 2, 1, 0, 1]);
    assert.equal(await client.zcard('list-filters:invocations'), 4);
  } finally {
    client.disconnect();
  }
});

test("a batch's members are listed with their batch id", async () => {
  const stack = await stackOn('list-batch');
  const res = await stack.fetch('/functions/echoes-body/batch', { method: 'POST', body: JSON.stringify([1, 2, 3]), headers: { 'content-type': 'application/json' } });
  const { batchId } = await json<{ batchId: string }>(res, 202);
  const queuedOrDone = (await listAll(stack, 'function=echoes-body', 10)).all;
  assert.equal(queuedOrDone.length, 3);
  assert.ok(queuedOrDone.every((s) => s.batchId === batchId));
  await waitFor('the batch to finish', async () => (await listAll(stack, 'status=succeeded', 10)).all.length === 3 || null, 20_000);
  assert.deepEqual((await listAll(stack, 'status=queued', 10)).all, []);
});

test('invocations whose records expired are not listed, and their entries leave the index', async () => {
  const stack = await stackOn('list-expiry', { PIDBOX_KEEP_SUCCEEDED_SECONDS: '1' });
  const kept = await invokeSync(stack, 'fails-with-code-3');
  const gone = [await invokeSync(stack, 'echoes-body', '1'), await invokeSync(stack, 'echoes-body', '2')];
  assert.equal((await listAll(stack, '', 10)).all.length, 3);
  await waitFor('the succeeded records to expire', async () => {
    const statuses = await Promise.all(gone.map(async (id) => (await stack.fetch(`/invocations/${id}`)).status));
    return statuses.every((s) => s === 404) || null;
  }, 10_000, 100);

  const client = createRedisClient(redis.url, { name: 'test' });
  try {
    // Still in the index until a reader passes…
    assert.equal(await client.zcard('list-expiry:invocations'), 3);
    assert.deepEqual((await listAll(stack, '', 1)).all.map((s) => s.id), [kept]);
    assert.deepEqual((await listAll(stack, 'function=echoes-body', 1)).all, []);
    assert.deepEqual((await listAll(stack, 'status=succeeded', 1)).all, []);
    // …which prunes what it skipped.
    assert.equal(await client.zcard('list-expiry:invocations'), 1);
    assert.equal(await client.zcard('list-expiry:invocations:function:echoes-body'), 0);
    assert.equal(await client.zcard('list-expiry:invocations:status:succeeded'), 0);
    assert.equal(await client.zcard('list-expiry:invocations:status:failed'), 1);
    // The index's sets expire too, no later than any record could.
    const ttl = await client.ttl('list-expiry:invocations');
    assert.ok(ttl > 0 && ttl <= 604_800, `${ttl} s`);
  } finally {
    client.disconnect();
  }
});

test('the index stays bounded under sustained load: each list keeps its newest PIDBOX_LIST_MAX_ENTRIES', async () => {
  const stack = await stackOn('list-bound', { PIDBOX_LIST_MAX_ENTRIES: '5', PIDBOX_WORKER_CONCURRENCY: '4' });
  const items = Array.from({ length: 40 }, (_, n) => n);
  const { batchId } = await json<{ batchId: string }>(await stack.fetch('/functions/echoes-body/batch', { method: 'POST', body: JSON.stringify(items), headers: { 'content-type': 'application/json' } }), 202);
  const singles = [];
  for (let i = 0; i < 8; i++) singles.push(await invokeSync(stack, 'echoes-body', `single ${i}`));
  await waitFor('the batch to finish', async () => (await json<{ progress: number }>(await stack.fetch(`/batches/${batchId}`))).progress === 1 || null, 60_000, 200);

  const client = createRedisClient(redis.url, { name: 'test' });
  try {
    const sets = (await client.keys('list-bound:invocations*')).sort();
    assert.ok(sets.length >= 4, sets.join(', '));
    for (const key of sets) assert.ok((await client.zcard(key)) <= 5, `${key}: ${await client.zcard(key)} entries`);
  } finally {
    client.disconnect();
  }
  // The newest five: the last singles (the batch was created before them).
  assert.deepEqual(new Set((await listAll(stack, '', 2)).all.map((s) => s.id)), new Set(singles.slice(-5)));
});

test("a running invocation's process tree is read through its worker, with pids and parents as seen inside its sandbox, and 409 once it ends", async () => {
  const stack = await apartOn('processes');
  const id = await invokeAsync(stack, 'forks-a-tree');
  const running = await until(stack, id, 'to run in a sandbox', (r) => r.status === 'running' && r.sandbox !== null);
  const { processes, truncated } = await waitFor('the tree to be forked', async () => {
    const list = await json<ProcessList>(await stack.fetch(`/invocations/${id}/processes`));
    return list.processes.filter((p) => p.command === 'sleep 30').length === 2 ? list : null;
  });
  assert.equal(truncated, false);
  const [init, shell, ...sleeps] = processes;
  assert.deepEqual([init!.pid, init!.ppid], [1, 0]);
  assert.match(init!.command, /\/var\/runtime\/init\.cjs --sandbox$/);
  assert.equal(shell!.command, '/bin/sh /var/task/handler');
  assert.equal(shell!.ppid, 1);
  assert.deepEqual(sleeps.map((p) => [p.command, p.ppid]), [['sleep 30', shell!.pid], ['sleep 30', shell!.pid]]);
  assert.ok(sleeps.every((p) => p.pid > shell!.pid));
  for (const p of processes) {
    assert.match(p.state, /^[RSD]$/, JSON.stringify(p));
    assert.ok(p.rssBytes > 0 && p.cpuMs >= 0, JSON.stringify(p));
  }
  // The same processes the host sees in the sandbox's namespace, and its init's host pid among them.
  const onHost = processesIn(running.sandbox!.pidNamespace);
  assert.equal(onHost.length, processes.length);
  assert.ok(onHost.includes(running.sandbox!.hostPid));

  assert.equal((await stack.fetch(`/invocations/${id}`, { method: 'DELETE' })).status, 200);
  const after = await errorOf(await stack.fetch(`/invocations/${id}/processes`), 409);
  assert.equal(after.code, 'INVOCATION_NOT_RUNNING');
  assert.match(after.message, /cancelled/);
});

test('a function that traps SIGUSR1 receives one sent through the route, exec and node alike', async () => {
  const stack = await apartOn('signals');
  for (const name of ['traps-sigusr1', 'node-traps-sigusr1']) {
    const id = await invokeAsync(stack, name);
    // Its trap is set once it says so.
    await waitFor(`${name} to wait for its signal`, async () => /waiting for SIGUSR1/.test(await logOf(stack, id)) || null, 20_000);
    const res = await signal(stack, id, 'SIGUSR1');
    assert.deepEqual(await json(res, 202), { id, signal: 'SIGUSR1' });
    const done = await until(stack, id, 'to answer', (r) => r.status !== 'running' && r.status !== 'queued');
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.response?.body, 'received SIGUSR1\n', name);

    // Finished: nothing to signal any more.
    const late = await errorOf(await signal(stack, id, 'SIGUSR1'), 409);
    assert.equal(late.code, 'INVOCATION_NOT_RUNNING');
  }
});

test('SIGKILL, SIGSTOP and unknown names are refused with INVALID_SIGNAL naming what is allowed, and the function runs on', async () => {
  const stack = await apartOn('refused');
  const id = await invokeAsync(stack, 'traps-sigusr1');
  await waitFor('the function to wait for its signal', async () => /waiting for SIGUSR1/.test(await logOf(stack, id)) || null, 20_000);
  for (const name of ['SIGKILL', 'SIGSTOP', 'SIGCHLD', 'SIGSEGV', 'SIGFOO', 'sigusr1']) {
    const error = await errorOf(await signal(stack, id, name), 400);
    assert.equal(error.code, 'INVALID_SIGNAL', name);
    assert.match(error.message, /SIGUSR1/);
    assert.match(error.message, /SIGTERM/);
    assert.doesNotMatch(error.message.split('(')[0]!, /SIGKILL/);
  }
  assert.equal((await errorOf(await stack.fetch(`/invocations/${id}/signal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), 400)).code, 'INVALID_SIGNAL');
  assert.equal((await errorOf(await stack.fetch(`/invocations/${id}/signal`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'SIGUSR1' }), 400)).code, 'INVALID_REQUEST');
  assert.equal((await record(stack, id)).status, 'running');
  assert.equal((await signal(stack, id, 'SIGTERM')).status, 202);
  const done = await until(stack, id, 'to end', (r) => r.status !== 'running');
  assert.equal(done.exit?.signal, 'SIGTERM');
});

test('queued, unknown and lost invocations: 409, 404, and 502 when no worker answers', async () => {
  const stack = await stackOn('not-running', {}, false);
  const queued = await invokeAsync(stack, 'traps-sigusr1');
  for (const res of [await stack.fetch(`/invocations/${queued}/processes`), await signal(stack, queued, 'SIGUSR1')]) {
    const error = await errorOf(res, 409);
    assert.equal(error.code, 'INVOCATION_NOT_RUNNING');
    assert.match(error.message, /queued/);
  }
  for (const path of ['/invocations/no-such-id/processes', '/invocations/x:log/processes']) {
    assert.equal((await errorOf(await stack.fetch(path), 404)).code, 'INVOCATION_NOT_FOUND');
  }
  assert.equal((await errorOf(await signal(stack, 'no-such-id', 'SIGUSR1'), 404)).code, 'INVOCATION_NOT_FOUND');

  // A record that says running with no worker to answer for it (its worker was lost): a bounded wait, then 502.
  const client = createRedisClient(redis.url, { name: 'test' });
  try {
    await client.hset(`not-running:invocation:${queued}`, 'status', 'running', 'worker', 'gone:1');
  } finally {
    client.disconnect();
  }
  const lost = await errorOf(await stack.fetch(`/invocations/${queued}/processes`), 502);
  assert.equal(lost.code, 'WORKER_LOST');
  assert.match(lost.message, /no worker answered/);
});

test('a cancelled invocation keeps the figures of its sandbox, and one cancelled while its sandbox starts ends cancelled', async () => {
  const stack = await stackOn('cancel-figures', { PIDBOX_POOL_SIZE: '0' });
  const id = await invokeAsync(stack, 'forks-a-tree');
  const running = await until(stack, id, 'to run in a sandbox', (r) => r.status === 'running' && r.sandbox !== null);
  await waitFor('the tree to be forked', () => processesIn(running.sandbox!.pidNamespace).length >= 4 || null);
  const cancelled = await json<InvocationRecord>(await stack.fetch(`/invocations/${id}`, { method: 'DELETE' }));
  assert.equal(cancelled.status, 'cancelled');
  const sandbox = cancelled.sandbox!;
  assert.equal(sandbox.pidNamespace, running.sandbox!.pidNamespace);
  assert.equal(typeof sandbox.cpuMs, 'number');
  assert.equal(typeof sandbox.zombiesReaped, 'number');
  assert.ok((sandbox.peakProcesses ?? 0) >= 3, `peakProcesses ${sandbox.peakProcesses}`);
  assert.ok(sandbox.memoryPeakBytes === null || sandbox.memoryPeakBytes > 0);
  assert.ok(cancelled.timings.runMs !== null && cancelled.timings.runMs > 0);
  assert.deepEqual((await listAll(stack, 'status=cancelled', 5)).all.map((s) => [s.id, s.timings.runMs]), [[id, cancelled.timings.runMs]]);

  // The zombies its init reaped are counted to the end: the init, not killed, reports them.
  const orphaning = await invokeAsync(stack, 'orphans-then-waits');
  await waitFor('the orphans to be made', async () => /orphaned two/.test(await logOf(stack, orphaning)) || null, 20_000);
  await waitFor('the orphans to be reaped', async () => {
    const { processes } = await json<ProcessList>(await stack.fetch(`/invocations/${orphaning}/processes`));
    return !processes.some((p) => p.command === 'sleep 0.2' || p.state === 'Z') || null;
  });
  const reaped = await json<InvocationRecord>(await stack.fetch(`/invocations/${orphaning}`, { method: 'DELETE' }));
  assert.equal(reaped.status, 'cancelled');
  assert.equal(reaped.sandbox?.zombiesReaped, 2);
  assert.deepEqual(reaped.exit, { code: null, signal: 'SIGKILL' });

  // Cancelled the moment it runs, while its sandbox (a cold one: the pool is off) is still starting.
  for (const name of ['echoes-body', 'node-traps-sigusr1']) {
    const early = await invokeAsync(stack, name);
    await until(stack, early, 'to be taken by the worker', (r) => r.status !== 'queued');
    const res = await stack.fetch(`/invocations/${early}`, { method: 'DELETE' });
    const r = res.status === 200 ? await json<InvocationRecord>(res) : await until(stack, early, 'to end', (x) => x.status !== 'running');
    if (r.status === 'succeeded') continue; // it was quicker than the cancel
    assert.equal(r.status, 'cancelled', `${name}: ${JSON.stringify(r.error)}`);
    assert.equal(r.error?.code, 'INVOCATION_CANCELLED');
    if (r.sandbox) assert.equal(typeof r.sandbox.cpuMs, 'number');
  }
});

test('no sandbox process is left running once the workers have stopped, on the whole machine', async () => {
  await Promise.all([...workers.map((w) => w.kill()), ...stacks.map((s) => s.stop())]);
  await waitFor('every sandbox to end', () => sandboxProcesses().length === 0, 5000);
  assert.deepEqual(sandboxProcesses(), []);
});
