import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Hono } from 'hono';
import type { Tracing } from '../telemetry/tracing.js';
import type { GatewayEnv } from './gateway-deps.js';
import { serverSpan } from './server-span.js';

// As startTracing sets them up: the middleware reads the caller's traceparent and writes its own.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracing: Tracing = {
  enabled: true,
  tracer: provider.getTracer('pidbox'),
  exportRecordedSpans: () => {},
  shutdown: async () => {},
};

function app(using: Tracing = tracing): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  app.use('*', serverSpan(using));
  app.get('/items/:id', (c) => c.text(`item ${c.req.param('id')}`));
  app.on('PURGE', '/items/:id', (c) => c.body(null, 204));
  app.post('/unavailable', (c) => {
    c.set('errorType', 'QUEUE_UNAVAILABLE');
    return c.text('no', 503);
  });
  app.post('/broken', (c) => c.text('no', 500));
  app.post('/refused', (c) => c.text('no', 400));
  return app;
}

/** The one span a request made. */
function lastSpan(): ReadableSpan {
  const spans = exporter.getFinishedSpans();
  assert.equal(spans.length, 1, `one span (got ${spans.map((s) => s.name).join(', ')})`);
  exporter.reset();
  return spans[0]!;
}

test('the span is named by the method and the route template, and the answer carries its traceparent', async () => {
  const response = await app().request('http://gw.example:8080/items/7?page=2', { headers: { 'user-agent': 'probe/1' } });
  assert.equal(await response.text(), 'item 7');
  const span = lastSpan();
  assert.equal(span.name, 'GET /items/:id');
  assert.equal(span.kind, SpanKind.SERVER);
  assert.deepEqual(span.attributes, {
    'http.request.method': 'GET',
    'url.path': '/items/7',
    'url.query': 'page=2',
    'url.scheme': 'http',
    'server.address': 'gw.example',
    'server.port': 8080,
    'user_agent.original': 'probe/1',
    'http.route': '/items/:id',
    'http.response.status_code': 200,
  });
  assert.equal(span.status.code, SpanStatusCode.UNSET);
  assert.equal(response.headers.get('traceparent'), `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
});

test('a caller\'s traceparent makes the span its child, in the caller\'s trace', async () => {
  await app().request('http://gw.example/items/1', { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
  const span = lastSpan();
  assert.equal(span.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c');
  assert.equal(span.parentSpanContext?.spanId, 'b7ad6b7169203331');
});

test('a method the conventions do not know is _OTHER, with the original beside it, and names the span HTTP', async () => {
  await app().request('http://gw.example/items/1', { method: 'PURGE' });
  const span = lastSpan();
  assert.equal(span.name, 'HTTP /items/:id');
  assert.equal(span.attributes['http.request.method'], '_OTHER');
  assert.equal(span.attributes['http.request.method_original'], 'PURGE');
});

test('a path that matches no route is named by the method alone, without http.route', async () => {
  const response = await app().request('http://gw.example/nowhere', { method: 'POST' });
  assert.equal(response.status, 404);
  const span = lastSpan();
  assert.equal(span.name, 'POST');
  assert.equal(span.attributes['http.route'], undefined);
  assert.equal(span.attributes['http.response.status_code'], 404);
  assert.equal(span.status.code, SpanStatusCode.UNSET);
});

test('a 5xx is an ERROR whose error.type is the error code, or the status when there is none; a 4xx is not', async () => {
  await app().request('http://gw.example/unavailable', { method: 'POST' });
  const unavailable = lastSpan();
  assert.equal(unavailable.status.code, SpanStatusCode.ERROR);
  assert.equal(unavailable.attributes['error.type'], 'QUEUE_UNAVAILABLE');

  await app().request('http://gw.example/broken', { method: 'POST' });
  const broken = lastSpan();
  assert.equal(broken.status.code, SpanStatusCode.ERROR);
  assert.equal(broken.attributes['error.type'], '500');

  await app().request('http://gw.example/refused', { method: 'POST' });
  const refused = lastSpan();
  assert.equal(refused.status.code, SpanStatusCode.UNSET);
  assert.equal(refused.attributes['error.type'], undefined);
});

test('with tracing off, requests pass through with no span and no traceparent', async () => {
  const off: Tracing = { ...tracing, enabled: false };
  const response = await app(off).request('http://gw.example/items/3');
  assert.equal(await response.text(), 'item 3');
  assert.equal(response.headers.get('traceparent'), null);
  assert.equal(exporter.getFinishedSpans().length, 0);
  assert.equal(trace.getActiveSpan(), undefined);
});
