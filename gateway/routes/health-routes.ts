// /healthz: the process answers. /readyz: it can do its work — Redis answers (on a Redis Cluster,
// every slot's master: redis/redis-health.ts) and the functions folder can be read. /metrics:
// Prometheus text. All three are open when PIDBOX_API_KEYS is set.
import { readdirSync } from 'node:fs';
import { Hono } from 'hono';
import { checkRedis } from '../../redis/redis-health.js';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';

const PING_TIMEOUT_MS = 1000;

export function healthRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  // Prometheus text; open like the health routes, so a scraper needs no key.
  app.get('/metrics', async (c) => c.body(await deps.telemetry.metrics.render(), 200, { 'content-type': deps.telemetry.metrics.contentType }));
  app.get('/readyz', async (c) => {
    const redis = await checkRedis(deps.redis, PING_TIMEOUT_MS);
    const functions = readFunctions(deps);
    const ready = redis.ok && functions.ok && !deps.state.closing;
    return c.json({ status: ready ? 'ready' : 'unavailable', checks: { redis, functions, shuttingDown: deps.state.closing } }, ready ? 200 : 503);
  });
  return app;
}

function readFunctions(deps: GatewayDeps): { ok: boolean; dir: string; count?: number; problems?: number; error?: string } {
  const dir = deps.gatewayConfig.functionsDir;
  try {
    readdirSync(dir);
  } catch (error) {
    return { ok: false, dir, error: (error as Error).message };
  }
  const { functions, problems } = deps.registry.list();
  return { ok: true, dir, count: functions.length, problems: problems.length };
}
