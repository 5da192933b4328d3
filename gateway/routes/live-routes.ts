// Invocations as they are now: the recent ones (`GET /invocations`, from the index the record
// scripts keep), and, for a running one, its live process tree and a signal for its function (both
// answered by the worker that runs it, wherever it is: gateway/worker-requests.ts).
import { createRoute, OpenAPIHono, type Hook } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { z } from 'zod';
import { FORWARDED_SIGNALS } from '../../contracts/forwarded-signals.js';
import type { InvocationStatus } from '../../contracts/invocation.js';
import { InvocationListQuerySchema, InvocationListSchema, LIST_LIMITS } from '../../contracts/invocation-list.js';
import { PidboxError } from '../../contracts/pidbox-error.js';
import { ProcessListSchema } from '../../contracts/process-list.js';
import { SignalAcceptedSchema, SignalRequestSchema } from '../../contracts/signal-request.js';
import type { BusReply } from '../../contracts/bus-message.js';
import { parseIndexEntry } from '../../redis/invocation-index.js';
import { readInvocationPage } from '../../redis/invocation-list.js';
import { isValidFunctionName } from '../../registry/function-registry.js';
import { errorResponses, KEYED_ERRORS } from '../api-schemas.js';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';
import type { WorkerRequestBody } from '../worker-requests.js';

/** How long a request waits for the worker running the invocation to answer. */
const WORKER_REPLY_TIMEOUT_MS = 3000;


const IdParamsSchema = z.object({
  // A UUID; anything else (a `:` could reach another key) is simply not found.
  id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/).meta({ param: { name: 'id', in: 'path' }, description: 'The invocation id.' }),
});

const listRoute = createRoute({
  method: 'get',
  path: '/invocations',
  tags: ['invocations'],
  summary: 'Recent invocations, newest first',
  description:
    'One page of the recent invocations, filtered by function and/or status (the status they are in now). ' +
    'Pass `nextCursor` as `cursor` for the next page. Invocations whose records expired are not listed.',
  request: { query: InvocationListQuerySchema },
  responses: {
    200: { content: { 'application/json': { schema: InvocationListSchema } }, description: 'A page of summaries.' },
    ...errorResponses('INVALID_REQUEST', ...KEYED_ERRORS),
  },
});

const processesRoute = createRoute({
  method: 'get',
  path: '/invocations/{id}/processes',
  tags: ['invocations'],
  summary: "A running invocation's process tree",
  description: "Every process of the invocation's sandbox now, as its worker reads them from /proc; pids as seen inside the sandbox.",
  request: { params: IdParamsSchema },
  responses: {
    200: { content: { 'application/json': { schema: ProcessListSchema } }, description: 'The processes, by pid.' },
    ...errorResponses('INVOCATION_NOT_FOUND', 'INVOCATION_NOT_RUNNING', 'WORKER_LOST', ...KEYED_ERRORS),
  },
});

const signalRoute = createRoute({
  method: 'post',
  path: '/invocations/{id}/signal',
  tags: ['invocations'],
  summary: "Sends a signal to a running invocation's function",
  description: `The sandbox's init forwards it to the function's process group, as it forwards the signals it receives. Allowed: ${FORWARDED_SIGNALS.join(', ')}.`,
  request: {
    params: IdParamsSchema,
    body: { content: { 'application/json': { schema: SignalRequestSchema } }, required: true },
  },
  responses: {
    202: { content: { 'application/json': { schema: SignalAcceptedSchema } }, description: "Handed to the sandbox's init." },
    ...errorResponses('INVALID_REQUEST', 'INVALID_SIGNAL', 'INVOCATION_NOT_FOUND', 'INVOCATION_NOT_RUNNING', 'WORKER_LOST', ...KEYED_ERRORS),
  },
});

