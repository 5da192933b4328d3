// Batches in Redis: a hash with the batch's size and one counter per status (moved by the same
// scripts that move its members' statuses), and the list of its invocation ids. Progress and
// completion are read from Redis by any gateway.
import type { Redis } from 'ioredis';
import type { InvocationStatus } from '../contracts/invocation.js';
import { BATCH_COUNTED_STATUSES, type BatchRecord } from '../contracts/invocation-record.js';
import { indexEntry, indexTtlSeconds } from './invocation-index.js';
import { recordFields, type InvocationStore, type NewInvocation } from './invocation-store.js';
import type { QueueConfig } from '../config/queue-config.js';
import type { RedisKeys } from './redis-keys.js';

export class BatchStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly invocations: InvocationStore,
    private readonly config: Pick<QueueConfig, 'keepPendingSeconds' | 'keepSucceededSeconds' | 'keepFailedSeconds' | 'listMaxEntries'>,
  ) {}

  /**
   * Creates the batch and the queued records of its invocations, in one transaction, with their
   * entries in the index of recent invocations (as the CREATE script makes them for one).
   */
  async create(batchId: string, functionName: string, members: NewInvocation[], now = Date.now()): Promise<void> {
    const ttl = this.config.keepPendingSeconds;
    const multi = this.redis.multi();
    const batchKey = this.keys.batch(batchId);
    multi.hset(batchKey, { id: batchId, function: functionName, count: members.length, createdAt: now, queued: members.length, finished: 0 });
    multi.expire(batchKey, ttl);
    const list = this.keys.batchMembers(batchId);
    for (let i = 0; i < members.length; i += 1000) multi.rpush(list, ...members.slice(i, i + 1000).map((m) => m.id));
    multi.expire(list, ttl);
    for (const member of members) {
      const key = this.keys.invocation(member.id);
      multi.hset(key, ...recordFields(member, now));
      multi.expire(key, ttl);
    }
    const entries = members.map((member) => indexEntry(now, member.id));
    for (const index of [{}, { function: functionName }, { status: 'queued' as const }, { function: functionName, status: 'queued' as const }]) {
      const key = this.keys.invocationIndex(index);
      for (let i = 0; i < entries.length; i += 1000) multi.zadd(key, ...entries.slice(i, i + 1000).flatMap((entry) => [0, entry]));
      // The oldest go past the cap (rank 0 is the oldest: every entry has score 0).
      multi.zremrangebyrank(key, 0, -this.config.listMaxEntries - 1);
      multi.expire(key, indexTtlSeconds(this.config));
    }
    const replies = await multi.exec();
    const failed = replies?.find(([error]) => error);
    if (failed) throw failed[0];
  }

  /** The batch with one page of its invocations, or null when there is no such batch (or it expired). */
  async read(batchId: string, offset: number, limit: number): Promise<BatchRecord | null> {
    const [hash, ids] = await Promise.all([
      this.redis.hgetall(this.keys.batch(batchId)),
      this.redis.lrange(this.keys.batchMembers(batchId), offset, offset + limit - 1),
    ]);
    if (hash.count === undefined) return null;
    const count = Number(hash.count);
    const counts = Object.fromEntries(BATCH_COUNTED_STATUSES.map((s) => [s, Math.max(0, Number(hash[s] ?? 0))])) as Record<InvocationStatus, number>;
    const records = await this.invocations.getMany(ids);
    const finished = Number(hash.finished ?? 0);
    return {
      id: batchId,
      function: hash.function ?? '',
      count,
      counts,
      progress: count === 0 ? 1 : Math.min(1, finished / count),
      createdAt: new Date(Number(hash.createdAt)).toISOString(),
      finishedAt: hash.finishedAt ? new Date(Number(hash.finishedAt)).toISOString() : null,
      results: ids.map((id, i) => {
        const record = records[i];
        return {
          index: offset + i,
          id,
          // A member whose record expired before the batch did is reported by what is known.
          status: record?.status ?? 'queued',
          response: record?.response ?? null,
          error: record && record.status !== 'succeeded' ? record.error : null,
        };
      }),
      offset,
      limit,
      nextOffset: offset + ids.length < count ? offset + ids.length : null,
    };
  }
}
