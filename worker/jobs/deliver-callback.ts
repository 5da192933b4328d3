// One callback job: POST a finished invocation to its X-Callback-Url. A failed delivery (no answer,
// or not 2xx) throws, and BullMQ tries again with exponential backoff; a refused one (an address
// callbacks may not reach, checked again here against this worker's PIDBOX_CALLBACK_ALLOW_NETWORKS)
// is not tried again. The record's `callback` says how it went.
//
// Each attempt is a CLIENT span as the HTTP client semantic conventions have it
// (https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-client): named by the method
// alone (a callback URL has no template), a child of the invocation's CONSUMER span, its
// `traceparent` sent with the POST so the receiver's SERVER span is its child.
import type { BlockList } from 'node:net';
import { SpanKind, type Span } from '@opentelemetry/api';
import { UnrecoverableError, type Job } from 'bullmq';
import { HTTP_STATUS_OF } from '../../contracts/http-status.js';
import type { CallbackJob } from '../../contracts/job.js';
import type { InvocationRecord } from '../../contracts/invocation-record.js';
import { PidboxError } from '../../contracts/pidbox-error.js';
import {
  ATTR_FAAS_INVOCATION_ID, ATTR_HTTP_REQUEST_RESEND_COUNT, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_NETWORK_PEER_ADDRESS,
} from '../../contracts/span-attributes.js';
import { clientRequestAttributes } from '../../telemetry/http-attributes.js';
import type { Telemetry } from '../../telemetry/telemetry.js';
import { extractContext, injectContext, markError } from '../../telemetry/tracing.js';
import type { InvocationStore } from '../../redis/invocation-store.js';
import { postCallback } from './post-callback.js';
import type { WorkerConfig } from './worker-config.js';

export interface CallbackDeps {
  store: InvocationStore;
  workerConfig: WorkerConfig;
  /** The networks of `workerConfig.queue.callbackAllowNetworks`, built once. */
  callbackAllow: BlockList;
  telemetry: Telemetry;
}

/** A CLIENT span per delivery attempt, in the invocation's trace (the job carries its context). */
export async function deliverCallback(job: Job, data: CallbackJob, deps: CallbackDeps): Promise<void> {
  const resends = job.attemptsMade;
  const attributes = {
    ...clientRequestAttributes('POST', data.url),
    [ATTR_FAAS_INVOCATION_ID]: data.invocationId,
    ...(resends > 0 ? { [ATTR_HTTP_REQUEST_RESEND_COUNT]: resends } : {}),
  };
  const tracer = deps.telemetry.tracing.tracer;
  return tracer.startActiveSpan('POST', { kind: SpanKind.CLIENT, attributes }, extractContext(data.traceContext), async (span) => {
    try {
      await deliver(job, data, deps, span);
    } finally {
      span.end();
    }
  });
}

async function deliver(job: Job, data: CallbackJob, deps: CallbackDeps, span: Span): Promise<void> {
  const record = await deps.store.get(data.invocationId);
  if (!record) return; // expired: nothing left to deliver
  const attempt = job.attemptsMade + 1;
  const last = attempt >= (job.opts.attempts ?? 1);
  const { body, headers } = callbackRequest(record, data.format);
  let lastStatus: number | undefined;
  try {
    // This attempt's span is active here: the receiver sees it as the parent of its own.
    const answer = await postCallback(data.url, { body, headers: { ...headers, ...injectContext() }, allow: deps.callbackAllow, timeoutMs: deps.workerConfig.callbackTimeoutMs });
    const status = answer.status;
    lastStatus = status;
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (answer.peerAddress) span.setAttribute(ATTR_NETWORK_PEER_ADDRESS, answer.peerAddress);
    if (status < 200 || status > 299) throw new PidboxError('CALLBACK_FAILED', `${data.url} answered ${status}`);
  } catch (error) {
    const refused = error instanceof PidboxError && error.code === 'INVALID_CALLBACK_URL';
    const message = refused
      ? `${data.url}: refused by the worker: ${error.message}`
      : error instanceof PidboxError ? error.message : `${data.url}: ${(error as Error).message}`;
    // error.type: the status when there was an answer (the conventions' choice), else what stopped
    // the request (INVALID_CALLBACK_URL, ECONNREFUSED, ETIMEDOUT, ...).
    const errorType = lastStatus !== undefined ? String(lastStatus) : (error as { code?: string }).code ?? (error as Error).name;
    markError(span, errorType, message);
    await deps.store.setCallbackState(data.invocationId, {
      status: last || refused ? 'failed' : 'pending',
      url: data.url,
      attempts: attempt,
      ...(lastStatus !== undefined ? { lastStatus } : {}),
      lastError: message,
    });
    // Another attempt would be refused again: BullMQ fails the job without retries.
    if (refused) throw new UnrecoverableError(message);
    throw new PidboxError('CALLBACK_FAILED', message, error);
  }
  await deps.store.setCallbackState(data.invocationId, { status: 'delivered', url: data.url, attempts: attempt, lastStatus });
}

function callbackRequest(record: InvocationRecord, format: CallbackJob['format']): { body: Buffer; headers: Record<string, string> } {
  switch (format) {
    case 'record':
      return {
        body: Buffer.from(JSON.stringify(record)),
        headers: { 'content-type': 'application/json', 'x-invocation-id': record.id, 'x-invocation-status': record.status },
      };
    case 'openfaas': {
      // As OpenFaaS's queue worker does: the function's response body, its status in a header.
      const response = record.response;
      const body = response ? Buffer.from(response.body, response.bodyEncoding === 'base64' ? 'base64' : 'utf8') : Buffer.alloc(0);
      const contentType = response && Object.entries(response.headers).find(([name]) => name.toLowerCase() === 'content-type')?.[1];
      return {
        body,
        headers: {
          ...(contentType ? { 'content-type': contentType } : {}),
          'x-call-id': record.id,
          'x-function-name': record.function,
          // A finished record always has a response; without one, it failed inside pidbox.
          'x-function-status': String(response?.status ?? HTTP_STATUS_OF.INTERNAL),
          'x-invocation-status': record.status,
        },
      };
    }
  }
}
