import assert from 'node:assert/strict';
import { readlinkSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import type { FunctionResult, InvocationRequest } from '../contracts/invocation.js';
import { PidboxError } from '../contracts/pidbox-error.js';
import { FunctionRegistry } from '../registry/function-registry.js';
import { runFunction } from '../worker/invoke/run-function.js';
import { openSandboxHost, type SandboxHost } from '../worker/sandbox/sandbox-host.js';
import { createNodeBuilder } from '../worker/runtimes/node-build.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/functions', import.meta.url));
const SAMPLES = fileURLToPath(new URL('../../functions', import.meta.url));
const cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-build-test-'));
let host: SandboxHost;
before(async () => {
  host = await openSandboxHost();
});
after(async () => {
  rmSync(cacheDir, { recursive: true, force: true });
  await host.close();
});

const builder = createNodeBuilder({ cacheDir });
const fixtures = new FunctionRegistry(FIXTURES);
const samples = new FunctionRegistry(SAMPLES);

function request(body: string | Buffer, path = '/'): InvocationRequest {
  return { method: 'POST', path, headers: { 'content-type': 'text/plain' }, bodyBase64: Buffer.from(body).toString('base64') };
}

function body(result: FunctionResult): string {
  return Buffer.from(result.response.bodyBase64, 'base64').toString('utf8');
}

function processesIn(pidNamespace: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) === pidNamespace) found.push(Number(name));
    } catch {
      // gone already
    }
  }
  return found;
}

test('the hello sample answers from a fresh sandbox with its log kept apart', async () => {
  const result = await runFunction(samples.get('hello'), request('pidbox'), { host, invocationId: 'inv-hello', builder });
  assert.equal(result.status, 'succeeded');
  assert.equal(result.response.status, 200);
  assert.equal(JSON.parse(body(result)).message, 'Hello, pidbox!');
  assert.match(result.log, /greeting pidbox \(invocation inv-hello\)/);
  assert.match(result.sandbox.pidNamespace, /^pid:\[\d+\]$/);
  assert.deepEqual(result.exit, { code: 0, signal: null });
});

test('the echo sample returns its body unchanged with the configured content type', async () => {
  const payload = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
  const result = await runFunction(samples.get('echo'), request(payload), { host, invocationId: 'inv-echo', builder });
  assert.equal(result.status, 'succeeded');
  assert.deepEqual(Buffer.from(result.response.bodyBase64, 'base64'), payload);
  assert.equal(result.response.headers['content-type'], 'application/octet-stream');
});

test('a plain value is sent as JSON, with the path, query and function.json env reaching the handler', async () => {
  const result = await runFunction(fixtures.get('returns-value'), request('12345', '/orders?id=7'), { host, invocationId: 'i', builder });
  assert.equal(result.status, 'succeeded');
  assert.equal(result.response.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(body(result)), { length: 5, path: '/orders?id=7', env: 'hi' });
  assert.match(result.log, /log line/);
});

test('an exec function exiting non-zero is a failed result carrying its code and stderr', async () => {
  const result = await runFunction(fixtures.get('fails-with-code-3'), request(''), { host, invocationId: 'i', builder });
  assert.equal(result.status, 'failed');
  assert.equal(result.error?.code, 'FUNCTION_FAILED');
  assert.deepEqual(result.exit, { code: 3, signal: null });
  assert.equal(result.response.status, 500);
  assert.match(result.log, /something went wrong/);
  assert.equal(result.error?.message, 'the function exited with code 3: something went wrong', 'the message ends with the tail of stderr, not stdout');
});

