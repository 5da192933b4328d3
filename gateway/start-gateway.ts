// A gateway: its Redis connections, the one `finished` subscription, the HTTP server; and a shutdown
// that stops taking requests, gives waiting sync callers the grace period to get their answers,
// then closes everything.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { BatchStore } from '../redis/batch-store.js';
import { openQueues } from '../redis/invocation-queues.js';
import { InvocationStore } from '../redis/invocation-store.js';
import { LogStore } from '../redis/log-store.js';
import { closeRedisClient, createRedisClient } from '../redis/redis-client.js';
import { redact } from '../redis/redis-url.js';
import { redisKeys } from '../redis/redis-keys.js';
import { FunctionRegistry } from '../registry/function-registry.js';
import { quietTelemetry, type Telemetry } from '../telemetry/telemetry.js';
import { createApp } from './create-app.js';
import type { GatewayConfig } from './gateway-config.js';
import type { GatewayDeps } from './gateway-deps.js';
import { InFlight } from './in-flight.js';
import { QueueDepth } from './queue-depth.js';
import { SyncWaiters } from './sync-waiters.js';
import { WorkerRequests } from './worker-requests.js';

export interface GatewayHandle {
  /** `http://host:port`, with the port actually bound (PORT=0 picks one). */
  readonly url: string;
  readonly port: number;
  /**
   * Stops taking requests, waits up to the shutdown grace period for sync callers still waiting,
   * answers the rest 503 (their invocations go on), closes every connection. Bounded; safe to call twice.
   */
  close(): Promise<void>;
}

/** `telemetry`: the process's traces, metrics and logs; by default no tracing and warnings only. */
export async function startGateway(config: GatewayConfig, telemetry?: Telemetry): Promise<GatewayHandle> {
  const { tracing, metrics, log } = telemetry ?? (await quietTelemetry('gateway'));
  const keys = redisKeys(config.queue.prefix);
  const redis = createRedisClient(config.queue.redisUrl, { name: 'pidbox-gateway', mode: 'request', log });
  const subscriber = createRedisClient(config.queue.redisUrl, { name: 'pidbox-gateway-finished', log });
  const store = new InvocationStore(redis, keys, config.queue);
  const queues = openQueues(redis, keys);
  const waiters = new SyncWaiters({ subscriber, channel: keys.finishedChannel, store });
  const repliesSubscriber = createRedisClient(config.queue.redisUrl, { name: 'pidbox-gateway-replies', log });
  const requests = new WorkerRequests({
    subscriber: repliesSubscriber,
    publisher: redis,
    controlChannel: keys.controlChannel,
    replyChannel: keys.replyChannel(randomUUID()),
  });
  const deps: GatewayDeps = {
    store,
    batches: new BatchStore(redis, keys, store, config.queue),
    logs: new LogStore(redis, keys),
    queues,
    config: config.queue,
    gatewayConfig: config,
    registry: new FunctionRegistry(config.functionsDir),
    waiters,
    inFlight: new InFlight(config.maxInFlight),
    depth: new QueueDepth(queues.invocations, config.maxQueued),
    redis,
    keys,
    requests,
    state: { closing: false },
    telemetry: { tracing, metrics, log },
  };
  metrics.watchQueue(() => queues.invocations.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'));
  const waitingForRedis = setTimeout(() => log.warn('waiting for Redis', { redis: redact(config.queue.redisUrl) }), 2000);
  try {
    await Promise.all([waiters.start(), requests.start()]);
  } finally {
    clearTimeout(waitingForRedis);
  }

  const app = createApp(deps);
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    // The port is taken (or not ours): leave no connection open behind the error.
    waiters.close();
    requests.close();
    await Promise.race([queues.close(), delay(1000)]);
    await Promise.all([closeRedisClient(subscriber), closeRedisClient(repliesSubscriber), closeRedisClient(redis)]);
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

  let closing: Promise<void> | null = null;
  const close = async (graceMs: number): Promise<void> => {
    deps.state.closing = true;
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (waiters.size > 0 && Date.now() < deadline) await delay(50);
    waiters.close();
    requests.close();
    // Answers just written need a moment to leave; then whatever is left open is cut.
    await Promise.race([serverClosed, delay(1000)]);
    server.closeAllConnections();
    await Promise.race([queues.close(), delay(1000)]);
    await Promise.all([closeRedisClient(subscriber), closeRedisClient(repliesSubscriber), closeRedisClient(redis)]);
  };
  return {
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`,
    port,
    close() {
      closing ??= close(config.shutdownGraceMs);
      return closing;
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
