// One invocation: its record, its log (whole, or followed live as server-sent events), and cancel.
import { StringDecoder } from 'node:string_decoder';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import { FINAL_STATUSES } from '../../contracts/invocation.js';
import { PidboxError } from '../../contracts/pidbox-error.js';
import { afterFinish } from '../../redis/finish-invocation.js';
import { renderLogEntry, type LogEntry } from '../../redis/log-store.js';
import { closeRedisClient } from '../../redis/redis-client.js';
import { unrunResult } from '../../redis/unrun-result.js';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';

/** How long DELETE waits for a running invocation's worker to report it cancelled. */
const CANCEL_WAIT_MS = 5000;
/** Longest single wait of a log follower for new entries (it then checks the client and the record). */
const FOLLOW_BLOCK_MS = 1000;

export function invocationRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();

  // An id is a UUID; anything else (a `:` could reach another key) is simply not found.
  app.use('/invocations/:id/*', checkId);
  app.use('/invocations/:id', checkId);

  app.get('/invocations/:id', async (c) => {
    const record = await deps.store.get(c.req.param('id'));
    if (!record) throw notFound(c.req.param('id'));
    return c.json(record);
  });

  app.get('/invocations/:id/logs', async (c) => {
    const id = c.req.param('id');
    if (!(await deps.store.get(id))) throw notFound(id);
    if (c.req.query('follow') === 'true') return followLog(c, deps, id);
    const { entries } = await deps.logs.read(id);
    return c.body(new Uint8Array(Buffer.concat(entries.map(renderLogEntry))), 200, { 'content-type': 'text/plain; charset=utf-8' });
  });

  app.delete('/invocations/:id', async (c) => {
    const id = c.req.param('id');
    const record = await deps.store.get(id);
    if (!record) throw notFound(id);
    if (FINAL_STATUSES.includes(record.status)) {
      throw new PidboxError('INVOCATION_FINISHED', `invocation ${id} has already finished (${record.status})`);
    }
    const outcome = await deps.store.cancel(id, record.function, unrunResult('cancelled', 'INVOCATION_CANCELLED', 'the invocation was cancelled before it ran'), record.batchId ?? undefined);
    switch (outcome.kind) {
      case 'missing':
        throw notFound(id);
      case 'already':
        throw new PidboxError('INVOCATION_FINISHED', `invocation ${id} has already finished (${outcome.status})`);
      case 'finished':
        // Never runs: its job leaves the queue (a worker that took it meanwhile finds it cancelled).
        await deps.queues.invocations.remove(id).catch(() => {});
        await afterFinish(deps, id, outcome);
        deps.telemetry.metrics.invocations.inc({ function: record.function, outcome: 'cancelled' });
        return c.json(await deps.store.get(id));
      case 'cancelling':
        // Its worker, wherever it is, kills the sandbox and reports; wait a little for that.
        try {
          return c.json(await deps.waiters.wait(id, { timeoutMs: CANCEL_WAIT_MS, signal: c.req.raw.signal, checkNow: true }));
        } catch (error) {
          if ((error as PidboxError).code !== 'SYNC_TIMEOUT') throw error;
          return c.json(await deps.store.get(id), 202);
        }
    }
  });

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

const ID = /^[A-Za-z0-9_-]{1,128}$/;

const checkId: MiddlewareHandler<GatewayEnv> = async (c, next) => {
  if (!ID.test(c.req.param('id') ?? '')) throw notFound(c.req.param('id') ?? '');
  await next();
};

function notFound(id: string): PidboxError {
  return new PidboxError('INVOCATION_NOT_FOUND', `no invocation ${JSON.stringify(id.slice(0, 100))} (it may have expired)`);
}
