// Invoking functions: sync (`POST /functions/{name}`), async (`POST /functions/{name}/invocations`),
// and the OpenFaaS routes existing callers use (`/function/{name}`, `/async-function/{name}`).
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { networkList } from '../../callbacks/callback-address.js';
import type { InvocationRequest } from '../../contracts/invocation.js';
import { PidboxError } from '../../contracts/pidbox-error.js';
import { acceptCallback } from '../accept-callback.js';
import { enqueueInvocation, newInvocationId } from '../enqueue-invocation.js';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';
import { errorResponse, HOP_BY_HOP } from '../http-errors.js';
import { invocationResponse, type Flavor } from '../invocation-response.js';

type Ctx = Context<GatewayEnv>;

export function invokeRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const limit = bodyLimit({
    maxSize: deps.gatewayConfig.maxBodyBytes,
    onError: () => errorResponse('BODY_TOO_LARGE', `the request body is larger than ${deps.gatewayConfig.maxBodyBytes} bytes`),
  });
  const pidbox = [withInvocationId('pidbox'), limit] as const;
  const openfaas = [withInvocationId('openfaas'), limit] as const;
  // The callback is checked first: a refused one gets no invocation id.
  const allow = networkList(deps.gatewayConfig.queue.callbackAllowNetworks);
  const pidboxAsync = [acceptCallback(allow, 'record'), ...pidbox] as const;
  const openfaasAsync = [acceptCallback(allow, 'openfaas'), ...openfaas] as const;

  app.post('/functions/:name', ...pidbox, (c) => invokeSync(c, deps, '/', 'pidbox'));
  app.post('/functions/:name/invocations', ...pidboxAsync, (c) => invokeAsync(c, deps, '/', 'pidbox'));
  app.all('/function/:name', ...openfaas, (c) => invokeSync(c, deps, subPath(c, 'function'), 'openfaas'));
  app.all('/function/:name/*', ...openfaas, (c) => invokeSync(c, deps, subPath(c, 'function'), 'openfaas'));
  app.post('/async-function/:name', ...openfaasAsync, (c) => invokeAsync(c, deps, subPath(c, 'async-function'), 'openfaas'));
  app.post('/async-function/:name/*', ...openfaasAsync, (c) => invokeAsync(c, deps, subPath(c, 'async-function'), 'openfaas'));
  return app;
}

/** Every answer of an invocation route carries the invocation's id, errors included. */
function withInvocationId(flavor: Flavor): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    c.set('invocationId', newInvocationId());
    await next();
    const id = c.get('invocationId');
    c.res.headers.set('x-invocation-id', id);
    if (flavor === 'openfaas') c.res.headers.set('x-call-id', id);
  };
}

async function invokeSync(c: Ctx, deps: GatewayDeps, path: string, flavor: Flavor): Promise<Response> {
  const fn = deps.registry.get(c.req.param('name')!);
  const release = deps.inFlight.acquire();
  // Stops the first waiter when an Idempotency-Key gives the invocation another id (an earlier one, or one in its group).
  const replaced = new AbortController();
  try {
    const request = await invocationRequest(c, deps, path);
    const idempotencyKey = readIdempotencyKey(c);
    await deps.depth.check(1);
    const timeoutMs = deps.gatewayConfig.syncTimeoutMs;
    const clientGone = c.req.raw.signal;
    let id = c.get('invocationId');
    // Waiting starts before the job exists, so no `finished` can come too early.
    let done = deps.waiters.wait(id, { timeoutMs, signal: AbortSignal.any([clientGone, replaced.signal]) });
    done.catch(() => {});
    try {
      const enqueued = await enqueueInvocation(deps, id, { fn, request, mode: 'sync', ...(idempotencyKey ? { idempotencyKey } : {}) });
      // An earlier invocation with the Idempotency-Key, or a new one in the key's group: wait for that one.
      if (enqueued.id !== id) {
        replaced.abort();
        id = enqueued.id;
        c.set('invocationId', id);
        done = deps.waiters.wait(id, { timeoutMs, signal: clientGone, checkNow: true });
      }
    } catch (error) {
      replaced.abort();
      throw error;
    }
    const record = await done;
    if (record.error) c.set('errorType', record.error.code);
    return invocationResponse(record, flavor);
  } finally {
    release();
  }
}

async function invokeAsync(c: Ctx, deps: GatewayDeps, path: string, flavor: Flavor): Promise<Response> {
  const fn = deps.registry.get(c.req.param('name')!);
  const request = await invocationRequest(c, deps, path);
  const idempotencyKey = readIdempotencyKey(c);
  // Checked, with the format of the route (acceptCallback); unset without X-Callback-Url.
  const callback = c.get('callback') as GatewayEnv['Variables']['callback'] | undefined;
  await deps.depth.check(1);
  const enqueued = await enqueueInvocation(deps, c.get('invocationId'), {
    fn,
    request,
    mode: 'async',
    ...(idempotencyKey ? { idempotencyKey } : {}),
    ...(callback ? { callback } : {}),
  });
  const id = enqueued.id;
  c.set('invocationId', id);
  const status = enqueued.created ? 'queued' : ((await deps.store.get(id))?.status ?? 'queued');
  const headers: Record<string, string> = { location: `/invocations/${id}` };
  if (!enqueued.created) headers['idempotent-replayed'] = 'true';
  // OpenFaaS answers 202 with an empty body and the id in X-Call-Id (set with X-Invocation-Id).
  if (flavor === 'openfaas') return c.body(null, 202, headers);
  return c.json({ id, status }, 202, headers);
}

/** The request the function gets: method, path below its route, headers meant for it, and the body. */
async function invocationRequest(c: Ctx, deps: GatewayDeps, path: string): Promise<InvocationRequest> {
  const body = c.req.method === 'GET' || c.req.method === 'HEAD' ? new ArrayBuffer(0) : await c.req.arrayBuffer();
  const headers: Record<string, string> = {};
  c.req.raw.headers.forEach((value, name) => {
    if (HOP_BY_HOP.has(name)) return;
    // The gateway's API key is the gateway's, not the function's.
    if (name === 'authorization' && deps.gatewayConfig.apiKeys.length > 0) return;
    headers[name] = value;
  });
  const query = new URL(c.req.url).search;
  return { method: c.req.method, path: `${path}${query}`, headers, bodyBase64: Buffer.from(body).toString('base64') };
}

/** `/function/hello/a/b` → `/a/b`; `/function/hello` → `/`. */
function subPath(c: Ctx, route: string): string {
  const prefix = `/${route}/${c.req.param('name')}`;
  const rest = c.req.path.slice(prefix.length);
  return rest === '' ? '/' : rest;
}

function readIdempotencyKey(c: Ctx): string | undefined {
  const key = c.req.header('idempotency-key');
  if (key === undefined) return undefined;
  if (key.length === 0 || key.length > 255) throw new PidboxError('INVALID_REQUEST', 'Idempotency-Key must be 1 to 255 characters');
  return key;
}
