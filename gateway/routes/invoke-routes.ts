// Invoking functions: sync (`POST /functions/{name}`), async (`POST /functions/{name}/invocations`),
// and the OpenFaaS routes existing callers use (`/function/{name}`, `/async-function/{name}`).
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { networkList } from '../../callbacks/callback-address.js';
import type { InvocationRequest } from '../../contracts/invocation.js';
import { InvocationStatus } from '../../contracts/invocation.js';
import type { ErrorCode } from '../../contracts/pidbox-error.js';
import { acceptCallback } from '../accept-callback.js';
import {
  CallIdHeaders, errorResponses, FUNCTION_NAME_ERRORS, FunctionNameParams, InvocationIdHeaders, KEYED_ERRORS,
} from '../api-schemas.js';
import { enqueueInvocation, newInvocationId } from '../enqueue-invocation.js';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';
import { errorResponse, HOP_BY_HOP } from '../http-errors.js';
import { invocationResponse, type Flavor } from '../invocation-response.js';
import { rejectInvalid, rejectInvalidRequest } from '../request-validation.js';

type Ctx = Context<GatewayEnv>;

/** One call of a function, as its route reads it. */
interface Call {
  name: string;
  /** Path below the function's route: `/`, or OpenFaaS's sub-path. */
  path: string;
  idempotencyKey: string | undefined;
  flavor: Flavor;
}

const idempotencyRule = 'must be 1 to 255 characters';
const IdempotencyKey = z
  .string({ error: idempotencyRule })
  .min(1, { error: idempotencyRule })
  .max(255, { error: idempotencyRule })
  .optional()
  .meta({ description: "A key of the caller's: a second call with the same key, for the same function, gets the first call's invocation (for the record's lifetime)." });

const CallbackUrl = z
  .string()
  .optional()
  .meta({
    format: 'uri',
    description:
      'Where the finished invocation is POSTed: an http(s) URL reaching a public address, or a network in PIDBOX_CALLBACK_ALLOW_NETWORKS (else 400 INVALID_CALLBACK_URL, and nothing is enqueued).',
  });

const SyncHeaders = z.object({ 'Idempotency-Key': IdempotencyKey });
const AsyncHeaders = z.object({ 'Idempotency-Key': IdempotencyKey, 'X-Callback-Url': CallbackUrl });

/** What the function gets as its body: anything, passed on as it is. */
const AnyBody = {
  required: false,
  content: { '*/*': { schema: z.string().meta({ description: 'Passed to the function byte for byte.', contentMediaType: 'application/octet-stream' }) } },
};

/** The rest of an OpenFaaS route's path (`/function/{name}/{path}`), which may hold `/`. */
const SubPathParams = FunctionNameParams.extend({
  path: z.string().meta({ description: 'The rest of the path, passed to the function as its path (it may hold "/").', example: 'users/42' }),
});

/** Errors of an invocation answered before the function runs, or instead of its answer. */
const INVOKE_ERRORS: ErrorCode[] = [
  'INVALID_FUNCTION_NAME', 'INVALID_REQUEST', 'FUNCTION_NOT_FOUND', 'BODY_TOO_LARGE', 'TOO_MANY_REQUESTS', 'INVALID_FUNCTION_CONFIG', 'QUEUE_UNAVAILABLE',
  ...KEYED_ERRORS,
];
/** What a sync caller may get instead of the function's answer. */
const SYNC_ERRORS: ErrorCode[] = [
  ...INVOKE_ERRORS, 'FUNCTION_FAILED', 'FUNCTION_TIMED_OUT', 'FUNCTION_OUTPUT_TOO_LARGE', 'FUNCTION_OUT_OF_MEMORY', 'FUNCTION_BUILD_FAILED',
  'INVOCATION_CANCELLED', 'WORKER_LOST', 'SANDBOX_PROTOCOL_ERROR', 'SANDBOX_SPAWN_FAILED', 'SYNC_TIMEOUT',
];

const functionAnswer = (headers: z.ZodObject) => ({
  description:
    "The function's answer, with the status it chose (200 here; any from 200 to 599), its headers and its body. `X-Invocation-Status` is the invocation's final status.",
  headers: headers.extend({ 'X-Invocation-Status': InvocationStatus }),
});

const invokeSyncRoute = createRoute({
  method: 'post',
  path: '/functions/{name}',
  tags: ['invoke'],
  summary: 'Invoke a function and wait for its answer',
  description:
    'Enqueues the call, waits for the result (at most PIDBOX_SYNC_TIMEOUT_MS: then 504 `SYNC_TIMEOUT`, and the invocation goes on), and answers with the function\'s status, headers and body. A failed function answers with its error.',
  request: { params: FunctionNameParams, headers: SyncHeaders, body: AnyBody },
  responses: { 200: functionAnswer(InvocationIdHeaders), ...errorResponses(...SYNC_ERRORS) },
});

const Accepted = z
  .object({ id: z.string(), status: InvocationStatus.meta({ description: '`queued`, or with an Idempotency-Key already used, where that invocation is.' }) })
  .meta({ id: 'InvocationAccepted' });

