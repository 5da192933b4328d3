// `pidbox worker`'s settings: a pure function of the environment (README, "Configuration").
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { decimalVar, integerVar, optionalIntegerVar, readEnv, stringVar } from '../../config/config-values.js';
import { LIMIT_BOUNDS } from '../../contracts/function-config.js';
import { DEFAULT_RUN_DIR, DEFAULT_SANDBOX_UIDS } from '../sandbox/sandbox-host.js';
import type { UidRange } from '../sandbox/sandbox-uids.js';
import { DEFAULT_SANDBOX_CEILINGS, DEFAULT_SANDBOX_LIMITS, type SandboxCeilings, type SandboxLimits } from '../sandbox/spawn-sandbox.js';
import { DEFAULT_MAX_BUNDLE_BYTES } from '../runtimes/node-build.js';
import { loadQueueConfig, type QueueConfig, type QueueDefaults } from '../../config/queue-config.js';

export interface WorkerConfig {
  queue: QueueConfig;
  /** Folder of the functions (absolute). Env PIDBOX_FUNCTIONS_DIR. Default: `./functions`. */
  functionsDir: string;
  /** Where node functions' bundles are cached (absolute). Env PIDBOX_CACHE_DIR. Default: `./.pidbox-cache`. */
  cacheDir: string;
  /** Invocations run at once by this worker. Env PIDBOX_WORKER_CONCURRENCY. Default: the number of cores. */
  concurrency: number;
  /** On SIGTERM, how long running invocations may go on before their sandboxes are killed and their jobs handed back. Env PIDBOX_SHUTDOWN_GRACE_MS. Default: 10000. */
  shutdownGraceMs: number;
  /** A job's lock: a worker that stops renewing it (killed, frozen) loses the job after this long. Env PIDBOX_LOCK_DURATION_MS. Default: 30000. */
  lockDurationMs: number;
  /** How often workers look for jobs whose worker is gone. Env PIDBOX_STALLED_INTERVAL_MS. Default: 30000. */
  stalledIntervalMs: number;
  /** How many times one job may be recovered from a lost worker before it fails (WORKER_LOST). Env PIDBOX_MAX_STALLED_COUNT. Default: 1. */
  maxStalledCount: number;
  /** Largest response body kept; a larger one fails the invocation. Env PIDBOX_MAX_RESPONSE_BYTES. Default: 6291456 (6 MiB). */
  maxResponseBytes: number;
  /** Most bytes of one run's log kept in Redis: its first and last halves. Env PIDBOX_MAX_LOG_BYTES. Default: 262144 (256 KiB). */
  maxLogBytes: number;
  /** The end of the log kept in the record itself (`log` of GET /invocations/{id}). Env PIDBOX_LOG_TAIL_BYTES. Default: 4096. */
  logTailBytes: number;
  /** Callback deliveries at once. Env PIDBOX_CALLBACK_CONCURRENCY. Default: 8. */
  callbackConcurrency: number;
  /** Longest wait for a callback URL's answer. Env PIDBOX_CALLBACK_TIMEOUT_MS. Default: 10000. */
  callbackTimeoutMs: number;
  /** Port of `pidbox worker`'s /metrics server (0 picks a free one). Env PIDBOX_METRICS_PORT. Default: 9464. */
  metricsPort: number;
  /** Address it listens on. Env PIDBOX_METRICS_HOST. Default: `0.0.0.0`. */
  metricsHost: string;
  /** Folder of the sandboxes' mounts, one tmpfs per worker (absolute). Env PIDBOX_RUN_DIR. Default: `/run/pidbox`. */
  runDir: string;
  /**
   * Host uids sandboxes run as, one of its own each (its gid the same number): from
   * PIDBOX_SANDBOX_UID (1900000000), PIDBOX_SANDBOX_UIDS (65536) of them, a range nothing else on
   * the host uses; the workers of a host share it.
   */
  sandboxUids: UidRange;
  /**
   * Limits of a function whose function.json does not set them. Env PIDBOX_SANDBOX_MEMORY_MB (256),
   * PIDBOX_SANDBOX_MAX_PROCESSES (128), PIDBOX_SANDBOX_CPUS (1), PIDBOX_SANDBOX_TMP_MB (64),
   * PIDBOX_SANDBOX_MAX_OPEN_FILES (1024).
   */
  sandboxLimits: SandboxLimits;
  /**
   * The most a function.json may ask for; more fails its invocations (INVALID_FUNCTION_CONFIG). Env
   * PIDBOX_SANDBOX_CEILING_MEMORY_MB (2048), PIDBOX_SANDBOX_CEILING_MAX_PROCESSES (1024),
   * PIDBOX_SANDBOX_CEILING_CPUS (the number of cores), PIDBOX_SANDBOX_CEILING_TMP_MB (1024).
   */
  sandboxCeilings: SandboxCeilings;
  /** Largest bundle of a node function. Env PIDBOX_MAX_BUNDLE_BYTES. Default: 33554432 (32 MiB). */
  maxBundleBytes: number;
  /** Pre-started sandboxes (each used once). */
  pool: {
    /** Most kept ready at once; 0 turns pre-starting off. Env PIDBOX_POOL_SIZE. Default: twice the concurrency. */
    maxSandboxes: number;
    /** Most memory they may use together, MiB. Env PIDBOX_POOL_MEMORY_MB. Default: 1024. */
    maxMemoryMb: number;
    /** A function not called for this long loses its own, ms. Env PIDBOX_POOL_IDLE_MS. Default: 60000. */
    idleMs: number;
    /** Kept for functions that have none of their own, per runtime (exec, node). Env PIDBOX_POOL_RESERVE. Default: 1. */
    reserve: number;
  };
}

