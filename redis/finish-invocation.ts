// The last step of every invocation, whoever takes it (the worker that ran it, a gateway cancelling
// it while queued, a worker that finds it lost): the record's final status, the `finished` message
// (both in one script), then the callback, when the caller asked for one.
import type { FunctionResult } from '../contracts/invocation.js';
import type { InvocationQueues } from './invocation-queues.js';
import { enqueueCallback } from './invocation-queues.js';
import type { FinishOutcome, InvocationStore, RunIdentity } from './invocation-store.js';
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
