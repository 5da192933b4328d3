// The gateway end to end: real HTTP, a real redis-server, a real worker running real sandboxes.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { BatchRecord, InvocationRecord } from '../contracts/invocation-record.js';
import { createRedisClient } from '../redis/redis-client.js';
import { SAMPLES, startStack, type Stack } from './support/pidbox-stack.js';
import { startTestRedis } from './support/redis-server.js';
import { processesIn, sandboxProcesses, stillRunning, waitFor } from './support/processes.js';

const MAX_BODY = 64 * 1024;
let stack: Stack;

before(async () => {
  // The callback receivers of these tests listen on loopback.
  stack = await startStack({ env: { PIDBOX_WORKER_CONCURRENCY: '2', PIDBOX_MAX_BODY_BYTES: String(MAX_BODY), PIDBOX_CALLBACK_ALLOW_NETWORKS: '127.0.0.0/8' } });
});
after(() => stack?.stop());

async function record(id: string): Promise<InvocationRecord> {
  const res = await stack.fetch(`/invocations/${id}`);
  assert.equal(res.status, 200, `GET /invocations/${id}`);
  return (await res.json()) as InvocationRecord;
}

function until(id: string, what: string, check: (r: InvocationRecord) => boolean, timeoutMs = 15_000): Promise<InvocationRecord> {
  return waitFor(`invocation ${id} ${what}`, async () => {
    const r = await record(id);
    return check(r) ? r : null;
  }, timeoutMs);
}

async function invokeAsync(name: string, body: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await stack.fetch(`/functions/${name}/invocations`, { method: 'POST', body, headers });
  assert.equal(res.status, 202);
  return ((await res.json()) as { id: string }).id;
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('a sync invocation answers with the function response and the invocation id', async () => {
  const res = await stack.fetch('/functions/returns-value', { method: 'POST', body: 'ignored' });
  assert.equal(res.status, 200);
  const id = res.headers.get('x-invocation-id') ?? '';
  assert.match(id, UUID);
  assert.equal(res.headers.get('x-invocation-status'), 'succeeded');
  const body = await res.json();
  assert.equal(typeof body, 'object');

  const r = await record(id);
  assert.equal(r.status, 'succeeded');
  assert.equal(r.function, 'returns-value');
  assert.equal(r.attempts, 1);
  assert.match(r.sandbox?.pidNamespace ?? '', /^pid:\[\d+\]$/);
  assert.deepEqual(r.exit, { code: 0, signal: null });
  assert.ok(r.timings.queuedMs !== null && r.timings.queuedMs >= 0);
  // A sandbox started before the call came costs the call no start (README, "Pre-started sandboxes").
  if (r.sandbox?.prestarted) assert.equal(r.timings.startMs, 0);
  else assert.ok(r.timings.startMs !== null && r.timings.startMs > 0, `a cold start takes time: ${r.timings.startMs}`);
  assert.ok(r.timings.runMs !== null && r.timings.runMs > 0);
  assert.ok(r.createdAt <= (r.startedAt ?? '') && (r.startedAt ?? '') <= (r.finishedAt ?? ''));
});

test('the hello sample greets through the queue from a fresh sandbox, and its log is kept apart', async () => {
  const samples = await startStack({ functionsDir: SAMPLES, redis: stack.redis, env: { PIDBOX_REDIS_PREFIX: 'samples' } });
  try {
    const res = await samples.fetch('/functions/hello', { method: 'POST', body: 'tester' });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { message: string }).message, 'Hello, tester!');
    const id = res.headers.get('x-invocation-id')!;
    const r = (await (await samples.fetch(`/invocations/${id}`)).json()) as InvocationRecord;
    assert.match(r.log, /greeting tester \(invocation [0-9a-f-]+\)/);
    assert.equal(r.response?.bodyEncoding, 'utf8');
  } finally {
    await samples.stop();
  }
});

