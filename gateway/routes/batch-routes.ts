// Batches: one invocation per item of a JSON array or NDJSON body; progress and paged results.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { InvocationRequest } from '../../contracts/invocation.js';
import { PidboxError } from '../../contracts/pidbox-error.js';
import { enqueueBatch } from '../enqueue-invocation.js';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';
import { errorResponse } from '../http-errors.js';
import { parseBatch } from '../parse-batch.js';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

export function batchRoutes(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const limit = bodyLimit({
    maxSize: deps.gatewayConfig.maxBodyBytes,
    onError: () => errorResponse('BODY_TOO_LARGE', `the request body is larger than ${deps.gatewayConfig.maxBodyBytes} bytes`),
  });

  app.post('/functions/:name/batch', limit, async (c) => {
    const fn = deps.registry.get(c.req.param('name'));
    const items = parseBatch(await c.req.text(), c.req.header('content-type') ?? '', deps.gatewayConfig.maxBatchSize);
    await deps.depth.check(items.length);
    const requests = items.map((item): InvocationRequest => ({
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/json' },
      bodyBase64: Buffer.from(JSON.stringify(item)).toString('base64'),
    }));
    const { batchId } = await enqueueBatch(deps, fn, requests);
    return c.json({ batchId, count: requests.length }, 202, { location: `/batches/${batchId}` });
  });

  app.get('/batches/:id', async (c) => {
    const offset = pageNumber(c.req.query('offset'), 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const limitValue = pageNumber(c.req.query('limit'), 'limit', DEFAULT_PAGE, 1, MAX_PAGE);
    // A batch id is a UUID; anything else (a `:` could reach another key) is simply not found.
    const batch = /^[A-Za-z0-9_-]{1,128}$/.test(c.req.param('id')) ? await deps.batches.read(c.req.param('id'), offset, limitValue) : null;
    if (!batch) throw new PidboxError('BATCH_NOT_FOUND', `no batch ${JSON.stringify(c.req.param('id').slice(0, 100))} (it may have expired)`);
    return c.json(batch);
  });

  return app;
}

function pageNumber(text: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new PidboxError('INVALID_REQUEST', `"${name}" must be a whole number from ${min} to ${max}`);
  }
  return value;
}
