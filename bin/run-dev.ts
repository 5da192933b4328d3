// `pidbox dev` (`npm start`): gateway and worker in one process, on a private redis-server (with a
// password of its own) when REDIS_URL is unset; callbacks may reach loopback, where local receivers
// listen. Ctrl-C (SIGINT) or SIGTERM stops everything gracefully and leaves nothing running; a
// second Ctrl-C a moment later stops it at once (bin/shutdown-signals.ts).
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTelemetry } from '../telemetry/telemetry.js';
import { loadGatewayConfig } from '../gateway/gateway-config.js';
import { startGateway, type GatewayHandle } from '../gateway/start-gateway.js';
import { startEmbeddedRedis, type EmbeddedRedis } from '../dev/embedded-redis.js';
import { makeOwnedTempDir, removeOrphanedTempDirs } from '../dev/owned-temp-dir.js';
import { LOOPBACK_NETWORKS } from '../config/queue-config.js';
import { formatNetwork } from '../callbacks/callback-address.js';
import { describeRedis } from '../redis/redis-client.js';
import { FunctionRegistry } from '../registry/function-registry.js';
import { loadWorkerConfig } from '../worker/jobs/worker-config.js';
import { startWorker, type WorkerHandle } from '../worker/jobs/start-worker.js';
import { DEFAULT_URL } from './client/gateway-client.js';
import { BUBBLEWRAP, REDIS_SERVER, ensureProgram } from './ensure-program.js';
import { warnAboutFunctionsDir } from './functions-dir.js';
import { untilShutdown } from './shutdown-signals.js';

const NAME = 'pidbox dev';
/** `pidbox dev`'s own temporary folder (the API key for the banner's commands): `<tmpdir>/pidbox-dev-<pid>-<start time>-XXXXXX`. */
const DEV_DIR_PREFIX = 'pidbox-dev-';
/** bin/pidbox, from dist/bin/run-dev.js. */
const PIDBOX_BIN = fileURLToPath(new URL('../../bin/pidbox', import.meta.url));

export async function runDev(env: NodeJS.ProcessEnv): Promise<number> {
  const gatewayConfig = loadGatewayConfig(env, { host: '127.0.0.1', callbackAllowNetworks: LOOPBACK_NETWORKS });
  const workerConfig = loadWorkerConfig(env, process.cwd(), { callbackAllowNetworks: LOOPBACK_NETWORKS });
  // One process, one set of telemetry: the gateway's /metrics shows the worker's figures too.
  const telemetry = await startTelemetry(env, 'dev');
  let redis: EmbeddedRedis | null = null;
  let devDir: string | null = null;
  let worker: WorkerHandle | null = null;
  let gateway: GatewayHandle | null = null;
  try {
    const say = (line: string): void => console.error(`${NAME}: ${line}`);
    const redisGiven = gatewayConfig.queue.redisUrlSet || gatewayConfig.queue.redisCluster !== null;
    for (const program of redisGiven ? [BUBBLEWRAP] : [BUBBLEWRAP, REDIS_SERVER]) {
      const problem = ensureProgram(program, say);
      if (problem) {
        say(problem);
        return 1;
      }
    }
    const functionsProblem = warnAboutFunctionsDir(gatewayConfig.functionsDir, telemetry.log);
    if (!redisGiven) {
      redis = await startEmbeddedRedis({ listen: 'unix' });
      for (const dir of redis.orphansRemoved) say(`removed ${dir}: the process that made it was killed`);
      gatewayConfig.queue.redisUrl = workerConfig.queue.redisUrl = redis.url;
    }
    removeOrphanedTempDirs(DEV_DIR_PREFIX);
    if (gatewayConfig.apiKeys.length > 0) devDir = makeOwnedTempDir(DEV_DIR_PREFIX);
    worker = await startWorker(workerConfig, telemetry);
    gateway = await startGateway(gatewayConfig, telemetry);
    // Listening for signals before the banner says it is ready: a signal sent as soon as the banner
    // shows must find the graceful stop in place, not the default action.
    const shutdown = untilShutdown(NAME, {
      waitsFor: `running invocations get up to ${workerConfig.shutdownGraceMs} ms to finish`,
      // Sandboxes die with the process (bubblewrap's --die-with-parent); their folders and cgroups
      // go when the next worker starts. What is ours to remove goes now.
      onForce: () => {
        redis?.killNow();
        if (devDir) rmSync(devDir, { recursive: true, force: true });
      },
    });
    printBanner(gateway, {
      apiKeyFiles: devDir ? writeApiKeyFiles(devDir, gatewayConfig.apiKeys[0]!) : null,
      functionsDir: gatewayConfig.functionsDir,
      functionsProblem,
      redis: `${describeRedis(gatewayConfig.queue)}${redis ? ' (private, no persistence)' : ''}`,
      concurrency: workerConfig.concurrency,
      callbackNetworks: workerConfig.queue.callbackAllowNetworks.map(formatNetwork),
      tracing: telemetry.tracing.enabled,
    });
    await shutdown;
    return 0;
  } finally {
    // Redis and the folders go even when closing the gateway or the worker fails.
    const closed = await Promise.allSettled([gateway?.close(), worker?.close()]);
    for (const step of closed) if (step.status === 'rejected') telemetry.log.error('stopping failed', { error: String(step.reason) });
    await redis?.stop();
    if (devDir) rmSync(devDir, { recursive: true, force: true });
    await telemetry.tracing.shutdown();
  }
}

