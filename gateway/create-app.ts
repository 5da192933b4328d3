// The gateway's HTTP app: routes grouped by what they act on, one error handler, one 404.
import { httpInstrumentationMiddleware } from '@hono/otel';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { Hono, type MiddlewareHandler } from 'hono';
import { PidboxError } from '../contracts/pidbox-error.js';
import { ATTR_ERROR_TYPE, ATTR_FAAS_INVOCATION_ID } from '../contracts/span-attributes.js';
import { injectContext } from '../telemetry/tracing.js';
import { requireApiKey } from './auth.js';
import type { GatewayDeps, GatewayEnv } from './gateway-deps.js';
import { asPidboxError, errorResponse } from './http-errors.js';
import { batchRoutes } from './routes/batch-routes.js';
import { functionRoutes } from './routes/function-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { invocationRoutes } from './routes/invocation-routes.js';
import { invokeRoutes } from './routes/invoke-routes.js';
import { liveRoutes } from './routes/live-routes.js';

/** Seconds a 429 or 503 asks the client to wait before it tries again. */
const RETRY_AFTER_SECONDS = '1';

export function createApp(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  app.onError((error, c) => {
    const e = asPidboxError(error);
    c.set('errorType', e.code);
    if (e.code === 'INTERNAL') deps.telemetry.log.error('request failed', { error, path: c.req.path });
    const retry = e.code === 'TOO_MANY_REQUESTS' || e.code === 'QUEUE_UNAVAILABLE' || e.code === 'SHUTTING_DOWN';
    return errorResponse(e.code, e.message, retry ? { 'retry-after': RETRY_AFTER_SECONDS } : {});
  });
  app.notFound((c) => errorResponse('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`));

  app.route('/', healthRoutes(deps));
  // Health and metrics above stay out of traces: probes and scrapes would drown the invocations.
  app.use('*', httpInstrumentationMiddleware({ tracer: deps.telemetry.tracing.tracer, disableTracing: !deps.telemetry.tracing.enabled }));
  app.use('*', traceResponse());
  app.use('*', requireApiKey(deps.gatewayConfig.apiKeys));
  app.use('*', async (_c, next) => {
    if (deps.state.closing) throw new PidboxError('SHUTTING_DOWN', 'the gateway is shutting down');
    await next();
  });
  app.route('/', functionRoutes(deps));
  app.route('/', batchRoutes(deps));
  app.route('/', invokeRoutes(deps));
  app.route('/', liveRoutes(deps));
  app.route('/', invocationRoutes(deps));
  return app;
}

/**
 * On the request's SERVER span: the invocation id, and the cause of a failure as `error.type` (an
 * error code, or the failed function's); on the response, `traceparent`, so a caller can find the
 * trace of its request.
 */
function traceResponse(): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    await next();
    const span = trace.getActiveSpan();
    if (!span?.isRecording()) return;
    const id = c.get('invocationId');
    if (id) span.setAttribute(ATTR_FAAS_INVOCATION_ID, id);
    const errorType = c.get('errorType');
    if (errorType) {
      span.setAttribute(ATTR_ERROR_TYPE, errorType);
      if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    }
    const { traceparent } = injectContext();
    if (traceparent) c.res.headers.set('traceparent', traceparent);
  };
}
