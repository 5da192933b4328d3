// One invocation job, one run: take a slot of the function, move the record to running, run the
// function in a fresh sandbox (runFunction), then finish, retry or hand the job back. This is where
// the worker's span for an invocation wraps the run (the job carries the trace context).
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { DelayedError, WaitingError, type Job } from 'bullmq';
import type { FunctionResult } from '../../contracts/invocation.js';
import type { InvocationJob } from '../../contracts/job.js';
import { PidboxError } from '../../contracts/pidbox-error.js';
import {
  ATTR_FAAS_COLDSTART, ATTR_FAAS_INVOCATION_ID, ATTR_FAAS_NAME, ATTR_FAAS_TRIGGER, ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID, ATTR_MESSAGING_OPERATION_NAME, ATTR_MESSAGING_OPERATION_TYPE, ATTR_MESSAGING_SYSTEM,
  ATTR_PIDBOX_ATTEMPT, ATTR_PIDBOX_BATCH_ID, ATTR_PIDBOX_STATUS,
} from '../../contracts/span-attributes.js';
import type { Logger } from '../../telemetry/logger.js';
import type { Telemetry } from '../../telemetry/telemetry.js';
import { extractContext, markError } from '../../telemetry/tracing.js';
import { INVOCATIONS_QUEUE } from '../../redis/redis-keys.js';
import { finishInvocation, keepingRequest, type FinishDeps } from '../../redis/finish-invocation.js';
import type { InvocationStore, RunIdentity } from '../../redis/invocation-store.js';
import type { LogStore } from '../../redis/log-store.js';
import { didRun, unrunResult } from '../../redis/unrun-result.js';
import type { FunctionInfo, FunctionRegistry } from '../../registry/function-registry.js';
import { runFunction } from '../invoke/run-function.js';
import type { NodeBuilder } from '../runtimes/node-build.js';
import type { SandboxHost } from '../sandbox/sandbox-host.js';
import type { SandboxPool } from '../invoke/sandbox-pool.js';
import type { FunctionSlots } from './function-slots.js';
import { LogSink } from './log-sink.js';
import type { RunningInvocations } from './running-invocations.js';
import type { WorkerConfig } from './worker-config.js';

export interface InvocationDeps extends FinishDeps {
  store: InvocationStore;
  logs: LogStore;
  registry: FunctionRegistry;
  builder: NodeBuilder;
  /** The worker's sandboxes' mounts, cgroups and seccomp filter. */
  sandboxHost: SandboxHost;
  /** Sandboxes started before the calls come; null when the pool is off. */
  sandboxPool: SandboxPool | null;
  running: RunningInvocations;
  slots: FunctionSlots;
  workerConfig: WorkerConfig;
  /** `host:pid`, as records name the worker of a run. */
  workerName: string;
  telemetry: Telemetry;
}

/** How long a job over its function's `concurrency` waits in the delayed set before it is tried again. */
const SLOT_RETRY_MS = 100;

/**
 * The worker's CONSUMER span for one job, a child of the gateway's PRODUCER span (its context came
 * in the job data), with the FaaS and messaging attributes; everything below happens inside it. A
 * job handed back to the queue at shutdown is not a failure of the span.
 */
