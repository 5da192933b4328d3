// The record's status changes, each one Lua script so that it is atomic: a cancel and a worker's start
// cannot both win, a batch's counters and the index of recent invocations move with the record's
// status, and `finished` is published exactly once, by the change that finished the invocation.
//
// KEYS of every status script: the record, its log stream, the index's sets of its function
// (redis/invocation-index.ts indexKeys(), INDEX_KEY_COUNT of them), then, when it is in a batch, the
// batch hash and its member list. ARGV: the index's cap and TTL, then each script's own.
// Final statuses: succeeded, failed, timed_out, cancelled.
//
// A run is named by the attempt number BEGIN gave it and its worker. A worker cut off from Redis
// (a partition, a long pause) past its job's lock goes on running the function while another worker
// takes the job back and runs it again; when the first one's writes arrive, late, a run that is no
// longer the record's current one must change nothing: its finish and requeue are refused (`stale`).
import { INDEX_KEY_COUNT, INDEX_LUA } from './invocation-index.js';

/** Position in KEYS of the batch hash (its member list follows), after the record, log and index. */
const BATCH = 3 + INDEX_KEY_COUNT;

const RUN_CHECK = `
-- Whether the run that BEGIN made attempt number 'attempt', on 'worker', is the one the record says runs now.
-- No attempt (''): the caller is no run (a gateway, a worker finding a job lost), nothing to check.
local function isCurrentRun(attempt, worker)
  if attempt == nil or attempt == '' then return true end
  return redis.call('HGET', KEYS[1], 'status') == 'running'
    and redis.call('HGET', KEYS[1], 'attempts') == attempt
    and redis.call('HGET', KEYS[1], 'worker') == worker
end
`;

const COMMON = `
local INDEX = 3
local BATCH = ${BATCH}
local INDEX_CAP = tonumber(ARGV[1])
local INDEX_TTL = tonumber(ARGV[2])
${INDEX_LUA}
local function isFinal(status)
  return status == 'succeeded' or status == 'failed' or status == 'timed_out' or status == 'cancelled'
end

${RUN_CHECK}
-- Moves the record to a final status; the caller has checked that it was not final. \`outcome\` is
-- the result's summary (timings, error) that lists read instead of the whole result.
local function finish(prev, status, now, result, outcome, ttl, batchTtl, channel, id)
  redis.call('HSET', KEYS[1], 'status', status, 'finishedAt', now)
  if result ~= '' then redis.call('HSET', KEYS[1], 'result', result, 'outcome', outcome) end
  redis.call('HDEL', KEYS[1], 'cancelRequested')
  redis.call('EXPIRE', KEYS[1], ttl)
  local idempotency = redis.call('HGET', KEYS[1], 'idempotencyKey')
  if idempotency then redis.call('EXPIRE', idempotency, ttl) end
  redis.call('XADD', KEYS[2], '*', 't', 'end', 's', status)
  redis.call('EXPIRE', KEYS[2], ttl)
  reindex(prev, status)
  if #KEYS > BATCH then
    redis.call('HINCRBY', KEYS[BATCH], prev, -1)
    redis.call('HINCRBY', KEYS[BATCH], status, 1)
    local finished = redis.call('HINCRBY', KEYS[BATCH], 'finished', 1)
    local count = tonumber(redis.call('HGET', KEYS[BATCH], 'count') or '0')
    if finished >= count then
      redis.call('HSET', KEYS[BATCH], 'finishedAt', now)
      redis.call('EXPIRE', KEYS[BATCH], batchTtl)
      redis.call('EXPIRE', KEYS[BATCH + 1], batchTtl)
    end
  end
  redis.call('PUBLISH', channel, cjson.encode({ type = 'finished', id = id, status = status }))
  return { 'finished', redis.call('HGET', KEYS[1], 'callbackUrl') or '', redis.call('HGET', KEYS[1], 'callbackFormat') or '' }
end
`;

/**
 * A worker starts a run. ARGV (after the index's two): now, worker, id, function, createdAt, pendingTtl.
 * Returns {'run', attempts} | {'final', status} | {'cancel', status} (a cancel came first).
 * A record that expired while queued is made again from the job.
 */
export const BEGIN = `
${COMMON}
local status = redis.call('HGET', KEYS[1], 'status')
local prev = status
if not status then
  redis.call('HSET', KEYS[1], 'id', ARGV[5], 'function', ARGV[6], 'createdAt', ARGV[7], 'status', 'queued', 'attempts', 0)
  status = 'queued'
end
if isFinal(status) then return { 'final', status } end
if redis.call('HGET', KEYS[1], 'cancelRequested') == '1' then return { 'cancel', status } end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'startedAt', ARGV[3], 'worker', ARGV[4])
redis.call('HDEL', KEYS[1], 'sandbox')
if redis.call('HEXISTS', KEYS[1], 'queuedMs') == 0 then
  local created = tonumber(redis.call('HGET', KEYS[1], 'createdAt') or ARGV[3])
  redis.call('HSET', KEYS[1], 'queuedMs', tonumber(ARGV[3]) - created)
end
redis.call('EXPIRE', KEYS[1], ARGV[8])
reindex(prev, 'running')
if #KEYS > BATCH and status == 'queued' then
  redis.call('HINCRBY', KEYS[BATCH], 'queued', -1)
  redis.call('HINCRBY', KEYS[BATCH], 'running', 1)
end
return { 'run', tostring(attempts) }
`;

