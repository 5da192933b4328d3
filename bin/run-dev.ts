// `pidbox dev` (`npm start`): gateway and worker in one process, on a private redis-server (with a
// password of its own) when REDIS_URL is unset; callbacks may reach loopback, where local receivers
// listen. SIGINT/SIGTERM stops everything and leaves nothing running.
import { startTelemetry } from '../telemetry/telemetry.js';
import { loadGatewayConfig } from '../gateway/gateway-config.js';
import { startGateway, type GatewayHandle } from '../gateway/start-gateway.js';
import { startEmbeddedRedis, type EmbeddedRedis } from '../dev/embedded-redis.js';
import { LOOPBACK_NETWORKS } from '../config/queue-config.js';
import { formatNetwork } from '../callbacks/callback-address.js';
import { describeRedis } from '../redis/redis-client.js';
import { FunctionRegistry } from '../registry/function-registry.js';
import { loadWorkerConfig } from '../worker/jobs/worker-config.js';
import { startWorker, type WorkerHandle } from '../worker/jobs/start-worker.js';
import { BUBBLEWRAP, REDIS_SERVER, ensureProgram } from './ensure-program.js';
import { untilSignal } from './until-signal.js';

const NAME = 'pidbox dev';

export async function runDev(env: NodeJS.ProcessEnv): Promise<number> {
  const gatewayConfig = loadGatewayConfig(env, { host: '127.0.0.1', callbackAllowNetworks: LOOPBACK_NETWORKS });
  const workerConfig = loadWorkerConfig(env, process.cwd(), { callbackAllowNetworks: LOOPBACK_NETWORKS });
  // One process, one set of telemetry: the gateway's /metrics shows the worker's figures too.
  const telemetry = await startTelemetry(env, 'dev');
  let redis: EmbeddedRedis | null = null;
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
    if (!redisGiven) {
      redis = await startEmbeddedRedis({ listen: 'unix' });
      gatewayConfig.queue.redisUrl = workerConfig.queue.redisUrl = redis.url;
    }
    worker = await startWorker(workerConfig, telemetry);
    gateway = await startGateway(gatewayConfig, telemetry);
    printBanner(gateway, {
      keyed: gatewayConfig.apiKeys.length > 0,
      functionsDir: gatewayConfig.functionsDir,
      redis: `${describeRedis(gatewayConfig.queue)}${redis ? ' (private, no persistence)' : ''}`,
      concurrency: workerConfig.concurrency,
      callbackNetworks: workerConfig.queue.callbackAllowNetworks.map(formatNetwork),
      tracing: telemetry.tracing.enabled,
    });
    await untilSignal(NAME);
    return 0;
  } finally {
    await Promise.all([gateway?.close(), worker?.close()]);
    await redis?.stop();
    await telemetry.tracing.shutdown();
  }
}

interface BannerFacts {
  keyed: boolean;
  functionsDir: string;
  /** Redacted. */
  redis: string;
  concurrency: number;
  callbackNetworks: string[];
  tracing: boolean;
}

function printBanner(gateway: GatewayHandle, { keyed, functionsDir, redis, concurrency, callbackNetworks, tracing }: BannerFacts): void {
  const { functions, problems } = new FunctionRegistry(functionsDir).list();
  const names = functions.map((f) => f.name);
  const example = names.includes('hello') ? 'hello' : (names[0] ?? 'hello');
  const auth = keyed ? " -H 'Authorization: Bearer $PIDBOX_API_KEY'" : '';
  const lines = [
    `${NAME}: gateway and worker in one process`,
    `  functions  ${functionsDir}: ${names.join(', ') || '(none yet)'}`,
    ...problems.map((p) => `  problem    ${p.name}: ${p.message}`),
    `  redis      ${redis}`,
    `  worker     up to ${concurrency} invocations at once, each in a fresh PID namespace`,
    `  gateway    ${gateway.url} ${keyed ? '(API key required)' : '(open: PIDBOX_API_KEYS is not set, so no key is asked for)'}`,
    `  dashboard  ${gateway.url}/ui (queues: ${gateway.url}/admin/queues)`,
    `  metrics    ${gateway.url}/metrics`,
    `  callbacks  public addresses${callbackNetworks.length > 0 ? ` and ${callbackNetworks.join(', ')}` : ' only'} (PIDBOX_CALLBACK_ALLOW_NETWORKS)`,
    `  tracing    ${tracing ? 'on: spans go to the OTLP endpoint' : 'off (set OTEL_EXPORTER_OTLP_ENDPOINT to export traces)'}`,
    '',
    'Try it:',
    `  curl -s -X POST${auth} ${gateway.url}/functions/${example} -d 'pidbox'`,
    '',
    'Ctrl-C stops everything.',
  ];
  console.log(lines.join('\n'));
}
