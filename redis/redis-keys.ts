// Every Redis key and channel pidbox uses besides BullMQ's own, from the configured prefix.
import { createHash } from 'node:crypto';
import type { InvocationStatus } from '../contracts/invocation.js';

/** BullMQ queue of function runs; the job id is the invocation id. */
export const INVOCATIONS_QUEUE = 'invocations';
/** BullMQ queue of callback deliveries. */
export const CALLBACKS_QUEUE = 'callbacks';

export interface RedisKeys {
  /** The prefix BullMQ is given, so its keys sit beside ours: `<prefix>:bull:invocations:…`. */
  readonly bullPrefix: string;
  /** Hash: one invocation's record. */
  invocation(id: string): string;
  /** Stream: one invocation's log, chunk by chunk, closed by an `end` entry. */
  log(id: string): string;
  /** String: the invocation id an Idempotency-Key of a function maps to. */
  idempotency(functionName: string, key: string): string;
  /** Hash: a batch's size, creation time and a counter per status. */
  batch(id: string): string;
  /** List: the invocation ids of a batch, in order. */
  batchMembers(id: string): string;
  /**
   * Sorted set: the recent invocations (all of them, one function's, those in one status, or one
   * function's in one status), entries `<createdAt ms, 15 digits>:<id>`, all of score 0, so that
   * they sort by creation (redis/index-scripts.ts).
   */
  invocationIndex(filter: { function?: string; status?: InvocationStatus }): string;
  /** Channel: `finished` messages, for the gateways' sync waiters. */
  readonly finishedChannel: string;
  /** Channel: `cancel` messages, for the workers. */
  readonly controlChannel: string;
  /** Channel: workers' replies to one gateway's requests (`processes`, `signal`). */
  replyChannel(gatewayId: string): string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    bullPrefix: `${prefix}:bull`,
    invocation: (id) => `${prefix}:invocation:${id}`,
    log: (id) => `${prefix}:invocation:${id}:log`,
    // Hashed: a key is the caller's text, of any length and content.
    idempotency: (functionName, key) => `${prefix}:idempotency:${functionName}:${createHash('sha256').update(key).digest('hex')}`,
    batch: (id) => `${prefix}:batch:${id}`,
    batchMembers: (id) => `${prefix}:batch:${id}:ids`,
    finishedChannel: `${prefix}:finished`,
    // Function names have no `:` (registry/function-registry.ts), so no filter names another's set.
    invocationIndex: (filter) =>
      `${prefix}:invocations${filter.function !== undefined ? `:function:${filter.function}` : ''}${filter.status !== undefined ? `:status:${filter.status}` : ''}`,
    controlChannel: `${prefix}:control`,
    replyChannel: (gatewayId) => `${prefix}:replies:${gatewayId}`,
  };
}
