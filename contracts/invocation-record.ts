// What `GET /invocations/{id}` returns, what a `record` callback POSTs, and what `GET /batches/{id}`
// returns. The worker writes the parts of a record as the invocation goes (queued → running → final);
// redis/invocation-store.ts reads them back into this shape.
import type { InvocationStatus } from './invocation.js';

export interface RecordResponse {
  status: number;
  headers: Record<string, string>;
  /** The body as text when it is valid UTF-8 of a textual type, else base64 (see `bodyEncoding`). */
  body: string;
  bodyEncoding: 'utf8' | 'base64';
}

export interface CallbackState {
  /** `pending` until delivered, `delivered` on a 2xx answer, `failed` after the last attempt. */
  status: 'pending' | 'delivered' | 'failed';
  url: string;
  attempts: number;
  /** HTTP status of the last answer, when there was one. */
  lastStatus?: number;
  lastError?: string;
}

export interface InvocationRecord {
  id: string;
  function: string;
  status: InvocationStatus;
  /** Runs started so far: 1 for most, more after retries or a lost worker. */
  attempts: number;
  /** Most runs allowed: 1 + the function's `retries`. */
  maxAttempts: number;
  /** ISO 8601. */
  createdAt: string;
  /** Start of the latest run, ISO 8601. */
  startedAt: string | null;
  finishedAt: string | null;
  /** Method and path the function got. */
  request: { method: string; path: string };
  /** Once finished: the function's response, or the error response pidbox made for it. */
  response: RecordResponse | null;
  exit: { code: number | null; signal: string | null } | null;
  timings: {
    /** Enqueued → first run started. */
    queuedMs: number | null;
    /** Sandbox spawn → function started (latest run). */
    startMs: number | null;
    /** Function started → exited (latest run). */
    runMs: number | null;
  };
  /** The sandbox of the latest run; `hostPid` is the host pid of its init (PID 1 inside). */
  sandbox: {
    pidNamespace: string;
    hostPid: number;
    zombiesReaped: number | null;
    peakProcesses: number | null;
    /** CPU time of the function's processes, ms (once finished). */
    cpuMs: number | null;
    /** Most memory the function used at once, bytes (once finished; null where the kernel keeps no peak). */
    memoryPeakBytes: number | null;
    /** The sandbox was started before the call came (a warm start; still fresh, and this call's alone); null while it runs. */
    prestarted: boolean | null;
  } | null;
  /** Why it did not succeed; while queued for a retry, why the last run failed. */
  error: { code: string; message: string } | null;
  /** The end of the function's log (the whole log: `GET /invocations/{id}/logs`). */
  log: string;
  logTruncated: boolean;
  /** `host:pid` of the worker of the latest run. */
  worker: string | null;
  batchId: string | null;
  /** Id of the invocation's trace (W3C, 32 hex digits), from the trace context its job carries; null when tracing is off. */
  traceId: string | null;
  callback: CallbackState | null;
}

export const BATCH_COUNTED_STATUSES: readonly InvocationStatus[] = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'];

export interface BatchRecord {
  id: string;
  function: string;
  /** Invocations in the batch. */
  count: number;
  counts: Record<InvocationStatus, number>;
  /** Finished invocations / count, from 0 to 1. */
  progress: number;
  createdAt: string;
  /** When the last invocation finished. */
  finishedAt: string | null;
  /** One page of the invocations, in the batch's order. */
  results: Array<{ index: number; id: string; status: InvocationStatus; response: RecordResponse | null; error: { code: string; message: string } | null }>;
  offset: number;
  limit: number;
  /** Offset of the next page, null on the last. */
  nextOffset: number | null;
}
