// Invocation records in Redis: one hash per invocation, written as it goes (queued → running →
// final) by whichever process moves it, read back by any gateway. Nothing about an invocation lives
// in one process's memory.
import type { FunctionResult, InvocationRequest, InvocationStatus } from '../contracts/invocation.js';
import type { CallbackFormat } from '../contracts/job.js';
import type { CallbackState, InvocationRecord, RecordResponse } from '../contracts/invocation-record.js';
import type { QueueConfig } from '../config/queue-config.js';
import type { RedisClient } from './redis-client.js';
import type { RedisKeys } from './redis-keys.js';
import { BEGIN, CANCEL, CREATE, FINISH, REQUEUE, UPDATE, UPDATE_RUN } from './store-scripts.js';
import { indexKeys, indexTtlSeconds } from './invocation-index.js';
import { retryWhileUnavailable } from './retry-while-unavailable.js';
import { runScript } from './run-script.js';
import { didRun } from './unrun-result.js';

export interface NewInvocation {
  id: string;
  functionName: string;
  request: InvocationRequest;
  maxAttempts: number;
  batchId?: string;
  callbackUrl?: string;
  callbackFormat?: CallbackFormat;
  /** The caller's Idempotency-Key: a second invocation with the same key finds the first. */
  idempotencyKey?: string;
  /** Trace id of the context its job carries (unset when tracing is off). */
  traceId?: string;
  /** The invocation this one re-drives (POST /invocations/{id}/retry). */
  retryOf?: string;
}

export type BeginOutcome =
  | { kind: 'run'; attempt: number }
  | { kind: 'final'; status: InvocationStatus }
  | { kind: 'cancel' };

/**
 * One run of an invocation: the attempt number BEGIN gave it and the worker that runs it. A worker
 * names its run when it finishes or requeues, so that a run which is no longer the current one (its
 * worker was cut off past its job's lock, and the job runs again elsewhere) changes nothing.
 */
export interface RunIdentity {
  attempt: number;
  /** `host:pid`, as BEGIN recorded it. */
  worker: string;
}

type SettledOutcome =
  | { kind: 'finished'; callback: { url: string; format: CallbackFormat } | null }
  | { kind: 'already'; status: InvocationStatus };

/** `stale`: the finishing run is no longer the current one; `current` is the record's. */
export type FinishOutcome = SettledOutcome | { kind: 'stale'; status: InvocationStatus; current: RunIdentity };

export type CancelOutcome = SettledOutcome | { kind: 'cancelling' } | { kind: 'missing' };

/**
 * The result kept in the record: the function's outcome with the end of its log, and, when it did
 * not succeed, the request it was given, so that it can be re-driven (POST /invocations/{id}/retry)
 * after its job has gone from the queue.
 */
export type StoredResult = FunctionResult & { request?: InvocationRequest };

/** What re-driving an invocation needs: where it stands, its function, and its request when kept. */
export interface RetrySource {
  status: InvocationStatus;
  functionName: string;
  request: InvocationRequest | null;
}

/**
 * What lists show of a result, kept beside it in the record (`outcome`), so that a page of summaries
 * does not read whole results (a response body may be megabytes).
 */
export interface StoredOutcome {
  startMs: number | null;
  runMs: number | null;
  error: { code: string; message: string } | null;
}

export function outcomeOf(result: StoredResult): StoredOutcome {
  const ran = didRun(result);
  return { startMs: ran ? result.timings.startMs : null, runMs: ran ? result.timings.runMs : null, error: result.error ?? null };
}

export interface InvocationStoreOptions {
  /**
   * A run's status changes (begin, requeue, finish) are tried again while Redis is unreachable or
   * full, until it takes them (redis/retry-while-unavailable.ts): the worker's, whose results are
   * never given up for a Redis restart, a failover or a full Redis. Default: false (the gateway's:
   * a caller is waiting, a failure is answered at once).
   */
  retryWhileUnavailable?: boolean;
}

