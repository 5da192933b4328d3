// Reading single values from the environment for the loadXConfig(env) functions: an invalid value
// fails at start with a message that names the variable, never later at first use.
import { PidboxError } from '../contracts/pidbox-error.js';

function present(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

export function invalidConfig(name: string, message: string): PidboxError {
  return new PidboxError('INVALID_CONFIG', `${name}: ${message}`);
}

/** A whole number from `min` to `max`, or `fallback` when unset. */
export function readInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = present(env, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw invalidConfig(name, `must be a whole number ${range}, got "${text}"`);
  }
  return value;
}

/** A number from `min` to `max`, fractions allowed, or `fallback` when unset. */
export function readDecimal(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = present(env, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || value < min || value > max) {
    throw invalidConfig(name, `must be a number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

export function readString(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  return present(env, name) ?? fallback;
}

export function readOptionalString(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return present(env, name);
}

/** A comma-separated list; empty entries are dropped. */
export function readList(env: NodeJS.ProcessEnv, name: string): string[] {
  return (present(env, name) ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}
