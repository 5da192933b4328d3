// What `GET /invocations/{id}` returns, what a `record` callback POSTs, and what `GET /batches/{id}`
// returns: zod schemas, for their types and for the API's description (GET /openapi.json). The worker
// writes the parts of a record as the invocation goes (queued → running → final);
// redis/invocation-store.ts reads them back into this shape.
import { z } from 'zod';
import { InvocationStatus } from './invocation.js';

const Ms = z.int().min(0);
/** ISO 8601. */
const Timestamp = z.string().meta({ format: 'date-time' });

export const RecordResponse = z
  .object({
    status: z.int().meta({ description: 'HTTP status.' }),
    headers: z.record(z.string(), z.string()),
    body: z.string().meta({ description: 'The body as text when it is valid UTF-8 of a textual type, else base64 (see `bodyEncoding`).' }),
    bodyEncoding: z.enum(['utf8', 'base64']),
  })
  .meta({ id: 'RecordResponse', description: "The function's response, or the error response pidbox made for it." });
export type RecordResponse = z.infer<typeof RecordResponse>;

/** Why an invocation did not succeed, with a stable code. */
export const InvocationError = z
  .object({ code: z.string().meta({ example: 'FUNCTION_TIMED_OUT' }), message: z.string() })
  .meta({ id: 'InvocationError', description: 'Why it did not succeed: a stable code and a message.' });

export const CallbackState = z
  .object({
    status: z.enum(['pending', 'delivered', 'failed']).meta({ description: '`pending` until delivered, `delivered` on a 2xx answer, `failed` after the last attempt.' }),
    url: z.string(),
    attempts: z.int().min(0),
    lastStatus: z.int().optional().meta({ description: 'HTTP status of the last answer, when there was one.' }),
    lastError: z.string().optional(),
  })
  .meta({ id: 'CallbackState', description: 'How the delivery to X-Callback-Url goes.' });
export type CallbackState = z.infer<typeof CallbackState>;

export const InvocationRecord = z
  .object({
    id: z.string(),
    function: z.string(),
    status: InvocationStatus,
    attempts: z.int().min(0).meta({ description: 'Runs started so far: 1 for most, more after retries or a lost worker.' }),
    maxAttempts: z.int().min(1).meta({ description: "Most runs allowed: 1 + the function's `retries`." }),
    createdAt: Timestamp,
    startedAt: Timestamp.nullable().meta({ description: 'Start of the latest run.' }),
    finishedAt: Timestamp.nullable(),
    request: z.object({ method: z.string(), path: z.string() }).meta({ description: 'Method and path the function got.' }),
    response: RecordResponse.nullable().meta({ description: "Once finished: the function's response, or the error response pidbox made for it." }),
    exit: z.object({ code: z.int().nullable(), signal: z.string().nullable() }).nullable(),
    timings: z.object({
      queuedMs: Ms.nullable().meta({ description: 'Enqueued → first run started.' }),
      startMs: Ms.nullable().meta({ description: 'Sandbox spawn → function started (latest run).' }),
      runMs: Ms.nullable().meta({ description: 'Function started → exited (latest run).' }),
    }),
    sandbox: z
      .object({
        pidNamespace: z.string().meta({ example: 'pid:[4026532871]' }),
        hostPid: z.int().meta({ description: 'Host pid of the init (PID 1 inside).' }),
        zombiesReaped: z.int().nullable(),
        peakProcesses: z.int().nullable(),
        cpuMs: Ms.nullable().meta({ description: "CPU time of the function's processes, ms (once finished)." }),
        memoryPeakBytes: z.int().nullable().meta({ description: 'Most memory the function used at once, bytes (once finished; null where the kernel keeps no peak).' }),
        prestarted: z.boolean().nullable().meta({ description: "The sandbox was started before the call came (a warm start; still fresh, and this call's alone); null while it runs." }),
      })
      .nullable()
      .meta({ description: 'The sandbox of the latest run.' }),
    error: InvocationError.nullable().meta({ description: 'Why it did not succeed; while queued for a retry, why the last run failed.' }),
    log: z.string().meta({ description: "The end of the function's log (the whole log: GET /invocations/{id}/logs)." }),
    logTruncated: z.boolean(),
    worker: z.string().nullable().meta({ description: '`host:pid` of the worker of the latest run.' }),
    batchId: z.string().nullable(),
    retryOf: z.string().nullable().meta({ description: 'The invocation this one re-drives (POST /invocations/{id}/retry), or null.' }),
    retriedBy: z.string().nullable().meta({ description: 'The latest invocation that re-drives this one, or null.' }),
    traceId: z.string().nullable().meta({ description: "Id of the invocation's trace (W3C, 32 hex digits), from the trace context its job carries; null when tracing is off." }),
    callback: CallbackState.nullable(),
  })
  .meta({ id: 'InvocationRecord', description: 'One invocation, as the worker writes it while it goes.' });
export type InvocationRecord = z.infer<typeof InvocationRecord>;

export const BATCH_COUNTED_STATUSES: readonly InvocationStatus[] = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'];

export const BatchRecord = z
  .object({
    id: z.string(),
    function: z.string(),
    count: z.int().min(1).meta({ description: 'Invocations in the batch.' }),
    counts: z.record(InvocationStatus, z.int().min(0)).meta({ description: 'Invocations by status.' }),
    progress: z.number().min(0).max(1).meta({ description: 'Finished invocations / count.' }),
    createdAt: Timestamp,
    finishedAt: Timestamp.nullable().meta({ description: 'When the last invocation finished.' }),
    results: z
      .array(z.object({ index: z.int().min(0), id: z.string(), status: InvocationStatus, response: RecordResponse.nullable(), error: InvocationError.nullable() }))
      .meta({ description: "One page of the invocations, in the batch's order." }),
    offset: z.int().min(0),
    limit: z.int().min(1),
    nextOffset: z.int().nullable().meta({ description: 'Offset of the next page, null on the last.' }),
  })
  .meta({ id: 'BatchRecord', description: 'A batch: its progress and one page of its invocations.' });
export type BatchRecord = z.infer<typeof BatchRecord>;