interface ApiKeyFiles {
  /** `Authorization: Bearer <key>`, for `curl -H @file`. */
  header: string;
  /** The key alone, for PIDBOX_API_KEY. */
  key: string;
}

/**
 * The first API key, in files only this user can read, for the banner's commands: they work when
 * pasted, and the key stays out of the terminal, the shell's history and every command line (which
 * any user of the machine can read in /proc). Removed when pidbox dev stops.
 */
function writeApiKeyFiles(dir: string, key: string): ApiKeyFiles {
  const files = { header: join(dir, 'authorization'), key: join(dir, 'api-key') };
  writeFileSync(files.header, `Authorization: Bearer ${key}\n`, { mode: 0o600 });
  writeFileSync(files.key, key, { mode: 0o600 });
  chmodSync(dir, 0o700);
  return files;
}

interface BannerFacts {
  apiKeyFiles: ApiKeyFiles | null;
  functionsDir: string;
  functionsProblem: string | null;
  /** Redacted. */
  redis: string;
  concurrency: number;
  callbackNetworks: string[];
  tracing: boolean;
}

function printBanner(gateway: GatewayHandle, facts: BannerFacts): void {
  const { apiKeyFiles, functionsDir, functionsProblem, redis, concurrency, callbackNetworks, tracing } = facts;
  const { functions, problems } = new FunctionRegistry(functionsDir).list();
  const names = functions.map((f) => f.name);
  const example = names.includes('hello') ? 'hello' : (names[0] ?? 'hello');
  const shownFunctions = functionsProblem ? `${functionsProblem}! (--functions or PIDBOX_FUNCTIONS_DIR)` : names.join(', ') || '(none yet: pidbox new NAME)';
  const curlAuth = apiKeyFiles ? ` -H @${apiKeyFiles.header}` : '';
  const cliEnv = [
    ...(gateway.url !== DEFAULT_URL ? [`PIDBOX_URL=${gateway.url}`] : []),
    ...(apiKeyFiles ? [`PIDBOX_API_KEY=$(cat ${apiKeyFiles.key})`] : []),
  ];
  const lines = [
    `${NAME}: gateway and worker in one process`,
    `  functions  ${functionsDir}: ${shownFunctions}`,
    ...problems.map((p) => `  problem    ${p.name}: ${p.message}`),
    `  redis      ${redis}`,
    `  worker     up to ${concurrency} invocations at once, each in a fresh PID namespace`,
    `  gateway    ${gateway.url} ${apiKeyFiles ? '(API key required: the commands below read the first of PIDBOX_API_KEYS from a file only you can read)' : '(open: PIDBOX_API_KEYS is not set, so no key is asked for)'}`,
    `  dashboard  ${gateway.url}/ui (queues: ${gateway.url}/admin/queues)`,
    `  metrics    ${gateway.url}/metrics`,
    `  callbacks  public addresses${callbackNetworks.length > 0 ? ` and ${callbackNetworks.join(', ')}` : ' only'} (PIDBOX_CALLBACK_ALLOW_NETWORKS)`,
    `  tracing    ${tracing ? 'on: spans go to the OTLP endpoint' : 'off (set OTEL_EXPORTER_OTLP_ENDPOINT to export traces)'}`,
    '',
    'Try it:',
    `  curl -s -X POST${curlAuth} ${gateway.url}/functions/${example} -d 'pidbox'`,
    `  ${[...cliEnv, relative(process.cwd(), PIDBOX_BIN) || PIDBOX_BIN].join(' ')} invoke ${example} -d 'pidbox'`,
    '',
    'Ctrl-C stops everything: running invocations finish first; Ctrl-C again stops at once.',
  ];
  console.log(lines.join('\n'));
}
