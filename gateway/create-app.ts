// The gateway's HTTP app: routes grouped by what they act on, each defined with its zod schemas
// (@hono/zod-openapi), which validate requests and make the API's description; one error handler;
// 405 for a wrong method on a known path, 404 for the rest.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { PidboxError } from '../contracts/pidbox-error.js';
import { allowedMethods } from './allowed-methods.js';
import { describeApi } from './api-description.js';
import { requireApiKey } from './auth.js';
import type { GatewayDeps, GatewayEnv } from './gateway-deps.js';
import { asPidboxError, errorResponse } from './http-errors.js';
import { rejectInvalidRequest } from './request-validation.js';
import { batchRoutes } from './routes/batch-routes.js';
import { docsRoutes } from './routes/docs-routes.js';
import { functionRoutes } from './routes/function-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { invocationRoutes } from './routes/invocation-routes.js';
import { invokeRoutes } from './routes/invoke-routes.js';
import { liveRoutes } from './routes/live-routes.js';
import { retryRoutes } from './routes/retry-routes.js';
import { serverSpan } from './server-span.js';
import { createDashboard } from './ui/dashboard-routes.js';
import { QUEUE_BOARD_PATH, queueBoardRoutes } from './ui/queue-board.js';

/** Seconds a 429 or 503 asks the client to wait before it tries again. */
const RETRY_AFTER_SECONDS = '1';

export function createApp(deps: GatewayDeps): OpenAPIHono<GatewayEnv> {
  const app = new OpenAPIHono<GatewayEnv>({ defaultHook: rejectInvalidRequest });
  app.onError((error, c) => {
    // bearer-auth's 401, already in pidbox's format with its challenge.
    if (error instanceof HTTPException && error.res) {
      c.set('errorType', 'UNAUTHORIZED');
      return error.getResponse();
    }
    const e = asPidboxError(error);
    c.set('errorType', e.code);
    if (e.code === 'INTERNAL') deps.telemetry.log.error('request failed', { error, path: c.req.path });
    const retry = e.code === 'TOO_MANY_REQUESTS' || e.code === 'QUEUE_UNAVAILABLE' || e.code === 'QUEUE_FULL' || e.code === 'SHUTTING_DOWN';
    return errorResponse(e.code, e.message, retry ? { 'retry-after': RETRY_AFTER_SECONDS } : {});
  });
  let allowed: ((path: string) => string[]) | null = null;
  app.notFound((c) => {
    // Built at the first miss, once every route is in.
    allowed ??= allowedMethods(app.routes);
    return wrongMethodOrNotFound(c, allowed(c.req.path));
  });

  // Open, and out of traces: probes, scrapes and reading the docs would drown the invocations.
  app.route('/', healthRoutes(deps));
  app.route('/', docsRoutes(describeApi(app)));
  // The dashboard reads through this app, as any client would; its login form and static files come
  // before the key check, and under /ui and /admin/queues the key may come from its cookie.
  const dashboard = createDashboard(deps, (path, init) => app.request(path, init));
  app.route('/', dashboard.entry);
  app.use('*', serverSpan(deps.telemetry.tracing));
  app.use('*', requireApiKey(deps.gatewayConfig.apiKeys));
  app.use('*', async (_c, next) => {
    if (deps.state.closing) throw new PidboxError('SHUTTING_DOWN', 'the gateway is shutting down');
    await next();
  });
  app.route('/', functionRoutes(deps));
  app.route('/', batchRoutes(deps));
  app.route('/', invokeRoutes(deps));
  app.route('/', liveRoutes(deps));
  app.route('/', retryRoutes(deps));
  app.route('/', invocationRoutes(deps));
  app.route('/', dashboard.pages);
  app.route(QUEUE_BOARD_PATH, queueBoardRoutes(deps.queues));
  return app;
}

/** 405 with `Allow` when the path takes other methods (RFC 9110, 15.5.6); else 404. */
function wrongMethodOrNotFound(c: Context<GatewayEnv>, allow: string[]): Response {
  if (allow.length === 0) return errorResponse('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`);
  return errorResponse('METHOD_NOT_ALLOWED', `${c.req.path} does not take ${c.req.method}; it takes ${allow.join(', ')}`, { allow: allow.join(', ') });
}
