// X-Callback-Url on the async routes, checked before anything else of the request: a URL that is
// malformed or reaches an address callbacks may not (callbacks/) is answered 400
// INVALID_CALLBACK_URL before an invocation id exists, and nothing is enqueued.
import type { MiddlewareHandler } from 'hono';
import type { BlockList } from 'node:net';
import { checkCallbackUrl } from '../callbacks/callback-url.js';
import type { CallbackFormat } from '../contracts/job.js';
import { PidboxError } from '../contracts/pidbox-error.js';
import type { GatewayEnv } from './gateway-deps.js';

/** `allow`: PIDBOX_CALLBACK_ALLOW_NETWORKS; `format`: what the delivery POSTs. Sets `callback` on the context. */
export function acceptCallback(allow: BlockList, format: CallbackFormat): MiddlewareHandler<GatewayEnv> {
  return async function acceptCallbackUrl(c, next) {
    const header = c.req.header('x-callback-url');
    if (header !== undefined && header !== '') {
      try {
        c.set('callback', { url: await checkCallbackUrl(header, allow), format });
      } catch (error) {
        if (!(error instanceof PidboxError)) throw error;
        throw new PidboxError(error.code, `X-Callback-Url "${header.slice(0, 200)}": ${error.message}`, error);
      }
    }
    await next();
  };
}
