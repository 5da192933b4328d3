// From an HTTP request to a job on the queue: the record first (so a worker never takes a job whose
// record does not exist yet), then the job. This is where the gateway's span for an enqueue wraps
// the work and where its trace context goes into the job data.
import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import type { InvocationRequest } from '../contracts/invocation.js';
import type { CallbackFormat, InvocationJob } from '../contracts/job.js';
import {
  ATTR_FAAS_INVOCATION_ID, ATTR_FAAS_INVOKED_NAME, ATTR_MESSAGING_BATCH_MESSAGE_COUNT, ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID, ATTR_MESSAGING_OPERATION_NAME, ATTR_MESSAGING_OPERATION_TYPE, ATTR_MESSAGING_SYSTEM,
  ATTR_PIDBOX_BATCH_ID,
} from '../contracts/span-attributes.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { injectContext, withSpan } from '../telemetry/tracing.js';
import { PidboxError } from '../contracts/pidbox-error.js';
import type { BatchStore } from '../redis/batch-store.js';
import { finishInvocation, keepingRequest, type FinishDeps } from '../redis/finish-invocation.js';
import { invocationJobOptions, type InvocationQueues } from '../redis/invocation-queues.js';
import { INVOCATIONS_QUEUE } from '../redis/redis-keys.js';
import type { InvocationStore, NewInvocation } from '../redis/invocation-store.js';
import { unrunResult } from '../redis/unrun-result.js';
import type { FunctionInfo } from '../registry/function-registry.js';
import type { GatewayConfig } from './gateway-config.js';
import { asPidboxError } from './http-errors.js';

export interface EnqueueDeps extends FinishDeps {
  store: InvocationStore;
  batches: BatchStore;
  queues: InvocationQueues;
  gatewayConfig: GatewayConfig;
  telemetry: Telemetry;
}

export interface InvocationInput {
  fn: FunctionInfo;
  request: InvocationRequest;
  callback?: { url: string; format: CallbackFormat };
  idempotencyKey?: string;
  /** How the caller invoked: counted in pidbox_invocations_accepted_total (a retry counts as `async`). */
  mode: 'sync' | 'async';
  /** The invocation this one re-drives (POST /invocations/{id}/retry). */
  retryOf?: string;
}

export function newInvocationId(): string {
  return randomUUID();
}

/**
 * Enqueues one invocation under `id`. With an Idempotency-Key already used for this function, nothing
 * is enqueued and the earlier invocation's id comes back (`created: false`). `recorded` is called
 * with the id once its record exists (this one's, or the earlier one's), before the job is added: an
 * answer can then name an invocation that exists, even when adding its job fails.
 */
export async function enqueueInvocation(
  deps: EnqueueDeps,
  id: string,
  input: InvocationInput,
  recorded: (id: string) => void = () => {},
): Promise<{ id: string; created: boolean }> {
  return withSpan(deps.telemetry.tracing.tracer, `send ${INVOCATIONS_QUEUE}`, producerSpan(input.fn.name, { [ATTR_MESSAGING_MESSAGE_ID]: id, [ATTR_FAAS_INVOCATION_ID]: id }), async () => {
    const enqueued = await enqueueOne(deps, id, input, recorded);
    if (enqueued.created) deps.telemetry.metrics.accepted.inc({ function: input.fn.name, mode: input.mode });
    return enqueued;
  });
}

/** The PRODUCER span of an enqueue: its context travels in the job data to the worker's CONSUMER span. */
function producerSpan(functionName: string, attributes: Record<string, string | number>): Parameters<typeof withSpan>[2] {
  return {
    kind: SpanKind.PRODUCER,
    attributes: {
      [ATTR_MESSAGING_SYSTEM]: 'bullmq',
      [ATTR_MESSAGING_DESTINATION_NAME]: INVOCATIONS_QUEUE,
      [ATTR_MESSAGING_OPERATION_TYPE]: 'send',
      [ATTR_MESSAGING_OPERATION_NAME]: 'send',
      [ATTR_FAAS_INVOKED_NAME]: functionName,
      ...attributes,
    },
  };
}

