// A gateway and (optionally) a worker in the test process, on a real redis-server, over real HTTP.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Telemetry } from '../../telemetry/telemetry.js';
import type { EmbeddedRedis } from '../../dev/embedded-redis.js';
import { loadGatewayConfig } from '../../gateway/gateway-config.js';
import { startGateway, type GatewayHandle } from '../../gateway/start-gateway.js';
import { loadWorkerConfig } from '../../worker/jobs/worker-config.js';
import { startWorker, type WorkerHandle } from '../../worker/jobs/start-worker.js';
import { startTestRedis } from './redis-server.js';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/functions', import.meta.url));
export const SAMPLES = fileURLToPath(new URL('../../../functions', import.meta.url));

export interface StackOptions {
  /** Default: the test fixtures. */
  functionsDir?: string;
  /** Extra environment, over the defaults below. */
  env?: Record<string, string>;
  /** Start a worker in this process. Default: true. */
  worker?: boolean;
  /** Use this Redis instead of starting one (it is then not stopped with the stack). */
  redis?: EmbeddedRedis;
  /** Traces, metrics and logs of gateway and worker (shared, as under `pidbox dev`). Default: quiet. */
  telemetry?: Telemetry;
}

export interface Stack {
  readonly url: string;
  readonly redis: EmbeddedRedis;
  /** The environment the gateway and worker were configured from (REDIS_URL and all). */
  readonly env: Record<string, string>;
  readonly gateway: GatewayHandle;
  readonly worker: WorkerHandle | null;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Stops the worker, the gateway and (when it started it) Redis; safe to call twice. */
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const redis = options.redis ?? (await startTestRedis());
  const cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-test-cache-'));
  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    PIDBOX_FUNCTIONS_DIR: options.functionsDir ?? FIXTURES,
    PIDBOX_CACHE_DIR: cacheDir,
    PORT: '0',
    PIDBOX_HOST: '127.0.0.1',
    PIDBOX_RETRY_BACKOFF_MS: '100',
    PIDBOX_CALLBACK_BACKOFF_MS: '100',
    PIDBOX_SHUTDOWN_GRACE_MS: '2000',
    ...options.env,
  };
  let worker: WorkerHandle | null = null;
  let gateway: GatewayHandle | null = null;
  const stopAll = async (): Promise<void> => {
    await Promise.all([gateway?.close(), worker?.close()]);
    if (!options.redis) await redis.stop();
    rmSync(cacheDir, { recursive: true, force: true });
  };
  try {
    if (options.worker !== false) worker = await startWorker(loadWorkerConfig(env), options.telemetry);
    gateway = await startGateway(loadGatewayConfig(env), options.telemetry);
  } catch (error) {
    await stopAll();
    throw error;
  }
  let stopping: Promise<void> | null = null;
  const url = gateway.url;
  return {
    url,
    redis,
    env,
    gateway,
    worker,
    fetch: (path, init) => fetch(`${url}${path}`, init),
    stop() {
      stopping ??= stopAll();
      return stopping;
    },
  };
}