const LIMIT_NAMES = { memoryMb: 'MEMORY_MB', maxProcesses: 'MAX_PROCESSES', cpus: 'CPUS', tmpMb: 'TMP_MB' } as const;
/** Highest host uid a sandbox may run as (0xffffffff is (uid_t)-1). */
const MAX_UID = 0xfffffffe;

/** The worker's own variables, each with its check and default (README, "Configuration"). */
export function workerVariables() {
  const cores = availableParallelism();
  const { memoryMb, maxProcesses, cpus, tmpMb } = LIMIT_BOUNDS;
  return z
    .object({
      PIDBOX_FUNCTIONS_DIR: stringVar('./functions'),
      PIDBOX_CACHE_DIR: stringVar('./.pidbox-cache'),
      PIDBOX_WORKER_CONCURRENCY: integerVar(cores, 1, 1024),
      PIDBOX_SHUTDOWN_GRACE_MS: integerVar(10_000, 0),
      PIDBOX_LOCK_DURATION_MS: integerVar(30_000, 1000),
      PIDBOX_STALLED_INTERVAL_MS: integerVar(30_000, 100),
      PIDBOX_MAX_STALLED_COUNT: integerVar(1, 0, 100),
      PIDBOX_MAX_RESPONSE_BYTES: integerVar(6 * 1024 * 1024, 1),
      PIDBOX_MAX_LOG_BYTES: integerVar(256 * 1024, 2),
      PIDBOX_LOG_TAIL_BYTES: integerVar(4096, 0),
      PIDBOX_CALLBACK_CONCURRENCY: integerVar(8, 1, 1024),
      PIDBOX_CALLBACK_TIMEOUT_MS: integerVar(10_000, 1),
      PIDBOX_METRICS_PORT: integerVar(9464, 0, 65535),
      PIDBOX_METRICS_HOST: stringVar('0.0.0.0'),
      PIDBOX_RUN_DIR: stringVar(DEFAULT_RUN_DIR),
      // Never 0: a sandbox is never root on the host.
      PIDBOX_SANDBOX_UID: integerVar(DEFAULT_SANDBOX_UIDS.first, 1, MAX_UID),
      // At most up to MAX_UID from the first: checked below, once the first is known.
      PIDBOX_SANDBOX_UIDS: integerVar(DEFAULT_SANDBOX_UIDS.count, 1, MAX_UID - 1),
      PIDBOX_SANDBOX_CEILING_MEMORY_MB: integerVar(DEFAULT_SANDBOX_CEILINGS.memoryMb, memoryMb.min, memoryMb.max),
      PIDBOX_SANDBOX_CEILING_MAX_PROCESSES: integerVar(DEFAULT_SANDBOX_CEILINGS.maxProcesses, maxProcesses.min, maxProcesses.max),
      PIDBOX_SANDBOX_CEILING_CPUS: decimalVar(cores, cpus.min, cpus.max),
      PIDBOX_SANDBOX_CEILING_TMP_MB: integerVar(DEFAULT_SANDBOX_CEILINGS.tmpMb, tmpMb.min, tmpMb.max),
      PIDBOX_POOL_SIZE: optionalIntegerVar(0, 4096),
      PIDBOX_POOL_MEMORY_MB: integerVar(1024, 0),
      PIDBOX_POOL_IDLE_MS: integerVar(60_000, 1000),
      PIDBOX_POOL_RESERVE: integerVar(1, 0, 64),
      PIDBOX_MAX_BUNDLE_BYTES: integerVar(DEFAULT_MAX_BUNDLE_BYTES, 1024),
      PIDBOX_SANDBOX_MEMORY_MB: integerVar(DEFAULT_SANDBOX_LIMITS.memoryMb, memoryMb.min, memoryMb.max),
      PIDBOX_SANDBOX_MAX_PROCESSES: integerVar(DEFAULT_SANDBOX_LIMITS.maxProcesses, maxProcesses.min, maxProcesses.max),
      PIDBOX_SANDBOX_CPUS: decimalVar(DEFAULT_SANDBOX_LIMITS.cpus, cpus.min, cpus.max),
      PIDBOX_SANDBOX_TMP_MB: integerVar(DEFAULT_SANDBOX_LIMITS.tmpMb, tmpMb.min, tmpMb.max),
      PIDBOX_SANDBOX_MAX_OPEN_FILES: integerVar(DEFAULT_SANDBOX_LIMITS.maxOpenFiles, 16, 1_048_576),
    })
    .superRefine((vars, ctx) => {
      const lastCount = MAX_UID - vars.PIDBOX_SANDBOX_UID;
      if (vars.PIDBOX_SANDBOX_UIDS > lastCount) {
        ctx.addIssue({ code: 'custom', path: ['PIDBOX_SANDBOX_UIDS'], message: `must be a whole number from 1 to ${lastCount}, got "${vars.PIDBOX_SANDBOX_UIDS}"` });
      }
      // A default above its ceiling would fail every function that leaves the limit unset.
      for (const name of Object.values(LIMIT_NAMES)) {
        const value = vars[`PIDBOX_SANDBOX_${name}`];
        const ceiling = vars[`PIDBOX_SANDBOX_CEILING_${name}`];
        if (value > ceiling) {
          ctx.addIssue({ code: 'custom', path: [`PIDBOX_SANDBOX_${name}`], message: `${value} is above PIDBOX_SANDBOX_CEILING_${name} (${ceiling})` });
        }
      }
    });
}

