import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { RecordingTracerProvider, contextFromTraceparent } from './function-tracer.js';

const PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

test('a traceparent becomes the parent of the spans a function makes', () => {
  const provider = new RecordingTracerProvider();
  const tracer = provider.getTracer('fn', '2.0.0');
  const span = tracer.startSpan('work', { attributes: { n: 1 } }, contextFromTraceparent(PARENT));
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
  span.end();
  const [recorded] = provider.recorder.finished;
  assert.ok(recorded);
  assert.equal(recorded.traceId, '0af7651916cd43dd8448eb211c80319c');
  assert.equal(recorded.parentSpanId, 'b7ad6b7169203331');
  assert.equal(recorded.attributes.n, 1);
  assert.deepEqual(recorded.status, { code: SpanStatusCode.ERROR, message: 'boom' });
  assert.deepEqual(recorded.scope, { name: 'fn', version: '2.0.0' });
  assert.ok(BigInt(recorded.endTimeUnixNano) >= BigInt(recorded.startTimeUnixNano));
});

test('a child span started from its parent\'s context records that parent', () => {
  const provider = new RecordingTracerProvider();
  const tracer = provider.getTracer('fn');
  const parent = tracer.startSpan('parent', {}, ROOT_CONTEXT);
  const child = tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, parent));
  child.end();
  parent.end();
  const [c, p] = provider.recorder.finished;
  assert.equal(c!.parentSpanId, p!.spanId);
  assert.equal(c!.traceId, p!.traceId);
  assert.equal(p!.parentSpanId, undefined);
});

test('a malformed traceparent starts no trace of its own', () => {
  assert.equal(trace.getSpanContext(contextFromTraceparent('garbage')), undefined);
  assert.equal(trace.getSpanContext(contextFromTraceparent(undefined)), undefined);
});

test('a span ended twice is recorded once and exceptions become events', () => {
  const provider = new RecordingTracerProvider();
  const span = provider.getTracer('fn').startSpan('x', {}, ROOT_CONTEXT);
  span.recordException(new TypeError('bad'));
  span.end();
  span.end();
  assert.equal(provider.recorder.finished.length, 1);
  assert.equal(provider.recorder.finished[0]!.events[0]!.name, 'exception');
  assert.equal(provider.recorder.finished[0]!.events[0]!.attributes['exception.type'], 'TypeError');
});
