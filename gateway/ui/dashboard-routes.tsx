// The dashboard at /ui: pages rendered on the server from the gateway's own API (gateway-api.ts),
// fragments the page's script swaps in while an invocation or a batch runs, a log followed live,
// and forms that invoke, signal, cancel and retry. Two parts, mounted apart by createApp: `entry` comes
// before the API key check (the login form, the static files, the key from the cookie for what
// follows: ui-session.ts); `pages` after it, so every page is refused without a key like any route.
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { html } from 'hono/html';
import type { JSX } from 'hono/jsx/jsx-runtime';
import { secureHeaders } from 'hono/secure-headers';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { GatewayDeps } from '../gateway-deps.js';
import { SIGNALS, type BatchRecord, type FunctionList, type InvocationList, type InvocationRecord, type ProcessInfo } from './api-shapes.js';
import { gatewayApi, readAnswer, type ApiAnswer, type AppRequest, type GatewayApi } from './gateway-api.js';
import { BatchPage, BatchSection } from './pages/batch-page.js';
import { HomePage, InvocationListSection, type ListQuery } from './pages/home-page.js';
import { InvocationPage, isFinal, RecordSection, type InvocationView } from './pages/invocation-page.js';
import type { PageFrame } from './pages/layout.js';
import { LoginPage } from './pages/login-page.js';
import { MessagePage } from './pages/message-page.js';
import { Notice } from './pages/parts.js';
import { loadStaticAssets } from './static-assets.js';
import { clearKeyCookie, keyFromCookie, safeNext, setKeyCookie } from './ui-session.js';

/** Invocations shown on the first page of the list. */
const LIST_LIMIT = 20;
/** Ids as the API makes them; anything else is not looked up. */
const ID = /^[A-Za-z0-9_-]{1,128}$/;

export interface Dashboard {
  /** Mounted before the API key check. */
  entry: Hono;
  /** Mounted after it. */
  pages: Hono;
}

