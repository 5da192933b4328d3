// The worker: retries, per-function concurrency, bounded logs, graceful shutdown, and a worker
// killed with SIGKILL mid-job — with real worker processes, a real redis-server and real sandboxes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import type { EmbeddedRedis } from '../dev/embedded-redis.js';
import { createRedisClient } from '../redis/redis-client.js';
import { FIXTURES, startStack, type Stack } from './support/pidbox-stack.js';
import { processesIn, sandboxProcesses, stillRunning, waitFor } from './support/processes.js';
import { startTestRedis } from './support/redis-server.js';
import { spawnWorker, type WorkerProcess } from './support/worker-process.js';
import { cleanUpAfterKilledWorkers, staleSandboxState } from './support/sandbox-state.js';

let redis: EmbeddedRedis;
let cacheDir: string;
const stacks: Stack[] = [];
const workers: WorkerProcess[] = [];

before(async () => {
  redis = await startTestRedis();
  cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-worker-test-cache-'));
});
after(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  // Some of them were SIGKILLed on purpose: their sandboxes' folders and cgroups go as the next
  // worker of the host would remove them.
  await cleanUpAfterKilledWorkers();
  await Promise.all(stacks.map((s) => s.stop()));
  await redis?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
  // Checked once everything is stopped: a failure here must not leave Redis or a gateway running.
  assert.deepEqual(staleSandboxState(), []);
});

/** A gateway (with an in-process worker unless `worker: false`) on a queue of its own. */
async function stackOn(prefix: string, env: Record<string, string> = {}, worker = true): Promise<Stack> {
  const stack = await startStack({ redis, worker, env: { PIDBOX_REDIS_PREFIX: prefix, ...env } });
  stacks.push(stack);
  return stack;
}

async function workerOn(prefix: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
  const worker = await spawnWorker({
    REDIS_URL: redis.url,
    PIDBOX_REDIS_PREFIX: prefix,
    PIDBOX_FUNCTIONS_DIR: FIXTURES,
    PIDBOX_CACHE_DIR: cacheDir,
    PIDBOX_WORKER_CONCURRENCY: '1',
    ...env,
  });
  workers.push(worker);
  return worker;
}

async function record(stack: Stack, id: string): Promise<InvocationRecord> {
  return (await (await stack.fetch(`/invocations/${id}`)).json()) as InvocationRecord;
}

async function until(stack: Stack, id: string, what: string, check: (r: InvocationRecord) => boolean, timeoutMs = 15_000): Promise<InvocationRecord> {
  let last: InvocationRecord | null = null;
  try {
    return await waitFor(`invocation ${id} ${what}`, async () => {
      last = await record(stack, id);
      return check(last) ? last : null;
    }, timeoutMs);
  } catch (error) {
    // What the record and the worker processes said, to tell why.
    throw new Error(`${(error as Error).message}; record: ${JSON.stringify(last)}; workers: ${workers.map((w) => `[${w.pid}] ${w.output()}`).join(' | ')}`);
  }
}

async function invokeAsync(stack: Stack, name: string, body = ''): Promise<string> {
  const res = await stack.fetch(`/functions/${name}/invocations`, { method: 'POST', body });
  assert.equal(res.status, 202);
  return ((await res.json()) as { id: string }).id;
}

const ms = (iso: string | null): number => Date.parse(iso ?? '');
const pidOfWorker = (r: InvocationRecord): number => Number(r.worker?.split(':').pop());

test('a failed run is retried with backoff until it succeeds, and its log marks each attempt', async () => {
  const stack = await stackOn('retry', { PIDBOX_RETRY_BACKOFF_MS: '200' });
  const res = await stack.fetch('/functions/fails-once', { method: 'POST', body: '' });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'ok after a retry\n');
  const r = await record(stack, res.headers.get('x-invocation-id')!);
  assert.equal(r.status, 'succeeded');
  assert.equal(r.attempts, 2);
  assert.equal(r.maxAttempts, 3);
  assert.ok(ms(r.finishedAt) - ms(r.createdAt) >= 200, 'the retry waited for its backoff');
  const log = await (await stack.fetch(`/invocations/${r.id}/logs`)).text();
  assert.equal(log, 'first run fails\n--- pidbox: attempt 2 ---\nsecond run succeeds\n');
});

