// What every process on the queue agrees on: where Redis is, the key prefix, how long records are
// kept, and how callbacks are retried. Part of both the gateway's and the worker's config.
import { invalidConfig, readInteger, readOptionalString, readString } from '../contracts/config-values.js';
import { parseRedisUrl } from './redis-url.js';

export interface QueueConfig {
  /**
   * Redis to use: `redis://[user:password@]host:port[/db]`, `rediss://…` (TLS), or a unix socket
   * (`unix:///path/redis.sock[?password=…&username=…&db=N]`, or the same without `unix://`); read by
   * queue/redis-url.ts. Env REDIS_URL. Default: `redis://127.0.0.1:6379`.
   */
  redisUrl: string;
  /** True when REDIS_URL was set (`pidbox dev` starts its own Redis when it was not). */
  redisUrlSet: boolean;
  /** Prefix of every key pidbox writes, the BullMQ queues' included. Env PIDBOX_REDIS_PREFIX. Default: `pidbox`. */
  prefix: string;
  /** How long a succeeded invocation stays inspectable. Env PIDBOX_KEEP_SUCCEEDED_SECONDS. Default: 86400 (a day). */
  keepSucceededSeconds: number;
  /** How long a failed, timed-out or cancelled invocation stays inspectable. Env PIDBOX_KEEP_FAILED_SECONDS. Default: 604800 (a week). */
  keepFailedSeconds: number;
  /** How long a record that is not finished is kept after its last change. Env PIDBOX_KEEP_PENDING_SECONDS. Default: 604800. */
  keepPendingSeconds: number;
  /** Deliveries of a callback before it is given up. Env PIDBOX_CALLBACK_ATTEMPTS. Default: 5. */
  callbackAttempts: number;
  /** First delay between deliveries of a callback, doubled each time. Env PIDBOX_CALLBACK_BACKOFF_MS. Default: 1000. */
  callbackBackoffMs: number;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const PREFIX = /^[A-Za-z0-9_.-]{1,64}$/;

export function loadQueueConfig(env: NodeJS.ProcessEnv): QueueConfig {
  const url = readOptionalString(env, 'REDIS_URL');
  // Read now, so that a form it does not take stops the process at start.
  if (url !== undefined) parseRedisUrl(url);
  const prefix = readString(env, 'PIDBOX_REDIS_PREFIX', 'pidbox');
  if (!PREFIX.test(prefix)) throw invalidConfig('PIDBOX_REDIS_PREFIX', `must be 1 to 64 letters, digits, "_", "." or "-", got "${prefix}"`);
  return {
    redisUrl: url ?? DEFAULT_REDIS_URL,
    redisUrlSet: url !== undefined,
    prefix,
    keepSucceededSeconds: readInteger(env, 'PIDBOX_KEEP_SUCCEEDED_SECONDS', 86_400, 1),
    keepFailedSeconds: readInteger(env, 'PIDBOX_KEEP_FAILED_SECONDS', 604_800, 1),
    keepPendingSeconds: readInteger(env, 'PIDBOX_KEEP_PENDING_SECONDS', 604_800, 60),
    callbackAttempts: readInteger(env, 'PIDBOX_CALLBACK_ATTEMPTS', 5, 1, 100),
    callbackBackoffMs: readInteger(env, 'PIDBOX_CALLBACK_BACKOFF_MS', 1000, 1),
  };
}