test('an exec function returns a binary body byte for byte through the queue', async () => {
  const payload = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const echo = await startStack({ functionsDir: SAMPLES, redis: stack.redis, env: { PIDBOX_REDIS_PREFIX: 'echo' } });
  try {
    const answer = await echo.fetch('/functions/echo', { method: 'POST', body: payload });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('content-type'), 'application/octet-stream');
    assert.deepEqual(Buffer.from(await answer.arrayBuffer()), payload);
    const r = (await (await echo.fetch(`/invocations/${answer.headers.get('x-invocation-id')}`)).json()) as InvocationRecord;
    assert.equal(r.response?.bodyEncoding, 'base64');
    assert.deepEqual(Buffer.from(r.response!.body, 'base64'), payload);
  } finally {
    await echo.stop();
  }
});

test('a CGI function answers through the gateway with its own status and headers, and the caller\'s path, query and headers reach it', async () => {
  const answer = await stack.fetch('/function/answers-cgi/orders/7?view=full', { method: 'POST', body: 'ping', headers: { 'x-request-id': 'r-9', 'content-type': 'text/plain' } });
  assert.equal(answer.status, 201);
  assert.equal(answer.headers.get('content-type'), 'application/json');
  assert.equal(answer.headers.get('x-method'), 'POST');
  assert.match(answer.headers.get('x-invocation-id') ?? '', UUID);
  const got = (await answer.json()) as Record<string, string>;
  assert.deepEqual([got.pathInfo, got.query, got.requestId, got.contentLength, got.body], ['/orders/7', 'view=full', 'r-9', '4', 'ping']);
});

