// One invocation: its record, its log (whole, or followed live as server-sent events), and cancel.
import { StringDecoder } from 'node:string_decoder';
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { FINAL_STATUSES } from '../../contracts/invocation.js';
import { InvocationRecord } from '../../contracts/invocation-record.js';
import { PidboxError } from '../../contracts/pidbox-error.js';
import { afterFinish } from '../../redis/finish-invocation.js';
import { renderLogEntry, type LogEntry } from '../../redis/log-store.js';
import { closeRedisClient } from '../../redis/redis-client.js';
import { unrunResult } from '../../redis/unrun-result.js';
import { errorResponses, INVOCATION_ID_ERRORS, InvocationIdParams, invocationNotFound, KEYED_ERRORS } from '../api-schemas.js';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';
import { rejectInvalid, rejectInvalidRequest } from '../request-validation.js';

/** How long DELETE waits for a running invocation's worker to report it cancelled. */
const CANCEL_WAIT_MS = 5000;
/** Longest single wait of a log follower for new entries (it then checks the client and the record). */
const FOLLOW_BLOCK_MS = 1000;

const RecordJson = { 'application/json': { schema: InvocationRecord } };

const getInvocation = createRoute({
  method: 'get',
  path: '/invocations/{id}',
  tags: ['invocations'],
  summary: 'An invocation\'s record',
  request: { params: InvocationIdParams },
  responses: {
    200: { description: 'The record, as it is now.', content: RecordJson },
    ...errorResponses('INVOCATION_NOT_FOUND', ...KEYED_ERRORS),
  },
});

const Follow = z
  .enum(['true', '1', 'false', '0'], { error: (issue) => `must be true, 1, false or 0, got ${JSON.stringify(issue.input)}` })
  .optional()
  .meta({ description: '`true` or `1`: follow the log live, as server-sent events, until the invocation ends.' });

const getLogs = createRoute({
  method: 'get',
  path: '/invocations/{id}/logs',
  tags: ['invocations'],
  summary: 'An invocation\'s log',
  description:
    "The function's log (stderr; stdout too for node functions) as text. With `follow=true` (or `1`): server-sent events, `event: log` as it is written, then `event: end` with the final status.",
  request: { params: InvocationIdParams, query: z.object({ follow: Follow }) },
  responses: {
    200: {
      description: 'The log so far as text, or followed as server-sent events.',
      content: {
        'text/plain': { schema: z.string() },
        'text/event-stream': { schema: z.string().meta({ description: '`event: log` with the text written, then `event: end` with `{"status":…}`.' }) },
      },
    },
    ...errorResponses('INVALID_REQUEST', 'INVOCATION_NOT_FOUND', 'TOO_MANY_REQUESTS', ...KEYED_ERRORS),
  },
});

const cancelInvocation = createRoute({
  method: 'delete',
  path: '/invocations/{id}',
  tags: ['invocations'],
  summary: 'Cancel an invocation',
  description:
    'A queued invocation never runs; a running one has its sandbox killed by whichever worker runs it, and ends `cancelled`.',
  request: { params: InvocationIdParams },
  responses: {
    200: { description: 'Cancelled: the record.', content: RecordJson },
    202: { description: 'Its worker has not reported within 5 s: the record as it is (it ends `cancelled`).', content: RecordJson },
    ...errorResponses('INVOCATION_NOT_FOUND', 'INVOCATION_FINISHED', ...KEYED_ERRORS),
  },
});