export function liveRoutes(deps: GatewayDeps): OpenAPIHono<GatewayEnv> {
  const app = new OpenAPIHono<GatewayEnv>({ defaultHook: rejectInvalid });
  // The JSON body check answers 415 with an HTTPException of its own: an INVALID_REQUEST here, so
  // that every error has pidbox's shape (the gateway's error handler makes the answer).
  app.onError((error) => {
    if (error instanceof HTTPException && error.status === 415) throw new PidboxError('INVALID_REQUEST', 'the body must be JSON (Content-Type: application/json)');
    throw error;
  });

  app.openapi(listRoute, async (c) => {
    const query = c.req.valid('query');
    const filter: { function?: string; status?: InvocationStatus } = {};
    if (query.function !== undefined) {
      if (!isValidFunctionName(query.function)) throw invalid('function', 'must be a function name: lower-case letters, digits, "-" and "_", at most 63');
      filter.function = query.function;
    }
    if (query.status !== undefined) filter.status = query.status;
    const limit = readLimit(query.limit);
    const after = query.cursor === undefined || query.cursor === '' ? null : readCursor(query.cursor);
    const page = await readInvocationPage(deps.redis, deps.keys, { ...filter, limit, after });
    return c.json({ invocations: page.summaries, nextCursor: page.next === null ? null : encodeCursor(page.next) }, 200);
  });

  app.openapi(processesRoute, async (c) => {
    const { id } = c.req.valid('param');
    const reply = await askRunning(deps, { type: 'processes', id });
    if (reply.type !== 'processes') throw unexpected(id, reply);
    return c.json({ processes: reply.processes, truncated: reply.truncated }, 200);
  });

  app.openapi(
    signalRoute,
    async (c) => {
      const { id } = c.req.valid('param');
      const { signal } = c.req.valid('json');
      const reply = await askRunning(deps, { type: 'signal', id, signal });
      if (reply.type !== 'signalled') throw unexpected(id, reply);
      return c.json({ id, signal }, 202);
    },
    (result, c) => {
      if (result.success) return undefined;
      if (result.target === 'json') {
        throw new PidboxError('INVALID_SIGNAL', `"signal" must be one of the signals the init forwards: ${FORWARDED_SIGNALS.join(', ')} (SIGKILL and SIGSTOP never are)`);
      }
      rejectInvalid(result, c);
      return undefined;
    },
  );

  return app;
}

/**
 * Asks the worker running the invocation. Not running by its record (queued, finished, unknown):
 * answered here. No answer: it ended meanwhile (409), or its worker is gone (502).
 */
async function askRunning(deps: GatewayDeps, request: WorkerRequestBody): Promise<Exclude<BusReply, { type: 'refused' }>> {
  const { id } = request;
  const record = await deps.store.get(id);
  if (!record) throw notFound(id);
  if (record.status !== 'running') throw notRunning(id, record.status);
  const reply = await deps.requests.ask(request, WORKER_REPLY_TIMEOUT_MS);
  if (reply === null) {
    const now = await deps.store.get(id);
    if (!now) throw notFound(id);
    if (now.status !== 'running') throw notRunning(id, now.status);
    throw new PidboxError('WORKER_LOST', `no worker answered for invocation ${id} within ${WORKER_REPLY_TIMEOUT_MS} ms: the worker running it (${now.worker ?? 'unknown'}) may have been lost`);
  }
  if (reply.type === 'refused') throw new PidboxError(reply.code, reply.message);
  return reply;
}

function notRunning(id: string, status: InvocationStatus): PidboxError {
  return new PidboxError('INVOCATION_NOT_RUNNING', `invocation ${id} is not running (it is ${status})`);
}

function notFound(id: string): PidboxError {
  return new PidboxError('INVOCATION_NOT_FOUND', `no invocation ${JSON.stringify(id.slice(0, 100))} (it may have expired)`);
}

function unexpected(id: string, reply: BusReply): PidboxError {
  return new PidboxError('INTERNAL', `the worker of invocation ${id} answered ${reply.type}`);
}

function invalid(parameter: string, message: string): PidboxError {
  return new PidboxError('INVALID_REQUEST', `"${parameter}" ${message}`);
}

/** Failed validation: an id that cannot be an invocation's is not found; anything else names the parameter. */
const rejectInvalid: Hook<unknown, GatewayEnv, string, void> = (result, c) => {
  if (result.success) return;
  const issue = result.error.issues[0];
  const parameter = String(issue?.path[0] ?? result.target);
  if (result.target === 'param' && parameter === 'id') throw notFound(c.req.param('id') ?? '');
  if (parameter === 'status') throw invalid('status', `must be one of ${InvocationListQuerySchema.shape.status.unwrap().options.join(', ')}`);
  throw invalid(parameter, issue?.message ?? 'is not valid');
};

function readLimit(text: string | undefined): number {
  if (text === undefined || text === '') return LIST_LIMITS.default;
  const value = Number(text);
  if (!/^\d{1,3}$/.test(text) || value < 1 || value > LIST_LIMITS.max) throw invalid('limit', `must be a whole number from 1 to ${LIST_LIMITS.max}`);
  return value;
}

/** A cursor is an index entry, base64url-encoded: opaque to callers, checked when it comes back. */
function encodeCursor(entry: string): string {
  return Buffer.from(entry).toString('base64url');
}

function readCursor(cursor: string): string {
  const entry = /^[A-Za-z0-9_-]{1,256}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('latin1') : '';
  if (parseIndexEntry(entry) === null) throw invalid('cursor', "is not a cursor this API gave (pass a page's nextCursor as it is)");
  return entry;
}
