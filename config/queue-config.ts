// What every process on the queue agrees on: where Redis is, the key prefix, how long records are
// kept, how callbacks are retried and which networks they may reach. Part of both the gateway's and
// the worker's config.
import { parseNetwork, type Network } from '../callbacks/callback-address.js';
import { z } from 'zod';
import { integerVar, invalidConfig, listVar, optionalIntegerVar, optionalStringVar, readEnv, stringVar } from './config-values.js';
import { parseClusterSeeds } from '../redis/cluster-seeds.js';
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
  /**
   * A Redis Cluster to use instead: its seed nodes, `host:port,host:port,…`, with credentials as in
   * REDIS_URL (`[redis://|rediss://][user:password@]host:port,…` or `host:port,…?password=…&username=…`);
   * read by redis/cluster-seeds.ts. Not with REDIS_URL. Env PIDBOX_REDIS_CLUSTER. Default: none.
   */
  redisCluster: string | null;
  /** Prefix of every key pidbox writes, the BullMQ queues' included. Env PIDBOX_REDIS_PREFIX. Default: `pidbox`. */
  prefix: string;
  /**
   * The one retention setting: how long records, logs and batches are kept; the three below default
   * from it. Env PIDBOX_RECORD_TTL_S. Default: 86400 (a day).
   */
  recordTtlSeconds: number;
  /** How long a succeeded invocation stays inspectable. Env PIDBOX_KEEP_SUCCEEDED_SECONDS. Default: PIDBOX_RECORD_TTL_S (a day). */
  keepSucceededSeconds: number;
  /**
   * How long a failed, timed-out or cancelled invocation stays inspectable (and its BullMQ job, for
   * re-driving). Env PIDBOX_KEEP_FAILED_SECONDS. Default: 7 × PIDBOX_RECORD_TTL_S (a week).
   */
  keepFailedSeconds: number;
  /**
   * How long a record that is not finished is kept after its last change (and a log, and a batch,
   * until their invocations finish). Env PIDBOX_KEEP_PENDING_SECONDS. Default: 7 × PIDBOX_RECORD_TTL_S
   * (a week), at least 60.
   */
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
/**
 * Failures and unfinished records are kept this many times longer than successes: a failure is
 * rare and is what someone comes back to look at (and re-drive), and a record still queued must
 * outlive any backlog, so both scale with PIDBOX_RECORD_TTL_S instead of sitting at a fixed week.
 */
export const KEEP_LONGER_FACTOR = 7;
/** Shortest life of an unfinished record: it must outlast a queue's ordinary wait. */
const MIN_KEEP_PENDING_SECONDS = 60;

/** The variables of QueueConfig, each with its check and default (README, "Configuration"). */
export function queueVariables(defaults: QueueDefaults = {}) {
  return z.object({
    // Read now, so that a form it does not take stops the process at start; parseRedisUrl's own
    // errors name REDIS_URL and show the URL with its password as ***.
    REDIS_URL: optionalStringVar().refine((url) => url === undefined || parseRedisUrl(url) !== null),
    // The same for the cluster's seeds; parseClusterSeeds's errors name PIDBOX_REDIS_CLUSTER.
    PIDBOX_REDIS_CLUSTER: optionalStringVar().refine((seeds) => seeds === undefined || parseClusterSeeds(seeds) !== null),
    PIDBOX_REDIS_PREFIX: stringVar('pidbox').pipe(
      z.string().regex(PREFIX, { error: (issue) => `must be 1 to 64 letters, digits, "_", "." or "-", got "${String(issue.input)}"` }),
    ),
    PIDBOX_RECORD_TTL_S: integerVar(86_400, 1),
    // Unset, each follows PIDBOX_RECORD_TTL_S (loadQueueConfig).
    PIDBOX_KEEP_SUCCEEDED_SECONDS: optionalIntegerVar(1),
    PIDBOX_KEEP_FAILED_SECONDS: optionalIntegerVar(1),
    PIDBOX_KEEP_PENDING_SECONDS: optionalIntegerVar(MIN_KEEP_PENDING_SECONDS),
    PIDBOX_LIST_MAX_ENTRIES: integerVar(10_000, 1, 10_000_000),
    PIDBOX_CALLBACK_ATTEMPTS: integerVar(5, 1, 100),
    PIDBOX_CALLBACK_BACKOFF_MS: integerVar(1000, 1),
    PIDBOX_CALLBACK_ALLOW_NETWORKS: networksVar(defaults.callbackAllowNetworks ?? ''),
  });
}

export function loadQueueConfig(env: NodeJS.ProcessEnv, defaults: QueueDefaults = {}): QueueConfig {
  const vars = readEnv(queueVariables(defaults), env);
  if (vars.REDIS_URL !== undefined && vars.PIDBOX_REDIS_CLUSTER !== undefined) {
    throw invalidConfig('PIDBOX_REDIS_CLUSTER', 'REDIS_URL is set too: set REDIS_URL for one Redis, or PIDBOX_REDIS_CLUSTER for a Redis Cluster, not both');
  }
  const ttl = vars.PIDBOX_RECORD_TTL_S;
  return {
    redisUrl: vars.REDIS_URL ?? DEFAULT_REDIS_URL,
    redisUrlSet: vars.REDIS_URL !== undefined,
    redisCluster: vars.PIDBOX_REDIS_CLUSTER ?? null,
    prefix: vars.PIDBOX_REDIS_PREFIX,
    recordTtlSeconds: ttl,
    keepSucceededSeconds: vars.PIDBOX_KEEP_SUCCEEDED_SECONDS ?? ttl,
    keepFailedSeconds: vars.PIDBOX_KEEP_FAILED_SECONDS ?? KEEP_LONGER_FACTOR * ttl,
    keepPendingSeconds: vars.PIDBOX_KEEP_PENDING_SECONDS ?? Math.max(MIN_KEEP_PENDING_SECONDS, KEEP_LONGER_FACTOR * ttl),
    listMaxEntries: vars.PIDBOX_LIST_MAX_ENTRIES,
    callbackAttempts: vars.PIDBOX_CALLBACK_ATTEMPTS,
    callbackBackoffMs: vars.PIDBOX_CALLBACK_BACKOFF_MS,
    callbackAllowNetworks: vars.PIDBOX_CALLBACK_ALLOW_NETWORKS,
  };
}

/** A comma-separated list of CIDRs (or single addresses); `fallback` when unset. */
function networksVar(fallback: string) {
  return listVar().transform((entries, ctx) => {
    const networks: Network[] = [];
    for (const entry of entries.length > 0 ? entries : fallback.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      const network = parseNetwork(entry);
      if (network) networks.push(network);
      else ctx.addIssue({ code: 'custom', message: `"${entry}" is not a network: write CIDRs such as 10.0.0.0/8 or fd00::/8, comma-separated` });
    }
    return networks;
  });
}
