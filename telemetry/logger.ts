import { trace } from '@opentelemetry/api';
import { invalidConfig } from '../config/config-values.js';

// Structured logs: one JSON object a line, with the active span's trace_id and span_id, so a log
// line leads to its trace and a trace (through the invocation id) to its logs.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  /** Name of the process (`gateway`, `worker`, `dev`). */
  service: string;
  /** Lowest level written. Default: `info`. */
  level?: LogLevel;
  /** Where lines go. Default: standard error. */
  write?: (line: string) => void;
}

export function createLogger(options: LoggerOptions, base: LogFields = {}): Logger {
  const min = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const log = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (ORDER[level] < min) return;
    const span = trace.getActiveSpan()?.spanContext();
    const record: LogFields = {
      time: new Date().toISOString(),
      level,
      service: options.service,
      msg: message,
      ...(span && span.traceId !== '00000000000000000000000000000000' ? { trace_id: span.traceId, span_id: span.spanId } : {}),
      ...base,
      ...fields,
    };
    if (record.error instanceof Error) record.error = { name: record.error.name, message: record.error.message };
    try {
      write(`${JSON.stringify(record)}\n`);
    } catch {
      // Logging never throws into the application.
    }
  };
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    child: (fields) => createLogger(options, { ...base, ...fields }),
  };
}

export function parseLogLevel(value: string | undefined, variable: string): LogLevel {
  const level = (value ?? 'info').trim().toLowerCase();
  if (level in ORDER) return level as LogLevel;
  throw invalidConfig(variable, `"${value}" is not a log level (debug, info, warn, error)`);
}
