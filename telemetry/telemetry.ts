import { createLogger, parseLogLevel, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { loadTracingConfig, startTracing, type Tracing } from './tracing.js';

/** What a process reports through: traces, metrics and structured logs. Passed explicitly. */
export interface Telemetry {
  tracing: Tracing;
  metrics: Metrics;
  log: Logger;
}

/**
 * Telemetry of a process from its environment: the OpenTelemetry variables for traces, and
 * PIDBOX_LOG_LEVEL (debug, info, warn, error; default info) for logs.
 */
export async function startTelemetry(env: NodeJS.ProcessEnv, service: string): Promise<Telemetry> {
  const level = parseLogLevel(env.PIDBOX_LOG_LEVEL, 'PIDBOX_LOG_LEVEL');
  const tracing = await startTracing(loadTracingConfig(env, `pidbox-${service}`));
  return { tracing, metrics: createMetrics(), log: createLogger({ service, level }) };
}

/** For code started without a process around it (tests, embedding): no tracing, warnings and errors only. */
export async function quietTelemetry(service: string): Promise<Telemetry> {
  return { tracing: await startTracing({ enabled: false, serviceName: service, tracesUrl: '', protocol: 'http/protobuf', batch: {} }), metrics: createMetrics(), log: createLogger({ service, level: 'warn' }) };
}
