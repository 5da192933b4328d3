// The flags of `pidbox dev`, `gateway` and `worker`: each sets one environment variable that the
// config loaders read (gateway/gateway-config.ts, worker/jobs/worker-config.ts), so a flag and its
// variable are one setting, checked in one place; a flag wins over the environment. Secrets
// (REDIS_URL, PIDBOX_API_KEYS) have no flag on purpose: any user of the machine can read a process's
// command line (/proc/PID/cmdline), not its environment.
import { PidboxError } from '../contracts/pidbox-error.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import type { OptionSpec, ParsedArgs } from './command-line.js';

export type ServerCommand = 'dev' | 'gateway' | 'worker';

export interface ServerFlag {
  /** The flag, without `--`. */
  name: string;
  /** The variable it sets. */
  env: string;
  /** The value's name in the help. */
  value: string;
  /** The commands that take it. */
  commands: readonly ServerCommand[];
  help: string;
}

export const SERVER_FLAGS: readonly ServerFlag[] = [
  { name: 'port', env: 'PORT', value: 'N', commands: ['dev', 'gateway'], help: 'port to listen on, 0 for any free one (default: 8080)' },
  { name: 'host', env: 'PIDBOX_HOST', value: 'ADDRESS', commands: ['dev', 'gateway'], help: 'address to listen on (default: dev 127.0.0.1, gateway 0.0.0.0: every interface)' },
  { name: 'functions', env: 'PIDBOX_FUNCTIONS_DIR', value: 'DIR', commands: ['dev', 'gateway', 'worker'], help: 'the functions folder (default: ./functions)' },
  { name: 'concurrency', env: 'PIDBOX_WORKER_CONCURRENCY', value: 'N', commands: ['dev', 'worker'], help: 'invocations run at once (default: the number of cores)' },
  { name: 'cache-dir', env: 'PIDBOX_CACHE_DIR', value: 'DIR', commands: ['dev', 'worker'], help: 'bundles of node functions (default: ./.pidbox-cache)' },
  { name: 'pool-size', env: 'PIDBOX_POOL_SIZE', value: 'N', commands: ['dev', 'worker'], help: 'sandboxes kept pre-started, 0 for none (default: twice the concurrency)' },
  { name: 'shutdown-grace-ms', env: 'PIDBOX_SHUTDOWN_GRACE_MS', value: 'MS', commands: ['dev', 'gateway', 'worker'], help: 'on Ctrl-C or SIGTERM, how long running invocations may go on (default: 10000)' },
  { name: 'prefix', env: 'PIDBOX_REDIS_PREFIX', value: 'PREFIX', commands: ['dev', 'gateway', 'worker'], help: 'prefix of every Redis key (default: pidbox)' },
  { name: 'metrics-port', env: 'PIDBOX_METRICS_PORT', value: 'N', commands: ['worker'], help: "port of the worker's /metrics, 0 for any free one (default: 9464)" },
  { name: 'metrics-host', env: 'PIDBOX_METRICS_HOST', value: 'ADDRESS', commands: ['worker'], help: 'address of that server (default: 0.0.0.0)' },
  { name: 'log-level', env: 'PIDBOX_LOG_LEVEL', value: 'LEVEL', commands: ['dev', 'gateway', 'worker'], help: 'debug, info, warn or error (default: info)' },
];

export function serverOptions(command: ServerCommand): Record<string, OptionSpec> {
  return Object.fromEntries(
    SERVER_FLAGS.filter((flag) => flag.commands.includes(command)).map((flag) => [
      flag.name,
      { type: 'string', value: flag.value, help: `${flag.help}; env ${flag.env}` } satisfies OptionSpec,
    ]),
  );
}

/** The environment the config loaders read: `env` with the given flags' variables set over it. */
export function applyServerFlags(command: ServerCommand, args: ParsedArgs, env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; fromFlags: ServerFlag[] } {
  const result: NodeJS.ProcessEnv = { ...env };
  const fromFlags: ServerFlag[] = [];
  for (const flag of SERVER_FLAGS) {
    const value = args.values[flag.name];
    if (!flag.commands.includes(command) || typeof value !== 'string') continue;
    result[flag.env] = value;
    fromFlags.push(flag);
  }
  return { env: result, fromFlags };
}

/**
 * A loader's INVALID_CONFIG about a variable a flag set, told as the flag's error (a usage error:
 * exit 2): `--port: must be a whole number…` rather than `PORT: …`. Anything else is returned as is.
 */
export function blameFlag(error: unknown, fromFlags: ServerFlag[]): unknown {
  if (!(error instanceof PidboxError) || error.code !== 'INVALID_CONFIG') return error;
  const flag = fromFlags.find((f) => error.message.startsWith(`${f.env}:`));
  if (!flag) return error;
  return new CliError(`--${flag.name}${error.message.slice(flag.env.length)}`, { exitCode: EXIT_USAGE, cause: error });
}
