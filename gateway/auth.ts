// PIDBOX_API_KEYS: when set, every route but the open ones needs `Authorization: Bearer <key>`,
// checked by hono's bearer-auth, answered 401 with a `WWW-Authenticate: Bearer` challenge and
// pidbox's error body.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { errorResponse } from './http-errors.js';

/**
 * Routes any caller may use: health and metrics (probes and scrapers carry no key) and the API's
 * description (GET /openapi.json, the /docs page, function.json's JSON Schema: editors fetch
 * `$schema` without a key). They hold nothing of a deployment's data.
 */
export function isOpenPath(path: string): boolean {
  return OPEN_PATHS.has(path) || path.startsWith('/docs/');
}

const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs', '/schemas/function.json']);

/** The security scheme of the API's description (GET /openapi.json) that this middleware enforces. */
export const API_KEY_SCHEME = 'apiKey';

const REALM = 'pidbox';

export function requireApiKey(keys: string[]): MiddlewareHandler {
  if (keys.length === 0) return async (_c, next) => next();
  // bearer-auth's own check of a list of tokens hashes both sides and compares them in constant time,
  // but stops at the first key that matches. This one always compares against every key, as digests
  // of equal length, so the time taken says nothing of which key matched, nor of how many there are.
  const digests = keys.map(digest);
  const challenge = (error?: string): string => `Bearer realm="${REALM}"${error ? `, error="${error}"` : ''}`;
  const refuse = (message: string, error?: string) => () =>
    errorResponse('UNAUTHORIZED', message, { 'www-authenticate': challenge(error) });
  const check = bearerAuth({
    realm: REALM,
    verifyToken: (token) => {
      const given = digest(token);
      let ok = false;
      for (const key of digests) ok = timingSafeEqual(key, given) || ok;
      return ok;
    },
    noAuthenticationHeader: { message: refuse('this gateway needs an API key: Authorization: Bearer <key>') },
    // bearer-auth answers a malformed header 400; here it is a missing key like any other: 401.
    invalidAuthenticationHeader: { message: refuse('the Authorization header must be "Bearer <key>"', 'invalid_request') },
    invalidToken: { message: refuse('the API key is not valid', 'invalid_token') },
  });
  return async function requireApiKeyUnlessOpen(c, next) {
    if (isOpenPath(c.req.path)) return next();
    return check(c, next);
  };
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