test('sync callers wait on one subscription per gateway, not one each', async () => {
  const client = createRedisClient(stack.redis.url, { name: 'test' });
  try {
    const calls = ['one', 'two', 'three'].map((body) => stack.fetch('/functions/slow-echo', { method: 'POST', body }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [, subscribers] = (await client.pubsub('NUMSUB', 'pidbox:finished')) as [string, number];
    assert.equal(subscribers, 1);
    const answers = await Promise.all(calls.map(async (call) => (await call).text()));
    assert.deepEqual(answers, ['one', 'two', 'three']);
  } finally {
    client.disconnect();
  }
});

test('an async invocation is accepted with 202 and Location, and its record is polled until it succeeds', async () => {
  const res = await stack.fetch('/functions/slow-echo/invocations', { method: 'POST', body: 'later' });
  assert.equal(res.status, 202);
  const body = (await res.json()) as { id: string; status: string };
  assert.match(body.id, UUID);
  assert.equal(body.status, 'queued');
  assert.equal(res.headers.get('location'), `/invocations/${body.id}`);
  assert.equal(res.headers.get('x-invocation-id'), body.id);

  const running = await until(body.id, 'to run', (r) => r.status === 'running' || r.status === 'succeeded');
  assert.ok(running.attempts >= 1);
  const done = await until(body.id, 'to succeed', (r) => r.status === 'succeeded');
  assert.equal(done.response?.body, 'later');
  assert.equal(done.response?.status, 200);
  assert.match(done.log, /slow-echo started/);
});

test('the OpenFaaS routes invoke synchronously and asynchronously with X-Call-Id', async () => {
  const res = await stack.fetch('/function/slow-echo/sub/path?x=1', { method: 'POST', body: 'faas' });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'faas');
  const callId = res.headers.get('x-call-id') ?? '';
  assert.match(callId, UUID);
  assert.ok(Number(res.headers.get('x-duration-seconds')) > 1);
  assert.deepEqual((await record(callId)).request, { method: 'POST', path: '/sub/path?x=1' });

  const accepted = await stack.fetch('/async-function/returns-value', { method: 'POST', body: '' });
  assert.equal(accepted.status, 202);
  assert.equal(await accepted.text(), '');
  const asyncId = accepted.headers.get('x-call-id') ?? '';
  assert.match(asyncId, UUID);
  assert.equal((await until(asyncId, 'to succeed', (r) => r.status === 'succeeded')).status, 'succeeded');
});

test('the log reads as text and follows live as server-sent events until the invocation ends', async () => {
  const id = await invokeAsync('slow-echo', 'followed');
  const res = await stack.fetch(`/invocations/${id}/logs?follow=true`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events = await res.text(); // the stream ends by itself at the invocation's end
  assert.match(events, /event: log\ndata: slow-echo started/);
  assert.match(events, /event: end\ndata: {"status":"succeeded"}/);
  assert.ok(events.indexOf('slow-echo started') < events.indexOf('event: end'));

  const text = await stack.fetch(`/invocations/${id}/logs`);
  assert.equal(text.status, 200);
  assert.match(text.headers.get('content-type') ?? '', /text\/plain/);
  assert.equal(await text.text(), 'slow-echo started\n');
});

test('the same Idempotency-Key returns the same invocation instead of a new one', async () => {
  const headers = { 'idempotency-key': `key-${Date.now()}` };
  const first = await stack.fetch('/functions/returns-value/invocations', { method: 'POST', body: 'a', headers });
  const second = await stack.fetch('/functions/returns-value/invocations', { method: 'POST', body: 'b', headers });
  const a = (await first.json()) as { id: string };
  const b = (await second.json()) as { id: string };
  assert.equal(second.status, 202);
  assert.equal(b.id, a.id);
  assert.equal(second.headers.get('idempotent-replayed'), 'true');
  assert.equal(second.headers.get('x-invocation-id'), a.id);

  const other = await invokeAsync('returns-value', 'c', { 'idempotency-key': `other-${Date.now()}` });
  assert.notEqual(other, a.id);

  // A sync call with the key of a finished invocation answers at once with that invocation.
  await until(a.id, 'to succeed', (r) => r.status === 'succeeded');
  const sync = await stack.fetch('/functions/returns-value', { method: 'POST', body: 'd', headers });
  assert.equal(sync.status, 200);
  assert.equal(sync.headers.get('x-invocation-id'), a.id);
  assert.equal((await record(a.id)).attempts, 1);
});

test('a callback URL gets the finished record, and a failed delivery is retried', async () => {
  const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      // The first delivery fails: the worker must try again.
      res.writeHead(received.length === 1 ? 500 : 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const id = await invokeAsync('slow-echo', 'called back', { 'x-callback-url': url });
    await waitFor('two deliveries', () => received.length >= 2, 20_000);
    const delivered = JSON.parse(received[1]!.body) as InvocationRecord;
    assert.equal(delivered.id, id);
    assert.equal(delivered.status, 'succeeded');
    assert.equal(delivered.response?.body, 'called back');
    assert.equal(received[1]!.headers['x-invocation-id'], id);
    const r = await until(id, 'to record the delivery', (x) => x.callback?.status === 'delivered');
    assert.equal(r.callback?.attempts, 2);
    assert.equal(r.callback?.lastStatus, 200);

    // OpenFaaS callers get the function's body, its status in X-Function-Status.
    const accepted = await stack.fetch('/async-function/slow-echo', { method: 'POST', body: 'raw body', headers: { 'x-callback-url': url } });
    const callId = accepted.headers.get('x-call-id');
    await waitFor('the OpenFaaS delivery', () => received.length >= 3, 20_000);
    assert.equal(received[2]!.body, 'raw body');
    assert.equal(received[2]!.headers['x-call-id'], callId);
    assert.equal(received[2]!.headers['x-function-status'], '200');
  } finally {
    server.close();
  }
});

test('a cancelled queued invocation never runs', async () => {
  // Both worker slots busy: the third invocation waits in the queue.
  const busy = [await invokeAsync('sleeps', ''), await invokeAsync('sleeps', '')];
  try {
    for (const id of busy) await until(id, 'to run', (r) => r.status === 'running');
    const queued = await invokeAsync('slow-echo', 'never');
    assert.equal((await record(queued)).status, 'queued');

    const res = await stack.fetch(`/invocations/${queued}`, { method: 'DELETE' });
    assert.equal(res.status, 200);
    const cancelled = (await res.json()) as InvocationRecord;
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.error?.code, 'INVOCATION_CANCELLED');

    // Free the slots; the cancelled one must still not run.
    for (const id of busy) assert.equal((await stack.fetch(`/invocations/${id}`, { method: 'DELETE' })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const later = await record(queued);
    assert.equal(later.status, 'cancelled');
    assert.equal(later.attempts, 0);
    assert.equal(later.sandbox, null);
    assert.equal(later.startedAt, null);
    assert.equal(await (await stack.fetch(`/invocations/${queued}/logs`)).text(), '');
  } finally {
    for (const id of busy) await stack.fetch(`/invocations/${id}`, { method: 'DELETE' });
  }
});

test("cancelling a running invocation kills its sandbox's processes within a second", async () => {
  const id = await invokeAsync('sleeps', '');
  const running = await until(id, 'to run in a sandbox', (r) => r.status === 'running' && r.sandbox !== null);
  const namespace = running.sandbox!.pidNamespace;
  const init = running.sandbox!.hostPid;
  // init, the shell and its two sleeps
  const pids = await waitFor('the function and its children', () => {
    const found = processesIn(namespace);
    return found.length >= 4 && found.includes(init) ? found : null;
  });

  const started = Date.now();
  const res = await stack.fetch(`/invocations/${id}`, { method: 'DELETE' });
  await waitFor('the sandbox to be gone', () => stillRunning(pids, namespace).length === 0, 1000, 10);
  assert.ok(Date.now() - started <= 1000);

  assert.equal(res.status, 200);
  const cancelled = (await res.json()) as InvocationRecord;
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(cancelled.error?.code, 'INVOCATION_CANCELLED');
  assert.equal(cancelled.sandbox?.pidNamespace, namespace);

  const again = await stack.fetch(`/invocations/${id}`, { method: 'DELETE' });
  assert.equal(again.status, 409);
  assert.equal((await errorOf(again)).code, 'INVOCATION_FINISHED');
});

test('a function that runs past its timeoutMs ends timed_out, and its sync caller gets 504', async () => {
  const res = await stack.fetch('/functions/times-out', { method: 'POST', body: '' });
  assert.equal(res.status, 504);
  assert.equal((await errorOf(res)).code, 'FUNCTION_TIMED_OUT');
  const r = await record(res.headers.get('x-invocation-id')!);
  assert.equal(r.status, 'timed_out');
  assert.equal(r.error?.code, 'FUNCTION_TIMED_OUT');
  assert.match(r.log, /about to sleep past the timeout/);
});

test('a batch of 100 runs every item and reports counts, progress and paged results', async () => {
  const items = Array.from({ length: 100 }, (_, n) => ({ n }));
  const res = await stack.fetch('/functions/echoes-body/batch', { method: 'POST', body: JSON.stringify(items), headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 202);
  const { batchId, count } = (await res.json()) as { batchId: string; count: number };
  assert.equal(count, 100);
  assert.equal(res.headers.get('location'), `/batches/${batchId}`);

  const batch = await waitFor('the batch to finish', async () => {
    const b = (await (await stack.fetch(`/batches/${batchId}?limit=50`)).json()) as BatchRecord;
    assert.ok(b.progress >= 0 && b.progress <= 1);
    return b.progress === 1 ? b : null;
  }, 90_000, 200);
  assert.equal(batch.count, 100);
  assert.deepEqual(batch.counts, { queued: 0, running: 0, succeeded: 100, failed: 0, timed_out: 0, cancelled: 0 });
  assert.ok(batch.finishedAt);
  assert.equal(batch.results.length, 50);
  assert.equal(batch.nextOffset, 50);
  const second = (await (await stack.fetch(`/batches/${batchId}?offset=50&limit=50`)).json()) as BatchRecord;
  assert.equal(second.results.length, 50);
  assert.equal(second.nextOffset, null);
  for (const result of [...batch.results, ...second.results]) {
    assert.equal(result.status, 'succeeded');
    assert.equal(result.response?.status, 200);
    // Each invocation got its own item as its body.
    assert.deepEqual(JSON.parse(result.response!.body), { n: result.index });
  }
  assert.deepEqual([...batch.results, ...second.results].map((r) => r.index), Array.from({ length: 100 }, (_, i) => i));
});

test('an NDJSON batch runs one invocation per line, each with its line as JSON body', async () => {
  const res = await stack.fetch('/functions/echoes-body/batch', { method: 'POST', body: '{"a":1}\n\n[2]\n"three"\n', headers: { 'content-type': 'application/x-ndjson' } });
  assert.equal(res.status, 202);
  const { batchId, count } = (await res.json()) as { batchId: string; count: number };
  assert.equal(count, 3);
  const batch = await waitFor('the batch to finish', async () => {
    const b = (await (await stack.fetch(`/batches/${batchId}`)).json()) as BatchRecord;
    return b.progress === 1 ? b : null;
  }, 30_000, 100);
  assert.deepEqual(batch.results.map((r) => r.response?.body), ['{"a":1}', '[2]', '"three"']);
});

test('an unknown function is 404 and an invalid name is 400, both as JSON errors with stable codes', async () => {
  const missing = await stack.fetch('/functions/no-such-function', { method: 'POST', body: '' });
  assert.equal(missing.status, 404);
  assert.equal((await errorOf(missing)).code, 'FUNCTION_NOT_FOUND');
  // Refused before any invocation was made: no id to name.
  assert.equal(missing.headers.get('x-invocation-id'), null);

  const invalid = await stack.fetch('/functions/Not_Valid!', { method: 'POST', body: '' });
  assert.equal(invalid.status, 400);
  assert.equal((await errorOf(invalid)).code, 'INVALID_FUNCTION_NAME');

  const asyncMissing = await stack.fetch('/functions/no-such-function/invocations', { method: 'POST', body: '' });
  assert.equal(asyncMissing.status, 404);
  const faas = await stack.fetch('/function/no-such-function', { method: 'POST', body: '' });
  assert.equal(faas.status, 404);
  assert.equal((await errorOf(faas)).code, 'FUNCTION_NOT_FOUND');
});

test('a body over the limit is 413 and the gateway keeps serving', async () => {
  const big = Buffer.alloc(MAX_BODY + 1, 0x61);
  const declared = await stack.fetch('/functions/slow-echo', { method: 'POST', body: big });
  assert.equal(declared.status, 413);
  assert.equal((await errorOf(declared)).code, 'BODY_TOO_LARGE');

  // Without Content-Length (chunked), the body is counted as it comes.
  const chunks = [Buffer.alloc(MAX_BODY / 2, 0x62), Buffer.alloc(MAX_BODY / 2, 0x62), Buffer.alloc(10, 0x62)];
  const streamed = await stack.fetch('/functions/slow-echo/invocations', {
    method: 'POST',
    body: new ReadableStream({ pull(controller) { const next = chunks.shift(); if (next) controller.enqueue(next); else controller.close(); } }),
    duplex: 'half',
  } as RequestInit);
  assert.equal(streamed.status, 413);
  assert.equal((await errorOf(streamed)).code, 'BODY_TOO_LARGE');

  const batch = await stack.fetch('/functions/slow-echo/batch', { method: 'POST', body: big });
  assert.equal(batch.status, 413);

  const ok = await stack.fetch('/functions/returns-value', { method: 'POST', body: Buffer.alloc(MAX_BODY, 0x63) });
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { length: number }).length, MAX_BODY);
  assert.equal((await stack.fetch('/healthz')).status, 200);
});

test('a malformed batch is 400 and names the position of the fault', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['[{"n":1}, {"n":2}, {"n": }]', 'application/json', /item 2 of the batch \(at character 19\)/],
    ['[1, 2,, 3]', 'application/json', /item 2 is missing at character 6/],
    ['[1, 2', 'application/json', /not closed/],
    ['{"n":1}\n{"n":2}\nnot json\n', 'application/x-ndjson', /line 3 of the batch/],
    ['[]', 'application/json', /empty/],
  ];
  for (const [body, type, message] of cases) {
    const res = await stack.fetch('/functions/returns-value/batch', { method: 'POST', body, headers: { 'content-type': type } });
    assert.equal(res.status, 400, body);
    const error = await errorOf(res);
    assert.equal(error.code, 'INVALID_BATCH');
    assert.match(error.message, message);
  }
});

