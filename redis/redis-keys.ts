// Every Redis key and channel pidbox uses, from the configured prefix, hash-tagged for Redis Cluster.
//
// A Lua script or a MULTI may only touch keys of one hash slot on a cluster (CROSSSLOT otherwise);
// Redis hashes only the text between the first "{" and the next "}" when a key has one
// (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags). So every
// key carries a tag, and keys that move together carry the same one:
// - BullMQ's keys, one tag per queue (BullMQ's own scripts touch only one queue's keys; two
//   queues on two tags may sit on two masters; https://docs.bullmq.io/patterns/redis-cluster).
// - An invocation's record and log, its batch's hash and member list, its idempotency key: the
//   invocation's group, the first four hex digits of its id. Ids are made so that what is written
//   together shares a group: a batch's members take the batch's group, an invocation with an
//   Idempotency-Key the key's (newIdInGroup). 65536 groups spread the records over every slot.
// A key read or written together with one of these in a script or MULTI must take the same
// group; a key of its own (an index, a counter) is written by a command of its own.
// Channels need no tag: PUBLISH reaches every node's subscribers.
import { createHash, randomUUID } from 'node:crypto';

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
  /** Hash: one invocation's record. */
  invocation(id: string): string;
  /** Stream: one invocation's log, chunk by chunk, closed by an `end` entry. */
  log(id: string): string;
  /** String: the invocation id an Idempotency-Key of a function maps to; in the group of idempotencyGroup(). */
  idempotency(functionName: string, key: string): string;
  /** Hash: a batch's size, creation time and a counter per status; its members share its group. */
  batch(id: string): string;
  /** List: the invocation ids of a batch, in order. */
  batchMembers(id: string): string;
  /** Channel: `finished` messages, for the gateways' sync waiters. */
  readonly finishedChannel: string;
  /** Channel: `cancel` messages, for the workers. */
  readonly controlChannel: string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    // The prefix is in the tag too: two pidboxes on one cluster do not put their queues in one slot.
    bullPrefix: (queue) => `${prefix}:bull:{${prefix}:${queue}}`,
    invocation: (id) => `${prefix}:invocation:{${groupOf(id)}}:${id}`,
    log: (id) => `${prefix}:invocation:{${groupOf(id)}}:${id}:log`,
    idempotency: (functionName, key) => {
      const digest = idempotencyDigest(key);
      return `${prefix}:idempotency:{${digest.slice(0, GROUP_LENGTH)}}:${functionName}:${digest}`;
    },
    batch: (id) => `${prefix}:batch:{${groupOf(id)}}:${id}`,
    batchMembers: (id) => `${prefix}:batch:{${groupOf(id)}}:${id}:ids`,
    finishedChannel: `${prefix}:finished`,
    controlChannel: `${prefix}:control`,
  };
}

const GROUP_LENGTH = 4;
const GROUP = /^[0-9a-f]{4}/;

/**
 * The group (hash tag) of an invocation or batch id: its first four hex digits. An id that does not
 * start with them (a caller's typo in a URL) gets a group from its hash, so that its keys still
 * share a slot and a look-up finds nothing rather than failing CROSSSLOT.
 */
export function groupOf(id: string): string {
  return GROUP.exec(id)?.[0] ?? createHash('sha256').update(id).digest('hex').slice(0, GROUP_LENGTH);
}

/** The group of an Idempotency-Key (of any function): an invocation made with it takes this group. */
export function idempotencyGroup(key: string): string {
  return idempotencyDigest(key).slice(0, GROUP_LENGTH);
}

/** A new random id (a v4 UUID) in `group`, or in a random one. */
export function newIdInGroup(group?: string): string {
  const id = randomUUID();
  // The first group of a v4 UUID is random bits: four hex digits of it can be anything.
  return group === undefined ? id : `${group}${id.slice(GROUP_LENGTH)}`;
}

// Hashed: a key is the caller's text, of any length and content.
function idempotencyDigest(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
