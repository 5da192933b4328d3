// A function's optional `function.json`: one zod schema for its validation, its type (FunctionConfig),
// and the JSON Schema editors complete it with (schemas/function.schema.json, GET /schemas/function.json).
import { z } from 'zod';
import { PidboxError } from './pidbox-error.js';

/** Bounds of the limits a function.json may ask for (the worker's own settings have the same). */
export const LIMIT_BOUNDS = {
  memoryMb: { min: 16, max: 65_536 },
  maxProcesses: { min: 1, max: 32_768 },
  cpus: { min: 0.01, max: 1024 },
  tmpMb: { min: 1, max: 65_536 },
} as const;

const MAX_TIMEOUT_MS = 15 * 60_000;
const MAX_RETRIES = 100;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What a field's message ends with: the value that was there, as JSON. */
function got(issue: { input?: unknown }): string {
  return `got ${JSON.stringify(issue.input)}`;
}

/** A whole number from `min` to `max`; every failure says the range and the value. */
function wholeNumber(min: number, max: number, unit = ''): z.ZodInt {
  const rule = (issue: { input?: unknown }): string => `must be a whole number${unit} from ${min} to ${max}, ${got(issue)}`;
  return z.int({ error: rule }).min(min, { error: rule }).max(max, { error: rule });
}

/** A limit: a whole number within its LIMIT_BOUNDS, or null for the worker's default. */
function limit(field: 'memoryMb' | 'maxProcesses' | 'tmpMb', description: string, workerDefault: string) {
  const { min, max } = LIMIT_BOUNDS[field];
  return wholeNumber(min, max).nullable().default(null).meta({ description: `${description}; null: the worker's default (${workerDefault}).` });
}

const cpusRule = (issue: { input?: unknown }): string =>
  `must be a number of CPUs from ${LIMIT_BOUNDS.cpus.min} to ${LIMIT_BOUNDS.cpus.max} (fractions allowed), ${got(issue)}`;

/**
 * function.json as written: every field optional, each with its default; anything else is refused
 * rather than ignored (a misspelt `timeout` must not silently leave the default in force). The
 * messages are the predicates of pidbox's errors: `"timeoutMs" must be …, got …`.
 */
export const FunctionConfigFile = z
  .strictObject(
    {
      $schema: z.string().optional().meta({ description: 'The JSON Schema of this file, for editors; ignored by pidbox.' }),
      timeoutMs: wholeNumber(1, MAX_TIMEOUT_MS, ' of milliseconds').default(30_000).meta({
        description: 'Wall-clock limit of one run, ms; then SIGTERM, a grace period, SIGKILL, status `timed_out`.',
      }),
      env: z
        .record(
          z.string().regex(ENV_NAME, { error: 'is not a valid environment variable name' }),
          z.string({ error: (issue) => `must be a string, ${got(issue)}` }),
          { error: 'must be an object of strings' },
        )
        .default(() => ({}))
        .meta({ description: 'Extra environment variables of the function (names: letters, digits and `_`, not starting with a digit).' }),
      retries: wholeNumber(0, MAX_RETRIES).default(0).meta({ description: 'How many times a failed run is retried, with exponential backoff.' }),
      concurrency: z
        .int({ error: (issue) => `must be a whole number of at least 1, or null, ${got(issue)}` })
        .min(1, { error: (issue) => `must be a whole number of at least 1, or null, ${got(issue)}` })
        .nullable()
        .default(null)
        .meta({ description: "Most runs of this function at once on one worker; null: no limit beyond the worker's." }),
      network: z
        .enum(['host', 'loopback'], { error: (issue) => `must be "host" or "loopback", ${got(issue)}` })
        .default('loopback')
        .meta({
          description:
            "`loopback`: a network namespace of its own with only `lo` (no host port, no Redis, no gateway, no internet). `host`: the worker's network, for trusted functions only.",
        }),
      contentType: z
        .string({ error: (issue) => `must be a non-empty string, ${got(issue)}` })
        .min(1, { error: (issue) => `must be a non-empty string, ${got(issue)}` })
        .default('text/plain; charset=utf-8')
        .meta({ description: "Content-Type of an exec function's response." }),
      cgi: z
        .boolean({ error: (issue) => `must be true or false, ${got(issue)}` })
        .default(false)
        .meta({ description: 'An exec function answers the CGI way (RFC 3875, section 6): `Status:` and header lines, a blank line, the body.' }),
      memoryMb: limit('memoryMb', "Memory of the function's processes together, its /tmp included, MiB", 'PIDBOX_SANDBOX_MEMORY_MB, 256'),
      maxProcesses: limit('maxProcesses', 'Processes and threads at once', 'PIDBOX_SANDBOX_MAX_PROCESSES, 128'),
      cpus: z
        .number({ error: cpusRule })
        .min(LIMIT_BOUNDS.cpus.min, { error: cpusRule })
        .max(LIMIT_BOUNDS.cpus.max, { error: cpusRule })
        .nullable()
        .default(null)
        .meta({ description: "CPU bandwidth in CPUs, fractions allowed (0.5: half a CPU); null: the worker's default (PIDBOX_SANDBOX_CPUS, 1)." }),
      tmpMb: limit('tmpMb', 'Size of the private /tmp, MiB', 'PIDBOX_SANDBOX_TMP_MB, 64'),
    },
    { error: (issue) => (issue.code === 'invalid_type' ? 'must hold a JSON object' : undefined) },
  )
  .meta({ title: 'pidbox function.json', description: "A pidbox function's settings. Every field is optional." });

/** The settings of a function, every default applied (`$schema` is the editors', not pidbox's). */
export type FunctionConfig = Omit<z.output<typeof FunctionConfigFile>, '$schema'>;

const SETTINGS = Object.keys(FunctionConfigFile.shape).filter((field) => field !== '$schema');

export const DEFAULT_FUNCTION_CONFIG: FunctionConfig = parseFunctionConfig({}, 'function.json');

/**
 * Validates the parsed content of a function.json. `file` names it in every error, with the field:
 * `functions/hello/function.json: "timeoutMs" must be …`.
 */
export function parseFunctionConfig(raw: unknown, file: string): FunctionConfig {
  const result = FunctionConfigFile.safeParse(raw);
  if (!result.success) throw new PidboxError('INVALID_FUNCTION_CONFIG', `${file}: ${describeIssue(result.error.issues[0]!)}`);
  const { $schema: _ignored, ...config } = result.data;
  return config;
}

/** One issue as `"field" predicate` (the field a dotted path), or the predicate alone for the whole file. */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `"${issue.keys[0]}" is not a known setting (known: ${SETTINGS.join(', ')})`;
  }
  // A bad name in `env`: the record reports it with the key's own issue inside.
  const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  return issue.path.length === 0 ? message : `"${issue.path.join('.')}" ${message}`;
}

/**
 * function.json's JSON Schema (draft 2020-12), with every field's description, default and range:
 * what schemas/function.schema.json holds and GET /schemas/function.json serves.
 */
export function functionConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(FunctionConfigFile, { io: 'input' }) as Record<string, unknown>;
}