export class InvocationStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly config: Pick<QueueConfig, 'keepSucceededSeconds' | 'keepFailedSeconds' | 'keepPendingSeconds' | 'listMaxEntries'>,
    private readonly options: InvocationStoreOptions = {},
  ) {}

  /** Creates a queued record; with an idempotency key, the id of an earlier invocation with that key wins. */
  async create(invocation: NewInvocation, now = Date.now()): Promise<{ id: string; created: boolean }> {
    const keys = this.statusKeys(invocation.id, invocation.functionName);
    if (invocation.idempotencyKey !== undefined) keys.push(this.keys.idempotency(invocation.functionName, invocation.idempotencyKey));
    const [id, how] = (await runScript(this.redis, CREATE, keys, [
      ...this.indexArgs(),
      invocation.id,
      this.config.keepPendingSeconds,
      ...recordFields(invocation, now),
    ])) as [string, string];
    return { id, created: how === 'created' };
  }

  async get(id: string): Promise<InvocationRecord | null> {
    const hash = await this.redis.hgetall(this.keys.invocation(id));
    return hash.status === undefined ? null : toRecord(hash);
  }

  /** Where an invocation stands and the request it was given, for a retry; null when there is no record. */
  async retrySource(id: string): Promise<RetrySource | null> {
    const [status, functionName, result] = await this.redis.hmget(this.keys.invocation(id), 'status', 'function', 'result');
    if (!status) return null;
    const request = parseJson<StoredResult>(result ?? undefined)?.request;
    return { status: status as InvocationStatus, functionName: functionName ?? '', request: request ?? null };
  }

  /** Links a record to the invocation that re-drives it (a record that is gone stays gone). */
  async setRetriedBy(id: string, retryId: string): Promise<void> {
    await runScript(this.redis, UPDATE, [this.keys.invocation(id)], ['retriedBy', retryId]);
  }

  /**
   * Several records in one round trip, in order; null where one is gone. One pipeline: on a Redis
   * Cluster every record is in the one slot of pidbox's keys (redis/redis-keys.ts).
   */
  async getMany(ids: string[]): Promise<Array<InvocationRecord | null>> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.invocation(id));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, hash]) => {
      if (error) throw error;
      const h = hash as Record<string, string>;
      return h.status === undefined ? null : toRecord(h);
    });
  }

  /** Statuses only, for the sync waiters' sweep. */
  async statuses(ids: string[]): Promise<Array<InvocationStatus | null>> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.keys.invocation(id), 'status');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([, status]) => (status as InvocationStatus | null) ?? null);
  }

  /** Whether each record carries a cancel mark (a cancel asked for while it ran). */
  async cancelRequests(ids: string[]): Promise<boolean[]> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.keys.invocation(id), 'cancelRequested');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([, mark]) => mark === '1');
  }

  /** A worker starts a run: queued (or running, after a lost worker) → running. */
  async begin(id: string, functionName: string, worker: string, createdAt: number, batchId?: string): Promise<BeginOutcome> {
    const [kind, value] = (await this.runStatusChange(BEGIN, this.statusKeys(id, functionName, batchId), () => [
      ...this.indexArgs(), Date.now(), worker, id, functionName, createdAt, this.config.keepPendingSeconds,
    ])) as [string, string];
    switch (kind) {
      case 'run':
        return { kind: 'run', attempt: Number(value) };
      case 'cancel':
        return { kind: 'cancel' };
      default:
        return { kind: 'final', status: value as InvocationStatus };
    }
  }

  /**
   * running → queued: a retry follows, or the run was handed back (shutdown, lost worker). With
   * `run`, only while that run is the current one. Returns whether it moved.
   */
  async requeue(id: string, functionName: string, lastError: { code: string; message: string } | null, batchId?: string, run?: RunIdentity): Promise<boolean> {
    const moved = await this.runStatusChange(REQUEUE, this.statusKeys(id, functionName, batchId), () => [
      ...this.indexArgs(), lastError ? JSON.stringify(lastError) : '', this.config.keepPendingSeconds, ...runArgs(run),
    ]);
    return moved === 1;
  }

  /**
   * Finishes the invocation (publishing `finished`), unless it already is. With `run` (a worker's
   * run finishing), only while that run is the current one; without (a gateway, a worker that finds
   * a job it cannot run), whatever runs.
   */
  async finish(id: string, functionName: string, result: StoredResult, batchId?: string, run?: RunIdentity): Promise<FinishOutcome> {
    const reply = (await this.runStatusChange(FINISH, this.statusKeys(id, functionName, batchId), () => [
      ...this.indexArgs(), result.status, Date.now(), JSON.stringify(result), JSON.stringify(outcomeOf(result)), this.ttlOf(result.status), this.batchTtl(),
      this.keys.finishedChannel, id, functionName, ...runArgs(run),
    ])) as string[];
    return finishOutcome(reply);
  }

  /** Cancels: a queued invocation ends now; a running one is marked, for its worker to kill. */
  async cancel(id: string, functionName: string, result: StoredResult, batchId?: string): Promise<CancelOutcome> {
    const reply = (await runScript(this.redis, CANCEL, this.statusKeys(id, functionName, batchId), [
      ...this.indexArgs(), Date.now(), JSON.stringify(result), JSON.stringify(outcomeOf(result)), this.ttlOf('cancelled'), this.batchTtl(), this.keys.finishedChannel, id,
      this.keys.controlChannel,
    ])) as string[];
    if (reply[0] === 'cancelling') return { kind: 'cancelling' };
    if (reply[0] === 'missing') return { kind: 'missing' };
    return settledOutcome(reply);
  }

  /**
   * Records the sandbox of the current run as soon as it exists (its host pid, its namespace); with
   * `run`, not when another run has taken over meanwhile.
   */
  async setSandbox(id: string, sandbox: { hostPid: number; pidNamespace: string }, run?: RunIdentity): Promise<void> {
    const who = run ? runArgs(run) : ['', ''];
    await runScript(this.redis, UPDATE_RUN, [this.keys.invocation(id)], [...who, 'sandbox', JSON.stringify(sandbox)]);
  }

  async setCallbackState(id: string, state: CallbackState): Promise<void> {
    await runScript(this.redis, UPDATE, [this.keys.invocation(id)], ['callback', JSON.stringify(state)]);
  }

  /** A run's status change, tried again while Redis is unavailable when the options say so; `args` read at each try (the time). */
  private runStatusChange(script: string, keys: string[], args: () => Array<string | number>): Promise<unknown> {
    const run = (): Promise<unknown> => runScript(this.redis, script, keys, args());
    return this.options.retryWhileUnavailable ? retryWhileUnavailable(this.redis, run) : run();
  }

  /** KEYS of a status script (redis/store-scripts.ts): record, log, the index's sets, the batch's keys. */
  private statusKeys(id: string, functionName: string, batchId?: string): string[] {
    const keys = [this.keys.invocation(id), this.keys.log(id), ...indexKeys(this.keys, functionName)];
    if (batchId) keys.push(this.keys.batch(batchId), this.keys.batchMembers(batchId));
    return keys;
  }

  /** The first two ARGV of a status script: the index's cap and TTL. */
  private indexArgs(): number[] {
    return [this.config.listMaxEntries, indexTtlSeconds(this.config)];
  }

  private ttlOf(status: InvocationStatus): number {
    return status === 'succeeded' ? this.config.keepSucceededSeconds : this.config.keepFailedSeconds;
  }

  private batchTtl(): number {
    return Math.max(this.config.keepSucceededSeconds, this.config.keepFailedSeconds);
  }
}