const invokeAsyncRoute = createRoute({
  method: 'post',
  path: '/functions/{name}/invocations',
  tags: ['invoke'],
  summary: 'Invoke a function without waiting',
  request: { params: FunctionNameParams, headers: AsyncHeaders, body: AnyBody },
  responses: {
    202: {
      description: 'Enqueued (or, with an Idempotency-Key already used, found: `Idempotent-Replayed: true`). Poll `Location`.',
      headers: InvocationIdHeaders.extend({
        Location: z.string().meta({ example: '/invocations/0f8fad5b-d9cb-469f-a165-70867728950e' }),
        'Idempotent-Replayed': z.literal('true').optional(),
      }),
      content: { 'application/json': { schema: Accepted } },
    },
    ...errorResponses(...INVOKE_ERRORS, 'INVALID_CALLBACK_URL'),
  },
});

/** Methods the OpenFaaS sync route takes, as OpenFaaS's gateway does (any other is passed on as well). */
const OPENFAAS_METHODS = ['get', 'post', 'put', 'patch', 'delete', 'options'] as const;

function openfaasSyncRoute(method: (typeof OPENFAAS_METHODS)[number], withSubPath: boolean) {
  const carriesBody = method === 'post' || method === 'put' || method === 'patch';
  return createRoute({
    method,
    // `{path{.*}}` is hono's for "the rest of the path"; the API's description names it `{path}`.
    path: withSubPath ? '/function/{name}/{path{.*}}' : '/function/{name}',
    tags: ['openfaas'],
    summary: `OpenFaaS: invoke a function and wait (${method.toUpperCase()})`,
    description:
      "OpenFaaS's sync route, so its callers work unchanged: the method, the path below the function's name and the query are passed to the function. Every method is taken (HEAD as GET; others not listed here as well).",
    request: { params: withSubPath ? SubPathParams : FunctionNameParams, headers: SyncHeaders, ...(carriesBody ? { body: AnyBody } : {}) },
    responses: { 200: functionAnswer(CallIdHeaders), ...errorResponses(...SYNC_ERRORS) },
  });
}

function openfaasAsyncRoute(withSubPath: boolean) {
  return createRoute({
    method: 'post',
    path: withSubPath ? '/async-function/{name}/{path{.*}}' : '/async-function/{name}',
    tags: ['openfaas'],
    summary: 'OpenFaaS: invoke a function without waiting',
    description:
      "OpenFaaS's async route: `X-Callback-Url` gets the function's body, with `X-Call-Id` and `X-Function-Status`, as OpenFaaS does.",
    request: { params: withSubPath ? SubPathParams : FunctionNameParams, headers: AsyncHeaders, body: AnyBody },
    responses: {
      202: { description: 'Enqueued; an empty body, the invocation in X-Call-Id.', headers: CallIdHeaders },
      ...errorResponses(...INVOKE_ERRORS, 'INVALID_CALLBACK_URL'),
    },
  });
}

export function invokeRoutes(deps: GatewayDeps): OpenAPIHono<GatewayEnv> {
  const app = new OpenAPIHono<GatewayEnv>({ defaultHook: rejectInvalidRequest });
  const limit = bodyLimit({
    maxSize: deps.gatewayConfig.maxBodyBytes,
    onError: () => errorResponse('BODY_TOO_LARGE', `the request body is larger than ${deps.gatewayConfig.maxBodyBytes} bytes`),
  });
  // The callback is checked first: a refused one is answered before anything else is read.
  const allow = networkList(deps.gatewayConfig.queue.callbackAllowNetworks);
  const pidbox: MiddlewareHandler<GatewayEnv>[] = [answerWithInvocationId('pidbox'), limit];
  const openfaas: [MiddlewareHandler<GatewayEnv>, MiddlewareHandler<GatewayEnv>] = [answerWithInvocationId('openfaas'), limit];
  const nameHook = rejectInvalid(FUNCTION_NAME_ERRORS);

  app.openapi({ ...invokeSyncRoute, middleware: pidbox }, (c) =>
    invokeSync(c, deps, { name: c.req.valid('param').name, path: '/', idempotencyKey: c.req.valid('header')['Idempotency-Key'], flavor: 'pidbox' }), nameHook);
  app.openapi({ ...invokeAsyncRoute, middleware: [acceptCallback(allow, 'record'), ...pidbox] }, async (c) => {
    const call = { name: c.req.valid('param').name, path: '/', idempotencyKey: c.req.valid('header')['Idempotency-Key'], flavor: 'pidbox' } as const;
    const { id, status, headers } = await invokeAsync(c, deps, call);
    return c.json({ id, status }, 202, headers);
  }, nameHook);

  const openfaasSync = (c: Ctx): Promise<Response> =>
    invokeSync(c, deps, { name: c.req.param('name')!, path: subPath(c, 'function'), idempotencyKey: idempotencyKeyOf(c), flavor: 'openfaas' });
  for (const withSubPath of [false, true]) {
    for (const method of OPENFAAS_METHODS) app.openapi({ ...openfaasSyncRoute(method, withSubPath), middleware: openfaas }, openfaasSync, nameHook);
    app.openapi({ ...openfaasAsyncRoute(withSubPath), middleware: [acceptCallback(allow, 'openfaas'), ...openfaas] }, async (c) => {
      const call = { name: c.req.valid('param').name, path: subPath(c, 'async-function'), idempotencyKey: c.req.valid('header')['Idempotency-Key'], flavor: 'openfaas' } as const;
      // OpenFaaS answers 202 with an empty body and the id in X-Call-Id (set with X-Invocation-Id).
      return c.body(null, 202, (await invokeAsync(c, deps, call)).headers);
    }, nameHook);
  }
  // Any other method (PROPFIND, a custom one…) reaches the function too, as it does through OpenFaaS;
  // OpenAPI has no way to say "every method", so these two stay out of the description.
  app.all('/function/:name', openfaas[0], openfaas[1], openfaasSync);
  app.all('/function/:name/*', openfaas[0], openfaas[1], openfaasSync);
  return app;
}

