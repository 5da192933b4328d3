// `pidbox gateway`: the HTTP gateway alone, for production (workers run as `pidbox worker`).
import { loadGatewayConfig } from '../gateway/gateway-config.js';
import { startGateway } from '../gateway/start-gateway.js';
import { startTelemetry } from '../telemetry/telemetry.js';
import { describeRedis } from '../redis/redis-client.js';
import { untilSignal } from './until-signal.js';

export async function runGateway(env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadGatewayConfig(env);
  const telemetry = await startTelemetry(env, 'gateway');
  const gateway = await startGateway(config, telemetry);
  console.log(`pidbox gateway: listening on ${gateway.url} (redis ${describeRedis(config.queue)}, functions ${config.functionsDir})`);
  if (config.apiKeys.length === 0) console.log('pidbox gateway: open: PIDBOX_API_KEYS is not set, so no API key is asked for');
  if (telemetry.tracing.enabled) console.log('pidbox gateway: tracing on (OTLP)');
  await untilSignal('pidbox gateway');
  await gateway.close();
  await telemetry.tracing.shutdown();
  return 0;
}