export function recordFields(invocation: NewInvocation, now: number): Array<string | number> {
  const fields: Array<string | number> = [
    'id', invocation.id,
    'function', invocation.functionName,
    'status', 'queued',
    'attempts', 0,
    'maxAttempts', invocation.maxAttempts,
    'createdAt', now,
    'method', invocation.request.method,
    'path', invocation.request.path,
  ];
  if (invocation.batchId) fields.push('batchId', invocation.batchId);
  if (invocation.traceId) fields.push('traceId', invocation.traceId);
  if (invocation.retryOf) fields.push('retryOf', invocation.retryOf);
  if (invocation.callbackUrl) {
    fields.push('callbackUrl', invocation.callbackUrl, 'callbackFormat', invocation.callbackFormat ?? 'record');
    const pending: CallbackState = { status: 'pending', url: invocation.callbackUrl, attempts: 0 };
    fields.push('callback', JSON.stringify(pending));
  }
  return fields;
}

function runArgs(run: RunIdentity | undefined): string[] {
  return run ? [String(run.attempt), run.worker] : [];
}

function finishOutcome(reply: string[]): FinishOutcome {
  switch (reply[0]) {
    case 'finished': {
      const url = reply[1] ?? '';
      return { kind: 'finished', callback: url === '' ? null : { url, format: (reply[2] || 'record') as CallbackFormat } };
    }
    case 'stale':
      return { kind: 'stale', status: reply[1] as InvocationStatus, current: { attempt: Number(reply[2] ?? 0), worker: reply[3] ?? '' } };
    default:
      return { kind: 'already', status: reply[1] as InvocationStatus };
  }
}

