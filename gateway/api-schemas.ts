// What the gateway's routes share in their definitions: path parameters with the error a malformed one
// gets, the headers of an invocation's answer, and error responses documented by code, their statuses
// from the one table (contracts/http-status.ts).
import { z } from 'zod';
import { ErrorBody, HTTP_STATUS_OF } from '../contracts/http-status.js';
import { PidboxError, type ErrorCode } from '../contracts/pidbox-error.js';
import { FUNCTION_NAME, invalidFunctionName } from '../registry/function-registry.js';
import type { ParamErrors } from './request-validation.js';

/** An invocation's or a batch's id: a UUID; anything else (a `:` could reach another key) is simply not found. */
const RECORD_ID = /^[A-Za-z0-9_-]{1,128}$/;

export const FunctionNameParams = z.object({
  name: z.string().regex(FUNCTION_NAME).meta({ description: 'The function: the name of its folder.', example: 'hello' }),
});
export const FUNCTION_NAME_ERRORS: ParamErrors = { name: invalidFunctionName };

export const InvocationIdParams = z.object({
  id: z.string().regex(RECORD_ID).meta({ description: 'The invocation id (X-Invocation-Id).', example: '0f8fad5b-d9cb-469f-a165-70867728950e' }),
});
export const INVOCATION_ID_ERRORS: ParamErrors = { id: invocationNotFound };

export const BatchIdParams = z.object({
  id: z.string().regex(RECORD_ID).meta({ description: 'The batch id (`batchId`).' }),
});
export const BATCH_ID_ERRORS: ParamErrors = { id: batchNotFound };

export function batchNotFound(id: string): PidboxError {
  return new PidboxError('BATCH_NOT_FOUND', `no batch ${JSON.stringify(id.slice(0, 100))} (it may have expired)`);
}

export function invocationNotFound(id: string): PidboxError {
  return new PidboxError('INVOCATION_NOT_FOUND', `no invocation ${JSON.stringify(id.slice(0, 100))} (it may have expired)`);
}

const INVOCATION_ID = z.string().meta({ description: 'The invocation this request made (or, with an Idempotency-Key already used, found).' });

/** Headers of every answer about an invocation a request made (README, "HTTP API"). */
export const InvocationIdHeaders = z.object({ 'X-Invocation-Id': INVOCATION_ID });
/** The same on OpenFaaS's routes, which also name it X-Call-Id. */
export const CallIdHeaders = z.object({ 'X-Invocation-Id': INVOCATION_ID, 'X-Call-Id': INVOCATION_ID });

type ErrorResponses = Record<number, { description: string; content: { 'application/json': { schema: typeof ErrorBody } } }>;

/** The error answers of a route, one per status, each listing its codes. */
export function errorResponses(...codes: ErrorCode[]): ErrorResponses {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(HTTP_STATUS_OF[code], [...(byStatus.get(HTTP_STATUS_OF[code]) ?? []), code]);
  const responses: ErrorResponses = {};
  for (const [status, of] of byStatus) {
    responses[status] = { description: of.map((code) => `\`${code}\``).join(', '), content: { 'application/json': { schema: ErrorBody } } };
  }
  return responses;
}

/** Errors any route behind the API key may answer. */
export const KEYED_ERRORS: ErrorCode[] = ['UNAUTHORIZED', 'SHUTTING_DOWN', 'INTERNAL'];
