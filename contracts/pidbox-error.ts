/**
 * Every error code pidbox reports, stable across versions. The gateway maps each to an HTTP status
 * in one table (contracts/http-status.ts); the worker stores them on failed invocations.
 */
export const ERROR_CODES = [
  // sandbox (the runner itself failed, not the function)
  'SANDBOX_SPAWN_FAILED',
  'SANDBOX_INIT_FAILED',
  'SANDBOX_BUSY',
  'SANDBOX_SETUP_FAILED',
  'SANDBOX_PROTOCOL_ERROR',
  // functions
  'FUNCTION_NOT_FOUND',
  'INVALID_FUNCTION_NAME',
  'INVALID_FUNCTION_CONFIG',
  'FUNCTION_BUILD_FAILED',
  'FUNCTION_FAILED',
  'FUNCTION_TIMED_OUT',
  'FUNCTION_OUTPUT_TOO_LARGE',
  'FUNCTION_OUT_OF_MEMORY',
  'INVOCATION_CANCELLED',
  'WORKER_LOST',
  // requests
  'INVALID_REQUEST',
  'BODY_TOO_LARGE',
  'INVALID_BATCH',
  'INVALID_CALLBACK_URL',
  'TOO_MANY_REQUESTS',
  'UNAUTHORIZED',
  'INVOCATION_NOT_FOUND',
  'INVOCATION_FINISHED',
  'INVOCATION_NOT_RUNNING',
  'INVOCATION_NOT_RETRYABLE',
  'INVALID_SIGNAL',
  'BATCH_NOT_FOUND',
  'SYNC_TIMEOUT',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'UNSUPPORTED_MEDIA_TYPE',
  'QUEUE_UNAVAILABLE',
  'QUEUE_FULL',
  'SHUTTING_DOWN',
  'INVALID_JOB',
  'CALLBACK_FAILED',
  'INTERNAL',
  // configuration
  'INVALID_CONFIG',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class PidboxError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'PidboxError';
    this.code = code;
  }
}
