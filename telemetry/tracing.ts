import {
  ProxyTracerProvider, SpanStatusCode, context, propagation, type Context, type HrTime, type Span,
  type SpanOptions, type Tracer,
} from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { optionalIntegerVar, optionalStringVar, readEnv } from '../config/config-values.js';
import { ATTR_ERROR_TYPE, ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '../contracts/span-attributes.js';
import type { RecordedSpan } from '../contracts/recorded-span.js';

/** Tracing of one process: the tracer, a way to export spans made elsewhere, and shutdown. */
export interface Tracing {
  /** False when no OTLP endpoint is configured: spans are no-ops and cost next to nothing. */
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Exports spans recorded inside a sandbox as part of their trace. */
  exportRecordedSpans(spans: RecordedSpan[]): void;
  /** Flushes and stops; safe to call twice. */
  shutdown(): Promise<void>;
}

export interface TracingConfig {
  enabled: boolean;
  serviceName: string;
  /** Full URL of the traces endpoint (…/v1/traces). */
  tracesUrl: string;
  protocol: (typeof PROTOCOLS)[number];
  /** Batching of exported spans (OTEL_BSP_*); unset fields keep the SDK's defaults. */
  batch: {
    scheduledDelayMillis?: number;
    maxQueueSize?: number;
    maxExportBatchSize?: number;
    exportTimeoutMillis?: number;
  };
}

const PROTOCOLS = ['http/protobuf', 'http/json'] as const;

/** The OpenTelemetry variables pidbox reads itself; the SDK reads the rest from the process. */
const tracingVariables = z
  .object({
    OTEL_EXPORTER_OTLP_ENDPOINT: optionalStringVar(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalStringVar(),
    OTEL_EXPORTER_OTLP_PROTOCOL: optionalStringVar(),
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: optionalStringVar(),
    OTEL_SERVICE_NAME: optionalStringVar(),
    OTEL_SDK_DISABLED: optionalStringVar(),
    OTEL_TRACES_EXPORTER: optionalStringVar(),
    OTEL_BSP_SCHEDULE_DELAY: optionalIntegerVar(1),
    OTEL_BSP_MAX_QUEUE_SIZE: optionalIntegerVar(1),
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: optionalIntegerVar(1),
    OTEL_BSP_EXPORT_TIMEOUT: optionalIntegerVar(1),
  })
  .superRefine((vars, ctx) => {
    // The traces-specific protocol wins; the one in force is checked, named as it was set.
    const protocol = vars.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? vars.OTEL_EXPORTER_OTLP_PROTOCOL;
    if (protocol !== undefined && !(PROTOCOLS as readonly string[]).includes(protocol)) {
      const name = vars.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
      ctx.addIssue({ code: 'custom', path: [name], message: `"${protocol}" is not supported; use http/protobuf or http/json` });
    }
  });

const TRACER_NAME = 'pidbox';
/** This process among the others of the same service: a trace viewer tells gateways and workers apart by it. */
const INSTANCE_ID = randomUUID();
const PIDBOX_VERSION = readVersion();

/**
 * Tracing settings from the standard OpenTelemetry variables: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces), OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL (http/protobuf by
 * default, http/json), OTEL_SERVICE_NAME, OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none, and the
 * batching (OTEL_BSP_*). The sampler (OTEL_TRACES_SAMPLER[_ARG]), headers
 * (OTEL_EXPORTER_OTLP_HEADERS) and resource attributes are read by the SDK from the process.
 */
export function loadTracingConfig(env: NodeJS.ProcessEnv, defaultServiceName: string): TracingConfig {
  const vars = readEnv(tracingVariables, env);
  const base = vars.OTEL_EXPORTER_OTLP_ENDPOINT;
  const tracesUrl = vars.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base ? `${base.replace(/\/+$/, '')}/v1/traces` : '');
  const disabled = vars.OTEL_SDK_DISABLED?.toLowerCase() === 'true' || vars.OTEL_TRACES_EXPORTER === 'none';
  const batch: TracingConfig['batch'] = {
    ...(vars.OTEL_BSP_SCHEDULE_DELAY !== undefined ? { scheduledDelayMillis: vars.OTEL_BSP_SCHEDULE_DELAY } : {}),
    ...(vars.OTEL_BSP_MAX_QUEUE_SIZE !== undefined ? { maxQueueSize: vars.OTEL_BSP_MAX_QUEUE_SIZE } : {}),
    ...(vars.OTEL_BSP_MAX_EXPORT_BATCH_SIZE !== undefined ? { maxExportBatchSize: vars.OTEL_BSP_MAX_EXPORT_BATCH_SIZE } : {}),
    ...(vars.OTEL_BSP_EXPORT_TIMEOUT !== undefined ? { exportTimeoutMillis: vars.OTEL_BSP_EXPORT_TIMEOUT } : {}),
  };
  return {
    enabled: tracesUrl !== '' && !disabled,
    serviceName: vars.OTEL_SERVICE_NAME ?? defaultServiceName,
    tracesUrl,
    protocol: (vars.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? vars.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf') as TracingConfig['protocol'],
    batch,
  };
}

const noop: Tracing = {
  enabled: false,
  // A provider of our own with no delegate: its tracer stays a no-op even after another part of the
  // process registers a global provider (the global API's tracer would start delegating to it).
  tracer: new ProxyTracerProvider().getTracer(TRACER_NAME),
  exportRecordedSpans: () => {},
  shutdown: async () => {},
};

/**
 * Starts the SDK when an endpoint is configured. The SDK is loaded only then, so a process without
 * tracing does not pay for loading it.
 */
export async function startTracing(config: TracingConfig): Promise<Tracing> {
  if (!config.enabled) return noop;
  const [{ NodeTracerProvider, BatchSpanProcessor }, resources, exporterModule] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    config.protocol === 'http/json'
      ? import('@opentelemetry/exporter-trace-otlp-http')
      : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  // The SDK's own (telemetry.sdk.*), the host's (host.name, host.arch, host.id), pidbox's, then
  // OTEL_RESOURCE_ATTRIBUTES (the env detector), each over the one before.
  const resource = resources
    .defaultResource()
    .merge(resources.detectResources({ detectors: [resources.hostDetector] }))
    .merge(resources.resourceFromAttributes({
      [ATTR_SERVICE_NAME]: config.serviceName,
      [ATTR_SERVICE_INSTANCE_ID]: INSTANCE_ID,
      ...(PIDBOX_VERSION ? { [ATTR_SERVICE_VERSION]: PIDBOX_VERSION } : {}),
    }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const exporter = new exporterModule.OTLPTraceExporter({ url: config.tracesUrl });
  const processor: SpanProcessor = new BatchSpanProcessor(exporter, config.batch);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  const tracer = provider.getTracer(TRACER_NAME);
  let stopping: Promise<void> | null = null;
  return {
    enabled: true,
    tracer,
    exportRecordedSpans(spans) {
      for (const span of spans) {
        try {
          processor.onEnd(toReadableSpan(span, resource));
        } catch {
          // Telemetry never throws into the application.
        }
      }
    },
    shutdown() {
      stopping ??= provider.shutdown().catch(() => {});
      return stopping;
    },
  };
}

function toReadableSpan(span: RecordedSpan, resource: ReadableSpan['resource']): ReadableSpan {
  const startTime = nanosToHrTime(span.startTimeUnixNano);
  const endTime = nanosToHrTime(span.endTimeUnixNano);
  const durationNanos = BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano);
  const spanContext = { traceId: span.traceId, spanId: span.spanId, traceFlags: span.traceFlags, isRemote: true };
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => spanContext,
    ...(span.parentSpanId
      ? { parentSpanContext: { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: span.traceFlags, isRemote: true } }
      : {}),
    startTime,
    endTime,
    status: { code: span.status.code, ...(span.status.message ? { message: span.status.message } : {}) },
    attributes: span.attributes,
    links: [],
    events: span.events.map((e) => ({ name: e.name, time: nanosToHrTime(e.timeUnixNano), attributes: e.attributes })),
    duration: [Number(durationNanos / 1_000_000_000n), Number(durationNanos % 1_000_000_000n)],
    ended: true,
    resource,
    instrumentationScope: span.scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

function nanosToHrTime(nanos: string): HrTime {
  const n = BigInt(nanos);
  return [Number(n / 1_000_000_000n), Number(n % 1_000_000_000n)];
}

/**
 * Runs `fn` inside a new active span. A thrown error marks the span ERROR with `error.type` and is
 * rethrown; `fn` may also mark failures itself (a failed function is data, not an exception).
 */
export async function withSpan<T>(tracer: Tracer, name: string, options: SpanOptions, fn: (span: Span) => Promise<T>, parent?: Context): Promise<T> {
  return tracer.startActiveSpan(name, options, parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      markError(span, (error as { code?: string }).code ?? (error as Error).name ?? 'Error', (error as Error).message);
      throw error;
    } finally {
      span.end();
    }
  });
}

export function markError(span: Span, errorType: string, message?: string): void {
  span.setAttribute(ATTR_ERROR_TYPE, errorType);
  span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
}

/** The W3C trace context of `ctx` as a carrier (traceparent, tracestate), for job data. */
export function injectContext(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

export function extractContext(carrier: Record<string, string> | undefined): Context {
  return carrier ? propagation.extract(context.active(), carrier) : context.active();
}

/** pidbox's version, from its package.json (two folders up from dist/telemetry/); null when unreadable. */
function readVersion(): string | null {
  try {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : null;
  } catch {
    return null;
  }
}
