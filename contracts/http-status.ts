import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './pidbox-error.js';

/**
 * The HTTP status of every error code: the one table. The gateway answers errors with it, and an
 * invocation that ends without running (cancelled while queued, its worker lost) gets its response
 * status from it. A new code does not compile until it has a row here.
 */
export const HTTP_STATUS_OF: Record<ErrorCode, number> = {
  SANDBOX_SPAWN_FAILED: 500,
  SANDBOX_INIT_FAILED: 500,
  SANDBOX_BUSY: 503,
  SANDBOX_SETUP_FAILED: 500,
  SANDBOX_PROTOCOL_ERROR: 502,
  FUNCTION_NOT_FOUND: 404,
  INVALID_FUNCTION_NAME: 400,
  INVALID_FUNCTION_CONFIG: 500,
  FUNCTION_BUILD_FAILED: 500,
  FUNCTION_FAILED: 500,
  FUNCTION_TIMED_OUT: 504,
  FUNCTION_OUTPUT_TOO_LARGE: 502,
  FUNCTION_OUT_OF_MEMORY: 500,
  INVOCATION_CANCELLED: 409,
  WORKER_LOST: 502,
  INVALID_REQUEST: 400,
  BODY_TOO_LARGE: 413,
  INVALID_BATCH: 400,
  INVALID_CALLBACK_URL: 400,
  TOO_MANY_REQUESTS: 429,
  UNAUTHORIZED: 401,
  INVOCATION_NOT_FOUND: 404,
  INVOCATION_FINISHED: 409,
  INVOCATION_NOT_RUNNING: 409,
  INVOCATION_NOT_RETRYABLE: 409,
  INVALID_SIGNAL: 400,
  BATCH_NOT_FOUND: 404,
  SYNC_TIMEOUT: 504,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNSUPPORTED_MEDIA_TYPE: 415,
  QUEUE_UNAVAILABLE: 503,
  QUEUE_FULL: 503,
  SHUTTING_DOWN: 503,
  INVALID_JOB: 500,
  CALLBACK_FAILED: 502,
  INTERNAL: 500,
  INVALID_CONFIG: 500,
};

/** The JSON body of every error pidbox answers: `{ "error": { "code", "message" } }`. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).meta({ description: 'Stable across versions; its HTTP status is always the same.' }),
      message: z.string().meta({ description: 'What went wrong, for people: names the parameter, header or field at fault.' }),
    }),
  })
  .meta({ id: 'Error', description: "pidbox's error: a stable code and a message." });
export type ErrorBody = z.infer<typeof ErrorBody>;

export function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message } } satisfies ErrorBody);
}
