// The last step of every invocation, whoever takes it (the worker that ran it, a gateway cancelling
// it while queued, a worker that finds it lost): the record's final status, the `finished` message
// (both in one script), then the callback, when the caller asked for one.
import type { FunctionResult, InvocationRequest } from '../contracts/invocation.js';
import type { InvocationQueues } from './invocation-queues.js';
import { enqueueCallback } from './invocation-queues.js';
import type { FinishOutcome, InvocationStore, RunIdentity, StoredResult } from './invocation-store.js';
import type { QueueConfig } from '../config/queue-config.js';

export interface FinishDeps {
  store: InvocationStore;
  queues: Pick<InvocationQueues, 'callbacks'>;
  config: Pick<QueueConfig, 'callbackAttempts' | 'callbackBackoffMs' | 'keepFailedSeconds'>;
}

/** `run`: the worker's run that finishes it, refused (`stale`) when another run has taken over. */
export async function finishInvocation(
  deps: FinishDeps,
  id: string,
  functionName: string,
  result: FunctionResult,
  batchId?: string,
  run?: RunIdentity,
): Promise<FinishOutcome> {
  const outcome = await deps.store.finish(id, functionName, result, batchId, run);
  await afterFinish(deps, id, outcome);
  return outcome;
}

/** What follows a status change that finished an invocation: its callback. */
export async function afterFinish(deps: FinishDeps, id: string, outcome: FinishOutcome): Promise<void> {
  if (outcome.kind === 'finished' && outcome.callback) await enqueueCallback(deps.queues, deps.config, id, outcome.callback);
}

/**
 * The result to keep: one that did not succeed keeps the request it was given, so that the
 * invocation can be re-driven (POST /invocations/{id}/retry) once its job has left the queue.
 */
export function keepingRequest(result: FunctionResult, request: InvocationRequest): StoredResult {
  return result.status === 'succeeded' ? result : { ...result, request };
}
