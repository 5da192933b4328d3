// What the gateway's routes are given: built once by startGateway, passed explicitly.
import type { Redis } from 'ioredis';
import type { CallbackFormat } from '../contracts/job.js';
import type { LogStore } from '../redis/log-store.js';
import type { RedisKeys } from '../redis/redis-keys.js';
import type { FunctionRegistry } from '../registry/function-registry.js';
import type { EnqueueDeps } from './enqueue-invocation.js';
import type { InFlight } from './in-flight.js';
import type { QueueDepth } from './queue-depth.js';
import type { SyncWaiters } from './sync-waiters.js';
import type { WorkerRequests } from './worker-requests.js';

export interface GatewayDeps extends EnqueueDeps {
  registry: FunctionRegistry;
  logs: LogStore;
  waiters: SyncWaiters;
  inFlight: InFlight;
  depth: QueueDepth;
  /** The gateway's command connection (readiness, lists, and duplicated for log followers). */
  redis: Redis;
  keys: RedisKeys;
  /** Requests to the worker running an invocation (its processes, a signal). */
  requests: WorkerRequests;
  /** Set when the gateway shuts down: new requests are refused with 503, followers stop. */
  state: { closing: boolean };
}

/**
 * Variables the routes keep on the request's context: the invocation's id, why the request failed
 * (`error.type` on its span), and the X-Callback-Url once checked (unset without one).
 */
export type GatewayEnv = { Variables: { invocationId: string; errorType: string; callback: { url: string; format: CallbackFormat } } };