async function enqueueOne(deps: EnqueueDeps, id: string, input: InvocationInput, recorded: (id: string) => void): Promise<{ id: string; created: boolean }> {
  const invocation = newInvocation(id, input);
  const created = await deps.store.create(invocation);
  recorded(created.id);
  if (!created.created) return created;
  try {
    await deps.queues.invocations.add(input.fn.name, jobData(invocation), jobOptions(deps, input.fn, id));
  } catch (error) {
    // The record exists but its job does not: end it now rather than leave it queued forever.
    const code = queueErrorCode(error);
    const message = asPidboxError(error).message;
    await finishInvocation(deps, id, input.fn.name, keepingRequest(unrunResult('failed', code, message), input.request)).catch(() => {});
    throw new PidboxError(code, `the invocation could not be enqueued: ${message}`, error);
  }
  return created;
}

/** Enqueues a batch: its records and the batch in one transaction, then every job in one more. */
export async function enqueueBatch(deps: EnqueueDeps, fn: FunctionInfo, requests: InvocationRequest[]): Promise<{ batchId: string; ids: string[] }> {
  const batchId = newInvocationId();
  const attributes = { [ATTR_PIDBOX_BATCH_ID]: batchId, [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: requests.length };
  return withSpan(deps.telemetry.tracing.tracer, `send ${INVOCATIONS_QUEUE}`, producerSpan(fn.name, attributes), async () => {
    const enqueued = await enqueueBatchMembers(deps, fn, requests, batchId);
    deps.telemetry.metrics.accepted.inc({ function: fn.name, mode: 'batch' }, requests.length);
    return enqueued;
  });
}

async function enqueueBatchMembers(deps: EnqueueDeps, fn: FunctionInfo, requests: InvocationRequest[], batchId: string): Promise<{ batchId: string; ids: string[] }> {
  const members = requests.map((request) => newInvocation(newInvocationId(), { fn, request }, batchId));
  await deps.batches.create(batchId, fn.name, members);
  try {
    await deps.queues.invocations.addBulk(
      members.map((member) => ({ name: fn.name, data: jobData(member), opts: jobOptions(deps, fn, member.id) })),
    );
  } catch (error) {
    // The jobs went in together or not at all (one MULTI): end the records rather than leave them queued.
    const code = queueErrorCode(error);
    const message = asPidboxError(error).message;
    const result = unrunResult('failed', code, message);
    await Promise.all(members.map((m) => finishInvocation(deps, m.id, fn.name, keepingRequest(result, m.request), batchId).catch(() => {})));
    throw new PidboxError(code, `the batch could not be enqueued: ${message}`, error);
  }
  return { batchId, ids: members.map((m) => m.id) };
}

/** Why a job could not be added: Redis full, or (anything else) the queue unavailable. */
function queueErrorCode(error: unknown): 'QUEUE_FULL' | 'QUEUE_UNAVAILABLE' {
  return asPidboxError(error).code === 'QUEUE_FULL' ? 'QUEUE_FULL' : 'QUEUE_UNAVAILABLE';
}

function newInvocation(id: string, input: Omit<InvocationInput, 'mode'>, batchId?: string): NewInvocation {
  return {
    id,
    functionName: input.fn.name,
    request: input.request,
    maxAttempts: input.fn.config.retries + 1,
    ...(batchId ? { batchId } : {}),
    ...(input.callback ? { callbackUrl: input.callback.url, callbackFormat: input.callback.format } : {}),
    ...(input.idempotencyKey !== undefined ? { idempotencyKey: input.idempotencyKey } : {}),
    ...(input.retryOf ? { retryOf: input.retryOf } : {}),
    ...traceIdOf(injectContext()),
  };
}

/** The trace id of a carrier's `traceparent` (the context the job carries), kept in the record so a trace can be found from it. */
function traceIdOf(carrier: Record<string, string>): { traceId?: string } {
  const traceId = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(carrier.traceparent ?? '')?.[1];
  return traceId ? { traceId } : {};
}

/** The job, with the active (PRODUCER) span's context for the worker's CONSUMER span. */
function jobData(invocation: NewInvocation): InvocationJob {
  const traceContext = injectContext();
  return {
    type: 'invocation',
    invocationId: invocation.id,
    functionName: invocation.functionName,
    request: invocation.request,
    ...(invocation.batchId ? { batchId: invocation.batchId } : {}),
    ...(traceContext.traceparent ? { traceContext } : {}),
  };
}

function jobOptions(deps: EnqueueDeps, fn: FunctionInfo, id: string): ReturnType<typeof invocationJobOptions> {
  return invocationJobOptions(id, fn.config.retries, deps.gatewayConfig.retryBackoffMs, deps.config);
}
