// One trace per invocation, from the gateway's SERVER span through the queue and the sandbox to
// the spans a function makes itself; metrics that promtool accepts; logs that carry trace ids.
// Real OTLP export (protobuf) to a receiver on loopback, a real Redis, real HTTP, real sandboxes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../telemetry/logger.js';
import { createMetrics } from '../telemetry/metrics.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { loadTracingConfig, startTracing } from '../telemetry/tracing.js';
import { startMetricsServer } from '../worker/metrics-server.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp/otlp-receiver.js';
import { startStack, type Stack } from './support/pidbox-stack.js';

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;
const ERROR = 2;
const UNSET = 0;
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

let receiver: OtlpReceiver;
let telemetry: Telemetry;
let stack: Stack;
const logLines: string[] = [];

before(async () => {
  receiver = await startOtlpReceiver();
  const tracing = await startTracing(
    loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' }, 'pidbox-test'),
  );
  telemetry = { tracing, metrics: createMetrics(), log: createLogger({ service: 'test', level: 'info', write: (l) => logLines.push(l) }) };
  // Callbacks may reach loopback, where the test's callback receiver listens.
  stack = await startStack({ telemetry, env: { PIDBOX_CALLBACK_ALLOW_NETWORKS: '127.0.0.0/8' } });
});

after(async () => {
  await stack?.stop();
  await telemetry?.tracing.shutdown();
  await receiver?.close();
});

function traceOf(traceId: string): ReceivedSpan[] {
  return receiver.spans.filter((s) => s.traceId === traceId);
}

function only(spans: ReceivedSpan[], predicate: (s: ReceivedSpan) => boolean, what: string): ReceivedSpan {
  const found = spans.filter(predicate);
  assert.equal(found.length, 1, `exactly one ${what} (got ${spans.map((s) => s.name).join(', ')})`);
  return found[0]!;
}

/** The trace id a response names in its traceparent header. */
function traceIdOf(response: Response): string {
  const traceparent = response.headers.get('traceparent');
  assert.ok(traceparent, 'the response carries traceparent');
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(traceparent);
  assert.ok(match, `a W3C traceparent: ${traceparent}`);
  return match[1]!;
}

async function waitForSpans(traceId: string, names: string[]): Promise<ReceivedSpan[]> {
  await receiver.waitFor(() => names.every((name) => traceOf(traceId).some((s) => s.name === name)), 15_000);
  return traceOf(traceId);
}

