// `npm start` (`pidbox dev`) as a user runs it: a private redis-server, gateway and worker in one
// process, a curl to paste — and nothing left running after SIGTERM or SIGINT.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import { FIXTURES } from './support/pidbox-stack.js';
import { startTestRedis } from './support/redis-server.js';
import { findExecutable } from '../dev/embedded-redis.js';
import { createRedisClient } from '../redis/redis-client.js';
import { redact } from '../redis/redis-url.js';
import { commandOf, isAlive, pidNamespaceOf, processesIn, stillRunning, waitFor } from './support/processes.js';
import { cleanUpAfterKilledWorkers, staleSandboxState } from './support/sandbox-state.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PIDBOX = fileURLToPath(new URL('../bin/pidbox.js', import.meta.url));
const run = promisify(execFile);
const CACHE = '/tmp/pidbox-dev-test-cache';
const started: ChildProcess[] = [];

after(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(CACHE, { recursive: true, force: true });
  // A pidbox dev that was killed (here, or a test that failed) left its sandboxes' state for the next one.
  await cleanUpAfterKilledWorkers();
  assert.deepEqual(staleSandboxState(), []);
});

interface Dev {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function startDev(command: string, args: string[], env: Record<string, string>): Dev {
  // REDIS_URL is left out on purpose: pidbox dev starts its own Redis.
  const child = spawn(command, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** The redis-server listening on the socket pidbox dev printed. */
function redisServerOn(socket: string): number | null {
  for (const name of readdirSync('/proc')) {
    if (/^\d+$/.test(name) && commandOf(Number(name)).includes(socket) && /redis-server/.test(commandOf(Number(name)))) return Number(name);
  }
  return null;
}

/** What a client without the password gets from the Redis on `socket`. */
async function withoutPassword(socket: string): Promise<string> {
  const client = createRedisClient(`unix://${socket}`, { name: 'test', mode: 'request', log: { error: () => {} } });
  try {
    return await client.ping();
  } catch (error) {
    return (error as Error).message;
  } finally {
    client.disconnect();
  }
}

test('npm start serves the functions on a private Redis, prints a curl that works, and leaves nothing after SIGTERM', async () => {
  const dev = startDev('npm', ['start', '--silent'], { PORT: '0', PIDBOX_CACHE_DIR: CACHE });
  await waitFor('pidbox dev to be ready', () => dev.output().includes('Ctrl-C stops everything') || dev.child.exitCode !== null, 30_000);
  const output = dev.output();
  assert.match(output, /gateway +http:\/\/127\.0\.0\.1:\d+ \(open: PIDBOX_API_KEYS is not set/);
  assert.match(output, /functions +\S+functions: echo, hello/);
  // Its Redis has a password, hidden in what is printed.
  const socket = /redis +unix:\/\/(\S+redis\.sock)\?password=\*\*\* \(private, no persistence\)/.exec(output)?.[1];
  assert.ok(socket, output);
  const redisPid = redisServerOn(socket);
  assert.ok(redisPid, 'the private redis-server runs');
  assert.match(output, /callbacks +public addresses and 127\.0\.0\.0\/8, ::1\/128 \(PIDBOX_CALLBACK_ALLOW_NETWORKS\)/);
  assert.match(await withoutPassword(socket), /NOAUTH/);
  assert.doesNotMatch(commandOf(redisPid), /requirepass|[0-9a-f]{64}/, 'the password is not in its command line');

  // Paste the printed curl, as a user would.
  const curl = /^ {2}(curl .*)$/m.exec(output)?.[1];
  assert.ok(curl, output);
  const { stdout } = await run('sh', ['-c', curl]);
  assert.equal((JSON.parse(stdout) as { message: string }).message, 'Hello, pidbox!');

  const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
  const res = await fetch(`${url}/functions/hello`, { method: 'POST', body: 'again' });
  const record = (await (await fetch(`${url}/invocations/${res.headers.get('x-invocation-id')}`)).json()) as InvocationRecord;
  assert.equal(record.status, 'succeeded');
  // The printed dashboard opens.
  const dashboard = /dashboard +(http:\/\/127\.0\.0\.1:\d+\/ui) /.exec(output)?.[1];
  assert.ok(dashboard, output);
  const page = await fetch(dashboard);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>Dashboard · pidbox<\/title>/);

  // Callbacks reach loopback under pidbox dev: a receiver on this machine gets the record.
  const received: string[] = [];
  const receiver = createServer((req, reply) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(body);
      reply.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  try {
    const hook = `http://localhost:${(receiver.address() as AddressInfo).port}/hook`;
    const accepted = await fetch(`${url}/functions/hello/invocations`, { method: 'POST', body: 'hooked', headers: { 'x-callback-url': hook } });
    assert.equal(accepted.status, 202);
    await waitFor('the callback', () => received.length > 0, 20_000);
    assert.equal((JSON.parse(received[0]!) as InvocationRecord).status, 'succeeded');
  } finally {
    receiver.close();
  }

  dev.child.kill('SIGTERM');
  assert.equal(await dev.exited, 0);
  assert.match(dev.output(), /SIGTERM, shutting down/);
  assert.equal(isAlive(redisPid), false, 'redis-server is gone');
  assert.equal(redisServerOn(socket), null);
  assert.equal(existsSync(socket), false, 'its directory is removed');
  assert.equal(isAlive(record.sandbox!.hostPid) && pidNamespaceOf(record.sandbox!.hostPid) === record.sandbox!.pidNamespace, false);
});

test('SIGINT stops pidbox dev, a sandbox still running past the grace period, and its Redis', async () => {
  const dev = startDev(process.execPath, [PIDBOX, 'dev'], { PORT: '0', PIDBOX_CACHE_DIR: CACHE, PIDBOX_FUNCTIONS_DIR: FIXTURES, PIDBOX_SHUTDOWN_GRACE_MS: '200' });
  await waitFor('pidbox dev to be ready', () => dev.output().includes('Ctrl-C stops everything') || dev.child.exitCode !== null, 30_000);
  const socket = /redis +unix:\/\/(\S+redis\.sock)\?password=\*\*\*/.exec(dev.output())?.[1];
  assert.ok(socket, dev.output());
  const redisPid = redisServerOn(socket);
  assert.ok(redisPid, 'the private redis-server runs');
  const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(dev.output())![1]!;
  const { id } = (await (await fetch(`${url}/functions/sleeps/invocations`, { method: 'POST' })).json()) as { id: string };
  const running = await waitFor('the invocation to run', async () => {
    const r = (await (await fetch(`${url}/invocations/${id}`)).json()) as InvocationRecord;
    return r.status === 'running' && r.sandbox ? r : null;
  });
  const pids = await waitFor('the function and its children', () => {
    const found = processesIn(running.sandbox!.pidNamespace);
    return found.length >= 4 ? found : null;
  });

  dev.child.kill('SIGINT');
  assert.equal(await dev.exited, 0);
  assert.match(dev.output(), /SIGINT, shutting down/);
  assert.deepEqual(stillRunning(pids, running.sandbox!.pidNamespace), []);
  assert.equal(isAlive(redisPid), false);
  assert.equal(existsSync(socket), false);
});

test('with REDIS_URL set, pidbox dev uses that Redis and starts none of its own', async () => {
  const redis = await startTestRedis();
  try {
    const dev = startDev(process.execPath, [PIDBOX, 'dev'], { PORT: '0', REDIS_URL: redis.url, PIDBOX_CACHE_DIR: CACHE });
    await waitFor('pidbox dev to be ready', () => dev.output().includes('Ctrl-C stops everything') || dev.child.exitCode !== null, 30_000);
    assert.ok(dev.output().includes(`  redis      ${redact(redis.url)}\n`), dev.output());
    assert.ok(!dev.output().includes(redis.url), 'the password is not printed');
    assert.doesNotMatch(dev.output(), /private, no persistence/);
    const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(dev.output())![1]!;
    const res = await fetch(`${url}/functions/echo`, { method: 'POST', body: 'through your Redis' });
    assert.equal(await res.text(), 'through your Redis');
    dev.child.kill('SIGTERM');
    assert.equal(await dev.exited, 0);
  } finally {
    await redis.stop();
  }
});

test('without bwrap or redis-server, and without root to install them, pidbox dev says in one line what to install', async () => {
  // As nobody, with a PATH where neither is found, nor apt-get.
  const setpriv = findExecutable('setpriv');
  assert.ok(setpriv, 'setpriv (util-linux) is installed');
  const asNobody = (path: string): Promise<string[]> => {
    const dev = startDev(setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, PIDBOX, 'dev'], { PATH: path, PORT: '0' });
    return dev.exited.then((code) => {
      assert.equal(code, 1);
      return dev.output().trim().split('\n');
    });
  };
  const withoutEither = await asNobody('/nonexistent');
  assert.equal(withoutEither.length, 1, withoutEither.join('\n'));
  assert.match(withoutEither[0]!, /^pidbox dev: bubblewrap \(bwrap\) is not installed: every sandbox is built with it \(Debian\/Ubuntu: sudo apt-get install bubblewrap/);
  // A PATH with bwrap alone (a folder with only a link to it).
  const onlyBwrap = mkdtempSync(join(tmpdir(), 'pidbox-path-'));
  try {
    chmodSync(onlyBwrap, 0o755);
    symlinkSync(findExecutable('bwrap')!, join(onlyBwrap, 'bwrap'));
    const withoutRedis = await asNobody(onlyBwrap);
    assert.equal(withoutRedis.length, 1, withoutRedis.join('\n'));
    assert.match(withoutRedis[0]!, /^pidbox dev: redis-server is not installed: install it \(Debian\/Ubuntu: sudo apt-get install redis-server/);
  } finally {
    rmSync(onlyBwrap, { recursive: true, force: true });
  }
});

test('an invalid setting stops pidbox at start with a message that names the variable', async () => {
  const dev = startDev(process.execPath, [PIDBOX, 'dev'], { PORT: 'eighty', REDIS_URL: 'redis://127.0.0.1:1' });
  assert.equal(await dev.exited, 1);
  assert.match(dev.output(), /^pidbox: PORT: must be a whole number from 0 to 65535, got "eighty"\n$/);
});
