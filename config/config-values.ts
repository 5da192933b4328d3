// Environment variables as zod schemas, for the loadXConfig(env) functions. Each schema reads one
// variable's text (trimmed; unset or blank takes the default) into its value; readEnv checks them all
// at start and fails with a message that names the variable, never later at first use.
import { z } from 'zod';
import { PidboxError } from '../contracts/pidbox-error.js';

export function invalidConfig(name: string, message: string): PidboxError {
  return new PidboxError('INVALID_CONFIG', `${name}: ${message}`);
}

/** A variable's text, trimmed; undefined when it is unset or blank. */
function present(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** `value` as the messages quote it: the text that was set. */
const quoted = (issue: { input?: unknown }): string => `got "${String(issue.input)}"`;

/** A whole number from `min` to `max` (text such as `"42"`), or undefined when unset. */
function wholeNumberText(min: number, max: number) {
  const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
  const rule = (issue: { input?: unknown }): string => `must be a whole number ${range}, ${quoted(issue)}`;
  return z
    .string()
    .regex(/^-?\d+$/, { error: rule })
    .transform(Number)
    .pipe(z.int({ error: rule }).min(min, { error: rule }).max(max, { error: rule }));
}

/** A whole number from `min` to `max`, or `fallback` when unset. */
export function integerVar(fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(present, wholeNumberText(min, max).default(fallback));
}

/** A whole number from `min` to `max`, or undefined when unset (its default depends on other settings). */
export function optionalIntegerVar(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(present, wholeNumberText(min, max).optional());
}

/** A number from `min` to `max`, fractions allowed, or `fallback` when unset. */
export function decimalVar(fallback: number, min: number, max: number) {
  const rule = (issue: { input?: unknown }): string => `must be a number from ${min} to ${max}, ${quoted(issue)}`;
  return z.preprocess(
    present,
    z
      .string()
      .regex(/^\d+(\.\d+)?$/, { error: rule })
      .transform(Number)
      .pipe(z.number().min(min, { error: rule }).max(max, { error: rule }))
      .default(fallback),
  );
}

export function stringVar(fallback: string) {
  return z.preprocess(present, z.string().default(fallback));
}

export function optionalStringVar() {
  return z.preprocess(present, z.string().optional());
}

/** A comma-separated list; blank entries are dropped. */
export function listVar() {
  return z.preprocess(
    (value) => present(value) ?? '',
    z.string().transform((text) => text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')),
  );
}

/**
 * Reads the variables of `schema` from `env`. The first that is invalid fails with INVALID_CONFIG:
 * `PORT: must be a whole number from 0 to 65535, got "80a"`.
 */
export function readEnv<Schema extends z.ZodType>(schema: Schema, env: NodeJS.ProcessEnv): z.output<Schema> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw invalidConfig(String(issue.path[0] ?? 'environment'), issue.message);
}
