// The SERVER span of each request the gateway serves, as the HTTP server semantic conventions have it
// (https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-server), so that a trace viewer
// shows the request as it shows any other server's: named `POST /functions/:name` (the method and
// the route; the method alone when no route matched), a child of the caller's `traceparent`.
//
// At the start: http.request.method, url.path, url.query (when there is one), url.scheme,
// server.address and server.port (from the Host header, as the client addressed the gateway),
// client.address and network.peer.* (the connection's other end: the gateway trusts no
// X-Forwarded-For), user_agent.original, network.protocol.version. At the end: http.route,
// http.response.status_code, the invocation's id, and for a 5xx answer status ERROR with error.type
// (pidbox's error code, or the status). Not url.full: the conventions keep it for clients. The
// answer carries the span's `traceparent`, so a caller can find the trace of its request.
//
// @hono/otel did part of this, but set url.full on a server span and named spans of refused
// requests by the middleware's route (`POST /*`); the conventions are short enough to follow here.
import type { IncomingMessage } from 'node:http';
import { SpanKind, SpanStatusCode, context, propagation, trace, type Attributes } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import {
  ATTR_CLIENT_ADDRESS, ATTR_ERROR_TYPE, ATTR_FAAS_INVOCATION_ID, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS, ATTR_NETWORK_PEER_PORT, ATTR_NETWORK_PROTOCOL_VERSION, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT, ATTR_URL_PATH,
  ATTR_URL_QUERY, ATTR_URL_SCHEME, ATTR_USER_AGENT_ORIGINAL,
} from '../contracts/span-attributes.js';
import { hostOf, methodAttributes, portOf, redactedQuery } from '../telemetry/http-attributes.js';
import { injectContext, type Tracing } from '../telemetry/tracing.js';
import type { GatewayEnv } from './gateway-deps.js';

/** The middleware; with tracing off, one that only calls on. */
export function serverSpan(tracing: Tracing): MiddlewareHandler<GatewayEnv> {
  if (!tracing.enabled) return (_c, next) => next();
  return async (c, next) => {
    const url = new URL(c.req.url);
    const method = methodAttributes(c.req.method);
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const peer = incoming?.socket;
    const userAgent = c.req.header('user-agent');
    const query = url.search.slice(1);
    const attributes: Attributes = {
      ...method,
      [ATTR_URL_PATH]: url.pathname,
      ...(query ? { [ATTR_URL_QUERY]: redactedQuery(query) } : {}),
      [ATTR_URL_SCHEME]: url.protocol.slice(0, -1),
      [ATTR_SERVER_ADDRESS]: hostOf(url),
      [ATTR_SERVER_PORT]: portOf(url),
      ...(peer?.remoteAddress ? { [ATTR_CLIENT_ADDRESS]: peer.remoteAddress, [ATTR_NETWORK_PEER_ADDRESS]: peer.remoteAddress } : {}),
      ...(peer?.remotePort ? { [ATTR_NETWORK_PEER_PORT]: peer.remotePort } : {}),
      ...(incoming?.httpVersion ? { [ATTR_NETWORK_PROTOCOL_VERSION]: incoming.httpVersion } : {}),
      ...(userAgent ? { [ATTR_USER_AGENT_ORIGINAL]: userAgent } : {}),
    };
    const methodName = method[ATTR_HTTP_REQUEST_METHOD] === '_OTHER' ? 'HTTP' : c.req.method;
    const parent = propagation.extract(context.active(), c.req.header());
    const span = tracing.tracer.startSpan(methodName, { kind: SpanKind.SERVER, attributes }, parent);
    try {
      await context.with(trace.setSpan(parent, span), async () => {
        await next();
        // Inside the span's context: the traceparent the answer carries is this span's.
        const { traceparent } = injectContext();
        if (traceparent) c.res.headers.set('traceparent', traceparent);
      });
    } finally {
      const route = routeOf(c);
      if (route) {
        span.setAttribute(ATTR_HTTP_ROUTE, route);
        span.updateName(`${methodName} ${route}`);
      }
      const status = c.res.status;
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      const id = c.get('invocationId');
      if (id) span.setAttribute(ATTR_FAAS_INVOCATION_ID, id);
      // A 4xx is the client's mistake, not the server's: only a 5xx marks the span (the conventions'
      // span status for servers).
      if (status >= 500) {
        const errorType = c.get('errorType') ?? String(status);
        span.setAttribute(ATTR_ERROR_TYPE, errorType);
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
      }
      span.end();
    }
  };
}

/** The route template that matched (`/functions/:name`), not the catch-all of a middleware; null when none did. */
function routeOf(c: Parameters<MiddlewareHandler<GatewayEnv>>[0]): string | null {
  const routes = matchedRoutes(c).filter((r) => r.path !== '*' && r.path !== '/*');
  return routes.at(-1)?.path ?? null;
}