async function waitUntilFinished(id: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const record = (await (await stack.fetch(`/invocations/${id}`)).json()) as Record<string, unknown>;
    if (!['queued', 'running'].includes(record.status as string)) return record;
    if (Date.now() > deadline) assert.fail(`invocation ${id} did not finish: ${JSON.stringify(record)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('traces', { timeout: 120_000 }, () => {
  test('a sync invocation is one trace from the SERVER span through PRODUCER, CONSUMER and sandbox spans to the function\'s own', async () => {
    const response = await stack.fetch('/functions/makes-spans', { method: 'POST', body: 'x' });
    assert.equal(response.status, 200);
    const id = response.headers.get('x-invocation-id')!;
    const traceId = traceIdOf(response);
    const spans = await waitForSpans(traceId, ['POST /functions/:name', 'send invocations', 'process invocations', 'sandbox', 'function.run', 'handle order', 'price order']);

    const server = only(spans, (s) => s.kind === SERVER, 'SERVER span');
    const producer = only(spans, (s) => s.kind === PRODUCER, 'PRODUCER span');
    const consumer = only(spans, (s) => s.kind === CONSUMER, 'CONSUMER span');
    const sandbox = only(spans, (s) => s.name === 'sandbox', 'sandbox span');
    const run = only(spans, (s) => s.name === 'function.run', 'function.run span');
    const own = only(spans, (s) => s.name === 'handle order', 'function span');
    const ownChild = only(spans, (s) => s.name === 'price order', 'nested function span');

    assert.equal(server.parentSpanId, '', 'with no incoming traceparent the SERVER span is the root');
    assert.equal(producer.parentSpanId, server.spanId);
    assert.equal(consumer.parentSpanId, producer.spanId);
    assert.equal(sandbox.parentSpanId, consumer.spanId);
    for (const step of ['sandbox.setup', 'function.run', 'sandbox.teardown']) {
      assert.equal(only(spans, (s) => s.name === step, step).parentSpanId, sandbox.spanId, `${step} is a step of the sandbox`);
    }
    assert.equal(own.parentSpanId, sandbox.spanId);
    assert.equal(ownChild.parentSpanId, own.spanId);
    const ids = new Set(spans.map((s) => s.spanId));
    for (const span of spans) if (span !== server) assert.ok(ids.has(span.parentSpanId), `the parent of ${span.name} is in the trace`);

    assert.equal(server.attributes['http.request.method'], 'POST');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.attributes['faas.invocation.id'], id);
    assert.equal(producer.attributes['messaging.operation.type'], 'send');
    assert.equal(producer.attributes['messaging.destination.name'], 'invocations');
    assert.equal(consumer.attributes['faas.trigger'], 'http');
    assert.equal(consumer.attributes['faas.invocation.id'], id);
    // A cold start unless the sandbox was pre-started: the record says which.
    const finished = (await waitUntilFinished(id)) as { sandbox: { prestarted: boolean } };
    assert.equal(consumer.attributes['faas.coldstart'], !finished.sandbox.prestarted);
    assert.equal(consumer.attributes['messaging.system'], 'bullmq');
    assert.equal(consumer.attributes['messaging.destination.name'], 'invocations');
    assert.equal(consumer.attributes['messaging.operation.type'], 'process');

    const record = (await (await stack.fetch(`/invocations/${id}`)).json()) as { traceId: string; sandbox: { pidNamespace: string; zombiesReaped: number; peakProcesses: number } };
    assert.equal(record.traceId, traceId, 'the record names its trace');
    assert.equal(sandbox.attributes['pidbox.sandbox.pid_namespace'], record.sandbox.pidNamespace);
    assert.equal(sandbox.attributes['pidbox.sandbox.zombies_reaped'], record.sandbox.zombiesReaped);
    assert.equal(sandbox.attributes['pidbox.sandbox.peak_processes'], record.sandbox.peakProcesses);
    assert.ok(Number(sandbox.attributes['process.pid']) > 1);
    assert.ok(Number(run.attributes['process.vpid']) > 1);
    assert.equal(run.attributes['process.exit.code'], 0);
    assert.equal(server.service, 'pidbox-test');
    assert.equal(own.scope, 'makes-spans');
  });

  test('an incoming traceparent is the parent of the SERVER span and the response names the same trace', async () => {
    const caller = { traceId: '5bd66ef5095369c7b0d1f8f4bd33716a', spanId: 'c532cb4098ac3dd2' };
    const response = await stack.fetch('/functions/makes-spans', {
      method: 'POST',
      headers: { traceparent: `00-${caller.traceId}-${caller.spanId}-01` },
    });
    assert.equal(response.status, 200);
    assert.equal(traceIdOf(response), caller.traceId);
    const spans = await waitForSpans(caller.traceId, ['handle order']);
    assert.equal(only(spans, (s) => s.kind === SERVER, 'SERVER span').parentSpanId, caller.spanId);
  });

  test('a failing function marks the SERVER, CONSUMER, sandbox and run spans ERROR with error.type', async () => {
    const response = await stack.fetch('/functions/fails-with-code-3', { method: 'POST' });
    assert.equal(response.status, 500);
    const spans = await waitForSpans(traceIdOf(response), ['POST /functions/:name', 'process invocations', 'function.run']);
    for (const name of ['POST /functions/:name', 'process invocations', 'sandbox', 'function.run']) {
      const span = only(spans, (s) => s.name === name, name);
      assert.equal(span.status.code, ERROR, `${name} is ERROR`);
      assert.equal(span.attributes['error.type'], 'FUNCTION_FAILED', `${name} says why`);
    }
  });

  test('a timeout is marked FUNCTION_TIMED_OUT on the CONSUMER span', async () => {
    const response = await stack.fetch('/functions/never-ends', { method: 'POST' });
    assert.equal(response.status, 504);
    const spans = await waitForSpans(traceIdOf(response), ['process invocations']);
    const consumer = only(spans, (s) => s.kind === CONSUMER, 'CONSUMER span');
    assert.equal(consumer.status.code, ERROR);
    assert.equal(consumer.attributes['error.type'], 'FUNCTION_TIMED_OUT');
  });

  test('an async invocation joins the caller\'s trace, down to the function\'s own spans, and a cancel is marked', async () => {
    const caller = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };
    const accepted = await stack.fetch('/functions/makes-spans/invocations', {
      method: 'POST',
      headers: { traceparent: `00-${caller.traceId}-${caller.spanId}-01` },
    });
    assert.equal(accepted.status, 202);
    const { id } = (await accepted.json()) as { id: string };
    assert.equal((await waitUntilFinished(id)).status, 'succeeded');
    const spans = await waitForSpans(caller.traceId, ['process invocations', 'handle order']);
    assert.equal(only(spans, (s) => s.kind === CONSUMER, 'CONSUMER span').attributes['faas.invocation.id'], id);

    const slow = await stack.fetch('/functions/never-ends/invocations', { method: 'POST' });
    const slowId = ((await slow.json()) as { id: string }).id;
    const slowTrace = traceIdOf(slow);
    for (let i = 0; i < 100 && (await waitUntilFinishedOrRunning(slowId)) !== 'running'; i++) await new Promise((r) => setTimeout(r, 20));
    await stack.fetch(`/invocations/${slowId}`, { method: 'DELETE' });
    const cancelled = await waitForSpans(slowTrace, ['process invocations']);
    assert.equal(only(cancelled, (s) => s.kind === CONSUMER, 'CONSUMER span').attributes['error.type'], 'INVOCATION_CANCELLED');
  });

  test('every invocation of a batch joins the trace of the batch request', async () => {
    const response = await stack.fetch('/functions/makes-spans/batch', { method: 'POST', body: JSON.stringify([1, 2, 3]), headers: { 'content-type': 'application/json' } });
    assert.equal(response.status, 202);
    const traceId = traceIdOf(response);
    await receiver.waitFor(() => traceOf(traceId).filter((s) => s.kind === CONSUMER).length === 3, 30_000);
    const spans = traceOf(traceId);
    const producer = only(spans, (s) => s.kind === PRODUCER, 'PRODUCER span');
    assert.equal(producer.attributes['messaging.batch.message_count'], 3);
    for (const consumer of spans.filter((s) => s.kind === CONSUMER)) assert.equal(consumer.parentSpanId, producer.spanId);
  });

  test('the SERVER span follows the HTTP server conventions: METHOD /route, the URL\'s parts, the server as addressed, the client, the user agent', async () => {
    const response = await stack.fetch('/functions/makes-spans?order=7&sig=secret', { method: 'POST', body: 'x', headers: { 'user-agent': 'pidbox-test/1.0' } });
    assert.equal(response.status, 200);
    const spans = await waitForSpans(traceIdOf(response), ['POST /functions/:name']);
    const server = only(spans, (s) => s.kind === SERVER, 'SERVER span');
    const gateway = new URL(stack.url);
    assert.equal(server.name, 'POST /functions/:name');
    assert.equal(server.attributes['http.request.method'], 'POST');
    assert.equal(server.attributes['http.route'], '/functions/:name');
    assert.equal(server.attributes['url.path'], '/functions/makes-spans');
    assert.equal(server.attributes['url.query'], 'order=7&sig=REDACTED', 'a signature stays out of the trace');
    assert.equal(server.attributes['url.scheme'], 'http');
    assert.equal(server.attributes['url.full'], undefined, 'url.full is for clients');
    assert.equal(server.attributes['server.address'], gateway.hostname);
    assert.equal(server.attributes['server.port'], Number(gateway.port));
    assert.equal(server.attributes['client.address'], '127.0.0.1');
    assert.equal(server.attributes['network.peer.address'], '127.0.0.1');
    assert.ok(Number(server.attributes['network.peer.port']) > 0);
    assert.equal(server.attributes['network.protocol.version'], '1.1');
    assert.equal(server.attributes['user_agent.original'], 'pidbox-test/1.0');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.status.code, UNSET);
    assert.equal(server.attributes['error.type'], undefined);
  });

  test('spans carry the resource attributes service.name, service.version and a service.instance.id', async () => {
    const response = await stack.fetch('/functions/makes-spans', { method: 'POST' });
    const spans = await waitForSpans(traceIdOf(response), ['POST /functions/:name', 'process invocations']);
    const instances = new Set<unknown>();
    for (const span of spans.filter((s) => s.scope === 'pidbox')) {
      assert.equal(span.resource['service.name'], 'pidbox-test', span.name);
      assert.equal(span.resource['service.version'], PACKAGE_VERSION, span.name);
      assert.match(String(span.resource['service.instance.id']), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, span.name);
      assert.equal(span.resource['telemetry.sdk.language'], 'nodejs');
      instances.add(span.resource['service.instance.id']);
    }
    assert.equal(instances.size, 1, 'gateway and worker share this test process, hence one instance');
  });

  test('a refused request is a 4xx that is not an error, and one that matches no route is named by its method alone', async () => {
    const missing = await stack.fetch('/functions/no-such-function', { method: 'POST' });
    assert.equal(missing.status, 404);
    const missingSpan = only(await waitForSpans(traceIdOf(missing), ['POST /functions/:name']), (s) => s.kind === SERVER, 'SERVER span');
    assert.equal(missingSpan.attributes['http.response.status_code'], 404);
    assert.equal(missingSpan.status.code, UNSET, 'a client\'s mistake does not mark the server span');
    assert.equal(missingSpan.attributes['error.type'], undefined);

    const nowhere = await stack.fetch('/no/such/route?x=1', { method: 'GET' });
    assert.equal(nowhere.status, 404);
    const nowhereSpan = only(await waitForSpans(traceIdOf(nowhere), ['GET']), (s) => s.kind === SERVER, 'SERVER span');
    assert.equal(nowhereSpan.attributes['http.route'], undefined);
    assert.equal(nowhereSpan.attributes['url.path'], '/no/such/route');
    assert.equal(nowhereSpan.attributes['http.response.status_code'], 404);
  });

  test('each callback attempt is a CLIENT span under the CONSUMER span, its traceparent sent with the POST; a 503 is an error, the resend counts', async () => {
    const received: IncomingHttpHeaders[] = [];
    const hooks = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received.push(req.headers);
        res.statusCode = received.length === 1 ? 503 : 200;
        res.end();
      });
    });
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
    try {
      const port = (hooks.address() as AddressInfo).port;
      const hook = `http://127.0.0.1:${port}/hook?sig=secret`;
      const accepted = await stack.fetch('/functions/makes-spans/invocations', { method: 'POST', headers: { 'x-callback-url': hook } });
      assert.equal(accepted.status, 202);
      const traceId = traceIdOf(accepted);
      await receiver.waitFor(() => traceOf(traceId).filter((s) => s.kind === CLIENT).length === 2, 20_000);
      const spans = traceOf(traceId);
      const consumer = only(spans, (s) => s.kind === CONSUMER, 'CONSUMER span');
      const attempts = spans.filter((s) => s.kind === CLIENT).sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1));
      assert.equal(attempts.length, 2);
      assert.equal(received.length, 2);
      for (const [i, span] of attempts.entries()) {
        assert.equal(span.name, 'POST');
        assert.equal(span.parentSpanId, consumer.spanId, 'the delivery is a step of the invocation');
        assert.equal(received[i]!.traceparent, `00-${traceId}-${span.spanId}-01`, 'the receiver is told this attempt is its parent');
        assert.equal(span.attributes['http.request.method'], 'POST');
        assert.equal(span.attributes['url.full'], `http://127.0.0.1:${port}/hook?sig=REDACTED`);
        assert.equal(span.attributes['server.address'], '127.0.0.1');
        assert.equal(span.attributes['server.port'], port);
        assert.equal(span.attributes['network.peer.address'], '127.0.0.1');
        assert.equal(span.attributes['faas.invocation.id'], consumer.attributes['faas.invocation.id']);
      }
      const [failed, delivered] = attempts as [ReceivedSpan, ReceivedSpan];
      assert.equal(failed.attributes['http.response.status_code'], 503);
      assert.equal(failed.attributes['error.type'], '503');
      assert.equal(failed.status.code, ERROR);
      assert.equal(failed.attributes['http.request.resend_count'], undefined, 'the first attempt is no resend');
      assert.equal(delivered.attributes['http.response.status_code'], 200);
      assert.equal(delivered.attributes['http.request.resend_count'], 1);
      assert.equal(delivered.status.code, UNSET);
      assert.equal(delivered.attributes['error.type'], undefined);
    } finally {
      await new Promise((resolve) => hooks.close(resolve));
    }
  });

  test('no span starts a trace of its own but an HTTP request: no periodic queue noise', () => {
    const roots = receiver.spans.filter((s) => s.parentSpanId === '');
    assert.ok(roots.length > 0);
    for (const root of roots) assert.equal(root.kind, SERVER, `${root.name} is a root span`);
  });
});

