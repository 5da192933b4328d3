// Bull Board at /admin/queues: the BullMQ queues behind pidbox (invocations, callbacks) as BullMQ
// sees them — waiting, active, delayed, failed jobs, workers, Redis — behind the API keys like
// every route (ui-session.ts lets its page use the dashboard's login).
//
// Read-only. pidbox keeps a record beside every job and moves the two together (redis/
// invocation-store.ts's scripts); a retry, a removal or an added job from the board would move the
// job alone: a retried invocation whose record already says `failed`, a removed job whose record
// stays `queued` for days. Cancel and retry belong to pidbox's API, which keeps both in step. So
// the queues are registered read-only (Bull Board then refuses every action itself, with 405), and
// only GET and HEAD reach the board at all, so a later version's new action cannot slip through.
import { createBullBoard } from '@bull-board/api';
import type { IServerAdapter } from '@bull-board/api/typings/app';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import type { InvocationQueues } from '../../redis/invocation-queues.js';

export const QUEUE_BOARD_PATH = '/admin/queues';

export function queueBoardRoutes(queues: Pick<InvocationQueues, 'invocations' | 'callbacks'>): Hono {
  const server = new HonoAdapter(serveStatic).setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: [
      new BullMQAdapter(queues.invocations, { readOnlyMode: true, description: 'one job per invocation; its record is the truth' }),
      new BullMQAdapter(queues.callbacks, { readOnlyMode: true, description: 'deliveries to X-Callback-Url' }),
    ],
    // @bull-board/hono 9.10.1 brings its own @bull-board/api 9.10.1 for its types, whose private fields
    // differ from the 9.10.2 installed beside it; at run time the adapter uses none of that copy.
    serverAdapter: server as unknown as IServerAdapter,
    options: { uiConfig: { boardTitle: 'pidbox queues' } },
  });
  const app = new Hono();
  app.use('*', async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return c.notFound();
    await next();
  });
  // Bull Board's page has inline script of its own, so no CSP for scripts here as on /ui; but like
  // /ui it is never framed by another page, nor kept in a cache.
  const headers = secureHeaders({ contentSecurityPolicy: { frameAncestors: ["'none'"] }, strictTransportSecurity: false, xFrameOptions: 'DENY' });
  app.use('*', async (c, next) => {
    await headers(c, next);
    if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store');
  });
  // Bull Board's static files (its page's script and styles) come from @bull-board/ui's folder,
  // through @hono/node-server's serveStatic (given above), under /admin/queues/static/.
  app.route('/', server.registerPlugin());
  return app;
}
