// What every process on the queue agrees on: where Redis is, the key prefix, how long records are
// kept, how callbacks are retried and which networks they may reach. Part of both the gateway's and
// the worker's config.
import { parseNetwork, type Network } from '../callbacks/callback-address.js';
import { invalidConfig, readInteger, readOptionalString, readString } from './config-values.js';
import { parseRedisUrl } from '../redis/redis-url.js';

export interface QueueConfig {
  /**
   * Redis to use: `redis://[user:password@]host:port[/db]`, `rediss://…` (TLS), or a unix socket
   * (`unix:///path/redis.sock[?password=…&username=…&db=N]`, or the same without `unix://`); read by
   * redis/redis-url.ts. Env REDIS_URL. Default: `redis://127.0.0.1:6379`.
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
  /**
   * Most entries kept in each list of recent invocations (`GET /invocations`: all of them, each
   * function's, each status's): the oldest go first, so the lists stay bounded under any load, and
   * an invocation older than the newest this many of its list is no longer listed (it can still be
   * read by id). Env PIDBOX_LIST_MAX_ENTRIES. Default: 10000.
   */
  listMaxEntries: number;
  /** Deliveries of a callback before it is given up. Env PIDBOX_CALLBACK_ATTEMPTS. Default: 5. */
  callbackAttempts: number;
  /** First delay between deliveries of a callback, doubled each time. Env PIDBOX_CALLBACK_BACKOFF_MS. Default: 1000. */
  callbackBackoffMs: number;
  /**
   * Networks that callbacks may reach although they are not public (loopback, private, link-local,
   * …): checked by the gateway when it accepts an X-Callback-Url and by the worker when it connects.
   * Env PIDBOX_CALLBACK_ALLOW_NETWORKS (comma-separated CIDRs, IPv4 or IPv6). Default: none
   * (`pidbox dev`: loopback, `127.0.0.0/8,::1/128`).
   */
  callbackAllowNetworks: Network[];
}

/** Defaults that differ by command (`pidbox dev` lets callbacks reach loopback). */
export interface QueueDefaults {
  /** PIDBOX_CALLBACK_ALLOW_NETWORKS when it is unset. Default: none. */
  callbackAllowNetworks?: string;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** What `pidbox dev` lets callbacks reach: receivers on the same machine. */
export const LOOPBACK_NETWORKS = '127.0.0.0/8,::1/128';
const PREFIX = /^[A-Za-z0-9_.-]{1,64}$/;

export function loadQueueConfig(env: NodeJS.ProcessEnv, defaults: QueueDefaults = {}): QueueConfig {
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
    listMaxEntries: readInteger(env, 'PIDBOX_LIST_MAX_ENTRIES', 10_000, 1, 10_000_000),
    callbackAttempts: readInteger(env, 'PIDBOX_CALLBACK_ATTEMPTS', 5, 1, 100),
    callbackBackoffMs: readInteger(env, 'PIDBOX_CALLBACK_BACKOFF_MS', 1000, 1),
    callbackAllowNetworks: readNetworks(env, 'PIDBOX_CALLBACK_ALLOW_NETWORKS', defaults.callbackAllowNetworks ?? ''),
  };
}

/** A comma-separated list of CIDRs (or single addresses). */
function readNetworks(env: NodeJS.ProcessEnv, name: string, fallback: string): Network[] {
  const entries = readString(env, name, fallback).split(',').map((s) => s.trim()).filter((s) => s !== '');
  return entries.map((entry) => {
    const network = parseNetwork(entry);
    if (!network) throw invalidConfig(name, `"${entry}" is not a network: write CIDRs such as 10.0.0.0/8 or fd00::/8, comma-separated`);
    return network;
  });
}