test('a run that keeps failing ends failed after 1 + retries attempts, with exponential backoff between them', async () => {
  const stack = await stackOn('fails', { PIDBOX_RETRY_BACKOFF_MS: '200' });
  const res = await stack.fetch('/functions/fails-with-retries', { method: 'POST', body: '' });
  assert.equal(res.status, 500);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'FUNCTION_FAILED');
  const r = await record(stack, res.headers.get('x-invocation-id')!);
  assert.equal(r.status, 'failed');
  assert.equal(r.attempts, 3);
  assert.deepEqual(r.exit, { code: 3, signal: null });
  assert.match(r.error?.message ?? '', /exited with code 3/);
  // Backoffs of 200 and 400 ms: exponential, not a fixed 200 twice.
  assert.ok(ms(r.finishedAt) - ms(r.createdAt) >= 600, `${ms(r.finishedAt) - ms(r.createdAt)} ms`);
  // A failed invocation stays inspectable: with its log.
  assert.match(await (await stack.fetch(`/invocations/${r.id}/logs`)).text(), /failing on purpose[^]*attempt 3[^]*failing on purpose/);
});

test("function.json's concurrency of 1 keeps the runs of that function apart on one worker", async () => {
  const stack = await stackOn('concurrency', { PIDBOX_WORKER_CONCURRENCY: '3' });
  const ids = [await invokeAsync(stack, 'one-at-a-time'), await invokeAsync(stack, 'one-at-a-time'), await invokeAsync(stack, 'one-at-a-time')];
  const done = [];
  for (const id of ids) done.push(await until(stack, id, 'to succeed', (r) => r.status === 'succeeded'));
  const spans = done.map((r) => [ms(r.startedAt), ms(r.finishedAt)] as const).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![0] >= spans[i - 1]![1], `run ${i} started before run ${i - 1} ended`);
  for (const r of done) assert.equal(r.attempts, 1);
});

test('a long log keeps its start and its end, and says how much was dropped in between', async () => {
  const stack = await stackOn('logs', { PIDBOX_MAX_LOG_BYTES: '2000', PIDBOX_LOG_TAIL_BYTES: '100' });
  const res = await stack.fetch('/functions/chatty-log', { method: 'POST', body: '' });
  assert.equal(res.status, 200);
  const id = res.headers.get('x-invocation-id')!;
  const log = await (await stack.fetch(`/invocations/${id}/logs`)).text();
  assert.ok(log.startsWith('log line 1\nlog line 2\n'));
  assert.ok(log.endsWith('log line 4999\nlog line 5000\n'));
  const gap = /--- pidbox: (\d+) bytes of log not kept ---\n/.exec(log);
  assert.ok(gap, 'a gap marker');
  const kept = Buffer.byteLength(log) - Buffer.byteLength(gap[0]);
  assert.equal(kept, 2000);
  let total = 0;
  for (let i = 1; i <= 5000; i++) total += `log line ${i}\n`.length;
  assert.equal(Number(gap[1]) + kept, total);
  const r = await record(stack, id);
  assert.equal(r.logTruncated, true);
  assert.ok(r.log.endsWith('log line 5000\n') && Buffer.byteLength(r.log) <= 100);
});

test('on SIGTERM a worker stops taking jobs and lets a running invocation finish within the grace period', async () => {
  const stack = await stackOn('graceful', {}, false);
  const worker = await workerOn('graceful', { PIDBOX_SHUTDOWN_GRACE_MS: '10000' });
  const id = await invokeAsync(stack, 'slow-echo', 'finished anyway');
  await until(stack, id, 'to run', (r) => r.status === 'running' && r.sandbox !== null);
  const queued = await invokeAsync(stack, 'slow-echo', 'not taken');
  worker.child.kill('SIGTERM');
  const exit = await worker.exited;
  assert.deepEqual(exit, { code: 0, signal: null });
  const r = await record(stack, id);
  assert.equal(r.status, 'succeeded');
  assert.equal(r.response?.body, 'finished anyway');
  assert.equal((await record(stack, queued)).status, 'queued');
  assert.match(worker.output(), /SIGTERM, shutting down/);
});

test('past the grace period a worker kills its sandboxes and hands the job back to another, which a cancel then reaches', async () => {
  const stack = await stackOn('handback', {}, false);
  const first = await workerOn('handback', { PIDBOX_SHUTDOWN_GRACE_MS: '300' });
  const id = await invokeAsync(stack, 'sleeps');
  const running = await until(stack, id, 'to run', (r) => r.status === 'running' && r.sandbox !== null);
  assert.equal(pidOfWorker(running), first.pid);
  const namespace = running.sandbox!.pidNamespace;
  const pids = await waitFor('the function and its children', () => {
    const found = processesIn(namespace);
    return found.length >= 4 ? found : null;
  });

  const signalled = Date.now();
  first.child.kill('SIGTERM');
  assert.deepEqual(await first.exited, { code: 0, signal: null });
  assert.ok(Date.now() - signalled < 5000, 'shutdown is bounded');
  assert.deepEqual(stillRunning(pids, namespace), []);
  const handedBack = await record(stack, id);
  assert.equal(handedBack.status, 'queued');
  assert.equal(handedBack.attempts, 1);

  const second = await workerOn('handback');
  const again = await until(stack, id, 'to run again', (r) => r.status === 'running' && r.sandbox !== null);
  assert.equal(pidOfWorker(again), second.pid);
  assert.equal(again.attempts, 2);

  // Cancelled from the gateway (this process), killed by the worker process that runs it, via Redis.
  const pidsAgain = await waitFor('the function and its children again', () => {
    const found = processesIn(again.sandbox!.pidNamespace);
    return found.length >= 4 ? found : null;
  });
  const res = await stack.fetch(`/invocations/${id}`, { method: 'DELETE' });
  await waitFor('the other worker to kill the sandbox', () => stillRunning(pidsAgain, again.sandbox!.pidNamespace).length === 0, 1000, 10);
  assert.equal(res.status, 200);
  const cancelled = (await res.json()) as InvocationRecord;
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(pidOfWorker(cancelled), second.pid);
});

