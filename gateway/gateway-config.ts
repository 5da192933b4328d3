// `pidbox gateway`'s settings: a pure function of the environment (README, "Configuration").
import { resolve } from 'node:path';
import { z } from 'zod';
import { integerVar, invalidConfig, listVar, optionalStringVar, readEnv, stringVar } from '../config/config-values.js';
import { loadQueueConfig, type QueueConfig, type QueueDefaults } from '../config/queue-config.js';

export interface GatewayConfig {
  queue: QueueConfig;
  /** Folder of the functions (absolute); the gateway reads their settings. Env PIDBOX_FUNCTIONS_DIR. Default: `./functions`. */
  functionsDir: string;
  /** Port to listen on; 0 picks a free one. Env PORT. Default: 8080. */
  port: number;
  /** Address to listen on. Env PIDBOX_HOST. Default: `0.0.0.0` (`pidbox dev`: `127.0.0.1`). */
  host: string;
  /** Bearer keys (token68, at least 16 characters), any of which opens every route but the open ones (/healthz, /readyz, /metrics, the API's description); none: the gateway is open. Env PIDBOX_API_KEYS (comma-separated). Default: none. */
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

/**
 * What a key may hold: RFC 6750's token68 (letters, digits, `-._~+/`, then `=` padding), the only
 * form hono's bearer-auth takes from an Authorization header.
 */
const API_KEY = /^[A-Za-z0-9._~+/-]{16,}=*$/;

/** The gateway's own variables, each with its check and default (README, "Configuration"). */
export function gatewayVariables(defaults: { host?: string } = {}) {
  return z.object({
    PIDBOX_FUNCTIONS_DIR: stringVar('./functions'),
    PORT: integerVar(8080, 0, 65535),
    PIDBOX_HOST: stringVar(defaults.host ?? '0.0.0.0'),
    PIDBOX_API_KEYS: listVar().pipe(
      z.array(z.string().regex(API_KEY, {
        error: 'every key must be at least 16 characters: letters, digits, "-", ".", "_", "~", "+" or "/", and "=" only at the end',
      })),
    ),
    PIDBOX_MAX_BODY_BYTES: integerVar(6 * 1024 * 1024, 1),
    PIDBOX_MAX_IN_FLIGHT: integerVar(256, 1),
    PIDBOX_MAX_QUEUED: integerVar(10_000, 1),
    PIDBOX_SYNC_TIMEOUT_MS: integerVar(300_000, 1),
    PIDBOX_MAX_BATCH_SIZE: integerVar(1000, 1, 100_000),
    PIDBOX_SHUTDOWN_GRACE_MS: integerVar(10_000, 0),
    PIDBOX_RETRY_BACKOFF_MS: integerVar(1000, 1),
    PIDBOX_TRACE_URL: optionalStringVar(),
  });
}

/** `defaults`: what differs under `pidbox dev` (the host, the networks callbacks may reach). */
export function loadGatewayConfig(env: NodeJS.ProcessEnv, defaults: { host?: string } & QueueDefaults = {}, cwd = process.cwd()): GatewayConfig {
  const vars = readEnv(gatewayVariables(defaults), env);
  return {
    queue: loadQueueConfig(env, defaults),
    functionsDir: resolve(cwd, vars.PIDBOX_FUNCTIONS_DIR),
    port: vars.PORT,
    host: vars.PIDBOX_HOST,
    apiKeys: vars.PIDBOX_API_KEYS,
    maxBodyBytes: vars.PIDBOX_MAX_BODY_BYTES,
    maxInFlight: vars.PIDBOX_MAX_IN_FLIGHT,
    maxQueued: vars.PIDBOX_MAX_QUEUED,
    syncTimeoutMs: vars.PIDBOX_SYNC_TIMEOUT_MS,
    maxBatchSize: vars.PIDBOX_MAX_BATCH_SIZE,
    shutdownGraceMs: vars.PIDBOX_SHUTDOWN_GRACE_MS,
    retryBackoffMs: vars.PIDBOX_RETRY_BACKOFF_MS,
    traceUrl: checkTraceUrl(vars.PIDBOX_TRACE_URL),
  };
}

function checkTraceUrl(text: string | undefined): string | null {
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
