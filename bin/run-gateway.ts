// `pidbox gateway`: the HTTP gateway alone, for production (workers run as `pidbox worker`).
import { loadGatewayConfig } from '../gateway/gateway-config.js';
import { startGateway } from '../gateway/start-gateway.js';
import { startTelemetry } from '../telemetry/telemetry.js';
import { describeRedis } from '../redis/redis-client.js';
import { warnAboutFunctionsDir } from './functions-dir.js';
import { untilShutdown } from './shutdown-signals.js';

export async function runGateway(env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadGatewayConfig(env);
  const telemetry = await startTelemetry(env, 'gateway');
  warnAboutFunctionsDir(config.functionsDir, telemetry.log);
  const gateway = await startGateway(config, telemetry);
  // Signals are listened for before the lines that say it is ready.
  const shutdown = untilShutdown('pidbox gateway', { waitsFor: `callers waiting for an answer get up to ${config.shutdownGraceMs} ms` });
  console.log(`pidbox gateway: listening on ${listeningOn(config.host, gateway.port)} (redis ${describeRedis(config.queue)}, functions ${config.functionsDir})`);
  if (config.apiKeys.length === 0) console.log('pidbox gateway: open: PIDBOX_API_KEYS is not set, so no API key is asked for');
  if (telemetry.tracing.enabled) console.log('pidbox gateway: tracing on (OTLP)');
  await shutdown;
  await gateway.close();
  await telemetry.tracing.shutdown();
  return 0;
}

/** Where the socket is bound, as it is: `0.0.0.0:8080` is every IPv4 interface, not loopback. */
export function listeningOn(host: string, port: number): string {
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  if (host === '0.0.0.0') return `${address}, every IPv4 interface (--host or PIDBOX_HOST to choose one; from this machine: http://127.0.0.1:${port})`;
  if (host === '::') return `${address}, every interface (--host or PIDBOX_HOST to choose one; from this machine: http://[::1]:${port})`;
  return `http://${address}`;
}