test('an exec function gets the request as CGI variables, and without "cgi" its stdout stays the body', async () => {
  const result = await runFunction(fixtures.get('prints-cgi-env'), {
    method: 'PUT',
    path: '/orders/a%20b?id=7&tag=x',
    headers: { host: 'gw.example:8080', 'content-type': 'text/plain', 'x-request-id': 'r-1', authorization: 'Bearer secret', proxy: 'http://evil.example:3128' },
    bodyBase64: Buffer.from('hello').toString('base64'),
  }, { host, invocationId: 'i', builder });
  assert.equal(result.status, 'succeeded');
  assert.equal(result.response.status, 200, 'a Status line is body like the rest without "cgi"');
  const [head, env] = body(result).split('\n\n');
  assert.equal(head, 'Status: 201 Created');
  assert.deepEqual(env!.trim().split('\n'), [
    'CONTENT_LENGTH=5',
    'CONTENT_TYPE=text/plain',
    'GATEWAY_INTERFACE=CGI/1.1',
    'HTTP_HOST=gw.example:8080',
    'HTTP_X_REQUEST_ID=r-1',
    'PATH_INFO=/orders/a b',
    'PIDBOX_METHOD=PUT',
    'PIDBOX_PATH=/orders/a%20b?id=7&tag=x',
    'QUERY_STRING=id=7&tag=x',
    'REQUEST_METHOD=PUT',
    'SCRIPT_NAME=/functions/prints-cgi-env',
    'SERVER_NAME=gw.example',
    'SERVER_PORT=8080',
    'SERVER_PROTOCOL=HTTP/1.1',
    'SERVER_SOFTWARE=pidbox',
  ], 'no HTTP_AUTHORIZATION, no HTTP_PROXY');
});

test('with "cgi": true an exec function answers with its own status and headers, then its body', async () => {
  const result = await runFunction(fixtures.get('answers-cgi'), {
    method: 'POST',
    path: '/x?y=1',
    headers: { 'content-type': 'text/plain', 'x-request-id': 'r-2', authorization: 'Bearer secret' },
    bodyBase64: Buffer.from('ping').toString('base64'),
  }, { host, invocationId: 'i', builder });
  assert.equal(result.status, 'succeeded');
  assert.equal(result.response.status, 201);
  assert.deepEqual(result.response.headers, { 'content-type': 'application/json', 'x-method': 'POST' });
  assert.deepEqual(JSON.parse(body(result)), {
    pathInfo: '/x', query: 'y=1', requestId: 'r-2', contentType: 'text/plain', contentLength: '4', gateway: 'CGI/1.1', protocol: 'HTTP/1.1', authorization: 'unset', body: 'ping',
  });
});

test('a CGI response that injects a header or never ends its header section fails the run naming the problem', async () => {
  const injected = await runFunction(fixtures.get('cgi-injects-a-header'), request(''), { host, invocationId: 'i', builder });
  assert.equal(injected.status, 'failed');
  assert.equal(injected.error?.code, 'FUNCTION_FAILED');
  assert.equal(injected.error?.message, "the function's CGI response is not valid: header X-Note (line 2) has a control character in its value");
  assert.equal(injected.response.status, 500);
  assert.deepEqual(Object.keys(injected.response.headers), ['content-type']);
  const flood = await runFunction(fixtures.get('cgi-floods-its-headers'), request(''), { host, invocationId: 'i', builder });
  assert.equal(flood.error?.code, 'FUNCTION_FAILED');
  assert.equal(flood.error?.message, "the function's CGI response is not valid: its header section is longer than 32768 bytes");
});

test('a node handler returning bytes (Uint8Array, a part of one, ArrayBuffer, DataView, a ReadableStream) sends exactly those bytes', async () => {
  const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
  for (const path of ['/uint8array', '/subarray', '/arraybuffer', '/dataview', '/stream']) {
    const result = await runFunction(fixtures.get('returns-what-it-is-asked'), request('', path), { host, invocationId: 'i', builder });
    assert.equal(result.status, 'succeeded', `${path}: ${result.error?.message}`);
    assert.equal(result.response.headers['content-type'], 'application/octet-stream', path);
    assert.deepEqual(Buffer.from(result.response.bodyBase64, 'base64'), bytes, path);
  }
  const response = await runFunction(fixtures.get('returns-what-it-is-asked'), request('', '/response-stream'), { host, invocationId: 'i', builder });
  assert.equal(response.response.status, 202);
  assert.equal(response.response.headers['content-type'], 'application/x-bytes');
  assert.deepEqual(Buffer.from(response.response.bodyBase64, 'base64'), bytes, 'a Response whose body is a stream');
});

