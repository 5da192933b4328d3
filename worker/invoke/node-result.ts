// What a node function's sandbox hands back on its result channel: one JSON header line (status
// and headers, or the error the handler threw, with the spans it recorded), then the raw body. The
// node host writes it, but the function runs in the same process and can write anything there, so
// the worker checks every field before it stores a byte: a result that breaks this shape fails the
// invocation with SANDBOX_PROTOCOL_ERROR, and the function's spans are re-parented under the
// invocation's trace whatever ids they claim.
import type { RecordedSpan } from '../../contracts/recorded-span.js';
import { ProtocolError } from '../init/protocol.js';

export type NodeResult = { spans: RecordedSpan[] } & (
  | { kind: 'response'; status: number; headers: Record<string, string>; body: Buffer }
  | { kind: 'error'; name: string; message: string }
);

const MAX_HEADERS = 256;
const MAX_HEADER_VALUE = 16 * 1024;
const MAX_SPANS = 1000;
const MAX_EVENTS = 128;
const MAX_ATTRIBUTES = 128;
const MAX_TEXT = 4096;
/** An HTTP header name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const NANOS = /^\d{1,20}$/;
const HEX16 = /^[0-9a-f]{16}$/;

/**
 * Parses the result channel's bytes; null when the function wrote nothing there (it exited before
 * answering). Anything else that is not a valid result throws a ProtocolError.
 */
export function parseNodeResult(output: Buffer): NodeResult | null {
  if (output.length === 0) return null;
  const newline = output.indexOf(0x0a);
  if (newline < 0) throw new ProtocolError('the result has no header line');
  let header: unknown;
  try {
    header = JSON.parse(output.subarray(0, newline).toString('utf8'));
  } catch {
    throw new ProtocolError('the result header is not JSON');
  }
  const h = object(header, 'the result header');
  const spans = h.spans === undefined ? [] : array(h.spans, 'spans', MAX_SPANS).map(checkSpan);
  if (h.error !== undefined) {
    const error = object(h.error, 'error');
    return { kind: 'error', name: text(error.name, 'error.name'), message: text(error.message, 'error.message', 64 * 1024), spans };
  }
  if (!Number.isInteger(h.status) || (h.status as number) < 200 || (h.status as number) > 599) {
    throw new ProtocolError(`"status" must be a whole number from 200 to 599, got ${JSON.stringify(h.status)?.slice(0, 40)}`);
  }
  const headers: Record<string, string> = {};
  const entries = Object.entries(object(h.headers, 'headers'));
  if (entries.length > MAX_HEADERS) throw new ProtocolError(`more than ${MAX_HEADERS} headers`);
  for (const [name, value] of entries) {
    if (!TOKEN.test(name)) throw new ProtocolError(`${JSON.stringify(name.slice(0, 40))} is not a header name`);
    if (typeof value !== 'string' || value.length > MAX_HEADER_VALUE || /[\r\n\0]/.test(value)) {
      throw new ProtocolError(`header ${name} has no valid value`);
    }
    headers[name.toLowerCase()] = value;
  }
  return { kind: 'response', status: h.status as number, headers, body: output.subarray(newline + 1), spans };
}

/**
 * The function's spans as part of the invocation's trace: every one gets the invocation's trace
 * id, and one whose parent is not among them (a root, or a made-up parent) becomes a child of the
 * span the function ran under. A function cannot graft spans onto another trace.
 */
export function adoptSpans(spans: RecordedSpan[], parent: { traceId: string; spanId: string; traceFlags: number }): RecordedSpan[] {
  const ids = new Set(spans.map((s) => s.spanId));
  return spans.map((span) => ({
    ...span,
    traceId: parent.traceId,
    traceFlags: parent.traceFlags,
    parentSpanId: span.parentSpanId && ids.has(span.parentSpanId) && span.parentSpanId !== span.spanId ? span.parentSpanId : parent.spanId,
  }));
}

