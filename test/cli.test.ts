// The `pidbox` command line against a real `pidbox dev` started here (its own port, functions folder
// and cache, with an API key): every command as a user types it (bin/pidbox), its output, its exit
// code, its error exits and unknown flags.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FORWARDED_SIGNALS } from '../contracts/forwarded-signals.js';
import { freePort } from '../dev/embedded-redis.js';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import { REPO_ROOT } from './helpers/paths.js';
import { FIXTURES, SAMPLES } from './support/pidbox-stack.js';
import { waitFor } from './support/processes.js';
import { cleanUpAfterKilledWorkers, staleSandboxState } from './support/sandbox-state.js';
import { runInTerminal } from './support/terminal.js';

const BIN = join(REPO_ROOT, 'bin', 'pidbox');
const PIDBOX_JS = fileURLToPath(new URL('../bin/pidbox.js', import.meta.url));
const KEY = 'cli-test-key-0123456789abcdef';
const BASE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };
const run = promisify(execFile);

let work: string;
let functionsDir: string;
let dev: ChildProcess;
let devOutput = '';
let url: string;
let port: number;

function addFunction(name: string, files: Record<string, string>): void {
  const dir = join(functionsDir, name);
  mkdirSync(dir);
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content, { mode: file === 'handler' ? 0o755 : 0o644 });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pidbox-cli-'));
  chmodSync(work, 0o755);
  functionsDir = join(work, 'functions');
  mkdirSync(functionsDir);
  for (const name of ['echo', 'hello']) cpSync(join(SAMPLES, name), join(functionsDir, name), { recursive: true });
  for (const name of ['fails-with-code-3', 'sleeps', 'bad-config']) cpSync(join(FIXTURES, name), join(functionsDir, name), { recursive: true });
  addFunction('ticks', { handler: '#!/bin/sh\necho "tick 1" >&2\nsleep 1\necho "tick 2" >&2\nsleep 1\necho "tick 3" >&2\necho ticked\n' });
  addFunction('request-echo', {
    'index.ts': `export default async (request: Request) => ({
  method: request.method,
  path: new URL(request.url).pathname,
  header: request.headers.get('x-test'),
  authorization: request.headers.get('authorization'),
  body: await request.text(),
});\n`,
  });
  addFunction('answers-404', { 'index.ts': "export default () => new Response('no such thing', { status: 404 });\n" });
  addFunction('traps-usr1', { handler: "#!/bin/sh\ntrap 'echo got USR1; exit 0' USR1\necho waiting >&2\nwhile :; do sleep 0.1; done\n", 'function.json': '{ "timeoutMs": 60000 }' });
  addFunction('slow-batch', { handler: '#!/bin/sh\nsleep 0.3\nexec cat\n' });
  await run('chmod', ['-R', 'o+rX', functionsDir]);

  port = await freePort();
  // PORT in the environment says another port: the flag must win.
  dev = spawn(process.execPath, [PIDBOX_JS, 'dev', '--port', String(port), '--functions', functionsDir, '--cache-dir', join(work, 'cache'), '--concurrency', '2'], {
    cwd: REPO_ROOT,
    env: { ...BASE_ENV, PORT: String(await freePort()), PIDBOX_API_KEYS: KEY, PIDBOX_SHUTDOWN_GRACE_MS: '1000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dev.stdout!.on('data', (chunk: Buffer) => (devOutput += chunk.toString()));
  dev.stderr!.on('data', (chunk: Buffer) => (devOutput += chunk.toString()));
  await waitFor('pidbox dev to be ready', () => devOutput.includes('Ctrl-C stops everything') || dev.exitCode !== null, 30_000);
  url = /gateway +(http:\/\/127\.0\.0\.1:\d+)/.exec(devOutput)?.[1] ?? '';
  assert.ok(url, devOutput);
});

after(async () => {
  if (dev && dev.exitCode === null && dev.signalCode === null) {
    dev.kill('SIGTERM');
    await new Promise((resolve) => dev.once('exit', resolve));
  }
  rmSync(work, { recursive: true, force: true });
  await cleanUpAfterKilledWorkers();
  assert.deepEqual(staleSandboxState(), []);
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/pidbox as a user would, against the dev above, with the API key; stdin is `input` (empty by default). */
function cli(args: string[], options: { input?: string | Buffer; env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<Result> {
  const env = Object.fromEntries(Object.entries({ ...BASE_ENV, PIDBOX_URL: url, PIDBOX_API_KEY: KEY, ...options.env }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const child = spawn(BIN, args, { cwd: options.cwd ?? work, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.on('error', () => {});
  child.stdin.end(options.input ?? '');
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

async function record(id: string): Promise<InvocationRecord> {
  return (await (await fetch(`${url}/invocations/${id}`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as InvocationRecord;
}

async function startAsync(name: string): Promise<string> {
  const { code, stdout, stderr } = await cli(['invoke', name, '--async', '-d', '']);
  assert.equal(code, 0, stderr);
  return stdout.trim();
}

async function untilRunning(id: string): Promise<InvocationRecord> {
  return waitFor(`invocation ${id} to run`, async () => {
    const r = await record(id);
    return r.status === 'running' && r.sandbox ? r : null;
  }, 20_000);
}

const COMMANDS = ['dev', 'gateway', 'worker', 'new', 'invoke', 'get', 'logs', 'cancel', 'retry', 'signal', 'ls', 'ps', 'batch'];

test('pidbox --help lists every command, and each command explains itself with --help', async () => {
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  for (const command of COMMANDS) assert.match(help.stdout, new RegExp(`^ {2}${command} +\\S`, 'm'), command);
  assert.match(help.stdout, /PIDBOX_URL, default http:\/\/127\.0\.0\.1:8080; PIDBOX_API_KEY/);
  for (const command of COMMANDS) {
    const own = await cli([command, '--help']);
    assert.equal(own.code, 0, command);
    assert.match(own.stdout, new RegExp(`^usage: pidbox ${command}\\b`), command);
    assert.match(own.stdout, /-h, --help +this help/);
    assert.equal((await cli(['help', command])).stdout, own.stdout);
  }
  const devHelp = await cli(['dev', '--help']);
  assert.match(devHelp.stdout, /--port N +port to listen on, 0 for any free one \(default: 8080\); env PORT/);
  assert.match(devHelp.stdout, /--functions DIR +the functions folder \(default: \.\/functions\); env PIDBOX_FUNCTIONS_DIR/);
});

test('no command, an unknown command, an unknown flag or a wrong argument count exits 2 and names what is wrong', async () => {
  const none = await cli([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^usage: pidbox COMMAND/);
  const unknown = await cli(['deploy']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr, 'pidbox: unknown command "deploy" (pidbox --help lists them)\n');
  for (const command of COMMANDS) {
    // The servers too: `pidbox dev --bogus` used to start anyway.
    const result = await cli([command, 'x', 'y', '--bogus']);
    assert.equal(result.code, 2, `${command}: ${result.stderr}`);
    assert.equal(result.stderr, `pidbox ${command}: unknown flag --bogus (pidbox ${command} --help lists what it takes)\n`);
    assert.equal(result.stdout, '');
  }
  assert.deepEqual(await cli(['get']), { code: 2, stdout: '', stderr: 'pidbox get: missing arguments: usage: pidbox get ID [--json]\n' });
  assert.match((await cli(['get', 'a', 'b'])).stderr, /^pidbox get: unexpected argument "b"/);
  assert.match((await cli(['invoke', 'echo', '--data'])).stderr, /^pidbox invoke: --data needs a value/);
  assert.match((await cli(['ls', '--json=yes'])).stderr, /^pidbox ls: --json takes no value/);
});

test('a flag of pidbox dev wins over its environment variable, and a bad value names the flag', async () => {
  // The dev of this file was started with --port P and PORT set to another port: it serves on P.
  assert.equal(url, `http://127.0.0.1:${port}`);
  assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json(), { status: 'ok' });
  assert.match(devOutput, new RegExp(`functions +${functionsDir}: answers-404, echo, `));
  const bad = await cli(['dev', '--port', 'eighty']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'pidbox dev: --port: must be a whole number from 0 to 65535, got "eighty"\n');
  const badEnv = await cli(['gateway'], { env: { PORT: 'eighty', REDIS_URL: 'redis://127.0.0.1:1' } });
  assert.deepEqual([badEnv.code, badEnv.stderr], [1, 'pidbox: PORT: must be a whole number from 0 to 65535, got "eighty"\n']);
});

test("with PIDBOX_API_KEYS set, the banner's curl and pidbox commands work when pasted, and the key is printed nowhere", async () => {
  assert.ok(!devOutput.includes(KEY), 'the key is not printed');
  const curl = /^ {2}(curl .*)$/m.exec(devOutput)?.[1];
  const invoke = /^ {2}(\S*PIDBOX_URL=.* invoke .*)$/m.exec(devOutput)?.[1];
  assert.ok(curl && invoke, devOutput);
  assert.match(curl, / -H @\/\S+\/authorization /);
  // A shell of the user's: no PIDBOX_API_KEY of its own, in the folder npm start runs in.
  const env = { ...BASE_ENV };
  const curled = await run('sh', ['-c', curl], { cwd: REPO_ROOT, env });
  assert.equal((JSON.parse(curled.stdout) as { message: string }).message, 'Hello, pidbox!');
  const invoked = await run('sh', ['-c', invoke], { cwd: REPO_ROOT, env });
  assert.equal((JSON.parse(invoked.stdout) as { message: string }).message, 'Hello, pidbox!');
  const keyFile = /PIDBOX_API_KEY=\$\(cat (\S+)\)/.exec(invoke)![1]!;
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
});

test('pidbox new writes a typed node function that type-checks and runs, and refuses an existing folder or a bad name', async () => {
  const created = await cli(['new', 'greeter', '--dir', functionsDir]);
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /^created functions\/greeter\/ \(node\)\n {2}index\.ts +the handler/);
  const dir = join(functionsDir, 'greeter');
  assert.equal(statSync(dir).mode & 0o777, 0o755);
  for (const file of ['index.ts', 'package.json', 'function.json']) assert.equal(statSync(join(dir, file)).mode & 0o777, 0o644, file);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')), { name: 'greeter', private: true, type: 'module' });
  const config = JSON.parse(readFileSync(join(dir, 'function.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.$schema, `${url}/schemas/function.json`);
  const source = readFileSync(join(dir, 'index.ts'), 'utf8');
  for (const field of ['invocationId: string', 'functionName: string', 'attempt: number', 'deadline: number']) assert.ok(source.includes(field), field);

  // It type-checks, strictly, against Node's own types.
  const tsc = await run(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext',
    '--types', 'node', '--typeRoots', join(REPO_ROOT, 'node_modules/@types'), join(dir, 'index.ts')]).catch((error: { stdout: string }) => error);
  assert.equal((tsc as { stdout: string }).stdout, '');

  // It runs as written, its function.json's "$schema" included.
  const answer = await cli(['invoke', 'greeter', '-d', 'hi']);
  assert.equal(answer.code, 0, answer.stderr);
  const body = JSON.parse(answer.stdout) as { function: string; received: string; msLeft: number };
  assert.equal(body.function, 'greeter');
  assert.equal(body.received, 'hi');
  assert.ok(body.msLeft > 0 && body.msLeft <= 30_000);

  const again = await cli(['new', 'greeter', '--dir', functionsDir, '--runtime', 'exec']);
  assert.deepEqual([again.code, again.stderr], [1, `pidbox new: ${dir} already exists; nothing was changed\n`]);
  assert.equal(existsSync(join(dir, 'handler')), false);
  const badName = await cli(['new', 'Bad Name', '--dir', functionsDir]);
  assert.equal(badName.code, 2);
  assert.match(badName.stderr, /^pidbox new: "Bad Name" is not a valid function name: lower-case letters, digits/);
  assert.equal((await cli(['new', 'fine', '--runtime', 'python'])).code, 2);
  assert.equal(existsSync(join(work, 'functions', 'fine')), false);
});

test('pidbox new --runtime exec writes an executable handler that runs, in PIDBOX_FUNCTIONS_DIR by default', async () => {
  const created = await cli(['new', 'shout', '--runtime', 'exec'], { env: { PIDBOX_FUNCTIONS_DIR: functionsDir } });
  assert.equal(created.code, 0, created.stderr);
  const dir = join(functionsDir, 'shout');
  assert.equal(statSync(join(dir, 'handler')).mode & 0o777, 0o755);
  assert.equal(existsSync(join(dir, 'index.ts')), false);
  assert.match(readFileSync(join(dir, 'function.json'), 'utf8'), /"\$schema": "http:\/\/127\.0\.0\.1:\d+\/schemas\/function\.json"/);
  const answer = await cli(['invoke', 'shout', '-d', 'hello there']);
  assert.deepEqual([answer.code, answer.stdout], [0, 'shout received: hello there\n']);
});

test('pidbox invoke sends -d text, -d @file, or stdin as the body, and prints the answer as it came', async () => {
  assert.deepEqual(await cli(['invoke', 'echo', '-d', 'some text']), { code: 0, stdout: 'some text', stderr: '' });
  writeFileSync(join(work, 'body.bin'), Buffer.from([0, 1, 2, 255]));
  const bytes = await new Promise<Buffer>((resolve) => {
    const child = spawn(BIN, ['invoke', 'echo', '-d', '@body.bin'], { cwd: work, env: { ...BASE_ENV, PIDBOX_URL: url, PIDBOX_API_KEY: KEY } });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('close', () => resolve(Buffer.concat(chunks)));
  });
  assert.deepEqual(bytes, Buffer.from([0, 1, 2, 255]), 'the body went through byte for byte');
  assert.deepEqual(await cli(['invoke', 'echo'], { input: 'from stdin' }), { code: 0, stdout: 'from stdin', stderr: '' });
  assert.deepEqual(await cli(['invoke', 'echo', '-d', '@-'], { input: 'dash' }), { code: 0, stdout: 'dash', stderr: '' });
  const missing = await cli(['invoke', 'echo', '-d', '@nope.json']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^pidbox invoke: cannot read nope\.json: ENOENT/);
});

test('pidbox invoke passes -H headers and -X methods to the function, and -i prints the status line and headers', async () => {
  const put = await cli(['invoke', 'request-echo', '-X', 'PUT', '-H', 'X-Test: one', '-H', 'x-test: two', '-d', 'payload']);
  assert.equal(put.code, 0, put.stderr);
  assert.deepEqual(JSON.parse(put.stdout), { method: 'PUT', path: '/', header: 'one, two', authorization: null, body: 'payload' });
  const get = await cli(['invoke', 'request-echo', '-X', 'get']);
  assert.equal((JSON.parse(get.stdout) as { method: string }).method, 'GET');
  const included = await cli(['invoke', 'echo', '-i', '-d', 'hi']);
  assert.equal(included.code, 0);
  const [head, body] = included.stdout.split('\n\n') as [string, string];
  assert.match(head, /^HTTP\/1\.1 200 OK\n/);
  assert.match(head, /^x-invocation-status: succeeded$/m);
  assert.match(head, /^x-invocation-id: [0-9a-f-]{36}$/m);
  assert.equal(body, 'hi');
  for (const [args, message] of [
    [['-X', 'GET', '-d', 'x'], /a GET request carries no body/],
    [['--async', '-X', 'PUT'], /--async calls take POST only/],
    [['-H', 'no colon'], /-H "no colon" is not a header/],
    [['-X', 'BAD METHOD'], /"BAD METHOD" is not an HTTP method/],
  ] as const) {
    const result = await cli(['invoke', 'echo', ...args]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, message);
  }
});

test('pidbox invoke --async prints the id at once, or with --json the queued answer', async () => {
  const id = await startAsync('echo');
  assert.match(id, /^[0-9a-f-]{36}$/);
  await waitFor('it to finish', async () => (await record(id)).status === 'succeeded');
  const json = await cli(['invoke', 'echo', '--async', '--json', '-d', 'x']);
  const queued = JSON.parse(json.stdout) as { id: string; status: string };
  assert.equal(queued.status, 'queued');
  assert.match(queued.id, /^[0-9a-f-]{36}$/);
});

test('a failed invocation exits 1: pidbox says its code and message on stderr, a function that answers 404 keeps its body', async () => {
  const failed = await cli(['invoke', 'fails-with-code-3', '-d', 'x']);
  assert.equal(failed.code, 1);
  assert.equal(failed.stdout, '');
  const id = /invocation ([0-9a-f-]{36}), failed; pidbox logs \1\)$/.exec(failed.stderr.trim())?.[1];
  assert.ok(id, failed.stderr);
  assert.equal(failed.stderr, `pidbox invoke: FUNCTION_FAILED: the function exited with code 3: something went wrong (invocation ${id}, failed; pidbox logs ${id})\n`);
  assert.equal((await record(id)).status, 'failed');
  const notFound = await cli(['invoke', 'nope', '-d', 'x']);
  assert.deepEqual(notFound, { code: 1, stdout: '', stderr: 'pidbox invoke: FUNCTION_NOT_FOUND: no function named "nope"\n' });
  const answered404 = await cli(['invoke', 'answers-404']);
  assert.equal(answered404.code, 1);
  assert.equal(answered404.stdout, 'no such thing');
  assert.match(answered404.stderr, /^pidbox invoke: answers-404 answered HTTP 404 \(invocation [0-9a-f-]{36}, succeeded; pidbox logs /);
});

test("the gateway's 401 is told with its code, and a gateway that cannot be reached exits 1 saying where it looked", async () => {
  const noKey = await cli(['ls'], { env: { PIDBOX_API_KEY: undefined } });
  assert.deepEqual(noKey, { code: 1, stdout: '', stderr: 'pidbox ls: UNAUTHORIZED: this gateway needs an API key: Authorization: Bearer <key>\n' });
  const wrongKey = await cli(['invoke', 'echo', '-d', 'x'], { env: { PIDBOX_API_KEY: 'wrong-key-0123456789' } });
  assert.deepEqual([wrongKey.code, wrongKey.stderr], [1, 'pidbox invoke: UNAUTHORIZED: the API key is not valid\n']);
  const closed = `http://127.0.0.1:${await freePort()}`;
  const unreachable = await cli(['get', 'some-id'], { env: { PIDBOX_URL: closed } });
  assert.equal(unreachable.code, 1);
  assert.equal(unreachable.stderr, `pidbox get: cannot reach the gateway at ${closed} (ECONNREFUSED): is pidbox running there? PIDBOX_URL says where\n`);
  const badUrl = await cli(['ls'], { env: { PIDBOX_URL: 'ftp://x' } });
  assert.deepEqual([badUrl.code, badUrl.stderr], [2, 'pidbox ls: PIDBOX_URL: must be an http:// or https:// URL, got "ftp://x"\n']);
});

test('pidbox get shows an invocation readably, or its record with --json; an unknown id exits 1', async () => {
  const id = await startAsync('fails-with-code-3');
  await waitFor('it to fail', async () => (await record(id)).status === 'failed');
  const shown = await cli(['get', id]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`^id +${id}\nfunction +fails-with-code-3\nstatus +failed \\(attempt 1 of 1\\)\n`));
  assert.match(shown.stdout, /^exit +code 3$/m);
  assert.match(shown.stdout, /^error +FUNCTION_FAILED: the function exited with code 3: something went wrong$/m);
  assert.match(shown.stdout, /^sandbox +init host pid \d+, pid:\[\d+\], /m);
  const json = await cli(['get', id, '--json']);
  assert.deepEqual(JSON.parse(json.stdout), await record(id));
  const missing = await cli(['get', 'no-such-id']);
  assert.deepEqual(missing, { code: 1, stdout: '', stderr: 'pidbox get: INVOCATION_NOT_FOUND: no invocation "no-such-id" (it may have expired)\n' });
});

test('pidbox logs prints the log; with -f it follows the log as it is written and returns when the invocation ends', async () => {
  const id = await startAsync('ticks');
  const follower = spawn(BIN, ['logs', id, '-f'], { env: { ...BASE_ENV, PIDBOX_URL: url, PIDBOX_API_KEY: KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
  let followed = '';
  follower.stdout.on('data', (chunk: Buffer) => (followed += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => follower.once('close', (code) => resolve(code)));
  await waitFor('the first tick', () => followed.includes('tick 1'), 20_000);
  // Live: the function is still running, and the follower with it.
  assert.equal((await record(id)).status, 'running');
  assert.equal(follower.exitCode, null);
  assert.ok(!followed.includes('tick 3'));
  assert.equal(await exited, 0);
  assert.equal(followed, 'tick 1\ntick 2\ntick 3\n');
  assert.equal((await record(id)).status, 'succeeded');
  assert.deepEqual(await cli(['logs', id]), { code: 0, stdout: 'tick 1\ntick 2\ntick 3\n', stderr: '' });
  assert.equal((await cli(['logs', 'no-such-id', '-f'])).code, 1);
});

test('pidbox cancel ends a running invocation; cancelling it again exits 1; pidbox retry runs it again', async () => {
  const id = await startAsync('sleeps');
  await untilRunning(id);
  assert.deepEqual(await cli(['cancel', id]), { code: 0, stdout: `cancelled ${id}\n`, stderr: '' });
  assert.equal((await record(id)).status, 'cancelled');
  const again = await cli(['cancel', id, '--json']);
  assert.deepEqual(again, { code: 1, stdout: '', stderr: `pidbox cancel: INVOCATION_FINISHED: invocation ${id} has already finished (cancelled)\n` });

  // The cancelled one runs again as a new invocation, linked to it; a running one cannot be retried.
  const retried = await cli(['retry', id]);
  assert.equal(retried.code, 0);
  const retry = retried.stdout.trim();
  assert.match(retry, /^[0-9a-f-]{36}$/);
  assert.notEqual(retry, id);
  await untilRunning(retry);
  assert.equal((await record(retry)).retryOf, id);
  assert.deepEqual(await cli(['retry', retry]), { code: 1, stdout: '', stderr: `pidbox retry: INVOCATION_NOT_RETRYABLE: invocation ${retry} is running: only one that has ended can be retried\n` });
  assert.equal((await cli(['cancel', retry])).code, 0);
});

test('pidbox ls shows the functions as a table, the ones that do not load on stderr, and the list with --json', async () => {
  const listed = await cli(['ls']);
  assert.equal(listed.code, 0);
  const lines = listed.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^NAME +RUNTIME +TIMEOUT +RETRIES +CONCURRENCY +NETWORK +ENV$/);
  assert.ok(lines.some((line) => /^echo +exec +10s +0 +- +loopback +-$/.test(line)), listed.stdout);
  assert.ok(lines.some((line) => /^hello +node +30s +0 +- +loopback +-$/.test(line)), listed.stdout);
  assert.ok(lines.some((line) => /^sleeps +exec +2m00s /.test(line)), listed.stdout);
  assert.match(listed.stderr, /^pidbox ls: bad-config: INVALID_FUNCTION_CONFIG: /m);
  const json = JSON.parse((await cli(['ls', '--json'])).stdout) as { functions: Array<{ name: string }>; problems: Array<{ name: string }> };
  assert.ok(json.functions.some((fn) => fn.name === 'request-echo'));
  assert.deepEqual(json.problems.map((p) => p.name), ['bad-config']);
});

test('pidbox ps lists recent invocations newest first, filtered by function and status, limited', async () => {
  const ids = [await startAsync('echo'), await startAsync('echo')];
  for (const id of ids) await waitFor('it to finish', async () => (await record(id)).status === 'succeeded');
  const listed = await cli(['ps', '--function', 'echo', '--status', 'succeeded', '--limit', '2']);
  assert.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^ID +FUNCTION +STATUS +ATTEMPTS +CREATED +RAN +ERROR$/);
  assert.deepEqual(lines.slice(1).map((line) => line.split(/ +/).slice(0, 4)), [[ids[1], 'echo', 'succeeded', '1/1'], [ids[0], 'echo', 'succeeded', '1/1']]);
  // Each filter alone: only what it names, the other earlier invocations left out.
  const rows = (stdout: string): string[][] => stdout.trimEnd().split('\n').slice(1).map((line) => line.split(/ +/));
  const failedOnly = rows((await cli(['ps', '--status', 'failed', '--limit', '100'])).stdout);
  assert.ok(failedOnly.length > 0 && failedOnly.every((row) => row[2] === 'failed' && row[1] !== 'echo'), JSON.stringify(failedOnly));
  const echoOnly = rows((await cli(['ps', '--function', 'echo', '--limit', '100'])).stdout);
  assert.ok(echoOnly.every((row) => row[1] === 'echo'), JSON.stringify(echoOnly));
  assert.deepEqual(echoOnly.slice(0, 2).map((row) => row[0]), [ids[1], ids[0]]);
  const json = JSON.parse((await cli(['ps', '--json', '--limit', '1'])).stdout) as { invocations: Array<{ id: string }>; nextCursor: string | null };
  assert.equal(json.invocations.length, 1);
  const badStatus = await cli(['ps', '--status', 'sleeping']);
  assert.equal(badStatus.code, 1);
  assert.match(badStatus.stderr, /^pidbox ps: INVALID_REQUEST: .*status/);
});

test('pidbox ps ID shows the processes in a running invocation\'s sandbox, its init as pid 1', async () => {
  const id = await startAsync('sleeps');
  await untilRunning(id);
  const shown = await cli(['ps', id]);
  assert.equal(shown.code, 0, shown.stderr);
  const lines = shown.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^PID +PPID +STATE +RSS +CPU +COMMAND$/);
  // The init (pidbox's own, run by the sandbox's node) is pid 1; the handler's shell and its two sleeps are below it.
  assert.match(lines[1]!, /^1 +0 +[RS] +\d+(\.\d+)?[KM]iB +\d+ms +\/var\/runtime\/bin\/node \/var\/runtime\/init\.cjs/);
  assert.equal(lines.filter((line) => / sleep 60$/.test(line)).length, 2, shown.stdout);
  await cli(['cancel', id]);
  const finished = await cli(['ps', id]);
  assert.equal(finished.code, 1);
  assert.match(finished.stderr, /^pidbox ps: INVOCATION_NOT_RUNNING: /);
});

test("pidbox signal sends a signal to a running invocation's function; a finished one, or a signal not forwarded, exits 1", async () => {
  const id = await startAsync('traps-usr1');
  await untilRunning(id);
  assert.deepEqual(await cli(['signal', id, 'usr1']), { code: 0, stdout: `sent SIGUSR1 to ${id}\n`, stderr: '' });
  await waitFor('the function to answer', async () => (await record(id)).status === 'succeeded');
  const answered = await record(id);
  assert.equal(Buffer.from(answered.response!.body, answered.response!.bodyEncoding === 'base64' ? 'base64' : 'utf8').toString(), 'got USR1\n');
  const finished = await cli(['signal', id, 'TERM']);
  assert.equal(finished.code, 1);
  assert.match(finished.stderr, /^pidbox signal: INVOCATION_NOT_RUNNING: /);
  const running = await startAsync('sleeps');
  await untilRunning(running);
  const kill = await cli(['signal', running, 'KILL']);
  assert.deepEqual(kill, {
    code: 1,
    stdout: '',
    stderr: `pidbox signal: INVALID_SIGNAL: "signal" must be one of the signals the init forwards: ${FORWARDED_SIGNALS.join(', ')} (SIGKILL and SIGSTOP never are)\n`,
  });
  // Refused, it reached nothing: the function still runs.
  assert.equal((await record(running)).status, 'running');
  await cli(['cancel', running]);
});

test('pidbox ps and pidbox signal check their arguments before asking the gateway', async () => {
  assert.deepEqual(await cli(['ps', '--limit', '0']), { code: 2, stdout: '', stderr: 'pidbox ps: --limit must be a whole number from 1 to 100, got "0"\n' });
  assert.equal((await cli(['signal', 'some-id'])).code, 2);
  assert.deepEqual(await cli(['signal', 'some-id', '99']), { code: 2, stdout: '', stderr: 'pidbox signal: no signal has the number 99\n' });
});

test('pidbox batch runs a JSON Lines file, prints plain progress lines off a terminal, and writes every result in order', async () => {
  const lines = Array.from({ length: 5 }, (_, i) => JSON.stringify({ n: i }));
  writeFileSync(join(work, 'batch.jsonl'), `${lines.join('\n')}\n`);
  const result = await cli(['batch', 'echo', 'batch.jsonl', '--out', 'results.jsonl']);
  assert.equal(result.code, 0, result.stderr);
  const out = result.stdout.trimEnd().split('\n');
  const batchId = /^batch ([0-9a-f-]{36}): 5 invocations of echo$/.exec(out[0]!)?.[1];
  assert.ok(batchId, result.stdout);
  // Between the first line and the summary: plain progress lines only, the last one the end.
  const progress = out.slice(1, -1);
  assert.ok(progress.length >= 1, result.stdout);
  for (const line of progress) assert.match(line, /^[0-5]\/5 done \(\d+%\): (nothing counted yet|[a-z_]+ \d(, [a-z_]+ \d)*); \d+(\.\d)?\/s, (ETA \S+|done)$/);
  assert.match(progress[progress.length - 1]!, /^5\/5 done \(100%\): succeeded 5; \d+(\.\d)?\/s, done$/);
  assert.match(out[out.length - 1]!, new RegExp(`^batch ${batchId}: 5 invocations in \\S+: succeeded 5; results in results\\.jsonl$`));
  assert.ok(!result.stdout.includes('\r') && !result.stdout.includes('\x1b'), 'no terminal codes off a terminal');
  const results = readFileSync(join(work, 'results.jsonl'), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { index: number; id: string; status: string; response: { body: string; bodyEncoding: string } });
  assert.deepEqual(results.map((r) => r.index), [0, 1, 2, 3, 4]);
  assert.deepEqual(results.map((r) => Buffer.from(r.response.body, r.response.bodyEncoding === 'base64' ? 'base64' : 'utf8').toString()), lines);
  for (const r of results) assert.equal((await record(r.id)).batchId, batchId);
});

test('pidbox batch exits 1 when any invocation failed, and a malformed file is refused naming its line', async () => {
  writeFileSync(join(work, 'two.jsonl'), '{"a":1}\n{"a":2}\n');
  const failed = await cli(['batch', 'fails-with-code-3', 'two.jsonl', '-o', 'failed.jsonl']);
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /: failed 2; results in failed\.jsonl\n$/);
  assert.equal(failed.stderr, 'pidbox batch: 2 of 2 invocations did not succeed (their errors are in failed.jsonl)\n');
  const errors = readFileSync(join(work, 'failed.jsonl'), 'utf8').trimEnd().split('\n').map((line) => (JSON.parse(line) as { error: { code: string } }).error.code);
  assert.deepEqual(errors, ['FUNCTION_FAILED', 'FUNCTION_FAILED']);
  writeFileSync(join(work, 'broken.jsonl'), '{"a":1}\n{"a":\n');
  const broken = await cli(['batch', 'echo', 'broken.jsonl']);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /^pidbox batch: INVALID_BATCH: line 2 of the batch is not valid JSON/);
  assert.match((await cli(['batch', 'echo', 'missing.jsonl'])).stderr, /^pidbox batch: cannot read missing\.jsonl: ENOENT/);
});

test('on a terminal, pidbox batch redraws one progress line in place', async () => {
  writeFileSync(join(work, 'slow.jsonl'), Array.from({ length: 8 }, (_, i) => `{"n":${i}}`).join('\n'));
  const terminal = runInTerminal(`exec ${BIN} batch slow-batch slow.jsonl --out slow-results.jsonl`, { cwd: work, env: { ...BASE_ENV, PIDBOX_URL: url, PIDBOX_API_KEY: KEY } });
  assert.equal(await terminal.exited, 0, terminal.output());
  const output = terminal.output();
  const draws = output.split('\r[').slice(1);
  assert.ok(draws.length >= 3, `redrawn several times: ${JSON.stringify(output)}`);
  for (const draw of draws) assert.match(draw, /^[█░]+\] \d\/8 \d+% .*\/s {2}(ETA \S+|done)\x1b\[K/);
  assert.match(draws[draws.length - 1]!, /^█+\] 8\/8 100% {2}succeeded 8 {2}\S+\/s {2}done\x1b\[K\r?\n/);
  assert.equal(readFileSync(join(work, 'slow-results.jsonl'), 'utf8').trimEnd().split('\n').length, 8);
});
