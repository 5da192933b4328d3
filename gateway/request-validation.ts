// A request that fails its route's zod schemas (path parameters, query, headers, body) is answered in
// pidbox's error format, naming what is at fault — `query parameter "limit" must be a whole number
// from 1 to 1000, got "0"` — never with zod's own dump of issues.
import type { Hook } from '@hono/zod-openapi';
import type { Env, ValidationTargets } from 'hono';
import type { z } from 'zod';
import { PidboxError } from '../contracts/pidbox-error.js';

/**
 * Path parameters whose failure is not INVALID_REQUEST: a malformed invocation id is simply not
 * found (404), a malformed function name is INVALID_FUNCTION_NAME. Given the value, the error.
 */
export type ParamErrors = Record<string, (value: string) => PidboxError>;

/** The hook of a route (`app.openapi(route, handler, hook)`); without `params`, the gateway's default. */
export function rejectInvalid(params: ParamErrors = {}): <T, E extends Env, P extends string>(...args: Parameters<Hook<T, E, P, undefined>>) => undefined {
  return function rejectInvalidRequest(result, c) {
    if (result.success) return undefined;
    const issue = result.error.issues[0]!;
    const name = issue.path[0];
    if (result.target === 'param' && typeof name === 'string' && params[name]) throw params[name](c.req.param(name) ?? '');
    throw new PidboxError('INVALID_REQUEST', describe(result.target, issue));
  };
}

/** The route's default hook (set on every OpenAPIHono of the gateway). */
export const rejectInvalidRequest = rejectInvalid();

function describe(target: keyof ValidationTargets, issue: z.core.$ZodIssue): string {
  const where = whereOf(target, issue.path.map(String));
  // pidbox's schemas word their messages as predicates ("must be …"); zod's own start with a capital.
  return /^[a-z]/.test(issue.message) ? `${where} ${issue.message}` : `${where}: ${issue.message}`;
}

function whereOf(target: keyof ValidationTargets, path: string[]): string {
  const name = path.join('.');
  switch (target) {
    case 'param':
      return `path parameter "${name}"`;
    case 'query':
      return `query parameter "${name}"`;
    case 'header':
      return `header ${name}`;
    case 'cookie':
      return `cookie "${name}"`;
    case 'json':
    case 'form':
      return name === '' ? 'the body' : `body field "${name}"`;
  }
}
