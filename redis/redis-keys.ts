// Every Redis key and channel pidbox uses, from the configured prefix, hash-tagged for Redis Cluster.
//
// A Lua script, a MULTI or a pipeline may only touch keys of one hash slot on a cluster (CROSSSLOT
// otherwise); Redis hashes only the text between the first "{" and the next "}" when a key has one
// (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags). Two tags:
// - pidbox's own keys (records, logs, batches and their member lists, idempotency keys, the index
//   of recent invocations) all carry `{<prefix>}`: the record scripts move a record, its log, its
//   batch and the index's global sets together, so they must all share one slot, and one master
//   holds them all. The cluster gives failover, not a spread of the records (README, "Redis Cluster").
// - BullMQ's keys, one tag per queue, `{<prefix>:<queue>}` (BullMQ's own scripts touch only one
//   queue's keys; https://docs.bullmq.io/patterns/redis-cluster): a queue may sit on another master.
// Every key still starts with the prefix, so an ACL such as ~pidbox:* covers them.
// Channels need no tag: PUBLISH reaches every node's subscribers.
import { createHash } from 'node:crypto';
import type { InvocationStatus } from '../contracts/invocation.js';

/** BullMQ queue of function runs; the job id is the invocation id. */
export const INVOCATIONS_QUEUE = 'invocations';
/** BullMQ queue of callback deliveries. */
export const CALLBACKS_QUEUE = 'callbacks';

export interface RedisKeys {
  /**
   * The prefix a BullMQ queue is given, so its keys sit beside ours and in one slot:
   * `<prefix>:bull:{<prefix>:<queue>}`, its keys `<prefix>:bull:{<prefix>:invocations}:invocations:wait`, ….
   */
  bullPrefix(queue: string): string;
  /** Hash: one invocation's record. `<prefix>:{<prefix>}:invocation:<id>`, as every key below starts. */
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
  // The slot of every key of pidbox's own; the prefix is in the tag, so two pidboxes on one cluster
  // need not share a master.
  const own = `${prefix}:{${prefix}}`;
  return {
    bullPrefix: (queue) => `${prefix}:bull:{${prefix}:${queue}}`,
    invocation: (id) => `${own}:invocation:${id}`,
    log: (id) => `${own}:invocation:${id}:log`,
    // Hashed: a key is the caller's text, of any length and content.
    idempotency: (functionName, key) => `${own}:idempotency:${functionName}:${createHash('sha256').update(key).digest('hex')}`,
    batch: (id) => `${own}:batch:${id}`,
    batchMembers: (id) => `${own}:batch:${id}:ids`,
    // Function names have no `:` (registry/function-registry.ts), so no filter names another's set.
    invocationIndex: (filter) =>
      `${own}:invocations${filter.function !== undefined ? `:function:${filter.function}` : ''}${filter.status !== undefined ? `:status:${filter.status}` : ''}`,
    finishedChannel: `${prefix}:finished`,
    controlChannel: `${prefix}:control`,
    replyChannel: (gatewayId) => `${prefix}:replies:${gatewayId}`,
  };
}
