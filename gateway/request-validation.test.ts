import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { PidboxError } from '../contracts/pidbox-error.js';
import { asPidboxError, errorResponse } from './http-errors.js';
import { rejectInvalid, rejectInvalidRequest } from './request-validation.js';

function app(): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: rejectInvalidRequest });
  app.onError((error) => {
    const e = asPidboxError(error);
    return errorResponse(e.code, e.message);
  });
  const route = createRoute({
    method: 'post',
    path: '/things/{id}',
    request: {
      params: z.object({ id: z.string().regex(/^[a-z]+$/) }),
      query: z.object({ size: z.enum(['small', 'large']).optional() }),
      headers: z.object({ 'X-Tag': z.string().max(3, { error: 'must be at most 3 characters' }).optional() }),
      body: { content: { 'application/json': { schema: z.object({ count: z.int().min(1) }) } } },
    },
    responses: { 200: { description: 'ok' } },
  });
  app.openapi(route, (c) => c.json({ ok: true }), rejectInvalid({ id: (id) => new PidboxError('NOT_FOUND', `no thing ${id}`) }));
  return app;
}

async function errorOf(path: string, init: RequestInit = {}): Promise<{ status: number; code: string; message: string }> {
  const res = await app().request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"count":1}', ...init });
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, ...body.error };
}

test('a query parameter, a header and a body field that fail their schema are named, in pidbox\'s format', async () => {
  assert.deepEqual(await errorOf('/things/abc?size=huge'), {
    status: 400,
    code: 'INVALID_REQUEST',
    message: 'query parameter "size": Invalid option: expected one of "small"|"large"',
  });
  assert.deepEqual(await errorOf('/things/abc', { headers: { 'content-type': 'application/json', 'x-tag': 'long' } }), {
    status: 400,
    code: 'INVALID_REQUEST',
    message: 'header X-Tag must be at most 3 characters',
  });
  const body = await errorOf('/things/abc', { body: '{"count":0}' });
  assert.equal(body.code, 'INVALID_REQUEST');
  assert.match(body.message, /^body field "count": Too small/);
});

test("a path parameter can fail with the route's own error", async () => {
  assert.deepEqual(await errorOf('/things/ABC'), { status: 404, code: 'NOT_FOUND', message: 'no thing ABC' });
});

test('a body that is not JSON is INVALID_REQUEST, and one of another media type UNSUPPORTED_MEDIA_TYPE', async () => {
  assert.deepEqual(await errorOf('/things/abc', { body: '{"count":' }), { status: 400, code: 'INVALID_REQUEST', message: 'Malformed JSON in request body' });
  const other = await errorOf('/things/abc', { headers: { 'content-type': 'text/plain' }, body: 'count=1' });
  assert.deepEqual([other.status, other.code], [415, 'UNSUPPORTED_MEDIA_TYPE']);
});
