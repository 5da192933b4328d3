// The record's status changes, each one Lua script so that it is atomic: a cancel and a worker's start
// cannot both win, a batch's counters move with its members' statuses, and `finished` is published
// exactly once, by the change that finished the invocation.
//
// KEYS: the record, then (finish/cancel) its log stream, then (when in a batch) the batch hash and
// its member list. Final statuses: succeeded, failed, timed_out, cancelled.
//
// A run is named by the attempt number BEGIN gave it and its worker. A worker cut off from Redis
// (a partition, a long pause) past its job's lock goes on running the function while another worker
// takes the job back and runs it again; when the first one's writes arrive, late, a run that is no
// longer the record's current one must change nothing: its finish and requeue are refused (`stale`).

const COMMON = `
local function isFinal(status)
  return status == 'succeeded' or status == 'failed' or status == 'timed_out' or status == 'cancelled'
end

-- Whether the run that BEGIN made attempt number 'attempt', on 'worker', is the one the record says runs now.
-- No attempt (''): the caller is no run (a gateway, a worker finding a job lost), nothing to check.
local function isCurrentRun(attempt, worker)
  if attempt == nil or attempt == '' then return true end
  return redis.call('HGET', KEYS[1], 'status') == 'running'
    and redis.call('HGET', KEYS[1], 'attempts') == attempt
    and redis.call('HGET', KEYS[1], 'worker') == worker
end

-- Moves the record to a final status; the caller has checked that it was not final.
local function finish(prev, status, now, result, ttl, batchTtl, channel, id)
  redis.call('HSET', KEYS[1], 'status', status, 'finishedAt', now)
  if result ~= '' then redis.call('HSET', KEYS[1], 'result', result) end
  redis.call('HDEL', KEYS[1], 'cancelRequested')
  redis.call('EXPIRE', KEYS[1], ttl)
  local idempotency = redis.call('HGET', KEYS[1], 'idempotencyKey')
  if idempotency then redis.call('EXPIRE', idempotency, ttl) end
  redis.call('XADD', KEYS[2], '*', 't', 'end', 's', status)
  redis.call('EXPIRE', KEYS[2], ttl)
  if #KEYS >= 4 then
    redis.call('HINCRBY', KEYS[3], prev, -1)
    redis.call('HINCRBY', KEYS[3], status, 1)
    local finished = redis.call('HINCRBY', KEYS[3], 'finished', 1)
    local count = tonumber(redis.call('HGET', KEYS[3], 'count') or '0')
    if finished >= count then
      redis.call('HSET', KEYS[3], 'finishedAt', now)
      redis.call('EXPIRE', KEYS[3], batchTtl)
      redis.call('EXPIRE', KEYS[4], batchTtl)
    end
  end
  redis.call('PUBLISH', channel, cjson.encode({ type = 'finished', id = id, status = status }))
  return { 'finished', redis.call('HGET', KEYS[1], 'callbackUrl') or '', redis.call('HGET', KEYS[1], 'callbackFormat') or '' }
end
`;

/**
 * A worker starts a run. ARGV: now, worker, id, function, createdAt, pendingTtl.
 * Returns {'run', attempts} | {'final', status} | {'cancel', status} (a cancel came first).
 * A record that expired while queued is made again from the job.
 */
export const BEGIN = `
${COMMON}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  redis.call('HSET', KEYS[1], 'id', ARGV[3], 'function', ARGV[4], 'createdAt', ARGV[5], 'status', 'queued', 'attempts', 0)
  status = 'queued'
end
if isFinal(status) then return { 'final', status } end
if redis.call('HGET', KEYS[1], 'cancelRequested') == '1' then return { 'cancel', status } end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'startedAt', ARGV[1], 'worker', ARGV[2])
redis.call('HDEL', KEYS[1], 'sandbox')
if redis.call('HEXISTS', KEYS[1], 'queuedMs') == 0 then
  local created = tonumber(redis.call('HGET', KEYS[1], 'createdAt') or ARGV[1])
  redis.call('HSET', KEYS[1], 'queuedMs', tonumber(ARGV[1]) - created)
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
if #KEYS >= 2 and status == 'queued' then
  redis.call('HINCRBY', KEYS[2], 'queued', -1)
  redis.call('HINCRBY', KEYS[2], 'running', 1)
end
return { 'run', tostring(attempts) }
`;

