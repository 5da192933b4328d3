import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolError } from '../init/protocol.js';
import { adoptSpans, parseNodeResult } from './node-result.js';

const result = (header: unknown, body = ''): Buffer => Buffer.from(`${JSON.stringify(header)}\n${body}`);

const span = (spanId: string, parentSpanId?: string) => ({
  traceId: 'f'.repeat(32),
  spanId,
  ...(parentSpanId ? { parentSpanId } : {}),
  traceFlags: 1,
  name: 'work',
  kind: 0,
  startTimeUnixNano: '1700000000000000000',
  endTimeUnixNano: '1700000000100000000',
  attributes: { 'order.id': 7, ok: true, tags: ['a', 'b'] },
  status: { code: 0 },
  events: [],
  scope: { name: 'orders', version: '1.0.0' },
});

test('a valid result is read with its status, headers (names lower-cased) and body', () => {
  const parsed = parseNodeResult(result({ status: 201, headers: { 'Content-Type': 'text/plain' }, spans: [] }, 'hello'));
  assert.ok(parsed?.kind === 'response');
  assert.equal(parsed.status, 201);
  assert.deepEqual(parsed.headers, { 'content-type': 'text/plain' });
  assert.equal(parsed.body.toString(), 'hello');
});

test('nothing on the channel is no result, not an error', () => {
  assert.equal(parseNodeResult(Buffer.alloc(0)), null);
});

test('a thrown error is read as one', () => {
  const parsed = parseNodeResult(result({ error: { name: 'TypeError', message: 'x is not a function' } }));
  assert.deepEqual(parsed, { kind: 'error', name: 'TypeError', message: 'x is not a function', spans: [] });
});

test('a result that breaks the shape is refused: null headers, bad status, header injection, bad spans', () => {
  for (const [what, output] of [
    ['null headers', result({ status: 200, headers: null })],
    ['a status below 200', result({ status: 101, headers: {} })],
    ['a status as text', result({ status: '200', headers: {} })],
    ['a CRLF in a header value', result({ status: 200, headers: { 'x-a': 'b\r\nSet-Cookie: c=d' } })],
    ['a header name with a space', result({ status: 200, headers: { 'x a': 'b' } })],
    ['a header that is not a string', result({ status: 200, headers: { 'x-a': 1 } })],
    ['no header line', Buffer.from('{"status":200')],
    ['not JSON', Buffer.from('HTTP/1.1 200 OK\n')],
    ['spans that are not an array', result({ status: 200, headers: {}, spans: {} })],
    ['a span with a bad id', result({ status: 200, headers: {}, spans: [span('xyz')] })],
    ['too many spans', result({ status: 200, headers: {}, spans: Array.from({ length: 1001 }, () => span('0123456789abcdef')) })],
  ] as const) {
    assert.throws(() => parseNodeResult(output), ProtocolError, what);
  }
});

test('the function\'s spans join the invocation\'s trace, whatever trace and parents they claim', () => {
  const parent = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 };
  const parsed = parseNodeResult(result({
    status: 200,
    headers: {},
    spans: [span('1111111111111111'), span('2222222222222222', '1111111111111111'), span('3333333333333333', '9999999999999999')],
  }));
  const adopted = adoptSpans(parsed!.spans, parent);
  assert.deepEqual(adopted.map((s) => s.traceId), [parent.traceId, parent.traceId, parent.traceId]);
  assert.deepEqual(adopted.map((s) => s.parentSpanId), [parent.spanId, '1111111111111111', parent.spanId]);
});
