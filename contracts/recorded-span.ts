import type { Attributes } from '@opentelemetry/api';

// A span a function made inside its sandbox, as the node host hands it to the worker (in the
// function's result). The worker exports it as part of the invocation's trace, so a function needs
// no exporter, no network and no configuration of its own.

export interface RecordedSpan {
  traceId: string;
  spanId: string;
  /** Absent for a root span (a function that started a new trace on purpose). */
  parentSpanId?: string;
  traceFlags: number;
  name: string;
  /** SpanKind as a number (INTERNAL 0, SERVER 1, CLIENT 2, PRODUCER 3, CONSUMER 4). */
  kind: number;
  /** Epoch nanoseconds, as decimal strings (too large for a JSON number). */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attributes;
  /** SpanStatusCode (UNSET 0, OK 1, ERROR 2) and message. */
  status: { code: number; message?: string };
  events: Array<{ name: string; timeUnixNano: string; attributes: Attributes }>;
  /** The function's tracer name and version. */
  scope: { name: string; version?: string };
}
