// Re-driving an invocation that did not succeed: `POST /invocations/{id}/retry` makes a new
// invocation of the same function with the same request (method, path, headers, body), linked both
// ways (`retryOf` on the new record, `retriedBy` on the old). The old record is left as it ended:
// history is not rewritten, and the new one has its own id, attempts, log and result.
//
// The request comes from the old record: a run that does not succeed keeps the request it was given
// beside its result (redis/finish-invocation.ts keepingRequest), for as long as the record is kept
// (PIDBOX_KEEP_FAILED_SECONDS), long after its job has left the queue.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { FINAL_STATUSES, InvocationStatus } from '../../contracts/invocation.js';
import { PidboxError } from '../../contracts/pidbox-error.js';
import { errorResponses, INVOCATION_ID_ERRORS, InvocationIdHeaders, InvocationIdParams, invocationNotFound, KEYED_ERRORS } from '../api-schemas.js';
import { enqueueInvocation, newInvocationId } from '../enqueue-invocation.js';
import type { GatewayDeps, GatewayEnv } from '../gateway-deps.js';
import { rejectInvalid, rejectInvalidRequest } from '../request-validation.js';

const RetryAccepted = z
  .object({
    id: z.string().meta({ description: 'The new invocation.' }),
    status: InvocationStatus,
    retryOf: z.string().meta({ description: 'The invocation it re-drives.' }),
  })
  .meta({ id: 'RetryAccepted' });

const retryInvocation = createRoute({
  method: 'post',
  path: '/invocations/{id}/retry',
  tags: ['invocations'],
  summary: 'Re-drive an invocation that did not succeed',
  description:
    'A new invocation of the same function with the same request, linked to this one (`retryOf`, `retriedBy`). Only for an invocation that ended `failed`, `timed_out` or `cancelled`: one still queued or running, or one that succeeded, is refused with 409 `INVOCATION_NOT_RETRYABLE`.',
  request: { params: InvocationIdParams },
  responses: {
    202: {
      description: 'Enqueued. Poll `Location`.',
      headers: InvocationIdHeaders.extend({ Location: z.string().meta({ example: '/invocations/0f8fad5b-d9cb-469f-a165-70867728950e' }) }),
      content: { 'application/json': { schema: RetryAccepted } },
    },
    ...errorResponses('INVOCATION_NOT_FOUND', 'FUNCTION_NOT_FOUND', 'INVOCATION_NOT_RETRYABLE', 'TOO_MANY_REQUESTS', 'QUEUE_UNAVAILABLE', ...KEYED_ERRORS),
  },
});

export function retryRoutes(deps: GatewayDeps): OpenAPIHono<GatewayEnv> {
  const app = new OpenAPIHono<GatewayEnv>({ defaultHook: rejectInvalidRequest });
  app.openapi(
    retryInvocation,
    async (c) => {
      const { id } = c.req.valid('param');
      const source = await deps.store.retrySource(id);
      if (!source) throw invocationNotFound(id);
      if (!FINAL_STATUSES.includes(source.status)) {
        throw new PidboxError('INVOCATION_NOT_RETRYABLE', `invocation ${id} is ${source.status}: only one that has ended can be retried`);
      }
      if (source.status === 'succeeded') {
        throw new PidboxError('INVOCATION_NOT_RETRYABLE', `invocation ${id} succeeded: invoke its function again to run it anew`);
      }
      if (!source.request) {
        throw new PidboxError('INVOCATION_NOT_RETRYABLE', `invocation ${id} ended before its request could be kept: invoke its function again`);
      }
      const fn = deps.registry.get(source.functionName);
      await deps.depth.check(1);
      const retry = newInvocationId();
      await enqueueInvocation(deps, retry, { fn, request: source.request, mode: 'async', retryOf: id }, (recorded) => c.set('invocationId', recorded));
      await deps.store.setRetriedBy(id, retry);
      return c.json({ id: retry, status: 'queued' as const, retryOf: id }, 202, { location: `/invocations/${retry}`, 'x-invocation-id': retry });
    },
    rejectInvalid(INVOCATION_ID_ERRORS),
  );
  return app;
}
