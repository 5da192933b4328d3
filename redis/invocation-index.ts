// The index of recent invocations behind `GET /invocations`: sorted sets of entries
// `<createdAt ms, 15 digits>:<id>`, all of score 0, so that Redis keeps them in order of creation
// (ZREVRANGEBYLEX walks them newest first, and an entry is a cursor that stays valid while entries
// come and go). One set of every invocation, one per function, one per status and one per function
// and status, so that every filter reads one set.
//
// The record scripts (redis/store-scripts.ts) move an invocation between the status sets in the
// same script that changes its status, so a status set holds exactly the invocations in that status
// — except the entries of records that expired, which Redis cannot tell the index about. Those are
// skipped and pruned by the readers (PRUNE, which checks again inside Redis, atomically), and the
// sets stay bounded all the same: each keeps at most `listMaxEntries` entries (the oldest go), and
// expires with the last record that could be in it.
import type { InvocationStatus } from '../contracts/invocation.js';
import { INVOCATION_STATUSES } from '../contracts/invocation-list.js';
import type { RedisKeys } from './redis-keys.js';

/** Digits of an entry's creation time: milliseconds until the year 33658. */
const TIME_DIGITS = 15;
const ENTRY = /^(\d{15}):([A-Za-z0-9_-]{1,128})$/;

/**
 * The index's keys that a status change of one invocation of `functionName` touches, in the order
 * INDEX_LUA reads them: every invocation, the function's, one per status (INVOCATION_STATUSES'
 * order), then the function's per status.
 */
export function indexKeys(keys: RedisKeys, functionName: string): string[] {
  return [
    keys.invocationIndex({}),
    keys.invocationIndex({ function: functionName }),
    ...INVOCATION_STATUSES.map((status) => keys.invocationIndex({ status })),
    ...INVOCATION_STATUSES.map((status) => keys.invocationIndex({ function: functionName, status })),
  ];
}

export const INDEX_KEY_COUNT = 2 + 2 * INVOCATION_STATUSES.length;

/** How long the index's sets are kept after a change: as long as any record can be. */
export function indexTtlSeconds(config: { keepSucceededSeconds: number; keepFailedSeconds: number; keepPendingSeconds: number }): number {
  return Math.max(config.keepSucceededSeconds, config.keepFailedSeconds, config.keepPendingSeconds);
}

export function indexEntry(createdAtMs: number | string, id: string): string {
  return `${String(createdAtMs).padStart(TIME_DIGITS, '0')}:${id}`;
}

/** An entry's parts, or null for anything that is not an entry (a forged cursor). */
export function parseIndexEntry(entry: string): { createdAtMs: number; id: string } | null {
  const match = ENTRY.exec(entry);
  return match ? { createdAtMs: Number(match[1]), id: match[2]! } : null;
}

/**
 * Lua functions for the record scripts. They expect `INDEX` (the position in KEYS of the first of
 * indexKeys()), `INDEX_CAP` (listMaxEntries) and `INDEX_TTL` (indexTtlSeconds) to be set, and the
 * record at KEYS[1] to have its `id` and `createdAt`.
 */
export const INDEX_LUA = `
local STATUS_OFFSET = { ${INVOCATION_STATUSES.map((status, i) => `${status} = ${i}`).join(', ')} }

local function indexEntry()
  local created = redis.call('HGET', KEYS[1], 'createdAt') or '0'
  return string.rep('0', ${TIME_DIGITS} - #created) .. created .. ':' .. (redis.call('HGET', KEYS[1], 'id') or '')
end

-- The status set and the function's status set of one status.
local function statusKeys(status)
  local offset = STATUS_OFFSET[status]
  if offset == nil then return {} end
  return { KEYS[INDEX + 2 + offset], KEYS[INDEX + 2 + ${INVOCATION_STATUSES.length} + offset] }
end

local function indexAdd(key, entry)
  redis.call('ZADD', key, 0, entry)
  -- All of score 0: rank is the order of creation, and rank 0 the oldest.
  redis.call('ZREMRANGEBYRANK', key, 0, -INDEX_CAP - 1)
  -- Each change makes its sets outlive the record it changed (no record is kept longer than INDEX_TTL).
  redis.call('EXPIRE', key, INDEX_TTL)
end

-- The record (now in \`status\`, before in \`prev\`, or new when prev is false) moves in the index.
local function reindex(prev, status)
  local entry = indexEntry()
  if prev and prev ~= status then
    for _, key in ipairs(statusKeys(prev)) do redis.call('ZREM', key, entry) end
  end
  indexAdd(KEYS[INDEX], entry)
  indexAdd(KEYS[INDEX + 1], entry)
  for _, key in ipairs(statusKeys(status)) do indexAdd(key, entry) end
end
`;

/**
 * Removes the entries that are stale: their record is gone (expired), is another record under the
 * same id (made again, with a new creation time), or is no longer in the set's status or function.
 * Checked here, inside Redis, so that a record that moved back meanwhile keeps its entry.
 * KEYS: the set, then the record of each entry. ARGV: the set's status or '', its function or '',
 * then the entries. Returns how many went.
 */
export const PRUNE = `
local removed = 0
for i = 3, #ARGV do
  local entry = ARGV[i]
  local fields = redis.call('HMGET', KEYS[i - 1], 'createdAt', 'status', 'function')
  local created = fields[1] or ''
  local stale = not fields[2]
    or string.rep('0', ${TIME_DIGITS} - #created) .. created ~= string.sub(entry, 1, ${TIME_DIGITS})
    or (ARGV[1] ~= '' and fields[2] ~= ARGV[1])
    or (ARGV[2] ~= '' and fields[3] ~= ARGV[2])
  if stale then removed = removed + redis.call('ZREM', KEYS[1], entry) end
end
return removed
`;

export type IndexFilter = { function?: string; status?: InvocationStatus };
