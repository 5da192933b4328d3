// An invocation's log in Redis: a stream of entries, appended by the worker as the function writes,
// read whole by `GET /invocations/{id}/logs` and followed live with `?follow=true`. The finishing
// status change appends `end` (redis/store-scripts.ts), so a follower knows when to stop.
import type { RedisClient } from './redis-client.js';
import type { RedisKeys } from './redis-keys.js';

/** One entry of a log stream, by its `t` field. */
export type LogEntry =
  | { type: 'data'; bytes: Buffer }
  /** A run after the first begins (a retry, or a lost worker's job run again). */
  | { type: 'attempt'; attempt: number }
  /** The worker kept the start and the end of a long log; this many bytes in between are not kept. */
  | { type: 'gap'; droppedBytes: number }
  | { type: 'end'; status: string };

export class LogStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async append(id: string, entry: Exclude<LogEntry, { type: 'end' }>, ttlSeconds: number): Promise<void> {
    const key = this.keys.log(id);
    const fields = toFields(entry);
    await this.redis.multi().xadd(key, '*', ...fields).expire(key, ttlSeconds).exec();
  }

  /** Every entry so far, with the id of the last one (`0` when there is none). */
  async read(id: string): Promise<{ entries: LogEntry[]; lastId: string }> {
    const replies = await this.redis.xrangeBuffer(this.keys.log(id), '-', '+');
    return decode(replies);
  }

  /**
   * Entries after `afterId`, waiting up to `blockMs` for some. Blocks its connection: call it on a
   * connection of its own (`redis.duplicate()`).
   */
  async next(blocking: RedisClient, id: string, afterId: string, blockMs: number): Promise<{ entries: LogEntry[]; lastId: string }> {
    const reply = await blocking.xreadBuffer('BLOCK', blockMs, 'STREAMS', this.keys.log(id), afterId);
    if (!reply || reply.length === 0) return { entries: [], lastId: afterId };
    return decode(reply[0]![1] as Array<[Buffer, Buffer[]]>, afterId);
  }
}

/** The log as text: the function's bytes, with a line of its own for each attempt and gap. */
export function renderLogEntry(entry: LogEntry): Buffer {
  switch (entry.type) {
    case 'data':
      return entry.bytes;
    case 'attempt':
      return Buffer.from(`--- pidbox: attempt ${entry.attempt} ---\n`);
    case 'gap':
      return Buffer.from(`--- pidbox: ${entry.droppedBytes} bytes of log not kept ---\n`);
    case 'end':
      return Buffer.alloc(0);
  }
}

function toFields(entry: Exclude<LogEntry, { type: 'end' }>): Array<string | Buffer> {
  switch (entry.type) {
    case 'data':
      return ['t', 'data', 'd', entry.bytes];
    case 'attempt':
      return ['t', 'attempt', 'n', String(entry.attempt)];
    case 'gap':
      return ['t', 'gap', 'n', String(entry.droppedBytes)];
  }
}

function decode(replies: Array<[Buffer, Buffer[]]>, afterId = '0'): { entries: LogEntry[]; lastId: string } {
  const entries: LogEntry[] = [];
  let lastId = afterId;
  for (const [rawId, fields] of replies) {
    lastId = rawId.toString();
    const map = new Map<string, Buffer>();
    for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!.toString(), fields[i + 1]!);
    const field = (name: string): string => map.get(name)?.toString() ?? '';
    switch (field('t')) {
      case 'data':
        entries.push({ type: 'data', bytes: map.get('d') ?? Buffer.alloc(0) });
        break;
      case 'attempt':
        entries.push({ type: 'attempt', attempt: Number(field('n')) });
        break;
      case 'gap':
        entries.push({ type: 'gap', droppedBytes: Number(field('n')) });
        break;
      case 'end':
        entries.push({ type: 'end', status: field('s') });
        break;
      default:
        // An entry of another version: skipped.
        break;
    }
  }
  return { entries, lastId };
}
