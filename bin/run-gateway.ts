// `pidbox gateway`: the HTTP gateway alone, for production (workers run as `pidbox worker`).
import { loadGatewayConfig } from '../gateway/gateway-config.js';
import { startGateway } from '../gateway/start-gateway.js';
import { redact } from '../queue/queue-config.js';
import { untilSignal } from './until-signal.js';

export async function runGateway(env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadGatewayConfig(env);
  const gateway = await startGateway(config);
  console.log(`pidbox gateway: listening on ${gateway.url} (redis ${redact(config.queue.redisUrl)}, functions ${config.functionsDir})`);
  if (config.apiKeys.length === 0) console.log('pidbox gateway: open: PIDBOX_API_KEYS is not set, so no API key is asked for');
  await untilSignal('pidbox gateway');
  await gateway.close();
  return 0;
}
