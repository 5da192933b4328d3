// A worker: BullMQ Workers on the invocations and callbacks queues, the cancel listener, and a
// shutdown that stops taking jobs, lets running ones finish within the grace period, then kills
// their sandboxes and hands their jobs back to the queue.
import { hostname } from 'node:os';
import { Job, Worker } from 'bullmq';
import { networkList } from '../../callbacks/callback-address.js';
import { quietTelemetry, type Telemetry } from '../../telemetry/telemetry.js';
import { FunctionRegistry } from '../../registry/function-registry.js';
import { createNodeBuilder } from '../runtimes/node-build.js';
import { openSandboxHost } from '../sandbox/sandbox-host.js';
import { resolveLimits } from '../invoke/run-function.js';
import { SandboxPool } from '../invoke/sandbox-pool.js';
import type { InvocationRequest } from '../../contracts/invocation.js';
import { finishInvocation, keepingRequest } from '../../redis/finish-invocation.js';
import { openQueues } from '../../redis/invocation-queues.js';
import { InvocationStore } from '../../redis/invocation-store.js';
import { LogStore } from '../../redis/log-store.js';
import { closeRedisClient, createRedisClient } from '../../redis/redis-client.js';
import { CALLBACKS_QUEUE, INVOCATIONS_QUEUE, redisKeys } from '../../redis/redis-keys.js';
import { unrunResult } from '../../redis/unrun-result.js';
import { answerRequest } from './answer-requests.js';
import { listenForCancels } from './cancel-listener.js';
import { FunctionSlots } from './function-slots.js';
import { receiveJob, type WorkerDeps } from './receive-job.js';
import { RunningInvocations } from './running-invocations.js';
import type { WorkerConfig } from './worker-config.js';

export interface WorkerHandle {
  /** `host:pid`, as records name the worker of a run. */
  readonly name: string;
  /** Invocations running now. */
  readonly running: number;
  /**
   * Stops taking jobs, waits up to the grace period for running invocations, then kills their
   * sandboxes and hands their jobs back; closes every connection. Bounded; safe to call twice.
   */
  close(): Promise<void>;
}

/** Time allowed after the grace period for aborted runs to hand their jobs back and connections to close. */
const CLOSE_MARGIN_MS = 5000;

