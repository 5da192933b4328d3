import { PidboxError } from './pidbox-error.js';

/** Settings from a function's optional `function.json`. Every field is optional there. */
export interface FunctionConfig {
  /** Wall-clock limit of one run; then SIGTERM, a grace period, SIGKILL, status `timed_out`. Default: 30000. */
  timeoutMs: number;
  /** Extra environment variables of the function. Default: none. */
  env: Record<string, string>;
  /** How many times a failed run is retried, with exponential backoff. Default: 0. */
  retries: number;
  /** Most runs of this function at once on one worker; null for no limit beyond the worker's. Default: null. */
  concurrency: number | null;
  /**
   * `loopback` gives each run a network namespace with only `lo`: no host port, no Redis, no gateway,
   * no internet. `host` shares the worker's network: for trusted functions only. Default: `loopback`.
   */
  network: 'host' | 'loopback';
  /** Content-Type of an exec function's response. Default: `text/plain; charset=utf-8`. */
  contentType: string;
  /** An exec function answers the CGI way (RFC 3875, section 6): `Status:` and header lines, a blank line, the body. Default: false. */
  cgi: boolean;
  /** Memory of the function's processes together, /tmp included, MiB; null: the worker's default (PIDBOX_SANDBOX_MEMORY_MB). */
  memoryMb: number | null;
  /** Processes and threads at once; null: the worker's default (PIDBOX_SANDBOX_MAX_PROCESSES). */
  maxProcesses: number | null;
  /** CPU bandwidth in CPUs, fractions allowed; null: the worker's default (PIDBOX_SANDBOX_CPUS). */
  cpus: number | null;
  /** Size of the private /tmp, MiB; null: the worker's default (PIDBOX_SANDBOX_TMP_MB). */
  tmpMb: number | null;
}

export const DEFAULT_FUNCTION_CONFIG: FunctionConfig = {
  timeoutMs: 30_000,
  env: {},
  retries: 0,
  concurrency: null,
  network: 'loopback',
  contentType: 'text/plain; charset=utf-8',
  cgi: false,
  memoryMb: null,
  maxProcesses: null,
  cpus: null,
  tmpMb: null,
};

/** Bounds of the limits a function.json may ask for (the worker's own settings have the same). */
export const LIMIT_BOUNDS = {
  memoryMb: { min: 16, max: 65_536 },
  maxProcesses: { min: 1, max: 32_768 },
  cpus: { min: 0.01, max: 1024 },
  tmpMb: { min: 1, max: 65_536 },
} as const;

const MAX_TIMEOUT_MS = 15 * 60_000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Validates the parsed content of a function.json. `file` names it in every error, with the field:
 * `functions/hello/function.json: "timeoutMs" must be …`.
 */
export function parseFunctionConfig(raw: unknown, file: string): FunctionConfig {
  const fail = (field: string, message: string): never => {
    throw new PidboxError('INVALID_FUNCTION_CONFIG', `${file}: "${field}" ${message}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PidboxError('INVALID_FUNCTION_CONFIG', `${file}: must hold a JSON object`);
  }
  const config: FunctionConfig = { ...DEFAULT_FUNCTION_CONFIG, env: {} };
  for (const [field, value] of Object.entries(raw)) {
    switch (field) {
      case 'timeoutMs':
        if (!Number.isInteger(value) || (value as number) <= 0 || (value as number) > MAX_TIMEOUT_MS) {
          fail(field, `must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, got ${JSON.stringify(value)}`);
        }
        config.timeoutMs = value as number;
        break;
      case 'retries':
        if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 100) {
          fail(field, `must be a whole number from 0 to 100, got ${JSON.stringify(value)}`);
        }
        config.retries = value as number;
        break;
      case 'concurrency':
        if (value !== null && (!Number.isInteger(value) || (value as number) < 1)) {
          fail(field, `must be a whole number of at least 1, or null, got ${JSON.stringify(value)}`);
        }
        config.concurrency = value as number | null;
        break;
      case 'network':
        if (value !== 'host' && value !== 'loopback') fail(field, `must be "host" or "loopback", got ${JSON.stringify(value)}`);
        config.network = value as 'host' | 'loopback';
        break;
      case 'contentType':
        if (typeof value !== 'string' || value === '') fail(field, `must be a non-empty string, got ${JSON.stringify(value)}`);
        config.contentType = value as string;
        break;
      case 'cgi':
        if (typeof value !== 'boolean') fail(field, `must be true or false, got ${JSON.stringify(value)}`);
        config.cgi = value as boolean;
        break;
      case 'memoryMb':
      case 'maxProcesses':
      case 'tmpMb': {
        const { min, max } = LIMIT_BOUNDS[field];
        if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
          fail(field, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
        }
        config[field] = value as number;
        break;
      }
      case 'cpus': {
        const { min, max } = LIMIT_BOUNDS.cpus;
        if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
          fail(field, `must be a number of CPUs from ${min} to ${max} (fractions allowed), got ${JSON.stringify(value)}`);
        }
        config.cpus = value as number;
        break;
      }
      case 'env':
        if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be an object of strings');
        for (const [name, v] of Object.entries(value as object)) {
          if (!ENV_NAME.test(name)) fail(`env.${name}`, 'is not a valid environment variable name');
          if (typeof v !== 'string') fail(`env.${name}`, `must be a string, got ${JSON.stringify(v)}`);
          config.env[name] = v as string;
        }
        break;
      default:
        fail(field, 'is not a known setting (known: timeoutMs, retries, concurrency, network, contentType, cgi, env, memoryMb, maxProcesses, cpus, tmpMb)');
    }
  }
  return config;
}