export function invocationRoutes(deps: GatewayDeps): OpenAPIHono<GatewayEnv> {
  const app = new OpenAPIHono<GatewayEnv>({ defaultHook: rejectInvalidRequest });
  const idNotFound = rejectInvalid(INVOCATION_ID_ERRORS);

  app.openapi(getInvocation, async (c) => {
    const { id } = c.req.valid('param');
    const record = await deps.store.get(id);
    if (!record) throw invocationNotFound(id);
    return c.json(record, 200);
  }, idNotFound);

  app.openapi(getLogs, async (c) => {
    const { id } = c.req.valid('param');
    const { follow } = c.req.valid('query');
    if (!(await deps.store.get(id))) throw invocationNotFound(id);
    if (follow === 'true' || follow === '1') return followLog(c, deps, id);
    const { entries } = await deps.logs.read(id);
    return c.body(new Uint8Array(Buffer.concat(entries.map(renderLogEntry))), 200, { 'content-type': 'text/plain; charset=utf-8' });
  }, idNotFound);

  app.openapi(cancelInvocation, async (c) => {
    const { id } = c.req.valid('param');
    const record = await deps.store.get(id);
    if (!record) throw invocationNotFound(id);
    if (FINAL_STATUSES.includes(record.status)) {
      throw new PidboxError('INVOCATION_FINISHED', `invocation ${id} has already finished (${record.status})`);
    }
    const outcome = await deps.store.cancel(id, record.function, unrunResult('cancelled', 'INVOCATION_CANCELLED', 'the invocation was cancelled before it ran'), record.batchId ?? undefined);
    switch (outcome.kind) {
      case 'missing':
        throw invocationNotFound(id);
      case 'already':
        throw new PidboxError('INVOCATION_FINISHED', `invocation ${id} has already finished (${outcome.status})`);
      case 'finished': {
        // Never runs: its job leaves the queue (a worker that took it meanwhile finds it cancelled).
        await deps.queues.invocations.remove(id).catch(() => {});
        await afterFinish(deps, id, outcome);
        deps.telemetry.metrics.invocations.inc({ function: record.function, outcome: 'cancelled' });
        const cancelled = await deps.store.get(id);
        if (!cancelled) throw invocationNotFound(id);
        return c.json(cancelled, 200);
      }
      case 'cancelling':
        // Its worker, wherever it is, kills the sandbox and reports; wait a little for that.
        try {
          return c.json(await deps.waiters.wait(id, { timeoutMs: CANCEL_WAIT_MS, signal: c.req.raw.signal, checkNow: true }), 200);
        } catch (error) {
          if ((error as PidboxError).code !== 'SYNC_TIMEOUT') throw error;
          const pending = await deps.store.get(id);
          if (!pending) throw invocationNotFound(id);
          return c.json(pending, 202);
        }
    }
  }, idNotFound);

  return app;
}

function followLog(c: Context<GatewayEnv>, deps: GatewayDeps, id: string): Response {
  const release = deps.inFlight.acquire();
  return streamSSE(c, async (stream) => {
    let gone = false;
    stream.onAbort(() => {
      gone = true;
    });
    // XREAD BLOCK holds its connection: one of its own, for this follower only.
    const blocking = deps.redis.duplicate({ connectionName: 'pidbox-gateway-log-follower' });
    blocking.on('error', () => {});
    const decoder = new StringDecoder('utf8');
    try {
      let { entries, lastId } = await deps.logs.read(id);
      for (;;) {
        const end = await send(entries);
        if (end || gone || deps.state.closing) return;
        ({ entries, lastId } = await deps.logs.next(blocking, id, lastId, FOLLOW_BLOCK_MS));
        if (entries.length === 0 && !(await deps.store.get(id))) return; // expired meanwhile
      }
    } finally {
      release();
      await closeRedisClient(blocking);
    }

    async function send(entries: LogEntry[]): Promise<boolean> {
      for (const entry of entries) {
        if (entry.type === 'end') {
          const rest = decoder.end();
          if (rest) await stream.writeSSE({ event: 'log', data: rest });
          await stream.writeSSE({ event: 'end', data: JSON.stringify({ status: entry.status }) });
          return true;
        }
        const text = decoder.write(renderLogEntry(entry));
        if (text !== '') await stream.writeSSE({ event: 'log', data: text });
      }
      return false;
    }
  });
}