test('requests past the in-flight limit get 429 with Retry-After, and a full queue refuses new invocations', async () => {
  // A gateway of its own, with no worker on its queue: its invocations stay queued.
  const limited = await startStack({ worker: false, redis: stack.redis, env: { PIDBOX_REDIS_PREFIX: 'limited', PIDBOX_MAX_IN_FLIGHT: '1', PIDBOX_MAX_QUEUED: '3' } });
  const waiting = new AbortController();
  try {
    const first = limited.fetch('/functions/slow-echo', { method: 'POST', body: 'waits', signal: waiting.signal }).catch(() => null);
    await waitFor('the first request to be held', async () => {
      const r = await limited.fetch('/functions/slow-echo', { method: 'POST', body: 'second' });
      if (r.status !== 429) return null;
      assert.equal(r.headers.get('retry-after'), '1');
      assert.equal((await errorOf(r)).code, 'TOO_MANY_REQUESTS');
      return true;
    });
    waiting.abort();
    await first;

    // One job queued by the held request; two more fit, the next does not.
    for (let i = 0; i < 2; i++) assert.equal((await limited.fetch('/functions/slow-echo/invocations', { method: 'POST', body: '' })).status, 202);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the queue length is read at most every 250 ms
    const full = await limited.fetch('/functions/slow-echo/invocations', { method: 'POST', body: '' });
    assert.equal(full.status, 429);
    assert.equal(full.headers.get('retry-after'), '1');
    assert.match((await errorOf(full)).message, /queue holds 3 waiting invocations/);
  } finally {
    waiting.abort();
    await limited.stop();
  }
});

