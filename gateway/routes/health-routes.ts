// /healthz: the process answers. /readyz: it can do its work — Redis answers and the functions folder
// can be read. /metrics: Prometheus text. All three are open when PIDBOX_API_KEYS is set.
import { readdirSync } from 'node:fs';
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';
import { rejectInvalidRequest } from '../request-validation.js';

const PING_TIMEOUT_MS = 1000;

const Readiness = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    checks: z.object({
      redis: z.object({ ok: z.boolean(), error: z.string().optional() }),
      functions: z.object({
        ok: z.boolean(),
        dir: z.string(),
        count: z.int().optional(),
        problems: z.int().optional().meta({ description: 'Functions that do not load (GET /functions says why).' }),
        error: z.string().optional(),
      }),
      shuttingDown: z.boolean(),
    }),
  })
  .meta({ id: 'Readiness' });

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['health'],
  summary: 'The process answers',
  security: [],
  responses: { 200: { description: 'Alive.', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  tags: ['health'],
  summary: 'The gateway can do its work',
  description: 'Redis answers within a second, the functions folder can be read, and the gateway is not shutting down.',
  security: [],
  responses: {
    200: { description: 'Ready.', content: { 'application/json': { schema: Readiness } } },
    503: { description: 'Not ready; `checks` says why.', content: { 'application/json': { schema: Readiness } } },
  },
});

const metrics = createRoute({
  method: 'get',
  path: '/metrics',
  tags: ['health'],
  summary: 'Prometheus metrics',
  description: 'In the Prometheus text format; open like the health routes, so a scraper needs no key.',
  security: [],
  responses: { 200: { description: 'The metrics.', content: { 'text/plain': { schema: z.string() } } } },
});

export function healthRoutes(deps: GatewayDeps): OpenAPIHono<GatewayEnv> {
  const app = new OpenAPIHono<GatewayEnv>({ defaultHook: rejectInvalidRequest });
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(metrics, async (c) => c.text(await deps.telemetry.metrics.render(), 200, { 'content-type': deps.telemetry.metrics.contentType }));
  app.openapi(readyz, async (c) => {
    const redis = await ping(deps);
    const functions = readFunctions(deps);
    const ready = redis.ok && functions.ok && !deps.state.closing;
    const body = { status: ready ? ('ready' as const) : ('unavailable' as const), checks: { redis, functions, shuttingDown: deps.state.closing } };
    return ready ? c.json(body, 200) : c.json(body, 503);
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
