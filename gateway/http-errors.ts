// Errors as HTTP answers: `{ "error": { "code", "message" } }` with the status of the code's row in
// the one table (contracts/http-status.ts).
import { HTTPException } from 'hono/http-exception';
import { HTTP_STATUS_OF, errorBody } from '../contracts/http-status.js';
import { PidboxError, type ErrorCode } from '../contracts/pidbox-error.js';

export function errorResponse(code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  return new Response(errorBody(code, message), {
    status: HTTP_STATUS_OF[code],
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/**
 * What hono's own HTTPExceptions mean in pidbox's codes: its validators' "Malformed JSON" (400) and
 * @hono/zod-openapi's check of a body's media type (415).
 */
const CODE_OF_HTTP_EXCEPTION: Record<number, ErrorCode> = {
  400: 'INVALID_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * Any error as a PidboxError: ours as they are; hono's HTTPExceptions by their status; Redis being
 * unreachable (a connection error or a command timeout) as QUEUE_UNAVAILABLE; anything else as INTERNAL.
 */
export function asPidboxError(error: unknown): PidboxError {
  if (error instanceof PidboxError) return error;
  if (error instanceof HTTPException) {
    const code = CODE_OF_HTTP_EXCEPTION[error.status];
    if (code) return new PidboxError(code, error.message || `HTTP ${error.status}`, error);
  }
  const message = (error as Error)?.message ?? String(error);
  if (/Command timed out|Connection is closed|ECONNREFUSED|connect ENOENT|Reached the max retries|Stream isn't writeable|ETIMEDOUT/i.test(message)) {
    return new PidboxError('QUEUE_UNAVAILABLE', `the queue (Redis) is not reachable: ${message}`, error);
  }
  return new PidboxError('INTERNAL', message, error);
}

/**
 * Headers that belong to one connection (RFC 9110, 7.6.1), never passed on between the caller and the
 * function; nor Content-Length, which is set again for the body as it is passed on.
 */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length',
]);
