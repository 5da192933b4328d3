// pidbox COMMAND: run pidbox (dev, gateway, worker) or use a running one (new, invoke, get, logs,
// cancel, retry, signal, ls, ps, batch). One table of commands; each reads its flags with node:util's
// parseArgs (bin/command-line.ts). Exit codes: 0 done, 1 failed, 2 a usage mistake.
import { PidboxError } from '../contracts/pidbox-error.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './cli-error.js';
import { helpText, parseCommandArgs, type Command, type Io } from './command-line.js';
import { applyServerFlags, blameFlag, serverOptions, type ServerCommand } from './server-flags.js';
import { batchCommand } from './client/batch-command.js';
import { cancelCommand } from './client/cancel-command.js';
import { retryCommand } from './client/retry-command.js';
import { DEFAULT_URL } from './client/gateway-client.js';
import { getCommand } from './client/get-command.js';
import { invokeCommand } from './client/invoke-command.js';
import { logsCommand } from './client/logs-command.js';
import { lsCommand } from './client/ls-command.js';
import { newCommand } from './client/new-command.js';
import { psCommand } from './client/ps-command.js';
import { signalCommand } from './client/signal-command.js';

/**
 * `run` loads the server's code when the command runs: the gateway, worker and telemetry modules take
 * a second to load, which `pidbox invoke` or `pidbox --help` would otherwise pay on every call.
 */
function serverCommand(name: ServerCommand, summary: string, run: (env: NodeJS.ProcessEnv) => Promise<number>): Command {
  return {
    name,
    summary,
    usage: '[flags]',
    options: serverOptions(name),
    positionals: { min: 0, max: 0 },
    details: 'Each flag sets the environment variable it names, over the environment; every other setting\ncomes from the environment (README, "Configuration"), REDIS_URL and PIDBOX_API_KEYS included.',
    async run(args, io) {
      const { env, fromFlags } = applyServerFlags(name, args, io.env);
      try {
        return await run(env);
      } catch (error) {
        throw blameFlag(error, fromFlags);
      }
    },
  };
}

const SERVERS: Command[] = [
  serverCommand('dev', 'Gateway and worker in one process, on a private Redis unless REDIS_URL or PIDBOX_REDIS_CLUSTER is set (npm start).', async (env) =>
    (await import('./run-dev.js')).runDev(env)),
  serverCommand('gateway', 'The HTTP gateway alone.', async (env) => (await import('./run-gateway.js')).runGateway(env)),
  serverCommand('worker', 'A worker alone: runs invocations from the queue, each in a fresh sandbox.', async (env) =>
    (await import('./run-worker.js')).runWorker(env)),
];

const CLIENTS: Command[] = [newCommand, invokeCommand, getCommand, logsCommand, cancelCommand, retryCommand, signalCommand, lsCommand, psCommand, batchCommand];

function usage(): string {
  const width = Math.max(...[...SERVERS, ...CLIENTS].map((c) => c.name.length));
  const list = (commands: Command[]): string[] => commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'usage: pidbox COMMAND [flags] [arguments]',
    '',
    'Run pidbox:',
    ...list(SERVERS),
    '',
    'Use a running pidbox (at PIDBOX_URL, default ' + DEFAULT_URL + '; PIDBOX_API_KEY is sent as a Bearer key):',
    ...list(CLIENTS),
    '',
    'pidbox COMMAND --help says more about each. Exit codes: 0 done, 1 failed, 2 a usage mistake.',
  ].join('\n');
}

async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr.write(`${usage()}\n`);
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const about = rest[0] === undefined ? undefined : [...SERVERS, ...CLIENTS].find((c) => c.name === rest[0]);
    io.stdout.write(`${about ? helpText(about) : usage()}\n`);
    return 0;
  }
  const command = [...SERVERS, ...CLIENTS].find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`pidbox: unknown command ${JSON.stringify(name)} (pidbox --help lists them)\n`);
    return EXIT_USAGE;
  }
  try {
    const args = parseCommandArgs(command, rest);
    if (args === 'help') {
      io.stdout.write(`${helpText(command)}\n`);
      return 0;
    }
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr.write(`pidbox ${command.name}: ${error.message}\n`);
      return error.exitCode;
    }
    // A bad setting says which variable; anything else, what failed.
    io.stderr.write(`pidbox: ${error instanceof PidboxError ? error.message : ((error as Error)?.stack ?? String(error))}\n`);
    return EXIT_FAILURE;
  }
}

/** Resolves once everything written to `stream` has been handed to the system. */
function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

// `pidbox ps | head -1`: a reader that has gone is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? 0 : EXIT_FAILURE));
}

const io: Io = { env: process.env, cwd: process.cwd(), stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
main(process.argv.slice(2), io).then(
  async (code) => {
    await Promise.all([drained(process.stdout), drained(process.stderr)]);
    process.exit(code);
  },
  (error: unknown) => {
    console.error(`pidbox: ${(error as Error)?.stack ?? String(error)}`);
    process.exit(EXIT_FAILURE);
  },
);
