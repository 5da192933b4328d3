// One place where pidbox opens Redis connections, so every one has a name (CLIENT LIST tells them
// apart), a retry policy that fits its use, and an error listener (ioredis prints unhandled errors).
import { Redis } from 'ioredis';
import type { Logger } from '../telemetry/logger.js';
import { parseRedisUrl, redact } from './redis-url.js';

export interface RedisClientOptions {
  /** Shown by CLIENT LIST, e.g. `pidbox-gateway`. */
  name: string;
  /**
   * `request`: commands made while a client waits (the gateway) fail after a few retries and after
   * `commandTimeoutMs`, so no request hangs on a Redis that is gone. `durable`: commands wait for
   * Redis to come back (the worker: a result is never given up); BullMQ's Worker also needs this.
   * Default: `durable`.
   */
  mode?: 'request' | 'durable';
  /** Longest wait for one command in `request` mode. Default: 5000. */
  commandTimeoutMs?: number;
  /** Where connection errors go. Default: a plain line on standard error. */
  log?: Pick<Logger, 'error'>;
}

/** `url`: a REDIS_URL (redis/redis-url.ts), credentials and all; BullMQ's workers share these clients. */
export function createRedisClient(url: string, options: RedisClientOptions): Redis {
  const request = options.mode === 'request';
  const client = new Redis({
    ...parseRedisUrl(url),
    connectionName: options.name,
    maxRetriesPerRequest: request ? 2 : null,
    ...(request ? { commandTimeout: options.commandTimeoutMs ?? 5000 } : {}),
    retryStrategy: (times: number) => Math.min(50 * 2 ** times, 2000),
  });
  let lastMessage = '';
  client.on('error', (error: Error) => {
    // A Redis that is down repeats the same error on every reconnect attempt: say it once.
    if (error.message === lastMessage) return;
    lastMessage = error.message;
    if (options.log) options.log.error('redis connection error', { redis: redact(url), connection: options.name, error: error.message });
    else console.error(`pidbox: redis ${redact(url)} (${options.name}): ${error.message}`);
  });
  client.on('ready', () => (lastMessage = ''));
  return client;
}

/** Closes a client: QUIT when it is connected, else a plain disconnect. Never throws; safe to call twice. */
export async function closeRedisClient(client: Redis): Promise<void> {
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