/** `request`: the gateway's own app (`app.request`), through which every page reads what it shows. */
export function createDashboard(deps: Pick<GatewayDeps, 'gatewayConfig'>, request: AppRequest): Dashboard {
  const assets = loadStaticAssets();
  const keyed = deps.gatewayConfig.apiKeys.length > 0;
  const frame: PageFrame = { assets, keyed };
  const traceUrl = deps.gatewayConfig.traceUrl;
  const apiOf = (c: Context): GatewayApi => gatewayApi(request, c.req.header('authorization'));

  const entry = new Hono();
  for (const path of ['/ui', '/ui/*']) entry.use(path, uiHeaders());
  for (const path of ['/ui', '/ui/*', '/admin/queues', '/admin/queues/*']) {
    entry.use(path, untracedReads());
    entry.use(path, keyFromCookie());
  }
  entry.route('/', assets.routes);
  entry.get('/ui/login', (c) => {
    if (!keyed) return c.redirect('/ui', 303);
    return page(c, <LoginPage frame={frame} next={safeNext(c.req.query('next'))} failed={c.req.query('failed') === '1'} />);
  });
  entry.post('/ui/login', async (c) => {
    const form = await c.req.parseBody();
    const key = typeof form.key === 'string' ? form.key.trim() : '';
    const next = safeNext(typeof form.next === 'string' ? form.next : undefined);
    // The gateway's own check decides: the key opens GET /functions or it opens nothing.
    const answer = await gatewayApi(request, `Bearer ${key}`).get<FunctionList>('/functions');
    if (answer.status === 401 || key === '') return page(c, <LoginPage frame={frame} next={next} failed />, 401);
    setKeyCookie(c, key);
    return c.redirect(next, 303);
  });
  entry.post('/ui/logout', (c) => {
    clearKeyCookie(c);
    return c.redirect(keyed ? '/ui/login' : '/ui', 303);
  });

  const pages = new Hono();
  pages.get('/ui/', (c) => c.redirect('/ui', 303));

  pages.get('/ui', async (c) => {
    const api = apiOf(c);
    const query = listQuery(c);
    const [functions, list] = await Promise.all([api.get<FunctionList>('/functions'), readList(api, query)]);
    return page(c, <HomePage frame={frame} functions={functions} list={list} query={query} />);
  });
  pages.get('/ui/fragments/invocations', async (c) => {
    const query = listQuery(c);
    return c.html(<InvocationListSection list={await readList(apiOf(c), query)} query={query} />);
  });

  pages.get('/ui/open', async (c) => {
    const id = (c.req.query('id') ?? '').trim();
    const api = apiOf(c);
    if (ID.test(id)) {
      if ((await api.get(`/invocations/${id}`)).ok) return c.redirect(`/ui/invocations/${id}`, 303);
      if ((await api.get(`/batches/${id}?limit=1`)).ok) return c.redirect(`/ui/batches/${id}`, 303);
    }
    return page(c, <MessagePage frame={frame} title="Not found" code="NOT_FOUND" message={`no invocation or batch ${JSON.stringify(id.slice(0, 100))} (it may have expired)`} />, 404);
  });

  pages.post('/ui/invoke', async (c) => {
    const form = await c.req.parseBody();
    const field = (name: string): string => (typeof form[name] === 'string' ? (form[name] as string) : '');
    const name = encodeURIComponent(field('function'));
    const mode = field('mode');
    const init = { method: 'POST', headers: { 'content-type': field('contentType') || 'application/octet-stream' }, body: field('body') };
    const api = apiOf(c);
    if (mode === 'batch') {
      const answer = await readAnswer<{ batchId: string }>(await api.send(`/functions/${name}/batch`, init));
      if (answer.ok) return c.redirect(`/ui/batches/${encodeURIComponent(answer.data.batchId)}`, 303);
      return page(c, <MessagePage frame={frame} title="Not invoked" code={answer.code} message={answer.message} />, answer.status);
    }
    if (mode === 'sync') {
      // Waits for the result like any sync caller; the record then shows it. A response without an
      // id (refused before an invocation existed) is shown as the error it is.
      const response = await api.send(`/functions/${name}`, init);
      const id = response.headers.get('x-invocation-id');
      if (id && ID.test(id)) {
        await response.body?.cancel();
        return c.redirect(`/ui/invocations/${id}`, 303);
      }
      const answer = await readAnswer(response);
      return page(c, <MessagePage frame={frame} title="Not invoked" code={answer.ok ? 'INTERNAL' : answer.code} message={answer.ok ? 'no invocation id' : answer.message} />, response.status);
    }
    const answer = await readAnswer<{ id: string }>(await api.send(`/functions/${name}/invocations`, init));
    if (answer.ok) return c.redirect(`/ui/invocations/${encodeURIComponent(answer.data.id)}`, 303);
    return page(c, <MessagePage frame={frame} title="Not invoked" code={answer.code} message={answer.message} />, answer.status);
  });

  pages.get('/ui/invocations/:id', async (c) => {
    const api = apiOf(c);
    const view = await readInvocation(api, c.req.param('id'), traceUrl);
    if (!view.ok) return page(c, <MessagePage frame={frame} title="Invocation" code={view.code} message={view.message} />, view.status);
    const sent = c.req.query('sent');
    const notice = SIGNALS.includes(sent as (typeof SIGNALS)[number])
      ? <Notice>{`${sent} was sent to the function's processes.`}</Notice>
      : c.req.query('cancelled') === '1' ? <Notice>The invocation was cancelled.</Notice> : undefined;
    return page(c, <InvocationPage frame={frame} view={view.data} log={await finalLog(api, view.data.record)} notice={notice} />);
  });
  pages.get('/ui/fragments/invocations/:id', async (c) => {
    const view = await readInvocation(apiOf(c), c.req.param('id'), traceUrl);
    if (!view.ok) return c.html(<section id="record" data-final=""><Notice>{`${view.code}: ${view.message}`}</Notice></section>, view.status as ContentfulStatusCode);
    return c.html(<RecordSection view={view.data} />);
  });
  // The API's own server-sent events, passed through as they come; the follower stops when the browser goes.
  pages.get('/ui/invocations/:id/log', (c) => {
    const id = c.req.param('id');
    if (!ID.test(id)) return c.notFound();
    return apiOf(c).send(`/invocations/${id}/logs?follow=true`, { headers: { accept: 'text/event-stream' }, signal: c.req.raw.signal });
  });
  pages.post('/ui/invocations/:id/signal', async (c) => {
    const id = c.req.param('id');
    const form = await c.req.parseBody();
    const signal = typeof form.signal === 'string' ? form.signal : '';
    const send = () => apiOf(c).send(`/invocations/${id}/signal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ signal }) });
    return act(c, id, send, `sent=${encodeURIComponent(signal)}`, 'This gateway cannot send a signal to an invocation (no POST /invocations/{id}/signal).');
  });
  // A new invocation with the same request: its page, or this one's with the API's refusal.
  pages.post('/ui/invocations/:id/retry', async (c) => {
    const id = c.req.param('id');
    if (!ID.test(id)) return c.notFound();
    const answer = await readAnswer<{ id: string }>(await apiOf(c).send(`/invocations/${id}/retry`, { method: 'POST' }));
    if (answer.ok) return c.redirect(`/ui/invocations/${encodeURIComponent(answer.data.id)}`, 303);
    return refused(c, id, answer);
  });
  pages.post('/ui/invocations/:id/cancel', (c) => {
    const id = c.req.param('id');
    return act(c, id, () => apiOf(c).send(`/invocations/${id}`, { method: 'DELETE' }), 'cancelled=1');
  });

  pages.get('/ui/batches/:id', async (c) => {
    const batch = await readBatch(apiOf(c), c.req.param('id'), c.req.query('offset'), c.req.query('limit'));
    if (!batch.ok) return page(c, <MessagePage frame={frame} title="Batch" code={batch.code} message={batch.message} />, batch.status);
    return page(c, <BatchPage frame={frame} batch={batch.data} />);
  });
  pages.get('/ui/fragments/batches/:id', async (c) => {
    const batch = await readBatch(apiOf(c), c.req.param('id'), c.req.query('offset'), c.req.query('limit'));
    if (!batch.ok) return c.html(<section id="batch" data-final=""><Notice>{`${batch.code}: ${batch.message}`}</Notice></section>, batch.status as ContentfulStatusCode);
    return c.html(<BatchSection batch={batch.data} />);
  });

  /**
   * A form that acts on a running invocation: back to its page, or its page with the API's refusal.
   * `missing`: what to say when the API has no such route (404 NOT_FOUND, not INVOCATION_NOT_FOUND).
   */
  async function act(c: Context, id: string, send: () => Promise<Response>, done: string, missing?: string): Promise<Response> {
    if (!ID.test(id)) return c.notFound();
    const answer = await readAnswer(await send());
    if (answer.ok) return c.redirect(`/ui/invocations/${id}?${done}`, 303);
    return refused(c, id, answer, missing);
  }

  /** The invocation's page with the API's refusal of what its form asked. */
  async function refused(c: Context, id: string, answer: { code: string; message: string; status: number }, missing?: string): Promise<Response> {
    const api = apiOf(c);
    const view = await readInvocation(api, id, traceUrl);
    if (!view.ok) return page(c, <MessagePage frame={frame} title="Invocation" code={answer.code} message={answer.message} />, answer.status);
    const notice = missing && answer.code === 'NOT_FOUND'
      ? <Notice>{missing}</Notice>
      : <div class="error" role="alert"><code>{answer.code}</code> {answer.message}</div>;
    return page(c, <InvocationPage frame={frame} view={view.data} log={await finalLog(api, view.data.record)} notice={notice} />, answer.status);
  }

  return { entry, pages };
}

/** A whole page, with its doctype. */
function page(c: Context, element: JSX.Element, status = 200): Response | Promise<Response> {
  return c.html(html`<!doctype html>${element}`, status as ContentfulStatusCode);
}

/**
 * On every /ui answer: a CSP that lets the page load its own script and style sheet and nothing else
 * (no inline script or style, no other origin, no frames, forms to itself only; HTML from a string
 * only through the script's one Trusted Types policy), and no caching of pages that show records.
 */
function uiHeaders() {
  const headers = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
      requireTrustedTypesFor: ["'script'"],
      trustedTypes: ['pidbox-fragment'],
    },
    // Whether the gateway is reached over https is for whoever deploys it to say, not a page.
    strictTransportSecurity: false,
    xFrameOptions: 'DENY',
  });
  return async (c: Context, next: () => Promise<void>) => {
    await headers(c, next);
    if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store');
  };
}

/**
 * Reading the dashboard or Bull Board makes no spans, nor do the API reads behind a page: an open tab
 * polls every second or two and would bury the invocations' traces. What a form does (invoke,
 * signal, cancel) is traced like any client's request, so an invocation made here has its trace.
 */
function untracedReads(): MiddlewareHandler {
  // A suppressed context makes the SDK's tracer hand out non-recording spans, to the HTTP middleware
  // and to the in-process API requests alike (they run in this context).
  return (c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? context.with(suppressTracing(context.active()), next) : next());
}

function listQuery(c: Context): ListQuery {
  const query: ListQuery = {};
  for (const name of ['function', 'status', 'cursor'] as const) {
    const value = c.req.query(name);
    if (value) query[name] = value;
  }
  return query;
}

async function readList(api: GatewayApi, query: ListQuery): Promise<ApiAnswer<InvocationList>> {
  const params = new URLSearchParams({ limit: String(LIST_LIMIT) });
  if (query.function) params.set('function', query.function);
  if (query.status) params.set('status', query.status);
  if (query.cursor) params.set('cursor', query.cursor);
  return api.get<InvocationList>(`/invocations?${params}`);
}

async function readInvocation(api: GatewayApi, id: string, traceUrl: string | null): Promise<ApiAnswer<InvocationView>> {
  if (!ID.test(id)) return { ok: false, status: 404, code: 'INVOCATION_NOT_FOUND', message: 'no such invocation', headers: new Headers() };
  const record = await api.get<InvocationRecord>(`/invocations/${id}`);
  if (!record.ok) return record;
  const processes = record.data.status === 'running' ? await api.get<{ processes: ProcessInfo[] }>(`/invocations/${id}/processes`) : null;
  return { ...record, data: { record: record.data, processes, traceUrl } };
}

/** The whole log of a finished invocation (the record keeps its end only); empty while it runs. */
async function finalLog(api: GatewayApi, record: InvocationRecord): Promise<string> {
  if (!isFinal(record)) return '';
  const response = await api.send(`/invocations/${record.id}/logs`);
  return response.ok ? response.text() : record.log;
}

async function readBatch(api: GatewayApi, id: string, offset: string | undefined, limit: string | undefined): Promise<ApiAnswer<BatchRecord>> {
  if (!ID.test(id)) return { ok: false, status: 404, code: 'BATCH_NOT_FOUND', message: 'no such batch', headers: new Headers() };
  const params = new URLSearchParams();
  if (offset) params.set('offset', offset);
  if (limit) params.set('limit', limit);
  const search = params.toString();
  return api.get<BatchRecord>(`/batches/${id}${search ? `?${search}` : ''}`);
}
