// Pages of recent invocations (`GET /invocations`), newest first, read from the index
// (redis/invocation-index.ts). An entry whose record expired, was made again, or has left the
// status or function of the set is skipped, and pruned from the set on the way, so that the lists
// shrink as records expire even when nothing else touches them.
import type { RedisClient } from './redis-client.js';
import { FINAL_STATUSES, type InvocationStatus } from '../contracts/invocation.js';
import type { InvocationSummary } from '../contracts/invocation-list.js';
import { indexEntry, parseIndexEntry, PRUNE, type IndexFilter } from './invocation-index.js';
import type { StoredOutcome, StoredResult } from './invocation-store.js';
import { outcomeOf, parseJson, recordHeader } from './invocation-store.js';
import type { RedisKeys } from './redis-keys.js';
import { runScript } from './run-script.js';

export interface ListQuery extends IndexFilter {
  /** Most summaries on the page. */
  limit: number;
  /** The entry after which the page starts (a decoded cursor), or null for the newest. */
  after: string | null;
}

export interface ListPage {
  summaries: InvocationSummary[];
  /** The entry to pass as `after` for the next page; null when there is none. */
  next: string | null;
}

/**
 * Most entries one page looks at: a list full of entries of expired records is pruned a page at a
 * time, and the page says where to go on (its `next`), rather than one request walking the whole set.
 */
const MAX_SCANNED = 1000;

/** The record's fields a summary is made of (never its result, unless an older version left no outcome). */
const FIELDS = ['id', 'function', 'status', 'attempts', 'maxAttempts', 'createdAt', 'startedAt', 'finishedAt', 'queuedMs', 'lastError', 'batchId', 'outcome'] as const;

export async function readInvocationPage(redis: RedisClient, keys: RedisKeys, query: ListQuery): Promise<ListPage> {
  const set = keys.invocationIndex(query);
  const found: Array<{ entry: string; summary: InvocationSummary }> = [];
  let max = query.after === null ? '+' : `(${query.after}`;
  let scanned = 0;
  let lastScanned: string | null = null;
  let exhausted = false;
  // One more than the page, to know whether a next page exists.
  while (found.length <= query.limit && scanned < MAX_SCANNED) {
    const want = Math.min(query.limit + 1 - found.length, MAX_SCANNED - scanned);
    const entries = await redis.zrevrangebylex(set, max, '-', 'LIMIT', 0, want);
    scanned += entries.length;
    if (entries.length > 0) {
      lastScanned = entries[entries.length - 1]!;
      max = `(${lastScanned}`;
    }
    const parsed = entries.map((entry) => ({ entry, parts: parseIndexEntry(entry) }));
    const hashes = await readFields(redis, keys, parsed.map((p) => p.parts?.id ?? ''));
    const stale: string[] = [];
    for (const [i, { entry, parts }] of parsed.entries()) {
      const hash = hashes[i]!;
      if (!parts || !isCurrent(hash, entry, query)) {
        stale.push(entry);
        continue;
      }
      found.push({ entry, summary: await toSummary(redis, keys, hash) });
    }
    if (stale.length > 0) await prune(redis, keys, set, query, stale);
    if (entries.length < want) {
      exhausted = true;
      break;
    }
  }
  if (found.length > query.limit) {
    const page = found.slice(0, query.limit);
    return { summaries: page.map((f) => f.summary), next: page[page.length - 1]!.entry };
  }
  // Either the set ended, or this page looked at all it may: the next one starts where it stopped.
  return { summaries: found.map((f) => f.summary), next: exhausted || lastScanned === null ? null : lastScanned };
}

async function readFields(redis: RedisClient, keys: RedisKeys, ids: string[]): Promise<Array<Record<string, string>>> {
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(keys.invocation(id === '' ? '-' : id), ...FIELDS);
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([error, values]) => {
    if (error) throw error;
    const hash: Record<string, string> = {};
    (values as Array<string | null>).forEach((value, i) => {
      if (value !== null) hash[FIELDS[i]!] = value;
    });
    return hash;
  });
}

/** The entry is the record's, and the record is in the set's status and function. */
function isCurrent(hash: Record<string, string>, entry: string, filter: IndexFilter): boolean {
  if (hash.status === undefined || hash.id === undefined) return false;
  if (indexEntry(hash.createdAt ?? '0', hash.id) !== entry) return false;
  if (filter.status !== undefined && hash.status !== filter.status) return false;
  return filter.function === undefined || hash.function === filter.function;
}

async function prune(redis: RedisClient, keys: RedisKeys, set: string, filter: IndexFilter, entries: string[]): Promise<void> {
  const records = entries.map((entry) => keys.invocation(parseIndexEntry(entry)?.id ?? '-'));
  await runScript(redis, PRUNE, [set, ...records], [filter.status ?? '', filter.function ?? '', ...entries]);
}

async function toSummary(redis: RedisClient, keys: RedisKeys, hash: Record<string, string>): Promise<InvocationSummary> {
  let outcome = parseJson<StoredOutcome>(hash.outcome);
  if (outcome === null && FINAL_STATUSES.includes(hash.status as InvocationStatus)) {
    // Finished by a version that kept no outcome: read it from the result, once.
    const result = parseJson<StoredResult>((await redis.hget(keys.invocation(hash.id!), 'result')) ?? undefined);
    if (result) outcome = outcomeOf(result);
  }
  return {
    ...recordHeader(hash),
    timings: {
      queuedMs: hash.queuedMs === undefined ? null : Number(hash.queuedMs),
      startMs: outcome?.startMs ?? null,
      runMs: outcome?.runMs ?? null,
    },
    // As the record says it: why it did not succeed, or, queued for a retry, why the last run failed.
    error: outcome?.error ?? parseJson<{ code: string; message: string }>(hash.lastError),
    batchId: hash.batchId ?? null,
  };
}