test('a worker killed with SIGKILL mid-job loses nothing: another worker completes it and the sync caller gets its answer', async () => {
  const env = { PIDBOX_LOCK_DURATION_MS: '1500', PIDBOX_STALLED_INTERVAL_MS: '500' };
  const stack = await stackOn('sigkill', {}, false);
  const pair = [await workerOn('sigkill', env), await workerOn('sigkill', env)];
  const answer = stack.fetch('/functions/slow-echo', { method: 'POST', body: 'survives its worker' });

  // The sync caller has no id yet: find its record in Redis, the only one on this queue.
  const client = createRedisClient(redis.url, { name: 'test' });
  let running: InvocationRecord;
  try {
    running = await waitFor('the sync invocation to run in a sandbox', async () => {
      const [key] = (await client.keys('sigkill:invocation:*')).filter((k) => !k.endsWith(':log'));
      if (!key) return null;
      const r = await record(stack, key.split(':').pop()!);
      return r.status === 'running' && r.sandbox !== null ? r : null;
    });
  } finally {
    client.disconnect();
  }
  const victim = pair.find((w) => w.pid === pidOfWorker(running))!;
  const survivor = pair.find((w) => w !== victim)!;
  assert.ok(victim, `the worker ${running.worker} is one of ours`);

  const pids = processesIn(running.sandbox!.pidNamespace);
  assert.ok(pids.includes(running.sandbox!.hostPid));
  victim.child.kill('SIGKILL');
  assert.deepEqual(await victim.exited, { code: null, signal: 'SIGKILL' });
  // Its sandbox dies with it (the init's parent-death signal), at once.
  await waitFor("the killed worker's sandbox to end", () => stillRunning(pids, running.sandbox!.pidNamespace).length === 0, 1000, 10);

  const res = await answer;
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'survives its worker');
  const done = await record(stack, running.id);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.attempts, 2);
  assert.equal(pidOfWorker(done), survivor.pid);
});

test('a job lost with its worker more often than PIDBOX_MAX_STALLED_COUNT ends failed WORKER_LOST, and its sync caller is answered', async () => {
  const env = { PIDBOX_LOCK_DURATION_MS: '1000', PIDBOX_STALLED_INTERVAL_MS: '300', PIDBOX_MAX_STALLED_COUNT: '0' };
  const stack = await stackOn('lost', {}, false);
  const doomed = await workerOn('lost', env);
  const answer = stack.fetch('/functions/slow-echo', { method: 'POST', body: 'lost' });
  const client = createRedisClient(redis.url, { name: 'test' });
  let id: string;
  try {
    id = await waitFor('the sync invocation to run', async () => {
      const [key] = (await client.keys('lost:invocation:*')).filter((k) => !k.endsWith(':log'));
      return key && (await record(stack, key.split(':').pop()!)).status === 'running' ? key.split(':').pop()! : null;
    });
  } finally {
    client.disconnect();
  }
  doomed.child.kill('SIGKILL');
  await doomed.exited;
  // Another worker finds the job lost; with no recovery allowed, it fails.
  await workerOn('lost', env);
  const res = await answer;
  assert.equal(res.status, 502);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'WORKER_LOST');
  const r = await record(stack, id);
  assert.equal(r.status, 'failed');
  assert.equal(r.error?.code, 'WORKER_LOST');
});

test('no sandbox process is left running once the workers have stopped, wherever it was reparented', async () => {
  // Pre-started sandboxes wait in running workers: they go with them.
  await Promise.all([...workers.map((w) => w.kill()), ...stacks.map((s) => s.stop())]);
  await waitFor('every sandbox to end', () => sandboxProcesses().length === 0, 5000);
  assert.deepEqual(sandboxProcesses(), []);
});

