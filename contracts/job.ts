// The data of the jobs the gateway puts on the queues and the worker takes off them. Defined once,
// as a tagged union; the worker receives every job through one switch (worker/jobs/receive-job.ts).
import type { InvocationRequest } from './invocation.js';
import { PidboxError } from './pidbox-error.js';

/** One run of a function (the invocations queue). The BullMQ job id is the invocation id. */
export interface InvocationJob {
  type: 'invocation';
  invocationId: string;
  functionName: string;
  request: InvocationRequest;
  /** Set when the invocation is one item of a batch. */
  batchId?: string;
  /** W3C trace context of the enqueueing span (`traceparent`, `tracestate`), for the worker's spans. */
  traceContext?: Record<string, string>;
}

/**
 * What a finished invocation's callback POSTs: `record`, the invocation record as JSON (pidbox's own
 * API); `openfaas`, the function's response body with `X-Call-Id` and `X-Function-Status`.
 */
export type CallbackFormat = 'record' | 'openfaas';

/** Delivery of a finished invocation to its `X-Callback-Url` (the callbacks queue), retried with backoff. */
export interface CallbackJob {
  type: 'callback';
  invocationId: string;
  url: string;
  format: CallbackFormat;
  traceContext?: Record<string, string>;
}

export type JobData = InvocationJob | CallbackJob;

/** Checks job data read back from Redis; a job written by another version fails with INVALID_JOB. */
export function parseJobData(raw: unknown): JobData {
  const fail = (message: string): never => {
    throw new PidboxError('INVALID_JOB', `job data ${message}`);
  };
  if (typeof raw !== 'object' || raw === null) return fail('is not an object');
  const data = raw as Record<string, unknown>;
  if (typeof data.invocationId !== 'string' || data.invocationId === '') fail('has no invocationId');
  switch (data.type) {
    case 'invocation': {
      const request = data.request as Record<string, unknown> | undefined;
      if (typeof data.functionName !== 'string') fail('has no functionName');
      if (
        typeof request !== 'object' || request === null || typeof request.method !== 'string' ||
        typeof request.path !== 'string' || typeof request.bodyBase64 !== 'string' ||
        typeof request.headers !== 'object' || request.headers === null
      ) {
        fail('has no valid request');
      }
      return data as unknown as InvocationJob;
    }
    case 'callback':
      if (typeof data.url !== 'string') fail('has no url');
      if (data.format !== 'record' && data.format !== 'openfaas') fail(`has an unknown callback format ${JSON.stringify(data.format)}`);
      return data as unknown as CallbackJob;
    default:
      return fail(`has an unknown type ${JSON.stringify(data.type)}`);
  }
}