/** `defaults`: what differs under `pidbox dev` (the networks callbacks may reach). */
export function loadWorkerConfig(env: NodeJS.ProcessEnv, cwd = process.cwd(), defaults: QueueDefaults = {}): WorkerConfig {
  const vars = readEnv(workerVariables(), env);
  return {
    queue: loadQueueConfig(env, defaults),
    functionsDir: resolve(cwd, vars.PIDBOX_FUNCTIONS_DIR),
    cacheDir: resolve(cwd, vars.PIDBOX_CACHE_DIR),
    concurrency: vars.PIDBOX_WORKER_CONCURRENCY,
    shutdownGraceMs: vars.PIDBOX_SHUTDOWN_GRACE_MS,
    lockDurationMs: vars.PIDBOX_LOCK_DURATION_MS,
    stalledIntervalMs: vars.PIDBOX_STALLED_INTERVAL_MS,
    maxStalledCount: vars.PIDBOX_MAX_STALLED_COUNT,
    maxResponseBytes: vars.PIDBOX_MAX_RESPONSE_BYTES,
    maxLogBytes: vars.PIDBOX_MAX_LOG_BYTES,
    logTailBytes: vars.PIDBOX_LOG_TAIL_BYTES,
    callbackConcurrency: vars.PIDBOX_CALLBACK_CONCURRENCY,
    callbackTimeoutMs: vars.PIDBOX_CALLBACK_TIMEOUT_MS,
    metricsPort: vars.PIDBOX_METRICS_PORT,
    metricsHost: vars.PIDBOX_METRICS_HOST,
    runDir: resolve(cwd, vars.PIDBOX_RUN_DIR),
    sandboxUids: { first: vars.PIDBOX_SANDBOX_UID, count: vars.PIDBOX_SANDBOX_UIDS },
    sandboxCeilings: {
      memoryMb: vars.PIDBOX_SANDBOX_CEILING_MEMORY_MB,
      maxProcesses: vars.PIDBOX_SANDBOX_CEILING_MAX_PROCESSES,
      cpus: vars.PIDBOX_SANDBOX_CEILING_CPUS,
      tmpMb: vars.PIDBOX_SANDBOX_CEILING_TMP_MB,
    },
    pool: {
      maxSandboxes: vars.PIDBOX_POOL_SIZE ?? 2 * vars.PIDBOX_WORKER_CONCURRENCY,
      maxMemoryMb: vars.PIDBOX_POOL_MEMORY_MB,
      idleMs: vars.PIDBOX_POOL_IDLE_MS,
      reserve: vars.PIDBOX_POOL_RESERVE,
    },
    maxBundleBytes: vars.PIDBOX_MAX_BUNDLE_BYTES,
    sandboxLimits: {
      memoryMb: vars.PIDBOX_SANDBOX_MEMORY_MB,
      maxProcesses: vars.PIDBOX_SANDBOX_MAX_PROCESSES,
      cpus: vars.PIDBOX_SANDBOX_CPUS,
      tmpMb: vars.PIDBOX_SANDBOX_TMP_MB,
      maxOpenFiles: vars.PIDBOX_SANDBOX_MAX_OPEN_FILES,
    },
  };
}