export async function processInvocation(job: Job, token: string | undefined, data: InvocationJob, deps: InvocationDeps): Promise<void> {
  let fn: FunctionInfo | null = null;
  let unknown: PidboxError | null = null;
  try {
    fn = deps.registry.get(data.functionName);
  } catch (error) {
    unknown = asPidboxError(error);
  }
  // Over its function's `concurrency`, the job goes back to the delayed set before any span is made:
  // it comes back every ~100 ms, and a span each time would bury the traces in noise.
  if (fn && !deps.slots.tryAcquire(fn.name, fn.config.concurrency)) {
    await job.moveToDelayed(Date.now() + SLOT_RETRY_MS + Math.floor(Math.random() * SLOT_RETRY_MS), token);
    throw new DelayedError();
  }
  const attributes = {
    [ATTR_FAAS_TRIGGER]: 'http',
    [ATTR_FAAS_INVOCATION_ID]: data.invocationId,
    [ATTR_FAAS_NAME]: data.functionName,
    [ATTR_MESSAGING_SYSTEM]: 'bullmq',
    [ATTR_MESSAGING_DESTINATION_NAME]: INVOCATIONS_QUEUE,
    [ATTR_MESSAGING_OPERATION_TYPE]: 'process',
    [ATTR_MESSAGING_OPERATION_NAME]: 'process',
    [ATTR_MESSAGING_MESSAGE_ID]: job.id ?? data.invocationId,
    [ATTR_PIDBOX_ATTEMPT]: job.attemptsMade + 1,
    ...(data.batchId ? { [ATTR_PIDBOX_BATCH_ID]: data.batchId } : {}),
  };
  const tracer = deps.telemetry.tracing.tracer;
  return tracer.startActiveSpan(`process ${INVOCATIONS_QUEUE}`, { kind: SpanKind.CONSUMER, attributes }, extractContext(data.traceContext), async (span) => {
    try {
      return await processInSpan(job, token, data, deps, span, fn, unknown);
    } catch (error) {
      if (error instanceof DelayedError || error instanceof WaitingError) span.setAttribute(ATTR_PIDBOX_STATUS, 'requeued');
      else markError(span, (error as PidboxError).code ?? 'INTERNAL', (error as Error).message);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Runs with the function's slot held (`fn` set), or ends an invocation whose function is gone (`unknown`). */
async function processInSpan(
  job: Job,
  token: string | undefined,
  data: InvocationJob,
  deps: InvocationDeps,
  span: Span,
  fn: FunctionInfo | null,
  unknown: PidboxError | null,
): Promise<void> {
  const id = data.invocationId;
  const log = deps.telemetry.log.child({ invocation_id: id, function: data.functionName });
  if (!fn) {
    // Removed or broken since it was enqueued: the invocation fails; retrying would not help.
    const e = unknown ?? new PidboxError('FUNCTION_NOT_FOUND', `no function named "${data.functionName}"`);
    markError(span, e.code, e.message);
    log.warn('invocation failed before it ran', { code: e.code, error: e.message });
    await finishInvocation(deps, id, data.functionName, keepingRequest(unrunResult('failed', e.code, e.message), data.request), data.batchId);
    deps.telemetry.metrics.invocations.inc({ function: data.functionName, outcome: 'failed' });
    return;
  }
  // Registered before the record says `running`, so a cancel that sees `running` finds it here.
  const run = deps.running.start(id);
  try {
    const begin = await deps.store.begin(id, fn.name, deps.workerName, job.timestamp, data.batchId);
    switch (begin.kind) {
      case 'final':
        return; // cancelled while queued: nothing to run
      case 'cancel':
        await finishInvocation(deps, id, fn.name, keepingRequest(unrunResult('cancelled', 'INVOCATION_CANCELLED', 'the invocation was cancelled'), data.request), data.batchId);
        markError(span, 'INVOCATION_CANCELLED', 'cancelled while queued');
        deps.telemetry.metrics.invocations.inc({ function: fn.name, outcome: 'cancelled' });
        return;
      case 'run':
        break;
    }
    // From enqueue to the first start: a retry's wait would count earlier runs and the backoff too.
    if (begin.attempt === 1) deps.telemetry.metrics.queueWait.observe({ function: fn.name }, Math.max(0, Date.now() - job.timestamp) / 1000);
    // This run, as the record names it: what it writes from here on is refused once another run has
    // taken over (this worker was cut off past the job's lock, and the job ran again elsewhere).
    const self: RunIdentity = { attempt: begin.attempt, worker: deps.workerName };
    const result = await runOnce(fn, data, self, run.signal, deps);
    recordRun(deps.telemetry, fn.name, result, span);
    switch (run.reason()) {
      case 'shutdown':
        // A run the shutdown cut short is not this invocation's failure: back to the queue, not
        // counted as an attempt, for another worker. One that had ended already keeps its result.
        if (result.status !== 'cancelled') break;
        await deps.store.requeue(id, fn.name, null, data.batchId, self);
        await job.moveToWait(token);
        throw new WaitingError();
      case 'cancel':
        if (await finishRun(deps, data, fn.name, result, self, log)) deps.telemetry.metrics.invocations.inc({ function: fn.name, outcome: result.status });
        log.info('invocation cancelled');
        return;
      case null:
        break;
    }
    if (isRetryable(result) && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) {
      if (!(await deps.store.requeue(id, fn.name, result.error ?? null, data.batchId, self))) {
        // Taken over, or finished meanwhile: no retry of ours. BullMQ's lock decides the job's fate.
        log.warn('a late run was not requeued', { attempt: self.attempt, status: result.status });
      }
      // Thrown so that BullMQ schedules the next attempt with the job's exponential backoff.
      throw new PidboxError(result.error?.code === 'FUNCTION_TIMED_OUT' ? 'FUNCTION_TIMED_OUT' : 'FUNCTION_FAILED', result.error?.message ?? result.status);
    }
    if (!(await finishRun(deps, data, fn.name, result, self, log))) return;
    deps.telemetry.metrics.invocations.inc({ function: fn.name, outcome: result.status });
    log.info('invocation finished', { status: result.status, exit_code: result.exit.code, signal: result.exit.signal, run_ms: result.timings.runMs });
  } finally {
    deps.running.end(id);
    deps.slots.release(fn.name);
    deps.sandboxPool?.callEnded();
  }
}

/**
 * Finishes the invocation with this run's result. Returns false when the record refused it: another
 * run is the current one (`stale`), and its result, not this one's, is the invocation's. BullMQ
 * refuses this worker's completion of the job the same way (its lock token is no longer the job's).
 */
async function finishRun(deps: InvocationDeps, data: InvocationJob, functionName: string, result: FunctionResult, self: RunIdentity, log: Logger): Promise<boolean> {
  const outcome = await finishInvocation(deps, data.invocationId, functionName, keepingRequest(result, data.request), data.batchId, self);
  if (outcome.kind !== 'stale') return true;
  log.warn('a late result was dropped', {
    attempt: self.attempt,
    status: result.status,
    current_attempt: outcome.current.attempt,
    current_worker: outcome.current.worker,
  });
  return false;
}

async function runOnce(fn: FunctionInfo, data: InvocationJob, self: RunIdentity, signal: AbortSignal, deps: InvocationDeps): Promise<FunctionResult> {
  const attempt = self.attempt;
  const config = deps.workerConfig;
  const sink = new LogSink(deps.logs, data.invocationId, { maxBytes: config.maxLogBytes, ttlSeconds: config.queue.keepPendingSeconds, log: deps.telemetry.log });
  if (attempt > 1) sink.attempt(attempt);
  let recordSandbox: Promise<void> = Promise.resolve();
  let result: FunctionResult;
  const { metrics } = deps.telemetry;
  metrics.sandboxesRunning.inc();
  try {
    result = await runFunction(fn, data.request, {
      host: deps.sandboxHost,
      ...(deps.sandboxPool ? { pool: deps.sandboxPool } : {}),
      defaultLimits: config.sandboxLimits,
      limitCeilings: config.sandboxCeilings,
      attempt,
      tracing: deps.telemetry.tracing,
      invocationId: data.invocationId,
      builder: deps.builder,
      signal,
      maxResponseBytes: config.maxResponseBytes,
      maxLogBytes: config.logTailBytes,
      onLog: (chunk) => sink.write(chunk),
      onSandbox: (sandbox) => {
        deps.running.attach(data.invocationId, sandbox);
        recordSandbox = deps.store.setSandbox(data.invocationId, sandbox, self).catch(() => {});
      },
    });
  } catch (error) {
    // The runner failed (a function that does not build, a sandbox that did not start): no run to
    // report, the same result shape all the same. One that was aborted meanwhile (a cancel, the
    // shutdown) failed because it was: it ends as the abort says, not `failed`.
    const e = asPidboxError(error);
    result = signal.aborted
      ? unrunResult('cancelled', 'INVOCATION_CANCELLED', 'the invocation was cancelled')
      : unrunResult('failed', e.code, e.message);
  } finally {
    metrics.sandboxesRunning.dec();
  }
  await Promise.all([sink.close(), recordSandbox]);
  return result;
}

/** Metrics of one run, and its outcome on the CONSUMER span (a failed function marks it ERROR with its code). */
function recordRun(telemetry: Telemetry, functionName: string, result: FunctionResult, span: Span): void {
  const { metrics } = telemetry;
  if (didRun(result)) {
    metrics.sandboxStart.observe({ function: functionName }, result.timings.startMs / 1000);
    metrics.functionRun.observe({ function: functionName }, result.timings.runMs / 1000);
    metrics.zombiesReaped.inc({ function: functionName }, result.sandbox.zombiesReaped);
    metrics.functionCpu.inc({ function: functionName }, result.sandbox.cpuMs / 1000);
    metrics.sandboxStarts.inc({ function: functionName, start: result.sandbox.prestarted ? 'warm' : 'cold' });
    span.setAttribute(ATTR_FAAS_COLDSTART, !result.sandbox.prestarted);
    if (result.sandbox.memoryPeakBytes !== null) metrics.functionMemoryPeak.observe({ function: functionName }, result.sandbox.memoryPeakBytes);
    if (result.error?.code === 'FUNCTION_OUT_OF_MEMORY') metrics.outOfMemory.inc({ function: functionName });
  }
  span.setAttribute(ATTR_PIDBOX_STATUS, result.status);
  if (result.error) markError(span, result.error.code, result.error.message);
  else span.setStatus({ code: SpanStatusCode.OK });
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
