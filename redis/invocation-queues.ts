// The two BullMQ queues, as the gateway and the finishing step put jobs on them. The worker side
// (BullMQ Workers on the same names) is in worker/jobs/.
import { injectContext } from '../telemetry/tracing.js';
import { Queue, type JobsOptions } from 'bullmq';
import type { RedisClient } from './redis-client.js';
import type { CallbackFormat, CallbackJob, InvocationJob } from '../contracts/job.js';
import type { QueueConfig } from '../config/queue-config.js';
import { CALLBACKS_QUEUE, INVOCATIONS_QUEUE, type RedisKeys } from './redis-keys.js';

export interface InvocationQueues {
  invocations: Queue<InvocationJob>;
  callbacks: Queue<CallbackJob>;
  /** Closes both; safe to call twice. */
  close(): Promise<void>;
}

/** Opens the queues on `redis` (shared: a Queue sends plain commands, it never blocks). */
export function openQueues(redis: RedisClient, keys: RedisKeys): InvocationQueues {
  const invocations = new Queue<InvocationJob>(INVOCATIONS_QUEUE, { connection: redis, prefix: keys.bullPrefix(INVOCATIONS_QUEUE) });
  const callbacks = new Queue<CallbackJob>(CALLBACKS_QUEUE, { connection: redis, prefix: keys.bullPrefix(CALLBACKS_QUEUE) });
  // Connection errors are the shared client's, which reports them (redis/redis-client.ts); without a
  // listener BullMQ would print each one again.
  invocations.on('error', () => {});
  callbacks.on('error', () => {});
  let closing: Promise<void> | null = null;
  return {
    invocations,
    callbacks,
    close() {
      closing ??= Promise.all([invocations.close(), callbacks.close()]).then(() => undefined, () => undefined);
      return closing;
    },
  };
}

/**
 * Most failed jobs BullMQ keeps per queue, besides their age (`keepFailedSeconds`): the record holds
 * what a failure was (and what re-driving needs), so under a storm of failures BullMQ's copies are
 * cut by number too, and Redis memory stays bounded however fast jobs fail.
 */
export const MAX_FAILED_JOBS_KEPT = 10_000;

/** How BullMQ forgets a job: at once when it completed, by age and number when it failed. */
export function jobRetention(config: Pick<QueueConfig, 'keepFailedSeconds'>): Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> {
  return { removeOnComplete: true, removeOnFail: { age: config.keepFailedSeconds, count: MAX_FAILED_JOBS_KEPT } };
}

/**
 * Options of one invocation's job: its id is the invocation id; `retries` of function.json become
 * attempts with exponential backoff (`retryBackoffMs`, then twice that, …). The record holds the
 * result, so BullMQ forgets a completed job at once.
 */
export function invocationJobOptions(id: string, retries: number, retryBackoffMs: number, config: Pick<QueueConfig, 'keepFailedSeconds'>): JobsOptions {
  return {
    jobId: id,
    attempts: retries + 1,
    backoff: { type: 'exponential', delay: retryBackoffMs },
    ...jobRetention(config),
  };
}

/** Puts the delivery of a finished invocation to its callback URL on the callbacks queue. */
export async function enqueueCallback(
  queues: Pick<InvocationQueues, 'callbacks'>,
  config: Pick<QueueConfig, 'callbackAttempts' | 'callbackBackoffMs' | 'keepFailedSeconds'>,
  invocationId: string,
  callback: { url: string; format: CallbackFormat },
): Promise<void> {
  // The finishing span's context (the worker's CONSUMER span), so the delivery joins the invocation's trace.
  const traceContext = injectContext();
  const data: CallbackJob = {
    type: 'callback',
    invocationId,
    url: callback.url,
    format: callback.format,
    ...(traceContext.traceparent ? { traceContext } : {}),
  };
  await queues.callbacks.add('callback', data, {
    // One delivery per invocation, even if two processes finish it at once.
    jobId: `callback-${invocationId}`,
    attempts: config.callbackAttempts,
    backoff: { type: 'exponential', delay: config.callbackBackoffMs },
    ...jobRetention(config),
  });
}