/**
 * An answer about an invocation names it in X-Invocation-Id (and X-Call-Id on OpenFaaS's routes),
 * errors included; the id is set once the invocation's record exists (enqueueInvocation's `recorded`),
 * so a request refused before that (a bad name or header, an unknown function, a body too large,
 * too many requests) carries none: no invocation was made.
 */
function answerWithInvocationId(flavor: Flavor): MiddlewareHandler<GatewayEnv> {
  return async function nameTheInvocation(c, next) {
    await next();
    const id = c.get('invocationId') as string | undefined;
    if (!id) return;
    c.res.headers.set('x-invocation-id', id);
    if (flavor === 'openfaas') c.res.headers.set('x-call-id', id);
  };
}

async function invokeSync(c: Ctx, deps: GatewayDeps, call: Call): Promise<Response> {
  const fn = deps.registry.get(call.name);
  const release = deps.inFlight.acquire();
  // Stops the first waiter when an Idempotency-Key turns out to name an earlier invocation.
  const replaced = new AbortController();
  try {
    const request = await invocationRequest(c, deps, call.path);
    await deps.depth.check(1);
    const timeoutMs = deps.gatewayConfig.syncTimeoutMs;
    const clientGone = c.req.raw.signal;
    let id = newInvocationId();
    // Waiting starts before the job exists, so no `finished` can come too early.
    let done = deps.waiters.wait(id, { timeoutMs, signal: AbortSignal.any([clientGone, replaced.signal]) });
    done.catch(() => {});
    try {
      const input = { fn, request, mode: 'sync' as const, ...(call.idempotencyKey ? { idempotencyKey: call.idempotencyKey } : {}) };
      const enqueued = await enqueueInvocation(deps, id, input, (recorded) => c.set('invocationId', recorded));
      if (!enqueued.created) {
        replaced.abort();
        id = enqueued.id;
        done = deps.waiters.wait(id, { timeoutMs, signal: clientGone, checkNow: true });
      }
    } catch (error) {
      replaced.abort();
      throw error;
    }
    const record = await done;
    if (record.error) c.set('errorType', record.error.code);
    return invocationResponse(record, call.flavor);
  } finally {
    release();
  }
}

/** Enqueues the call; the invocation's id and status, and the headers of the 202 that says so. */
async function invokeAsync(c: Ctx, deps: GatewayDeps, call: Call): Promise<{ id: string; status: InvocationStatus; headers: Record<string, string> }> {
  const fn = deps.registry.get(call.name);
  const request = await invocationRequest(c, deps, call.path);
  // Checked, with the format of the route (acceptCallback); unset without X-Callback-Url.
  const callback = c.get('callback') as GatewayEnv['Variables']['callback'] | undefined;
  await deps.depth.check(1);
  const enqueued = await enqueueInvocation(
    deps,
    newInvocationId(),
    {
      fn,
      request,
      mode: 'async',
      ...(call.idempotencyKey ? { idempotencyKey: call.idempotencyKey } : {}),
      ...(callback ? { callback } : {}),
    },
    (recorded) => c.set('invocationId', recorded),
  );
  const id = enqueued.id;
  const status: InvocationStatus = enqueued.created ? 'queued' : ((await deps.store.get(id))?.status ?? 'queued');
  const headers: Record<string, string> = { location: `/invocations/${id}` };
  if (!enqueued.created) headers['idempotent-replayed'] = 'true';
  return { id, status, headers };
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

/**
 * Idempotency-Key of an OpenFaaS sync call, by the same schema: its handler also serves the
 * catch-all of other methods, where no route schema runs.
 */
function idempotencyKeyOf(c: Ctx): string | undefined {
  const result = SyncHeaders.safeParse({ 'Idempotency-Key': c.req.header('idempotency-key') });
  if (!result.success) rejectInvalidRequest({ target: 'header', success: false, error: result.error }, c);
  return result.data?.['Idempotency-Key'];
}
