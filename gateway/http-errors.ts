// Errors as HTTP answers: `{ "error": { "code", "message" } }` with the status of the code's row in
// the one table (contracts/http-status.ts).
import { HTTP_STATUS_OF, errorBody } from '../contracts/http-status.js';
import { PidboxError, type ErrorCode } from '../contracts/pidbox-error.js';
import { redisTrouble } from '../redis/redis-errors.js';

export function errorResponse(code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  return new Response(errorBody(code, message), {
    status: HTTP_STATUS_OF[code],
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/**
 * Any error as a PidboxError: ours as they are; Redis unreachable (down, restarting, in failover, not
 * answering within the command timeout) as QUEUE_UNAVAILABLE; Redis full (maxmemory reached under
 * noeviction: it refuses writes, answers reads) as QUEUE_FULL, so that an operator tells the two
 * apart; both 503 with Retry-After. Anything else as INTERNAL.
 */
export function asPidboxError(error: unknown): PidboxError {
  if (error instanceof PidboxError) return error;
  const message = (error as Error)?.message ?? String(error);
  switch (redisTrouble(error)) {
    case 'unreachable':
      return new PidboxError('QUEUE_UNAVAILABLE', `the queue (Redis) is not reachable: ${message}`, error);
    case 'full':
      return new PidboxError('QUEUE_FULL', `the queue (Redis) is full: it refuses writes past its maxmemory: ${message}`, error);
    case null:
      return new PidboxError('INTERNAL', message, error);
  }
}

/**
 * Headers that belong to one connection (RFC 9110, 7.6.1), never passed on between the caller and the
 * function; nor Content-Length, which is set again for the body as it is passed on.
 */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length',
]);
