// /healthz: the process answers. /readyz: it can do its work — Redis answers and the functions folder
// can be read. /metrics: Prometheus text. All three are open when PIDBOX_API_KEYS is set.
import { readdirSync } from 'node:fs';
import { Hono } from 'hono';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';

const PING_TIMEOUT_MS = 1000;

export function healthRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  // Prometheus text; open like the health routes, so a scraper needs no key.
  app.get('/metrics', async (c) => c.body(await deps.telemetry.metrics.render(), 200, { 'content-type': deps.telemetry.metrics.contentType }));
  app.get('/readyz', async (c) => {
    const redis = await ping(deps);
    const functions = readFunctions(deps);
    const ready = redis.ok && functions.ok && !deps.state.closing;
    return c.json({ status: ready ? 'ready' : 'unavailable', checks: { redis, functions, shuttingDown: deps.state.closing } }, ready ? 200 : 503);
  });
  return app;
}

async function ping(deps: GatewayDeps): Promise<{ ok: boolean; error?: string }> {
  try {
    await Promise.race([
      deps.redis.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS).unref()),
    ]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
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
