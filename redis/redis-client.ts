// One place where pidbox opens Redis connections — to one Redis (REDIS_URL) or to a Redis Cluster
// (PIDBOX_REDIS_CLUSTER) — so every one has a name (CLIENT LIST tells them apart), a retry policy
// that fits its use, and an error listener (ioredis prints unhandled errors).
import { Cluster, Redis } from 'ioredis';
import type { QueueConfig } from '../config/queue-config.js';
import type { Logger } from '../telemetry/logger.js';
import { parseClusterSeeds } from './cluster-seeds.js';
import { parseRedisUrl, redact } from './redis-url.js';

/** A connection to one Redis, or to a Redis Cluster: the same commands, routed by key on a cluster. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: a REDIS_URL, or the queue config's REDIS_URL / PIDBOX_REDIS_CLUSTER. */
export type RedisTarget = string | Pick<QueueConfig, 'redisUrl' | 'redisCluster'>;

export interface RedisClientOptions {
  /** Shown by CLIENT LIST, e.g. `pidbox-gateway`. */
  name: string;
  /**
   * `request`: for commands made while a caller waits (the gateway). Once the client has been
   * connected, a command made while the connection is down fails at once (the offline queue is
   * turned off: the caller gets 503 QUEUE_UNAVAILABLE now, not after a wait), and one that Redis
   * does not answer fails after `commandTimeoutMs`; before the first connection, commands wait for
   * it. `durable`: commands wait for Redis to come back (the worker: a result is never given up;
   * BullMQ's Worker wants this of its connections, maxRetriesPerRequest null). Default: `durable`.
   */
  mode?: 'request' | 'durable';
  /** Longest wait for one command in `request` mode, ms. Default: 5000. */
  commandTimeoutMs?: number;
  /** Where connection errors go. Default: a plain line on standard error. */
  log?: Pick<Logger, 'error'>;
}

/** Longest wait between two reconnection attempts: Redis back, the processes follow within this. */
const MAX_RECONNECT_DELAY_MS = 1000;
/**
 * How a durable cluster connection rides out a failover: a command whose node is gone is tried
 * again every `retryDelayMs`, `redirections` times (a minute), which covers a master's failure
 * being noticed (cluster-node-timeout, 15 s by default) and its replica's election.
 */
const DURABLE_FAILOVER = { retryDelayMs: 500, redirections: 120 };
/** A request's command through a failover: tried again for about as long as its timeout. */
const REQUEST_FAILOVER = { retryDelayMs: 200, redirections: 16 };
/** How often a cluster connection reads the cluster's layout again, besides after a MOVED. */
const SLOTS_REFRESH_MS = 5000;

export function createRedisClient(target: string, options: RedisClientOptions): Redis;
export function createRedisClient(target: RedisTarget, options: RedisClientOptions): RedisClient;
export function createRedisClient(target: RedisTarget, options: RedisClientOptions): RedisClient {
  const request = options.mode === 'request';
  const common = {
    connectionName: options.name,
    maxRetriesPerRequest: request ? 1 : null,
    ...(request ? { commandTimeout: options.commandTimeoutMs ?? 5000 } : {}),
  };
  const retryStrategy = (times: number): number => Math.min(50 * 2 ** times, MAX_RECONNECT_DELAY_MS);
  const cluster = typeof target === 'string' ? null : target.redisCluster;
  let client: RedisClient;
  if (cluster === null) {
    client = new Redis({ ...parseRedisUrl(typeof target === 'string' ? target : target.redisUrl), ...common, retryStrategy });
  } else {
    const { seeds, ...credentials } = parseClusterSeeds(cluster);
    const failover = request ? REQUEST_FAILOVER : DURABLE_FAILOVER;
    client = new Cluster(seeds, {
      redisOptions: { ...credentials, ...common },
      clusterRetryStrategy: retryStrategy,
      retryDelayOnFailover: failover.retryDelayMs,
      retryDelayOnClusterDown: failover.retryDelayMs,
      retryDelayOnTryAgain: failover.retryDelayMs,
      maxRedirections: failover.redirections,
      slotsRefreshInterval: SLOTS_REFRESH_MS,
    });
  }
  // ioredis reads the option at each command: from the first connection on, a request's command
  // no longer waits for a connection that is down.
  if (request) client.once('ready', () => (client.options.enableOfflineQueue = false));
  reportErrors(client, describeRedis(target), options);
  return client;
}

/**
 * Another connection like `client` (same Redis or cluster, same credentials and timeouts), for a
 * blocking command, which holds its connection. It queues commands until it is connected.
 */
export function duplicateRedisClient(client: RedisClient, name: string): RedisClient {
  if (client instanceof Cluster) {
    return client.duplicate(undefined, { enableOfflineQueue: true, redisOptions: { ...client.options.redisOptions, connectionName: name } });
  }
  return client.duplicate({ connectionName: name, enableOfflineQueue: true });
}

/** The target for messages and logs, without its password. */
export function describeRedis(target: RedisTarget): string {
  if (typeof target === 'string') return redact(target);
  return target.redisCluster === null ? redact(target.redisUrl) : `cluster ${redact(target.redisCluster)}`;
}

/** Resolves once the client can send commands (a `request` client refuses them before). */
export function whenReady(client: RedisClient): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      client.off('end', onEnd);
      resolve();
    };
    const onEnd = (): void => {
      client.off('ready', onReady);
      reject(new Error('the Redis connection was closed before it was ready'));
    };
    client.once('ready', onReady);
    client.once('end', onEnd);
  });
}

/** Closes a client: QUIT when it is connected, else a plain disconnect. Never throws; safe to call twice. */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  try {
    if (client.status === 'ready') {
      await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    }
  } catch {
    // Already closing or closed.
  }
  client.disconnect();
}

function reportErrors(client: RedisClient, shown: string, options: RedisClientOptions): void {
  let lastMessage = '';
  const report = (error: Error, node?: string): void => {
    // A Redis that is down repeats the same error on every reconnect attempt: say it once.
    const message = node ? `${node}: ${error.message}` : error.message;
    if (message === lastMessage) return;
    lastMessage = message;
    if (options.log) options.log.error('redis connection error', { redis: shown, connection: options.name, error: message });
    else console.error(`pidbox: redis ${shown} (${options.name}): ${message}`);
  };
  client.on('error', (error: Error) => report(error));
  // A cluster's node connections report their own errors (a node gone, refused, …).
  if (client instanceof Cluster) client.on('node error', (error: Error, node: string) => report(error, node));
  client.on('ready', () => (lastMessage = ''));
}
