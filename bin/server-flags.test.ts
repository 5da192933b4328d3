import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadGatewayConfig } from '../gateway/gateway-config.js';
import { loadWorkerConfig } from '../worker/jobs/worker-config.js';
import { CliError } from './cli-error.js';
import { parseCommandArgs, type Command } from './command-line.js';
import { applyServerFlags, blameFlag, serverOptions, SERVER_FLAGS, type ServerCommand } from './server-flags.js';

function commandOf(name: ServerCommand): Command {
  return { name, summary: '', usage: '', options: serverOptions(name), positionals: { min: 0, max: 0 }, run: async () => 0 };
}

test('a flag sets its variable over the environment, and the config loaders read it', () => {
  const args = parseCommandArgs(commandOf('dev'), ['--port', '9000', '--functions', '/srv/fns', '--host=0.0.0.0']);
  assert.notEqual(args, 'help');
  if (args === 'help') return;
  const { env, fromFlags } = applyServerFlags('dev', args, { PORT: '8081', PIDBOX_SHUTDOWN_GRACE_MS: '500' });
  const config = loadGatewayConfig(env);
  assert.equal(config.port, 9000);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.functionsDir, '/srv/fns');
  // What no flag set still comes from the environment.
  assert.equal(config.shutdownGraceMs, 500);
  assert.deepEqual(fromFlags.map((f) => f.env).sort(), ['PIDBOX_FUNCTIONS_DIR', 'PIDBOX_HOST', 'PORT']);
  assert.equal(loadWorkerConfig(env, '/').functionsDir, '/srv/fns');
});

test('each command takes only its own flags', () => {
  assert.throws(() => parseCommandArgs(commandOf('worker'), ['--port', '1']), { exitCode: 2, message: /unknown flag --port/ });
  assert.throws(() => parseCommandArgs(commandOf('gateway'), ['--concurrency', '1']), { exitCode: 2, message: /unknown flag --concurrency/ });
  assert.notEqual(parseCommandArgs(commandOf('worker'), ['--metrics-port', '0']), 'help');
  // No flag for a secret: a command line is readable by every user of the machine.
  assert.equal(SERVER_FLAGS.some((f) => f.env === 'REDIS_URL' || f.env === 'PIDBOX_API_KEYS'), false);
});

test("a loader's complaint about a variable a flag set names the flag, as a usage error", () => {
  const args = parseCommandArgs(commandOf('gateway'), ['--port', 'eighty']);
  if (args === 'help') throw new Error('help');
  const { env, fromFlags } = applyServerFlags('gateway', args, {});
  let thrown: unknown;
  try {
    loadGatewayConfig(env);
  } catch (error) {
    thrown = blameFlag(error, fromFlags);
  }
  assert.ok(thrown instanceof CliError);
  assert.equal(thrown.exitCode, 2);
  assert.equal(thrown.message, '--port: must be a whole number from 0 to 65535, got "eighty"');
  // From the environment, it stays the variable's.
  let fromEnv: unknown;
  try {
    loadGatewayConfig({ PORT: 'eighty' });
  } catch (error) {
    fromEnv = blameFlag(error, []);
  }
  assert.match((fromEnv as Error).message, /^PORT: /);
});