async function waitUntilFinishedOrRunning(id: string): Promise<string> {
  const record = (await (await stack.fetch(`/invocations/${id}`)).json()) as { status: string };
  return record.status;
}

describe('logs', () => {
  test('worker log lines are JSON with the invocation id and the trace and span ids of its CONSUMER span', async () => {
    const response = await stack.fetch('/functions/makes-spans', { method: 'POST' });
    const id = response.headers.get('x-invocation-id')!;
    const traceId = traceIdOf(response);
    const spans = await waitForSpans(traceId, ['process invocations']);
    const consumer = only(spans, (s) => s.kind === CONSUMER, 'CONSUMER span');
    const line = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.invocation_id === id && r.msg === 'invocation finished');
    assert.ok(line, 'the worker logged the finished invocation');
    assert.equal(line.trace_id, traceId);
    assert.equal(line.span_id, consumer.spanId);
    assert.equal(line.status, 'succeeded');
  });
});

describe('metrics', () => {
  function promtool(text: string): void {
    // promtool reads the exposition on stdin and exits non-zero on any problem.
    execFileSync('promtool', ['check', 'metrics'], { input: text, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  test('GET /metrics passes promtool check metrics and counts invocations, sandboxes and the queue', async () => {
    await stack.fetch('/functions/makes-spans', { method: 'POST' });
    const response = await stack.fetch('/metrics');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await response.text();
    promtool(text);
    assert.match(text, /^pidbox_invocations_total\{function="makes-spans",outcome="succeeded"\} [1-9]\d*$/m);
    assert.match(text, /^pidbox_invocations_total\{function="fails-with-code-3",outcome="failed"\} [1-9]/m);
    assert.match(text, /^pidbox_invocations_total\{function="never-ends",outcome="timed_out"\} [1-9]/m);
    assert.match(text, /^pidbox_sandbox_start_seconds_count\{function="makes-spans"\} [1-9]/m);
    assert.match(text, /^pidbox_function_run_seconds_count\{function="makes-spans"\} [1-9]/m);
    assert.match(text, /^pidbox_queue_wait_seconds_count\{function="makes-spans"\} [1-9]/m);
    assert.match(text, /^pidbox_invocations_accepted_total\{function="makes-spans",mode="batch"\} 3$/m);
    assert.match(text, /^pidbox_sandboxes_running 0$/m);
    assert.match(text, /^pidbox_zombies_reaped_total\{function="makes-spans"\} 0$/m);
    // Nothing is left waiting once every invocation above has finished (and it is counted once).
    assert.match(text, /^pidbox_queue_jobs\{state="waiting"\} 0$/m);
  });

  test('a worker\'s own /metrics server serves the same registry and passes promtool', async () => {
    const server = await startMetricsServer(telemetry.metrics, '127.0.0.1', 0);
    try {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      promtool(text);
      assert.match(text, /^pidbox_invocations_total\{/m);
      assert.equal((await fetch(`${server.url}/nope`)).status, 404);
    } finally {
      await server.close();
    }
  });
});