/** `telemetry`: the process's traces, metrics and logs; by default no tracing and warnings only. */
export async function startWorker(config: WorkerConfig, telemetry?: Telemetry): Promise<WorkerHandle> {
  const { tracing, metrics, log } = telemetry ?? (await quietTelemetry('worker'));
  const name = `${hostname()}:${process.pid}`;
  // First: a machine that cannot run sandboxes stops the worker before it takes a job.
  const sandboxHost = await openSandboxHost({ runDir: config.runDir, uids: config.sandboxUids });
  const builder = createNodeBuilder({ cacheDir: config.cacheDir, maxBundleBytes: config.maxBundleBytes });
  const sandboxPool = config.pool.maxSandboxes > 0
    ? new SandboxPool({
      host: sandboxHost,
      builder,
      ...config.pool,
      limits: (fn) => (fn ? resolveLimits(fn.config, config.sandboxLimits, config.sandboxCeilings) : config.sandboxLimits),
      maxResultBytes: config.maxResponseBytes + 64 * 1024,
      tracing: tracing.enabled,
      log,
    })
    : null;
  if (sandboxPool) metrics.watchPool(() => sandboxPool.figures().ready);
  const keys = redisKeys(config.queue.prefix);
  const redis = createRedisClient(config.queue, { name: 'pidbox-worker', log });
  const subscriber = createRedisClient(config.queue, { name: 'pidbox-worker-control', log });
  const store = new InvocationStore(redis, keys, config.queue, { retryWhileUnavailable: true });
  const queues = openQueues(redis, keys);
  const running = new RunningInvocations();
  const deps: WorkerDeps = {
    store,
    logs: new LogStore(redis, keys),
    queues,
    config: config.queue,
    registry: new FunctionRegistry(config.functionsDir),
    builder,
    sandboxHost,
    sandboxPool,
    running,
    slots: new FunctionSlots(),
    workerConfig: config,
    callbackAllow: networkList(config.queue.callbackAllowNetworks),
    workerName: name,
    telemetry: { tracing, metrics, log },
  };
  const cancels = await listenForCancels({
    subscriber,
    channel: keys.controlChannel,
    running,
    store,
    answer: (request) => answerRequest(request, { running, redis, replyChannelPrefix: keys.replyChannel(''), log }),
  });

  const common = { connection: redis, name };
  const processor = (job: Job, token?: string): Promise<void> => receiveJob(job, token, deps);
  const invocations = new Worker(INVOCATIONS_QUEUE, processor, {
    ...common,
    prefix: keys.bullPrefix(INVOCATIONS_QUEUE),
    concurrency: config.concurrency,
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: config.maxStalledCount,
  });
  const callbacks = new Worker(CALLBACKS_QUEUE, processor, { ...common, prefix: keys.bullPrefix(CALLBACKS_QUEUE), concurrency: config.callbackConcurrency });

  // A job BullMQ failed without our processor finishing its record — its last attempt threw, or it
  // was lost with its worker too often — still ends, with a reason (a finished record is left as is).
  const finishLost = (jobId: string, code: 'WORKER_LOST' | 'INTERNAL', message: string): void => {
    Job.fromId(invocations, jobId)
      .then((job) => {
        const functionName = (job?.data as { functionName?: string } | undefined)?.functionName ?? job?.name ?? '';
        const batchId = (job?.data as { batchId?: string } | undefined)?.batchId;
        const request = (job?.data as { request?: InvocationRequest } | undefined)?.request;
        const result = unrunResult('failed', code, message);
        return finishInvocation(deps, jobId, functionName, request ? keepingRequest(result, request) : result, batchId).then((outcome) => {
          if (outcome.kind === 'finished') metrics.invocations.inc({ function: functionName, outcome: 'failed' });
        });
      })
      .catch((error: Error) => log.error('a lost invocation could not be finished', { invocation_id: jobId, error: error.message }));
  };
  invocations.on('failed', (job, error) => {
    // Only a final failure (a retry leaves finishedOn unset). A job whose worker was lost more often
    // than maxStalledCount allows is failed by the next worker that takes it, before our processor.
    if (!job?.id || !job.finishedOn) return;
    const lost = Boolean((job as { deferredFailure?: string }).deferredFailure) || /stalled/.test(error.message);
    if (lost) finishLost(job.id, 'WORKER_LOST', 'the worker running the invocation was lost, more often than PIDBOX_MAX_STALLED_COUNT allows');
    else finishLost(job.id, 'INTERNAL', `the worker failed the invocation: ${error.message}`);
  });
  for (const worker of [invocations, callbacks]) {
    // Said once per new message: a Redis that is down repeats the same one on every retry.
    let last = '';
    worker.on('error', (error) => {
      if (error.message !== last) log.error('queue error', { queue: worker.name, error: error.message });
      last = error.message;
    });
  }
  metrics.watchQueue(() => queues.invocations.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'));
  await Promise.all([invocations.waitUntilReady(), callbacks.waitUntilReady()]);

  let closing: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    const grace = setTimeout(() => running.abortAll('shutdown'), config.shutdownGraceMs);
    const stopped = Promise.all([invocations.close(), callbacks.close()]).catch(() => {});
    const bounded = await Promise.race([
      stopped.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(resolve, config.shutdownGraceMs + CLOSE_MARGIN_MS, false).unref()),
    ]);
    clearTimeout(grace);
    if (!bounded) {
      // Redis is gone or a job does not end: stop waiting; BullMQ's stalled check recovers the jobs.
      running.abortAll('shutdown');
      await Promise.race([Promise.all([invocations.close(true), callbacks.close(true)]).catch(() => {}), delay(1000)]);
    }
    await cancels.close();
    await Promise.race([queues.close(), delay(1000)]);
    await Promise.all([closeRedisClient(subscriber), closeRedisClient(redis)]);
    await sandboxPool?.close();
    await sandboxHost.close();
  };
  return {
    name,
    get running() {
      return running.size;
    },
    close() {
      closing ??= close();
      return closing;
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
