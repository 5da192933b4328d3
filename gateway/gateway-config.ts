// `pidbox gateway`'s settings: a pure function of the environment (README, "Configuration").
import { resolve } from 'node:path';
import { invalidConfig, readInteger, readList, readOptionalString, readString } from '../config/config-values.js';
import { loadQueueConfig, type QueueConfig, type QueueDefaults } from '../config/queue-config.js';

export interface GatewayConfig {
  queue: QueueConfig;
  /** Folder of the functions (absolute); the gateway reads their settings. Env PIDBOX_FUNCTIONS_DIR. Default: `./functions`. */
  functionsDir: string;
  /** Port to listen on; 0 picks a free one. Env PORT. Default: 8080. */
  port: number;
  /** Address to listen on. Env PIDBOX_HOST. Default: `0.0.0.0` (`pidbox dev`: `127.0.0.1`). */
  host: string;
  /** Bearer keys, any of which opens every route but /healthz and /readyz; none: the gateway is open. Env PIDBOX_API_KEYS (comma-separated). Default: none. */
  apiKeys: string[];
  /** Largest request body; a larger one is answered 413. Env PIDBOX_MAX_BODY_BYTES. Default: 6291456 (6 MiB). */
  maxBodyBytes: number;
  /** Sync invocations and log followers at once in this gateway; more are answered 429. Env PIDBOX_MAX_IN_FLIGHT. Default: 256. */
  maxInFlight: number;
  /** Jobs waiting in the queue beyond which new invocations are answered 429. Env PIDBOX_MAX_QUEUED. Default: 10000. */
  maxQueued: number;
  /** Longest wait of a sync invocation for its result; then 504 SYNC_TIMEOUT (the invocation goes on). Env PIDBOX_SYNC_TIMEOUT_MS. Default: 300000. */
  syncTimeoutMs: number;
  /** Most invocations in one batch. Env PIDBOX_MAX_BATCH_SIZE. Default: 1000. */
  maxBatchSize: number;
  /** On SIGTERM, how long sync callers still waiting may get their answers before they are answered 503. Env PIDBOX_SHUTDOWN_GRACE_MS. Default: 10000. */
  shutdownGraceMs: number;
  /** First delay before a retry of a failed run (function.json `retries`), doubled each time. Env PIDBOX_RETRY_BACKOFF_MS. Default: 1000. */
  retryBackoffMs: number;
  /** The dashboard's link from an invocation to its trace: a URL with `{traceId}` in it. Env PIDBOX_TRACE_URL. Default: none (no link). */
  traceUrl: string | null;
}

/** `defaults`: what differs under `pidbox dev` (the host, the networks callbacks may reach). */
export function loadGatewayConfig(env: NodeJS.ProcessEnv, defaults: { host?: string } & QueueDefaults = {}, cwd = process.cwd()): GatewayConfig {
  const apiKeys = readList(env, 'PIDBOX_API_KEYS');
  for (const key of apiKeys) {
    if (key.length < 16 || /\s/.test(key)) throw invalidConfig('PIDBOX_API_KEYS', 'every key must be at least 16 characters, without spaces');
  }
  return {
    queue: loadQueueConfig(env, defaults),
    functionsDir: resolve(cwd, readString(env, 'PIDBOX_FUNCTIONS_DIR', './functions')),
    port: readInteger(env, 'PORT', 8080, 0, 65535),
    host: readString(env, 'PIDBOX_HOST', defaults.host ?? '0.0.0.0'),
    apiKeys,
    maxBodyBytes: readInteger(env, 'PIDBOX_MAX_BODY_BYTES', 6 * 1024 * 1024, 1),
    maxInFlight: readInteger(env, 'PIDBOX_MAX_IN_FLIGHT', 256, 1),
    maxQueued: readInteger(env, 'PIDBOX_MAX_QUEUED', 10_000, 1),
    syncTimeoutMs: readInteger(env, 'PIDBOX_SYNC_TIMEOUT_MS', 300_000, 1),
    maxBatchSize: readInteger(env, 'PIDBOX_MAX_BATCH_SIZE', 1000, 1, 100_000),
    shutdownGraceMs: readInteger(env, 'PIDBOX_SHUTDOWN_GRACE_MS', 10_000, 0),
    retryBackoffMs: readInteger(env, 'PIDBOX_RETRY_BACKOFF_MS', 1000, 1),
    traceUrl: readTraceUrl(env),
  };
}

function readTraceUrl(env: NodeJS.ProcessEnv): string | null {
  const text = readOptionalString(env, 'PIDBOX_TRACE_URL');
  if (text === undefined) return null;
  let protocol = '';
  try {
    protocol = new URL(text.replaceAll('{traceId}', '0')).protocol;
  } catch {
    // Not a URL: refused below.
  }
  // http(s) only: the link is put in a page, where a javascript: URL would run.
  if (!text.includes('{traceId}') || (protocol !== 'http:' && protocol !== 'https:')) {
    throw invalidConfig('PIDBOX_TRACE_URL', `must be an http(s) URL with {traceId} in it, e.g. http://localhost:16686/trace/{traceId}, got ${JSON.stringify(text)}`);
  }
  return text;
}
