// GET /functions: what this gateway serves, with each function's settings (the names of its
// environment variables, not their values: they may be secrets).
import { Hono } from 'hono';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';

export function functionRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  app.get('/functions', (c) => {
    const { functions, problems } = deps.registry.list();
    return c.json({
      functions: functions.map((fn) => ({
        name: fn.name,
        runtime: fn.runtime,
        settings: {
          timeoutMs: fn.config.timeoutMs,
          retries: fn.config.retries,
          concurrency: fn.config.concurrency,
          network: fn.config.network,
          contentType: fn.config.contentType,
          env: Object.keys(fn.config.env),
        },
      })),
      problems,
    });
  });
  return app;
}