function checkSpan(raw: unknown, index: number): RecordedSpan {
  const at = `spans[${index}]`;
  const s = object(raw, at);
  if (typeof s.spanId !== 'string' || !HEX16.test(s.spanId)) throw new ProtocolError(`${at}.spanId is not a span id`);
  if (s.parentSpanId !== undefined && (typeof s.parentSpanId !== 'string' || !HEX16.test(s.parentSpanId))) {
    throw new ProtocolError(`${at}.parentSpanId is not a span id`);
  }
  if (!Number.isInteger(s.kind) || (s.kind as number) < 0 || (s.kind as number) > 4) throw new ProtocolError(`${at}.kind is not a span kind`);
  const status = object(s.status, `${at}.status`);
  if (!Number.isInteger(status.code) || (status.code as number) < 0 || (status.code as number) > 2) throw new ProtocolError(`${at}.status.code is not a status`);
  const scope = object(s.scope, `${at}.scope`);
  return {
    traceId: '',
    spanId: s.spanId,
    ...(s.parentSpanId ? { parentSpanId: s.parentSpanId as string } : {}),
    traceFlags: 1,
    name: text(s.name, `${at}.name`),
    kind: s.kind as number,
    startTimeUnixNano: nanos(s.startTimeUnixNano, `${at}.startTimeUnixNano`),
    endTimeUnixNano: nanos(s.endTimeUnixNano, `${at}.endTimeUnixNano`),
    attributes: attributes(s.attributes, `${at}.attributes`),
    status: { code: status.code as number, ...(status.message !== undefined ? { message: text(status.message, `${at}.status.message`) } : {}) },
    events: array(s.events, `${at}.events`, MAX_EVENTS).map((e, i) => {
      const event = object(e, `${at}.events[${i}]`);
      return {
        name: text(event.name, `${at}.events[${i}].name`),
        timeUnixNano: nanos(event.timeUnixNano, `${at}.events[${i}].timeUnixNano`),
        attributes: attributes(event.attributes, `${at}.events[${i}].attributes`),
      };
    }),
    scope: { name: text(scope.name, `${at}.scope.name`), ...(scope.version !== undefined ? { version: text(scope.version, `${at}.scope.version`) } : {}) },
  };
}

function attributes(raw: unknown, at: string): RecordedSpan['attributes'] {
  const entries = Object.entries(object(raw, at));
  if (entries.length > MAX_ATTRIBUTES) throw new ProtocolError(`${at} has more than ${MAX_ATTRIBUTES} attributes`);
  const out: RecordedSpan['attributes'] = {};
  for (const [key, value] of entries) {
    if (key.length > 256) throw new ProtocolError(`${at} has a key longer than 256`);
    const primitive = (v: unknown): boolean => (typeof v === 'string' && v.length <= MAX_TEXT) || typeof v === 'number' || typeof v === 'boolean';
    if (primitive(value) || (Array.isArray(value) && value.length <= MAX_ATTRIBUTES && value.every(primitive))) {
      out[key] = value as string;
    } else {
      throw new ProtocolError(`${at}.${key.slice(0, 40)} is not an attribute value`);
    }
  }
  return out;
}

function object(raw: unknown, at: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ProtocolError(`${at} is not an object`);
  return raw as Record<string, unknown>;
}

function array(raw: unknown, at: string, max: number): unknown[] {
  if (!Array.isArray(raw)) throw new ProtocolError(`${at} is not an array`);
  if (raw.length > max) throw new ProtocolError(`${at} has more than ${max} entries`);
  return raw;
}

function text(raw: unknown, at: string, max = MAX_TEXT): string {
  if (typeof raw !== 'string' || raw.length > max) throw new ProtocolError(`${at} is not a string of at most ${max} characters`);
  return raw;
}

function nanos(raw: unknown, at: string): string {
  if (typeof raw !== 'string' || !NANOS.test(raw)) throw new ProtocolError(`${at} is not a time in nanoseconds`);
  return raw;
}