test('a sync call that waits past PIDBOX_SYNC_TIMEOUT_MS gets 504 with the id, and the invocation goes on', async () => {
  // No worker on this queue: the invocation stays queued.
  const patient = await startStack({ worker: false, redis: stack.redis, env: { PIDBOX_REDIS_PREFIX: 'patient', PIDBOX_SYNC_TIMEOUT_MS: '300' } });
  try {
    const res = await patient.fetch('/functions/slow-echo', { method: 'POST', body: 'later' });
    assert.equal(res.status, 504);
    const error = await errorOf(res);
    assert.equal(error.code, 'SYNC_TIMEOUT');
    const id = res.headers.get('x-invocation-id')!;
    assert.match(error.message, new RegExp(`GET /invocations/${id}`));
    const r = (await (await patient.fetch(`/invocations/${id}`)).json()) as InvocationRecord;
    assert.equal(r.status, 'queued');
  } finally {
    await patient.stop();
  }
});

test('with PIDBOX_API_KEYS set, a missing or wrong key is 401 while health stays open', async () => {
  const key = 'k'.repeat(20) + Date.now();
  const keyed = await startStack({ worker: false, redis: stack.redis, env: { PIDBOX_API_KEYS: `another-key-0123456789,${key}` } });
  try {
    const none = await keyed.fetch('/functions');
    assert.equal(none.status, 401);
    assert.equal((await errorOf(none)).code, 'UNAUTHORIZED');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const wrong = await keyed.fetch('/functions/slow-echo', { method: 'POST', headers: { authorization: 'Bearer wrong-key-0123456789' } });
    assert.equal(wrong.status, 401);
    assert.equal((await errorOf(wrong)).code, 'UNAUTHORIZED');
    const right = await keyed.fetch('/functions', { headers: { authorization: `Bearer ${key}` } });
    assert.equal(right.status, 200);
    assert.equal((await keyed.fetch('/healthz')).status, 200);
    assert.equal((await keyed.fetch('/readyz')).status, 200);
  } finally {
    await keyed.stop();
  }
});

