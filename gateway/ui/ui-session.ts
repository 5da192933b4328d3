// The dashboard and PIDBOX_API_KEYS. A browser cannot send `Authorization: Bearer` when it follows a
// link, nor can Bull Board's own page; so the login form puts the key in a cookie, and under /ui and
// /admin/queues only, a request without an Authorization header gets one made from that cookie
// before the gateway's key check, which then decides as for any client. The API itself never reads
// the cookie: its Bearer scheme is unchanged, and a request to it without the header is refused.
//
// The cookie is HttpOnly (no script, an injected one included, can read the key), SameSite=Strict
// (no other site can make the browser send it, so no cross-site request acts with it), Secure over
// https, set for /ui and /admin/queues only (never sent to the invocation routes, whose headers reach
// functions), and lasts for the browser's session. It holds the key itself: the gateway keeps no
// sessions, so any gateway behind a load balancer accepts it, and the key stays the one secret to
// rotate. Forms that act (invoke, signal, cancel) are refused when the browser says they come from
// another site (Sec-Fetch-Site).
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { errorResponse } from '../http-errors.js';

export const KEY_COOKIE = 'pidbox_key';
/** Where the cookie is sent; the paths of the pages that read it. */
export const KEY_COOKIE_PATHS = ['/ui', '/admin/queues'] as const;

/** For /ui/* and /admin/queues/*, before the key check: the key from the cookie; a page refused goes to the login form. */
export function keyFromCookie(): MiddlewareHandler {
  return async (c, next) => {
    const key = getCookie(c, KEY_COOKIE);
    if (key && !c.req.header('authorization')) {
      const headers = new Headers(c.req.raw.headers);
      headers.set('authorization', `Bearer ${key}`);
      c.req.raw = new Request(c.req.raw, { headers });
    }
    if (!safeMethod(c.req.method) && crossSite(c)) {
      return errorResponse('UNAUTHORIZED', 'the dashboard takes forms from its own pages only');
    }
    await next();
    if (c.res.status === 401 && c.req.method === 'GET' && isNavigation(c)) {
      c.res = c.redirect(loginPath(c.req.path + new URL(c.req.url).search, Boolean(key)), 303);
    }
  };
}

export function setKeyCookie(c: Context, key: string): void {
  const secure = new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
  for (const path of KEY_COOKIE_PATHS) setCookie(c, KEY_COOKIE, key, { path, httpOnly: true, sameSite: 'Strict', secure });
}

export function clearKeyCookie(c: Context): void {
  for (const path of KEY_COOKIE_PATHS) deleteCookie(c, KEY_COOKIE, { path });
}

/** `/ui/login?next=…`; `failed` when the key the browser sent was refused. */
export function loginPath(next: string, failed = false): string {
  return `/ui/login?next=${encodeURIComponent(next)}${failed ? '&failed=1' : ''}`;
}

/** Where a login may lead: a page of the dashboard or of Bull Board, never another site. */
export function safeNext(next: string | undefined): string {
  if (!next || !/^\/(ui|admin\/queues)(\/|\?|$)/.test(next) || next.includes('//') || next.includes('\\')) return '/ui';
  return next;
}

function safeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

function crossSite(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  return site !== undefined && site !== 'same-origin' && site !== 'none';
}

/** A page the browser navigates to (not a fetch of a fragment or of Bull Board's API). */
function isNavigation(c: Context): boolean {
  const mode = c.req.header('sec-fetch-mode');
  if (mode !== undefined) return mode === 'navigate';
  return (c.req.header('accept') ?? '').includes('text/html');
}
