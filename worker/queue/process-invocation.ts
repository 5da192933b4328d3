// One invocation job, one run: take a slot of the function, move the record to running, run the
// function in a fresh sandbox (runFunction), then finish, retry or hand the job back. This is where
// the worker's span for an invocation wraps the run (the job carries the trace context).
import { DelayedError, WaitingError, type Job } from 'bullmq';
import type { FunctionResult } from '../../contracts/invocation.js';
import type { InvocationJob } from '../../contracts/job.js';
import { PidboxError } from '../../contracts/pidbox-error.js';
import { finishInvocation, type FinishDeps } from '../../queue/finish-invocation.js';
import type { InvocationStore } from '../../queue/invocation-store.js';
import type { LogStore } from '../../queue/log-store.js';
import { unrunResult } from '../../queue/unrun-result.js';
import type { FunctionInfo, FunctionRegistry } from '../functions/function-registry.js';
import { runFunction } from '../invoke/run-function.js';
import type { NodeBuilder } from '../runtimes/node-build.js';
import type { FunctionSlots } from './function-slots.js';
import { LogSink } from './log-sink.js';
import type { RunningInvocations } from './running-invocations.js';
import type { WorkerConfig } from './worker-config.js';

export interface InvocationDeps extends FinishDeps {
  store: InvocationStore;
  logs: LogStore;
  registry: FunctionRegistry;
  builder: NodeBuilder;
  running: RunningInvocations;
  slots: FunctionSlots;
  workerConfig: WorkerConfig;
  /** `host:pid`, as records name the worker of a run. */
  workerName: string;
}

/** How long a job over its function's `concurrency` waits in the delayed set before it is tried again. */
const SLOT_RETRY_MS = 100;

export async function processInvocation(job: Job, token: string | undefined, data: InvocationJob, deps: InvocationDeps): Promise<void> {
  const id = data.invocationId;
  let fn: FunctionInfo;
  try {
    fn = deps.registry.get(data.functionName);
  } catch (error) {
    // Removed or broken since it was enqueued: the invocation fails; retrying would not help.
    const e = asPidboxError(error);
    await finishInvocation(deps, id, data.functionName, unrunResult('failed', e.code, e.message), data.batchId);
    return;
  }
  if (!deps.slots.tryAcquire(fn.name, fn.config.concurrency)) {
    await job.moveToDelayed(Date.now() + SLOT_RETRY_MS + Math.floor(Math.random() * SLOT_RETRY_MS), token);
    throw new DelayedError();
  }
  // Registered before the record says `running`, so a cancel that sees `running` finds it here.
  const run = deps.running.start(id);
  try {
    const begin = await deps.store.begin(id, fn.name, deps.workerName, job.timestamp, data.batchId);
    switch (begin.kind) {
      case 'final':
        return; // cancelled while queued: nothing to run
      case 'cancel':
        await finishInvocation(deps, id, fn.name, unrunResult('cancelled', 'INVOCATION_CANCELLED', 'the invocation was cancelled'), data.batchId);
        return;
      case 'run':
        break;
    }
    const result = await runOnce(fn, data, begin.attempt, run.signal, deps);
    switch (run.reason()) {
      case 'shutdown':
        // Not this invocation's failure: back to the queue, not counted as an attempt, for another worker.
        await deps.store.requeue(id, null, data.batchId);
        await job.moveToWait(token);
        throw new WaitingError();
      case 'cancel':
        await finishInvocation(deps, id, fn.name, result, data.batchId);
        return;
      case null:
        break;
    }
    if (isRetryable(result) && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) {
      await deps.store.requeue(id, result.error ?? null, data.batchId);
      // Thrown so that BullMQ schedules the next attempt with the job's exponential backoff.
      throw new PidboxError(result.error?.code === 'FUNCTION_TIMED_OUT' ? 'FUNCTION_TIMED_OUT' : 'FUNCTION_FAILED', result.error?.message ?? result.status);
    }
    await finishInvocation(deps, id, fn.name, result, data.batchId);
  } finally {
    deps.running.end(id);
    deps.slots.release(fn.name);
  }
}

async function runOnce(fn: FunctionInfo, data: InvocationJob, attempt: number, signal: AbortSignal, deps: InvocationDeps): Promise<FunctionResult> {
  const config = deps.workerConfig;
  const sink = new LogSink(deps.logs, data.invocationId, { maxBytes: config.maxLogBytes, ttlSeconds: config.queue.keepPendingSeconds });
  if (attempt > 1) sink.attempt(attempt);
  let recordSandbox: Promise<void> = Promise.resolve();
  let result: FunctionResult;
  try {
    result = await runFunction(fn, data.request, {
      invocationId: data.invocationId,
      builder: deps.builder,
      signal,
      maxResponseBytes: config.maxResponseBytes,
      maxLogBytes: config.logTailBytes,
      onLog: (chunk) => sink.write(chunk),
      onSandbox: (sandbox) => {
        recordSandbox = deps.store.setSandbox(data.invocationId, sandbox).catch(() => {});
      },
    });
  } catch (error) {
    // The runner failed (a function that does not build, a sandbox that did not start): no run to
    // report, the same result shape all the same.
    const e = asPidboxError(error);
    result = unrunResult('failed', e.code, e.message);
  }
  await Promise.all([sink.close(), recordSandbox]);
  return result;
}

/** A failed or timed-out run is retried (when function.json allows); a broken build is not. */
function isRetryable(result: FunctionResult): boolean {
  if (result.status !== 'failed' && result.status !== 'timed_out') return false;
  return result.error?.code !== 'FUNCTION_BUILD_FAILED' && result.error?.code !== 'FUNCTION_OUTPUT_TOO_LARGE';
}

function asPidboxError(error: unknown): PidboxError {
  if (error instanceof PidboxError) return error;
  return new PidboxError('INTERNAL', (error as Error)?.message ?? String(error), error);
}