test('unknown invocations, batches and routes are 404, and a bad X-Callback-Url is 400', async () => {
  const cases: Array<[string, RequestInit, number, string]> = [
    ['/invocations/does-not-exist', {}, 404, 'INVOCATION_NOT_FOUND'],
    ['/invocations/does-not-exist/logs', {}, 404, 'INVOCATION_NOT_FOUND'],
    ['/invocations/does-not-exist', { method: 'DELETE' }, 404, 'INVOCATION_NOT_FOUND'],
    ['/invocations/x:log', {}, 404, 'INVOCATION_NOT_FOUND'],
    ['/batches/x:ids', {}, 404, 'BATCH_NOT_FOUND'],
    ['/batches/does-not-exist', {}, 404, 'BATCH_NOT_FOUND'],
    ['/batches/x?limit=0', {}, 400, 'INVALID_REQUEST'],
    ['/nowhere', {}, 404, 'NOT_FOUND'],
    ['/functions/slow-echo/invocations', { method: 'POST', headers: { 'x-callback-url': 'file:///etc/passwd' } }, 400, 'INVALID_CALLBACK_URL'],
    ['/functions/slow-echo/invocations', { method: 'POST', headers: { 'x-callback-url': 'not a url' } }, 400, 'INVALID_CALLBACK_URL'],
  ];
  for (const [path, init, status, code] of cases) {
    const res = await stack.fetch(path, init);
    assert.equal(res.status, status, `${init.method ?? 'GET'} ${path}`);
    assert.equal((await errorOf(res)).code, code, path);
  }
});

