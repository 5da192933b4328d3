// PIDBOX_API_KEYS: when set, every route but /healthz and /readyz needs `Authorization: Bearer <key>`.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { errorResponse } from './http-errors.js';

export const OPEN_PATHS = new Set(['/healthz', '/readyz']);

export function requireApiKey(keys: string[]): MiddlewareHandler {
  // Compared as digests of equal length, in constant time, against every key.
  const digests = keys.map(digest);
  return async (c, next) => {
    if (digests.length === 0 || OPEN_PATHS.has(c.req.path)) return next();
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const challenge = { 'www-authenticate': 'Bearer realm="pidbox"' };
    if (!match) return errorResponse('UNAUTHORIZED', 'this gateway needs an API key: Authorization: Bearer <key>', challenge);
    const given = digest(match[1]!);
    let ok = false;
    for (const key of digests) ok = timingSafeEqual(key, given) || ok;
    if (!ok) return errorResponse('UNAUTHORIZED', 'the API key is not valid', challenge);
    return next();
  };
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
