// Batches: one invocation per item of a JSON array or NDJSON body; progress and paged results.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { InvocationRequest } from '../../contracts/invocation.js';
import { BatchRecord } from '../../contracts/invocation-record.js';
import {
  BATCH_ID_ERRORS, batchNotFound, BatchIdParams, errorResponses, FUNCTION_NAME_ERRORS, FunctionNameParams, KEYED_ERRORS,
} from '../api-schemas.js';
import { enqueueBatch } from '../enqueue-invocation.js';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';
import { errorResponse } from '../http-errors.js';
import { parseBatch } from '../parse-batch.js';
import { rejectInvalid, rejectInvalidRequest } from '../request-validation.js';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/** A page's bound in the query: a whole number from `min` to `max`; `fallback` when absent or empty. */
function pageNumber(fallback: number, min: number, max: number, description: string) {
  const rule = (issue: { input?: unknown }): string => `must be a whole number from ${min} to ${max}, got "${String(issue.input)}"`;
  return z
    .string({ error: rule })
    .regex(/^\d*$/, { error: rule })
    .transform((text) => (text === '' ? fallback : Number(text)))
    .pipe(z.int({ error: rule }).min(min, { error: rule }).max(max, { error: rule }))
    .optional()
    .transform((value) => value ?? fallback)
    // The description of the query parameter, as a number (its text is what travels).
    .meta({ description, type: 'integer', minimum: min, maximum: max, default: fallback });
}

const BatchPage = z.object({
  offset: pageNumber(0, 0, Number.MAX_SAFE_INTEGER, 'First invocation of the page, by its index in the batch.'),
  limit: pageNumber(DEFAULT_PAGE, 1, MAX_PAGE, 'Invocations in the page.'),
});

const BatchAccepted = z
  .object({ batchId: z.string(), count: z.int().min(1).meta({ description: 'Invocations enqueued: one per item.' }) })
  .meta({ id: 'BatchAccepted' });

function postBatch(maxItems: number) {
  return createRoute({
    method: 'post',
    path: '/functions/{name}/batch',
    tags: ['batches'],
    summary: 'Invoke a function once per item',
    description:
      'A JSON array, or NDJSON (`application/x-ndjson`, one JSON value a line): one asynchronous invocation per item, the item as its JSON body (`POST /`, `Content-Type: application/json`).',
    request: {
      params: FunctionNameParams,
      // Described here as plain JSON Schema, not zod: zod-openapi would parse and check a JSON body
      // itself (and refuse other content types with 415), where parse-batch reads both forms, sniffs
      // a body sent without its type (curl -d), and names the item, line or character at fault.
      body: {
        required: true,
        content: {
          'application/json': {
            schema: { type: 'array', minItems: 1, maxItems, items: { description: 'The JSON body of one invocation.' } },
          },
          'application/x-ndjson': { schema: { type: 'string', description: `One JSON value a line, 1 to ${maxItems} of them; blank lines are skipped.` } },
        },
      },
    },
    responses: {
      202: {
        description: 'Enqueued; `Location` is the batch.',
        headers: z.object({ Location: z.string().meta({ example: '/batches/0f8fad5b-d9cb-469f-a165-70867728950e' }) }),
        content: { 'application/json': { schema: BatchAccepted } },
      },
      ...errorResponses('INVALID_FUNCTION_NAME', 'INVALID_BATCH', 'FUNCTION_NOT_FOUND', 'BODY_TOO_LARGE', 'TOO_MANY_REQUESTS', 'INVALID_FUNCTION_CONFIG', 'QUEUE_UNAVAILABLE', ...KEYED_ERRORS),
    },
  });
}

const getBatch = createRoute({
  method: 'get',
  path: '/batches/{id}',
  tags: ['batches'],
  summary: "A batch's progress and one page of its invocations",
  request: { params: BatchIdParams, query: BatchPage },
  responses: {
    200: { description: 'Counted in Redis as members change status.', content: { 'application/json': { schema: BatchRecord } } },
    ...errorResponses('INVALID_REQUEST', 'BATCH_NOT_FOUND', ...KEYED_ERRORS),
  },
});

export function batchRoutes(deps: GatewayDeps): OpenAPIHono<GatewayEnv> {
  const app = new OpenAPIHono<GatewayEnv>({ defaultHook: rejectInvalidRequest });
  const limit = bodyLimit({
    maxSize: deps.gatewayConfig.maxBodyBytes,
    onError: () => errorResponse('BODY_TOO_LARGE', `the request body is larger than ${deps.gatewayConfig.maxBodyBytes} bytes`),
  });

  app.openapi({ ...postBatch(deps.gatewayConfig.maxBatchSize), middleware: [limit] }, async (c) => {
    const fn = deps.registry.get(c.req.valid('param').name);
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
  }, rejectInvalid(FUNCTION_NAME_ERRORS));

  app.openapi(getBatch, async (c) => {
    const { id } = c.req.valid('param');
    const { offset, limit: pageSize } = c.req.valid('query');
    const batch = await deps.batches.read(id, offset, pageSize);
    if (!batch) throw batchNotFound(id);
    return c.json(batch, 200);
  }, rejectInvalid(BATCH_ID_ERRORS));

  return app;
}
