// The data of the jobs the gateway puts on the queues and the worker takes off them. Defined once,
// as a tagged union of zod schemas (their types inferred); the worker receives every job through one
// switch (worker/jobs/receive-job.ts).
import { z } from 'zod';
import { InvocationRequest } from './invocation.js';
import { PidboxError } from './pidbox-error.js';

/** W3C trace context of the enqueueing span (`traceparent`, `tracestate`), for the worker's spans. */
const TraceContext = z.record(z.string(), z.string());

/** One run of a function (the invocations queue). The BullMQ job id is the invocation id. */
export const InvocationJob = z.object({
  type: z.literal('invocation'),
  invocationId: z.string().min(1),
  functionName: z.string(),
  request: InvocationRequest,
  /** Set when the invocation is one item of a batch. */
  batchId: z.string().optional(),
  traceContext: TraceContext.optional(),
});
export type InvocationJob = z.infer<typeof InvocationJob>;

/**
 * What a finished invocation's callback POSTs: `record`, the invocation record as JSON (pidbox's own
 * API); `openfaas`, the function's response body with `X-Call-Id` and `X-Function-Status`.
 */
export const CallbackFormat = z.enum(['record', 'openfaas']);
export type CallbackFormat = z.infer<typeof CallbackFormat>;

/** Delivery of a finished invocation to its `X-Callback-Url` (the callbacks queue), retried with backoff. */
export const CallbackJob = z.object({
  type: z.literal('callback'),
  invocationId: z.string().min(1),
  url: z.string(),
  format: CallbackFormat,
  traceContext: TraceContext.optional(),
});
export type CallbackJob = z.infer<typeof CallbackJob>;

export const JobData = z.discriminatedUnion('type', [InvocationJob, CallbackJob]);
export type JobData = z.infer<typeof JobData>;

/** Checks job data read back from Redis; a job written by another version fails with INVALID_JOB. */
export function parseJobData(raw: unknown): JobData {
  const result = JobData.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path[0];
  if (field === undefined) throw new PidboxError('INVALID_JOB', 'job data is not an object');
  if (field === 'type') throw new PidboxError('INVALID_JOB', `job data has an unknown type ${JSON.stringify((raw as { type?: unknown }).type)}`);
  throw new PidboxError('INVALID_JOB', `job data has no valid ${String(field)} (${issue.path.join('.')}: ${issue.message})`);
}