test('a value that cannot be sent says why, not that the handler threw; a stream that fails is the handler\'s failure', async () => {
  const cases: Array<[string, string]> = [
    ['/bigint', "the handler's value cannot be sent as JSON: Do not know how to serialize a BigInt"],
    ['/symbol', "the handler's value cannot be sent as JSON: a symbol"],
    ['/string-stream', "the handler's ReadableStream cannot be sent: its chunks must be bytes (Uint8Array), got a string"],
    ['/failing-stream', 'the handler threw RangeError: the source ran dry'],
  ];
  for (const [path, message] of cases) {
    const result = await runFunction(fixtures.get('returns-what-it-is-asked'), request('', path), { host, invocationId: 'i', builder });
    assert.equal(result.status, 'failed', path);
    assert.equal(result.error?.code, 'FUNCTION_FAILED', path);
    assert.equal(result.error?.message, message, path);
  }
  const circular = await runFunction(fixtures.get('returns-what-it-is-asked'), request('', '/circular'), { host, invocationId: 'i', builder });
  assert.match(circular.error?.message ?? '', /^the handler's value cannot be sent as JSON: Converting circular structure to JSON/);
});

test('a handler that throws is a failed result naming the error', async () => {
  const result = await runFunction(fixtures.get('handler-throws'), request(''), { host, invocationId: 'i', builder });
  assert.equal(result.status, 'failed');
  assert.match(result.error?.message ?? '', /RangeError: out of stock/);
  assert.match(result.log, /about to fail/);
});

test('a function past its timeout ends timed_out, killed, with nothing of it left', async () => {
  const result = await runFunction(fixtures.get('never-ends'), request(''), { host, invocationId: 'i', builder, killGraceMs: 200 });
  assert.equal(result.status, 'timed_out');
  assert.equal(result.error?.code, 'FUNCTION_TIMED_OUT');
  assert.equal(result.response.status, 504);
  await host.settled();
  assert.deepEqual(processesIn(result.sandbox.pidNamespace), []);
});

test('aborting the signal cancels a running function at once', async () => {
  const controller = new AbortController();
  let namespace = '';
  const running = runFunction(fixtures.get('never-ends'), request(''), {
    host,
    invocationId: 'i',
    builder,
    signal: controller.signal,
    onSandbox: (info) => {
      namespace = info.pidNamespace;
      setTimeout(() => controller.abort(), 100);
    },
  });
  const result = await running;
  assert.equal(result.status, 'cancelled');
  assert.equal(result.error?.code, 'INVOCATION_CANCELLED');
  assert.notEqual(namespace, '');
  await host.settled();
  assert.deepEqual(processesIn(namespace), []);
});

test('a response over the limit fails with FUNCTION_OUTPUT_TOO_LARGE instead of growing without bound', async () => {
  const result = await runFunction(fixtures.get('big-response'), request(''), { host, invocationId: 'i', builder, maxResponseBytes: 1000 });
  assert.equal(result.status, 'failed');
  assert.equal(result.error?.code, 'FUNCTION_OUTPUT_TOO_LARGE');
});

test('the response limit is exact: one byte over fails, the limit itself passes', async () => {
  const payload = Buffer.alloc(1500, 0x61);
  const over = await runFunction(samples.get('echo'), request(payload), { host, invocationId: 'i', builder, maxResponseBytes: 1499 });
  assert.equal(over.error?.code, 'FUNCTION_OUTPUT_TOO_LARGE');
  const exact = await runFunction(samples.get('echo'), request(payload), { host, invocationId: 'i', builder, maxResponseBytes: 1500 });
  assert.equal(exact.status, 'succeeded');
  assert.equal(Buffer.from(exact.response.bodyBase64, 'base64').length, 1500);
  const node = await runFunction(fixtures.get('returns-value'), request(payload), { host, invocationId: 'i', builder, maxResponseBytes: 10 });
  assert.equal(node.error?.code, 'FUNCTION_OUTPUT_TOO_LARGE', 'a node function\'s body is held to the same limit');
});

test('a function that does not build is refused with FUNCTION_BUILD_FAILED naming the file: its entry at look-up, its imports by the build', async () => {
  const refused = (file: RegExp) => (error: unknown) => {
    assert.ok(error instanceof PidboxError);
    assert.equal(error.code, 'FUNCTION_BUILD_FAILED');
    assert.match(error.message, file);
    return true;
  };
  assert.throws(() => fixtures.get('broken-build'), refused(/broken-build\/index\.ts:\d+/));
  const root = mkdtempSync(join(tmpdir(), 'pidbox-functions-'));
  try {
    mkdirSync(join(root, 'broken-import'));
    writeFileSync(join(root, 'broken-import', 'index.ts'), "import { price } from './prices.ts';\nexport default () => price;\n");
    writeFileSync(join(root, 'broken-import', 'prices.ts'), 'export const price = ;\n');
    const fn = new FunctionRegistry(root).get('broken-import');
    await assert.rejects(runFunction(fn, request(''), { host, invocationId: 'i', builder }), refused(/broken-import\/prices\.ts:1/));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('an invalid function.json is reported with the file and the field', () => {
  assert.throws(() => fixtures.get('bad-config'), (error: unknown) => {
    assert.ok(error instanceof PidboxError);
    assert.equal(error.code, 'INVALID_FUNCTION_CONFIG');
    assert.match(error.message, /bad-config\/function\.json: "timeoutMs"/);
    return true;
  });
});

test('unknown and badly named functions get their own codes', () => {
  assert.throws(() => fixtures.get('no-such-function'), (e: unknown) => (e as PidboxError).code === 'FUNCTION_NOT_FOUND');
  assert.throws(() => fixtures.get('../etc'), (e: unknown) => (e as PidboxError).code === 'INVALID_FUNCTION_NAME');
});

test('a node function is bundled once and not again until its source changes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'pidbox-functions-'));
  try {
    mkdirSync(join(root, 'changing'));
    const source = join(root, 'changing', 'index.ts');
    writeFileSync(source, 'export default () => ({ version: 1 });\n');
    // Saved a while ago: a source saved as the build starts is (rightly) built again next time.
    utimesSync(source, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    const registry = new FunctionRegistry(root);
    const first = (await builder.bundle(registry.get('changing'))).path;
    const builtAt = statSync(first).mtimeMs;
    const again = (await builder.bundle(registry.get('changing'))).path;
    assert.equal(again, first);
    assert.equal(statSync(again).mtimeMs, builtAt, 'an unchanged source is not bundled again');
    writeFileSync(source, 'export default () => ({ version: 2 });\n');
    utimesSync(source, new Date(Date.now() - 5_000), new Date(Date.now() - 5_000));
    const changed = (await builder.bundle(registry.get('changing'))).path;
    assert.notEqual(changed, first);
    assert.match(readFileSync(changed, 'utf8'), /version: 2/);
    assert.ok(existsSync(first), 'the bundle before is kept while invocations may still start with it');
    writeFileSync(source, 'export default () => ({ version: 3 });\n');
    utimesSync(source, new Date(Date.now() - 2_000), new Date(Date.now() - 2_000));
    const third = (await builder.bundle(registry.get('changing'))).path;
    assert.ok(existsSync(changed), 'the one before the newest is kept');
    assert.ok(!existsSync(first), 'older bundles are removed');
    assert.match(readFileSync(third, 'utf8'), /version: 3/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** Writes `files` (path → content) under `dir`, folders as needed, readable by the sandbox's uid. */
function writeTree(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true, mode: 0o755 });
    writeFileSync(join(dir, path), content, { mode: 0o644 });
  }
}

test("a node function bundles the packages of its own node_modules, nested and linked within its folder, but none linked from outside it", async () => {
  const root = mkdtempSync(join(tmpdir(), 'pidbox-functions-'));
  chmodSync(root, 0o755);
  try {
    writeTree(join(root, 'uses-packages'), {
      'package.json': JSON.stringify({ name: 'uses-packages', private: true, type: 'module', dependencies: { shout: '1.0.0', legacy: '1.0.0', inner: 'file:./packages/inner' } }),
      'index.ts': "import { shout } from 'shout';\nimport legacy from 'legacy';\nimport { inner } from 'inner';\n" +
        'export default () => ({ shout: shout("hi"), legacy: legacy("x"), inner: inner() });\n',
      // An ES module package with an "exports" map.
      'node_modules/shout/package.json': JSON.stringify({ name: 'shout', version: '1.0.0', type: 'module', exports: { '.': './src/shout.js' } }),
      'node_modules/shout/src/shout.js': "export const shout = (text) => text.toUpperCase() + '!';\n",
      // A CommonJS package with a dependency of its own, nested in its folder.
      'node_modules/legacy/package.json': JSON.stringify({ name: 'legacy', version: '1.0.0', main: 'lib/index.js' }),
      'node_modules/legacy/lib/index.js': "const suffix = require('suffix');\nmodule.exports = (text) => `${text}${suffix}`;\n",
      'node_modules/legacy/node_modules/suffix/package.json': JSON.stringify({ name: 'suffix', version: '2.0.0' }),
      'node_modules/legacy/node_modules/suffix/index.js': "module.exports = '-nested';\n",
      // A package linked from inside the function's folder (npm's file: dependencies).
      'packages/inner/package.json': JSON.stringify({ name: 'inner', version: '1.0.0', type: 'module', main: 'index.js' }),
      'packages/inner/index.js': "export const inner = () => 'linked within';\n",
    });
    symlinkSync('../packages/inner', join(root, 'uses-packages', 'node_modules', 'inner'));
    writeTree(join(root, 'elsewhere', 'stolen'), {
      'package.json': JSON.stringify({ name: 'stolen', version: '1.0.0', main: 'index.js' }),
      'index.js': "module.exports = 'from outside';\n",
    });
    writeTree(join(root, 'links-a-package-out'), {
      'index.ts': "import stolen from 'stolen';\nexport default () => stolen;\n",
      'node_modules/.keep': '',
    });
    symlinkSync(join(root, 'elsewhere', 'stolen'), join(root, 'links-a-package-out', 'node_modules', 'stolen'));
    chmodSync(join(root, 'uses-packages'), 0o755);
    chmodSync(join(root, 'links-a-package-out'), 0o755);

    const registry = new FunctionRegistry(root);
    const result = await runFunction(registry.get('uses-packages'), request(''), { host, invocationId: 'i', builder });
    assert.equal(result.status, 'succeeded', result.error?.message);
    assert.deepEqual(JSON.parse(body(result)), { shout: 'HI!', legacy: 'x-nested', inner: 'linked within' });

    await assert.rejects(runFunction(registry.get('links-a-package-out'), request(''), { host, invocationId: 'i', builder }), (error: unknown) => {
      assert.ok(error instanceof PidboxError);
      assert.equal(error.code, 'FUNCTION_BUILD_FAILED');
      assert.match(error.message, /elsewhere\/stolen\/index\.js: outside the function's folder/);
      return true;
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a bundle says whether the function imports @opentelemetry/api, so only such functions pay for tracing', async () => {
  assert.equal((await builder.bundle(fixtures.get('makes-spans'))).importsOpenTelemetry, true);
  assert.equal((await builder.bundle(fixtures.get('returns-value'))).importsOpenTelemetry, false);
});