/** CANCEL's `finished` and `already` replies are FINISH's; it never answers `stale`. */
function settledOutcome(reply: string[]): SettledOutcome {
  const outcome = finishOutcome(reply);
  if (outcome.kind === 'stale') throw new Error('CANCEL cannot answer stale');
  return outcome;
}

/** The fields a record and a list's summary of it share, as the record's hash holds them. */
export function recordHeader(hash: Record<string, string>): Pick<InvocationRecord, 'id' | 'function' | 'status' | 'attempts' | 'maxAttempts' | 'createdAt' | 'startedAt' | 'finishedAt'> {
  const time = (field: string | undefined): string | null => (field ? new Date(Number(field)).toISOString() : null);
  return {
    id: hash.id ?? '',
    function: hash.function ?? '',
    status: hash.status as InvocationStatus,
    attempts: Number(hash.attempts ?? 0),
    maxAttempts: Number(hash.maxAttempts ?? 1),
    createdAt: time(hash.createdAt) ?? new Date(0).toISOString(),
    startedAt: time(hash.startedAt),
    finishedAt: time(hash.finishedAt),
  };
}

function toRecord(hash: Record<string, string>): InvocationRecord {
  const result = parseJson<StoredResult>(hash.result);
  const live = parseJson<{ hostPid: number; pidNamespace: string }>(hash.sandbox);
  const ran = result !== null && didRun(result);
  const sandbox = result
    ? {
      pidNamespace: result.sandbox.pidNamespace,
      hostPid: result.sandbox.hostPid,
      zombiesReaped: result.sandbox.zombiesReaped,
      peakProcesses: result.sandbox.peakProcesses,
      cpuMs: result.sandbox.cpuMs ?? null,
      memoryPeakBytes: result.sandbox.memoryPeakBytes ?? null,
      prestarted: result.sandbox.prestarted ?? false,
    }
    : live
      ? { pidNamespace: live.pidNamespace, hostPid: live.hostPid, zombiesReaped: null, peakProcesses: null, cpuMs: null, memoryPeakBytes: null, prestarted: null }
      : null;
  return {
    ...recordHeader(hash),
    request: { method: hash.method ?? 'POST', path: hash.path ?? '/' },
    response: result ? renderResponse(result.response) : null,
    exit: ran ? result!.exit : null,
    timings: {
      queuedMs: hash.queuedMs === undefined ? null : Number(hash.queuedMs),
      startMs: ran ? result!.timings.startMs : null,
      runMs: ran ? result!.timings.runMs : null,
    },
    // A sandbox that never existed (cancelled while queued) is not reported.
    sandbox: sandbox && sandbox.pidNamespace ? sandbox : null,
    error: result?.error ?? parseJson<{ code: string; message: string }>(hash.lastError) ?? null,
    log: result?.log ?? '',
    logTruncated: result?.logTruncated ?? false,
    worker: hash.worker ?? null,
    batchId: hash.batchId ?? null,
    retryOf: hash.retryOf ?? null,
    retriedBy: hash.retriedBy ?? null,
    traceId: hash.traceId ?? null,
    callback: parseJson<CallbackState>(hash.callback),
  };
}

const TEXT_TYPE = /^(text\/|application\/([a-z0-9.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded|x-ndjson)\b)/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text when it is valid UTF-8 of a textual content type (or has none), else base64. */
export function renderResponse(response: FunctionResult['response']): RecordResponse {
  const type = Object.entries(response.headers).find(([name]) => name.toLowerCase() === 'content-type')?.[1] ?? '';
  if (type === '' || TEXT_TYPE.test(type)) {
    try {
      const body = utf8.decode(Buffer.from(response.bodyBase64, 'base64'));
      return { status: response.status, headers: response.headers, body, bodyEncoding: 'utf8' };
    } catch {
      // Not UTF-8: base64 below.
    }
  }
  return { status: response.status, headers: response.headers, body: response.bodyBase64, bodyEncoding: 'base64' };
}

/** A JSON field of a record's hash; null when it is missing or not JSON. */
export function parseJson<T>(text: string | undefined): T | null {
  if (text === undefined || text === '') return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}
