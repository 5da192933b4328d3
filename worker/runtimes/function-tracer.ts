// The tracer a node function gets through `@opentelemetry/api` inside its sandbox. It records
// finished spans in memory; the node host hands them to the worker with the result, and the worker
// exports them as part of the invocation's trace. So a function needs no exporter, no network and
// no configuration, and the sandbox does not load the SDK (tens of milliseconds at every start).

import { randomBytes } from 'node:crypto';
import {
  ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, type Attributes, type AttributeValue, type Context,
  type Exception, type Link, type Span, type SpanContext, type SpanOptions, type SpanStatus, type TimeInput,
  type Tracer, type TracerProvider,
} from '@opentelemetry/api';
import type { RecordedSpan } from '../../contracts/recorded-span.js';

/** Most spans one invocation may record; more are dropped (and counted). */
const MAX_SPANS = 1000;
const MAX_ATTRIBUTES = 128;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The invocation's context from TRACEPARENT (and TRACESTATE), or the root context when absent. */
export function contextFromTraceparent(traceparent: string | undefined): Context {
  const match = traceparent ? TRACEPARENT.exec(traceparent.trim()) : null;
  if (!match) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16),
    isRemote: true,
  });
}

function nowNanos(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

function toNanos(time: TimeInput | undefined): bigint {
  if (time === undefined) return nowNanos();
  if (Array.isArray(time)) return BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
  const ms = time instanceof Date ? time.getTime() : time;
  return BigInt(Math.round(ms * 1000)) * 1000n;
}

export class SpanRecorder {
  readonly finished: RecordedSpan[] = [];
  dropped = 0;

  record(span: RecordedSpan): void {
    if (this.finished.length >= MAX_SPANS) this.dropped++;
    else this.finished.push(span);
  }
}

class RecordingSpan implements Span {
  private readonly context: SpanContext;
  private readonly attributes: Attributes = {};
  private readonly events: RecordedSpan['events'] = [];
  private status: SpanStatus = { code: SpanStatusCode.UNSET };
  private ended = false;

  constructor(
    private readonly recorder: SpanRecorder,
    private readonly scope: RecordedSpan['scope'],
    private name: string,
    private readonly kind: SpanKind,
    private readonly parent: SpanContext | undefined,
    private readonly startNanos: bigint,
    attributes: Attributes | undefined,
  ) {
    this.context = {
      traceId: parent?.traceId ?? randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      traceFlags: parent?.traceFlags ?? 1,
    };
    if (attributes) this.setAttributes(attributes);
  }

  spanContext(): SpanContext {
    return this.context;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (!this.ended && (key in this.attributes || Object.keys(this.attributes).length < MAX_ATTRIBUTES)) {
      this.attributes[key] = value;
    }
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const [key, value] of Object.entries(attributes)) if (value !== undefined) this.setAttribute(key, value);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const isTime = Array.isArray(attributesOrTime) || typeof attributesOrTime === 'number' || attributesOrTime instanceof Date;
    const attributes = isTime || attributesOrTime === undefined ? {} : (attributesOrTime as Attributes);
    const at = isTime ? (attributesOrTime as TimeInput) : time;
    this.events.push({ name, timeUnixNano: String(toNanos(at)), attributes });
    return this;
  }

  addLink(_link: Link): this {
    return this;
  }

  addLinks(_links: Link[]): this {
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (!this.ended) this.status = status;
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    this.recorder.record({
      traceId: this.context.traceId,
      spanId: this.context.spanId,
      ...(this.parent ? { parentSpanId: this.parent.spanId } : {}),
      traceFlags: this.context.traceFlags,
      name: this.name,
      kind: this.kind,
      startTimeUnixNano: String(this.startNanos),
      endTimeUnixNano: String(toNanos(endTime)),
      attributes: this.attributes,
      status: { code: this.status.code, ...(this.status.message ? { message: this.status.message } : {}) },
      events: this.events,
      scope: this.scope,
    });
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else {
      if (exception.name) attributes['exception.type'] = exception.name;
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    this.addEvent('exception', attributes, time);
  }
}

class RecordingTracer implements Tracer {
  constructor(private readonly recorder: SpanRecorder, private readonly scope: RecordedSpan['scope']) {}

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): Span {
    const parent = options.root ? undefined : trace.getSpanContext(ctx);
    return new RecordingSpan(
      this.recorder,
      this.scope,
      name,
      options.kind ?? SpanKind.INTERNAL,
      parent && trace.isSpanContextValid(parent) ? parent : undefined,
      toNanos(options.startTime),
      options.attributes,
    );
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    const fn = args[args.length - 1] as F;
    const options = (args.length >= 2 ? args[0] : {}) as SpanOptions;
    const parentContext = (args.length >= 3 ? args[1] : context.active()) as Context;
    const span = this.startSpan(name, options, parentContext);
    return context.with(trace.setSpan(parentContext, span), fn as (span: Span) => ReturnType<F>, undefined, span);
  }
}

export class RecordingTracerProvider implements TracerProvider {
  readonly recorder = new SpanRecorder();

  getTracer(name: string, version?: string): Tracer {
    return new RecordingTracer(this.recorder, { name, ...(version ? { version } : {}) });
  }
}