test('GET /functions lists names, runtimes and settings, and /healthz and /readyz answer', async () => {
  const res = await stack.fetch('/functions');
  assert.equal(res.status, 200);
  const { functions, problems } = (await res.json()) as {
    functions: Array<{ name: string; runtime: string; settings: { timeoutMs: number; retries: number; concurrency: number | null; env: string[] } }>;
    problems: Array<{ name: string; code: string; message: string }>;
  };
  const byName = new Map(functions.map((f) => [f.name, f]));
  assert.equal(byName.get('times-out')?.settings.timeoutMs, 400);
  assert.equal(byName.get('times-out')?.runtime, 'exec');
  assert.equal(byName.get('returns-value')?.runtime, 'node');
  assert.equal(byName.get('one-at-a-time')?.settings.concurrency, 1);
  assert.deepEqual(byName.get('fails-once')?.settings.env, ['FAILS_ONCE_TOKEN']);
  assert.doesNotMatch(JSON.stringify(functions), /never-listed/, 'the values of env variables are never listed');
  assert.ok(problems.some((p) => p.name === 'bad-config' && p.code === 'INVALID_FUNCTION_CONFIG'));
  const noHandler = problems.find((p) => p.name === 'exports-no-handler');
  assert.equal(noHandler?.code, 'FUNCTION_BUILD_FAILED', 'a node module without a default export is broken before anyone calls it');
  assert.match(noHandler.message, /exports-no-handler\/index\.ts has no default export/);
  assert.ok(!byName.has('exports-no-handler'));

  assert.deepEqual(await (await stack.fetch('/healthz')).json(), { status: 'ok' });
  const ready = await stack.fetch('/readyz');
  assert.equal(ready.status, 200);
  const body = (await ready.json()) as { status: string; checks: { redis: { ok: boolean }; functions: { ok: boolean; count: number; problems: number } } };
  assert.equal(body.status, 'ready');
  assert.equal(body.checks.redis.ok, true);
  assert.ok(body.checks.functions.count > 5);
  assert.equal(body.checks.functions.problems, problems.length, 'broken functions are counted, and do not make the gateway unready');

  const called = await stack.fetch('/functions/exports-no-handler', { method: 'POST' });
  assert.equal(called.status, 500);
  assert.equal((await errorOf(called)).code, 'FUNCTION_BUILD_FAILED');
});

test('/readyz says unavailable, with 503, when Redis is gone', async () => {
  const redis = await startTestRedis();
  const alone = await startStack({ worker: false, redis });
  try {
    assert.equal((await alone.fetch('/readyz')).status, 200);
    await redis.stop();
    const res = await alone.fetch('/readyz');
    assert.equal(res.status, 503);
    const body = (await res.json()) as { status: string; checks: { redis: { ok: boolean } } };
    assert.equal(body.status, 'unavailable');
    assert.equal(body.checks.redis.ok, false);
    // Invocations are refused cleanly, not left hanging.
    const invoke = await alone.fetch('/functions/slow-echo/invocations', { method: 'POST', body: '' });
    assert.equal(invoke.status, 503);
    assert.equal((await errorOf(invoke)).code, 'QUEUE_UNAVAILABLE');
  } finally {
    await alone.stop();
    await redis.stop();
  }
});

test('no sandbox process is left running once the stack has stopped, on the whole machine', async () => {
  // While the worker runs, its pre-started sandboxes wait (each for one call): they go with it.
  await stack.stop();
  await waitFor('every sandbox to end', () => sandboxProcesses().length === 0, 5000);
  assert.deepEqual(sandboxProcesses(), []);
});