/**
 * A run ended without finishing the invocation (a retry follows, the worker shut down, or it was
 * lost): running → queued. ARGV (after the index's two): lastError (JSON, or ''), pendingTtl, [the
 * run's attempt, its worker]. Returns 1 when it moved; 0 when it was not running, or another run is
 * the current one.
 */
export const REQUEUE = `
${COMMON}
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
if not isCurrentRun(ARGV[5], ARGV[6]) then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued')
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'lastError', ARGV[3]) end
redis.call('HDEL', KEYS[1], 'sandbox')
redis.call('EXPIRE', KEYS[1], ARGV[4])
reindex('running', 'queued')
if #KEYS > BATCH then
  redis.call('HINCRBY', KEYS[BATCH], 'running', -1)
  redis.call('HINCRBY', KEYS[BATCH], 'queued', 1)
end
return 1
`;

/**
 * The invocation ends. ARGV (after the index's two): status, now, result (JSON), outcome (JSON), ttl,
 * batchTtl, channel, id, function, [the finishing run's attempt, its worker]. A record that expired
 * meanwhile is made again, created now. Returns {'finished', callbackUrl, callbackFormat} |
 * {'already', status} | {'stale', status, attempts, worker} (another run is the current one: the
 * record and its current run's).
 */
export const FINISH = `
${COMMON}
local prev = redis.call('HGET', KEYS[1], 'status')
if not prev then
  -- Expired while it ran (kept PIDBOX_KEEP_PENDING_SECONDS after its last change): no other run is known.
  redis.call('HSET', KEYS[1], 'id', ARGV[10], 'function', ARGV[11], 'createdAt', ARGV[4], 'attempts', 0)
  prev = 'queued'
elseif isFinal(prev) then
  return { 'already', prev }
elseif not isCurrentRun(ARGV[12], ARGV[13]) then
  return { 'stale', prev, redis.call('HGET', KEYS[1], 'attempts') or '', redis.call('HGET', KEYS[1], 'worker') or '' }
end
return finish(prev, ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
`;

/**
 * DELETE /invocations/{id}. ARGV (after the index's two): now, result for a queued one (JSON), its
 * outcome (JSON), ttl, batchTtl, channel, id, controlChannel. A queued invocation is finished
 * `cancelled` at once; a running one is marked, and the workers are told on the control channel (in
 * the same script: a mark is never left untold). Returns {'finished', callbackUrl, callbackFormat}
 * | {'cancelling'} | {'already', status} | {'missing'}.
 */
export const CANCEL = `
${COMMON}
local prev = redis.call('HGET', KEYS[1], 'status')
if not prev then return { 'missing' } end
if isFinal(prev) then return { 'already', prev } end
if prev == 'running' then
  redis.call('HSET', KEYS[1], 'cancelRequested', '1')
  redis.call('PUBLISH', ARGV[10], cjson.encode({ type = 'cancel', id = ARGV[9] }))
  return { 'cancelling' }
end
return finish(prev, 'cancelled', ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
`;

/**
 * Creates a queued record, or finds the one an Idempotency-Key already names. KEYS: the record, its
 * log (unused), the index's sets, then the idempotency key when there is one. ARGV (after the
 * index's two): id, pendingTtl, then field/value pairs. Returns {id, 'created'|'existing'}.
 */
export const CREATE = `
${COMMON}
local IDEMPOTENCY = BATCH
if #KEYS >= IDEMPOTENCY then
  local existing = redis.call('GET', KEYS[IDEMPOTENCY])
  if existing then return { existing, 'existing' } end
  redis.call('SET', KEYS[IDEMPOTENCY], ARGV[3], 'EX', ARGV[4])
end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if #KEYS >= IDEMPOTENCY then redis.call('HSET', KEYS[1], 'idempotencyKey', KEYS[IDEMPOTENCY]) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
reindex(false, 'queued')
return { ARGV[3], 'created' }
`;

/**
 * Sets fields of the current run's record: one that still exists (never makes a record without a
 * TTL) and, with a run given, whose current run it is. ARGV: the run's attempt, its worker (both ''
 * for none), then field/value pairs. Returns 1 when it set them.
 */
export const UPDATE_RUN = `
${RUN_CHECK}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if not isCurrentRun(ARGV[1], ARGV[2]) then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`;

/** Sets fields of a record that still exists (never makes a record without a TTL). ARGV: field/value pairs. */
export const UPDATE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`;