/**
 * A run ended without finishing the invocation (a retry follows, the worker shut down, or it was
 * lost): running → queued. ARGV: lastError (JSON, or ''), pendingTtl, [the run's attempt, its
 * worker]. Returns 1 when it moved; 0 when it was not running, or another run is the current one.
 */
export const REQUEUE = `
${COMMON}
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
if not isCurrentRun(ARGV[3], ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued')
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'lastError', ARGV[1]) end
redis.call('HDEL', KEYS[1], 'sandbox')
redis.call('EXPIRE', KEYS[1], ARGV[2])
if #KEYS >= 2 then
  redis.call('HINCRBY', KEYS[2], 'running', -1)
  redis.call('HINCRBY', KEYS[2], 'queued', 1)
end
return 1
`;

/**
 * The invocation ends. ARGV: status, now, result (JSON), ttl, batchTtl, channel, id, function,
 * [the finishing run's attempt, its worker]. Returns {'finished', callbackUrl, callbackFormat} |
 * {'already', status} | {'stale', status, attempts, worker} (another run is the current one: the
 * record and its current run's).
 */
export const FINISH = `
${COMMON}
local prev = redis.call('HGET', KEYS[1], 'status')
if not prev then
  -- Expired while it ran (kept PIDBOX_KEEP_PENDING_SECONDS after its last change): no other run is known.
  redis.call('HSET', KEYS[1], 'id', ARGV[7], 'function', ARGV[8], 'createdAt', ARGV[2], 'attempts', 0)
  prev = 'queued'
elseif isFinal(prev) then
  return { 'already', prev }
elseif not isCurrentRun(ARGV[9], ARGV[10]) then
  return { 'stale', prev, redis.call('HGET', KEYS[1], 'attempts') or '', redis.call('HGET', KEYS[1], 'worker') or '' }
end
return finish(prev, ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
`;

/**
 * DELETE /invocations/{id}. ARGV: now, result for a queued one (JSON), ttl, batchTtl, channel, id,
 * controlChannel. A queued invocation is finished `cancelled` at once; a running one is marked, and
 * the workers are told on the control channel (in the same script: a mark is never left untold). Returns {'finished', callbackUrl, callbackFormat} | {'cancelling'}
 * | {'already', status} | {'missing'}.
 */
export const CANCEL = `
${COMMON}
local prev = redis.call('HGET', KEYS[1], 'status')
if not prev then return { 'missing' } end
if isFinal(prev) then return { 'already', prev } end
if prev == 'running' then
  redis.call('HSET', KEYS[1], 'cancelRequested', '1')
  redis.call('PUBLISH', ARGV[7], cjson.encode({ type = 'cancel', id = ARGV[6] }))
  return { 'cancelling' }
end
return finish(prev, 'cancelled', ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
`;

/**
 * Creates a queued record, or finds the one an Idempotency-Key already names. KEYS: record,
 * [idempotency key]. ARGV: id, pendingTtl, then field/value pairs. Returns {id, 'created'|'existing'}.
 */
export const CREATE = `
if #KEYS >= 2 then
  local existing = redis.call('GET', KEYS[2])
  if existing then return { existing, 'existing' } end
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if #KEYS >= 2 then redis.call('HSET', KEYS[1], 'idempotencyKey', KEYS[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return { ARGV[1], 'created' }
`;

/**
 * Sets fields of the current run's record: one that still exists (never makes a record without a
 * TTL) and, with a run given, whose current run it is. ARGV: the run's attempt, its worker (both ''
 * for none), then field/value pairs. Returns 1 when it set them.
 */
export const UPDATE_RUN = `
${COMMON}
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
