import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SpanKind, context, propagation } from '@opentelemetry/api';
import { loadTracingConfig, startTracing, withSpan, type Tracing } from '../telemetry/tracing.js';
import { FunctionRegistry } from '../registry/function-registry.js';
import { runFunction } from '../worker/invoke/run-function.js';
import { openSandboxHost, type SandboxHost } from '../worker/sandbox/sandbox-host.js';
import { createNodeBuilder } from '../worker/runtimes/node-build.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp/otlp-receiver.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/functions', import.meta.url));
const registry = new FunctionRegistry(FIXTURES);
const cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-build-test-'));
const builder = createNodeBuilder({ cacheDir });
const request = { method: 'POST', path: '/', headers: {}, bodyBase64: '' };

let receiver: OtlpReceiver;
let tracing: Tracing;
let host: SandboxHost;

before(async () => {
  host = await openSandboxHost();
  receiver = await startOtlpReceiver();
  // http/protobuf is the default protocol: the receiver decodes real protobuf here.
  tracing = await startTracing(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' }, 'pidbox-worker-test'));
});

after(async () => {
  await tracing.shutdown();
  await tracing.shutdown(); // safe to call twice
  await receiver.close();
  rmSync(cacheDir, { recursive: true, force: true });
  await host.close();
});

async function traced(name: string): Promise<{ traceId: string; spans: ReceivedSpan[]; result: Awaited<ReturnType<typeof runFunction>> }> {
  let traceId = '';
  const result = await withSpan(tracing.tracer, 'test consumer', { kind: SpanKind.CONSUMER }, async (span) => {
    traceId = span.spanContext().traceId;
    return runFunction(registry.get(name), request, { host, invocationId: `inv-${name}`, builder, tracing });
  });
  const spans = await receiver.waitFor((all) => all.some((s) => s.traceId === traceId && s.name === 'test consumer'));
  return { traceId, spans: spans.filter((s) => s.traceId === traceId), result };
}

test('a node function\'s own spans join the invocation\'s trace through the sandbox spans, exported as protobuf', async () => {
  const { spans, result } = await traced('makes-spans');
  assert.equal(result.status, 'succeeded');
  assert.ok([...receiver.contentTypes].some((t) => t.includes('protobuf')));
  const byName = new Map(spans.map((s) => [s.name, s]));
  for (const name of ['test consumer', 'sandbox', 'sandbox.setup', 'function.run', 'sandbox.teardown', 'handle order', 'price order']) {
    assert.ok(byName.has(name), `span ${name} is in the trace (got ${[...byName.keys()].join(', ')})`);
  }
  const ids = new Set(spans.map((s) => s.spanId));
  for (const s of spans) if (s.name !== 'test consumer') assert.ok(ids.has(s.parentSpanId), `the parent of ${s.name} is in the trace`);
  const sandbox = byName.get('sandbox')!;
  assert.equal(sandbox.parentSpanId, byName.get('test consumer')!.spanId);
  assert.equal(byName.get('handle order')!.parentSpanId, sandbox.spanId);
  assert.equal(byName.get('price order')!.parentSpanId, byName.get('handle order')!.spanId);
  assert.equal(byName.get('handle order')!.scope, 'makes-spans');
  assert.equal(byName.get('handle order')!.attributes['order.items'], 3);
  assert.deepEqual(byName.get('price order')!.events, ['priced']);
  assert.equal(sandbox.attributes['pidbox.sandbox.pid_namespace'], result.sandbox.pidNamespace);
  assert.equal(sandbox.attributes['process.pid'], result.sandbox.hostPid);
  assert.equal(typeof sandbox.attributes['pidbox.sandbox.zombies_reaped'], 'number');
  assert.equal(byName.get('function.run')!.attributes['process.exit.code'], 0);
  assert.ok(Number(byName.get('function.run')!.attributes['process.vpid']) > 1, 'the function is not PID 1: the init is');
  assert.equal(sandbox.status.code, 1);
});

test('a failing function marks its sandbox and run spans as errors with error.type', async () => {
  const { spans, result } = await traced('fails-with-code-3');
  assert.equal(result.status, 'failed');
  for (const name of ['sandbox', 'function.run']) {
    const span = spans.find((s) => s.name === name)!;
    assert.equal(span.status.code, 2, `${name} is ERROR`);
    assert.equal(span.attributes['error.type'], 'FUNCTION_FAILED');
  }
  assert.equal(spans.find((s) => s.name === 'function.run')!.attributes['process.exit.code'], 3);
});

test('a timed-out function marks its spans FUNCTION_TIMED_OUT', async () => {
  const { spans } = await traced('never-ends');
  assert.equal(spans.find((s) => s.name === 'sandbox')!.attributes['error.type'], 'FUNCTION_TIMED_OUT');
});

test('an exec function gets the sandbox span as TRACEPARENT, with TRACESTATE passed on', async () => {
  let output = '';
  let sandboxParent = '';
  const withState = propagation.extract(context.active(), { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=abc' });
  await context.with(withState, async () => {
    const result = await runFunction(registry.get('prints-traceparent'), request, { host, invocationId: 'tp', builder, tracing });
    output = Buffer.from(result.response.bodyBase64, 'base64').toString();
  });
  const spans = await receiver.waitFor((all) => all.some((s) => s.traceId === '4bf92f3577b34da6a3ce929d0e0e4736' && s.name === 'sandbox'));
  sandboxParent = spans.find((s) => s.traceId === '4bf92f3577b34da6a3ce929d0e0e4736' && s.name === 'sandbox')!.spanId;
  assert.match(output, new RegExp(`^00-4bf92f3577b34da6a3ce929d0e0e4736-${sandboxParent}-01 vendor=abc$`));
});

test('without an endpoint tracing is off and functions get no TRACEPARENT', async () => {
  const off = await startTracing(loadTracingConfig({}, 'x'));
  assert.equal(off.enabled, false);
  const result = await runFunction(registry.get('prints-traceparent'), request, { host, invocationId: 'none', builder, tracing: off });
  assert.equal(Buffer.from(result.response.bodyBase64, 'base64').toString(), ' ');
});

test("spans a function claims for another trace, or under a made-up parent, are re-parented under its sandbox span", async () => {
  const hostile = new FunctionRegistry(fileURLToPath(new URL('../../test/fixtures/hostile', import.meta.url)));
  let traceId = '';
  const result = await withSpan(tracing.tracer, 'test consumer', { kind: SpanKind.CONSUMER }, async (span) => {
    traceId = span.spanContext().traceId;
    return runFunction(hostile.get('forges-its-result'), { ...request, path: '/?kind=other-trace' }, { host, invocationId: 'graft', builder, tracing });
  });
  assert.equal(result.status, 'succeeded');
  const spans = await receiver.waitFor((all) => all.some((s) => s.name === 'grafted') && all.some((s) => s.traceId === traceId && s.name === 'test consumer'));
  const grafted = spans.filter((s) => s.name === 'grafted');
  assert.equal(grafted.length, 1);
  assert.equal(grafted[0]!.traceId, traceId, 'it is in the invocation\'s trace, not the one it claimed');
  const sandbox = spans.find((s) => s.traceId === traceId && s.name === 'sandbox')!;
  assert.equal(grafted[0]!.parentSpanId, sandbox.spanId);
  assert.ok(!spans.some((s) => s.traceId === '1'.repeat(32)), 'nothing reached the claimed trace');
});
