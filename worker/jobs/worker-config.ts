// `pidbox worker`'s settings: a pure function of the environment (README, "Configuration").
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { invalidConfig, readDecimal, readInteger, readString } from '../../config/config-values.js';
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

/** `defaults`: what differs under `pidbox dev` (the networks callbacks may reach). */
export function loadWorkerConfig(env: NodeJS.ProcessEnv, cwd = process.cwd(), defaults: QueueDefaults = {}): WorkerConfig {
  const config = readWorkerConfig(env, cwd, defaults);
  const names = { memoryMb: 'MEMORY_MB', maxProcesses: 'MAX_PROCESSES', cpus: 'CPUS', tmpMb: 'TMP_MB' } as const;
  for (const [field, name] of Object.entries(names) as Array<[keyof SandboxCeilings, string]>) {
    if (config.sandboxLimits[field] > config.sandboxCeilings[field]) {
      throw invalidConfig(`PIDBOX_SANDBOX_${name}`, `${config.sandboxLimits[field]} is above PIDBOX_SANDBOX_CEILING_${name} (${config.sandboxCeilings[field]})`);
    }
  }
  return config;
}

function readWorkerConfig(env: NodeJS.ProcessEnv, cwd: string, defaults: QueueDefaults): WorkerConfig {
  // Never 0: a sandbox is never root on the host.
  const first = readInteger(env, 'PIDBOX_SANDBOX_UID', DEFAULT_SANDBOX_UIDS.first, 1, 0xfffffffe);
  const sandboxUids: UidRange = { first, count: readInteger(env, 'PIDBOX_SANDBOX_UIDS', DEFAULT_SANDBOX_UIDS.count, 1, 0xfffffffe - first) };
  const concurrency = readInteger(env, 'PIDBOX_WORKER_CONCURRENCY', availableParallelism(), 1, 1024);
  const sandboxCeilings: SandboxCeilings = {
    memoryMb: readInteger(env, 'PIDBOX_SANDBOX_CEILING_MEMORY_MB', DEFAULT_SANDBOX_CEILINGS.memoryMb, LIMIT_BOUNDS.memoryMb.min, LIMIT_BOUNDS.memoryMb.max),
    maxProcesses: readInteger(env, 'PIDBOX_SANDBOX_CEILING_MAX_PROCESSES', DEFAULT_SANDBOX_CEILINGS.maxProcesses, LIMIT_BOUNDS.maxProcesses.min, LIMIT_BOUNDS.maxProcesses.max),
    cpus: readDecimal(env, 'PIDBOX_SANDBOX_CEILING_CPUS', availableParallelism(), LIMIT_BOUNDS.cpus.min, LIMIT_BOUNDS.cpus.max),
    tmpMb: readInteger(env, 'PIDBOX_SANDBOX_CEILING_TMP_MB', DEFAULT_SANDBOX_CEILINGS.tmpMb, LIMIT_BOUNDS.tmpMb.min, LIMIT_BOUNDS.tmpMb.max),
  };
  return {
    queue: loadQueueConfig(env, defaults),
    functionsDir: resolve(cwd, readString(env, 'PIDBOX_FUNCTIONS_DIR', './functions')),
    cacheDir: resolve(cwd, readString(env, 'PIDBOX_CACHE_DIR', './.pidbox-cache')),
    concurrency,
    shutdownGraceMs: readInteger(env, 'PIDBOX_SHUTDOWN_GRACE_MS', 10_000, 0),
    lockDurationMs: readInteger(env, 'PIDBOX_LOCK_DURATION_MS', 30_000, 1000),
    stalledIntervalMs: readInteger(env, 'PIDBOX_STALLED_INTERVAL_MS', 30_000, 100),
    maxStalledCount: readInteger(env, 'PIDBOX_MAX_STALLED_COUNT', 1, 0, 100),
    maxResponseBytes: readInteger(env, 'PIDBOX_MAX_RESPONSE_BYTES', 6 * 1024 * 1024, 1),
    maxLogBytes: readInteger(env, 'PIDBOX_MAX_LOG_BYTES', 256 * 1024, 2),
    logTailBytes: readInteger(env, 'PIDBOX_LOG_TAIL_BYTES', 4096, 0),
    callbackConcurrency: readInteger(env, 'PIDBOX_CALLBACK_CONCURRENCY', 8, 1, 1024),
    callbackTimeoutMs: readInteger(env, 'PIDBOX_CALLBACK_TIMEOUT_MS', 10_000, 1),
    metricsPort: readInteger(env, 'PIDBOX_METRICS_PORT', 9464, 0, 65535),
    metricsHost: readString(env, 'PIDBOX_METRICS_HOST', '0.0.0.0'),
    runDir: resolve(cwd, readString(env, 'PIDBOX_RUN_DIR', DEFAULT_RUN_DIR)),
    sandboxUids,
    sandboxCeilings,
    pool: {
      maxSandboxes: readInteger(env, 'PIDBOX_POOL_SIZE', 2 * concurrency, 0, 4096),
      maxMemoryMb: readInteger(env, 'PIDBOX_POOL_MEMORY_MB', 1024, 0),
      idleMs: readInteger(env, 'PIDBOX_POOL_IDLE_MS', 60_000, 1000),
      reserve: readInteger(env, 'PIDBOX_POOL_RESERVE', 1, 0, 64),
    },
    maxBundleBytes: readInteger(env, 'PIDBOX_MAX_BUNDLE_BYTES', DEFAULT_MAX_BUNDLE_BYTES, 1024),
    sandboxLimits: {
      memoryMb: readInteger(env, 'PIDBOX_SANDBOX_MEMORY_MB', DEFAULT_SANDBOX_LIMITS.memoryMb, LIMIT_BOUNDS.memoryMb.min, LIMIT_BOUNDS.memoryMb.max),
      maxProcesses: readInteger(env, 'PIDBOX_SANDBOX_MAX_PROCESSES', DEFAULT_SANDBOX_LIMITS.maxProcesses, LIMIT_BOUNDS.maxProcesses.min, LIMIT_BOUNDS.maxProcesses.max),
      cpus: readDecimal(env, 'PIDBOX_SANDBOX_CPUS', DEFAULT_SANDBOX_LIMITS.cpus, LIMIT_BOUNDS.cpus.min, LIMIT_BOUNDS.cpus.max),
      tmpMb: readInteger(env, 'PIDBOX_SANDBOX_TMP_MB', DEFAULT_SANDBOX_LIMITS.tmpMb, LIMIT_BOUNDS.tmpMb.min, LIMIT_BOUNDS.tmpMb.max),
      maxOpenFiles: readInteger(env, 'PIDBOX_SANDBOX_MAX_OPEN_FILES', DEFAULT_SANDBOX_LIMITS.maxOpenFiles, 16, 1_048_576),
    },
  };
}
