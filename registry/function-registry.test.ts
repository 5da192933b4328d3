import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { PidboxError } from '../contracts/pidbox-error.js';
import { DEFAULT_FUNCTION_CONFIG } from '../contracts/function-config.js';
import { inspectDefaultExport } from './default-export.js';
import { FunctionRegistry } from './function-registry.js';

// Real folders under the system's temporary folder, one per test, removed after it.

const SECRET = 'kQ3v9-secret-token';
const HANDLER = '#!/bin/sh\necho hi\n';

/** A temporary folder (mode 755) for the test, removed after it. */
function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'pidbox-registry-'));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A functions root holding the given files (a name ending in "/" is a folder), and its registry. */
function functionsRoot(t: TestContext, files: Record<string, string> = {}): { root: string; registry: FunctionRegistry } {
  const root = join(scratch(t), 'functions');
  mkdirSync(root, { mode: 0o755 });
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    if (path.endsWith('/')) {
      mkdirSync(full, { recursive: true, mode: 0o755 });
      continue;
    }
    mkdirSync(join(full, '..'), { recursive: true, mode: 0o755 });
    writeFileSync(full, content, { mode: path.endsWith('handler') ? 0o755 : 0o644 });
  }
  return { root, registry: new FunctionRegistry(root) };
}

/** A root-only file outside the functions root, as /etc/shadow is. */
function secretFile(t: TestContext): string {
  const file = join(scratch(t), 'secret');
  writeFileSync(file, `${SECRET} not json\n`, { mode: 0o600 });
  return file;
}

function errorOf(run: () => unknown): PidboxError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof PidboxError, String(error));
    return error;
  }
  assert.fail('expected a PidboxError');
}

test('a function with a handler and no function.json gets the defaults', (t) => {
  const { root, registry } = functionsRoot(t, { 'echo/handler': HANDLER });
  const fn = registry.get('echo');
  assert.deepEqual(fn, { name: 'echo', dir: join(root, 'echo'), runtime: 'exec', entry: join(root, 'echo', 'handler'), config: DEFAULT_FUNCTION_CONFIG });
});

test('a function folder that is a symlink is refused, naming it, even when it points into the functions folder', (t) => {
  const { root, registry } = functionsRoot(t, { 'real/handler': HANDLER });
  symlinkSync(join(root, 'real'), join(root, 'alias'));
  const outside = join(scratch(t), 'elsewhere');
  mkdirSync(outside, { mode: 0o755 });
  writeFileSync(join(outside, 'handler'), HANDLER, { mode: 0o755 });
  symlinkSync(outside, join(root, 'away'));

  for (const name of ['alias', 'away']) {
    const error = errorOf(() => registry.get(name));
    assert.equal(error.code, 'INVALID_FUNCTION_CONFIG');
    assert.match(error.message, new RegExp(`${name}: is a symbolic link`));
  }
  const { functions, problems } = registry.list();
  assert.deepEqual(functions.map((fn) => fn.name), ['real']);
  assert.deepEqual(problems.map((p) => [p.name, p.code]), [['alias', 'INVALID_FUNCTION_CONFIG'], ['away', 'INVALID_FUNCTION_CONFIG']]);
});

test('a functions root that is itself a symlink is fine: only what lies inside it is checked', (t) => {
  const { root } = functionsRoot(t, { 'echo/handler': HANDLER });
  const link = join(scratch(t), 'link-to-functions');
  symlinkSync(root, link);
  assert.equal(new FunctionRegistry(link).get('echo').runtime, 'exec');
});

test('a function.json that is a symlink is refused, and nothing of the file it points to is told', (t) => {
  const { root, registry } = functionsRoot(t, { 'linked/handler': HANDLER });
  symlinkSync(secretFile(t), join(root, 'linked', 'function.json'));
  const error = errorOf(() => registry.get('linked'));
  assert.equal(error.code, 'INVALID_FUNCTION_CONFIG');
  assert.match(error.message, /linked\/function\.json: is a symbolic link/);
  assert.doesNotMatch(error.message, /secret/);
  const { problems } = registry.list();
  assert.equal(problems.length, 1);
  assert.doesNotMatch(problems[0]!.message, /secret/);
});

test('a function.json symlinked to another function\'s, inside the functions folder, is refused too', (t) => {
  const { root, registry } = functionsRoot(t, { 'a/handler': HANDLER, 'a/function.json': '{"timeoutMs": 5}', 'b/handler': HANDLER });
  symlinkSync('../a/function.json', join(root, 'b', 'function.json'));
  assert.match(errorOf(() => registry.get('b')).message, /b\/function\.json: is a symbolic link/);
});

test('a function.json that is not JSON is reported by line and column, quoting nothing of it', (t) => {
  const { registry } = functionsRoot(t, { 'broken/handler': HANDLER, 'broken/function.json': `{\n  "timeoutMs": 500,\n  ${SECRET}\n}\n` });
  const error = errorOf(() => registry.get('broken'));
  assert.equal(error.code, 'INVALID_FUNCTION_CONFIG');
  assert.match(error.message, /broken\/function\.json: not valid JSON at line 3, column 3$/);
  assert.doesNotMatch(error.message, /secret|kQ3/);
});

test('a function.json that ends too early is placed at its end', (t) => {
  const { registry } = functionsRoot(t, { 'short/handler': HANDLER, 'short/function.json': '{"timeoutMs": 5' });
  assert.match(errorOf(() => registry.get('short')).message, /short\/function\.json: not valid JSON at line 1, column 16$/);
});

test('a function.json that is a FIFO or a folder is refused at once, without waiting for a writer', (t) => {
  const { root, registry } = functionsRoot(t, { 'piped/handler': HANDLER, 'foldered/handler': HANDLER, 'foldered/function.json/': '' });
  execFileSync('mkfifo', ['-m', '644', join(root, 'piped', 'function.json')]);
  for (const name of ['piped', 'foldered']) {
    const error = errorOf(() => registry.get(name));
    assert.equal(error.code, 'INVALID_FUNCTION_CONFIG');
    assert.match(error.message, new RegExp(`${name}/function\\.json: is not a regular file$`));
  }
});

test('a function.json over 1 MiB is refused, saying so', (t) => {
  const big = `{"env": {"A": "${'a'.repeat(1024 * 1024)}"}}`;
  const { registry } = functionsRoot(t, { 'big/handler': HANDLER, 'big/function.json': big });
  assert.match(errorOf(() => registry.get('big')).message, /big\/function\.json: is larger than 1048576 bytes$/);
});

test('an invalid setting is still named with its field and value: the file is the function\'s own', (t) => {
  const { registry } = functionsRoot(t, { 'bad/handler': HANDLER, 'bad/function.json': '{"timeoutMs": -1}' });
  assert.match(errorOf(() => registry.get('bad')).message, /bad\/function\.json: "timeoutMs" must be .*got -1$/);
});

test('an entry that is a symlink within its function\'s folder is used; one that leads out of it is refused', (t) => {
  const { root, registry } = functionsRoot(t, {
    'inside/src/main.ts': 'export default () => 1;\n',
    'other/index.ts': 'export default () => 2;\n',
    'to-other/': '',
    'to-host/': '',
  });
  symlinkSync('src/main.ts', join(root, 'inside', 'index.ts'));
  symlinkSync('../other/index.ts', join(root, 'to-other', 'index.ts'));
  symlinkSync(secretFile(t), join(root, 'to-host', 'handler'));

  const inside = registry.get('inside');
  assert.deepEqual([inside.runtime, inside.entry], ['node', join(root, 'inside', 'index.ts')]);
  const toOther = errorOf(() => registry.get('to-other'));
  assert.equal(toOther.code, 'INVALID_FUNCTION_CONFIG');
  assert.match(toOther.message, /to-other\/index\.ts: is a symbolic link to a file outside the function's folder$/);
  const toHost = errorOf(() => registry.get('to-host'));
  assert.equal(toHost.code, 'INVALID_FUNCTION_CONFIG');
  assert.match(toHost.message, /to-host\/handler: is a symbolic link to a file outside the function's folder$/);
  assert.doesNotMatch(toHost.message, /secret/);
});

test('a dangling entry symlink counts as no entry, and a folder without one is not found', (t) => {
  const { root, registry } = functionsRoot(t, { 'dangling/': '', 'empty/': '' });
  symlinkSync('missing.ts', join(root, 'dangling', 'index.ts'));
  for (const name of ['dangling', 'empty']) {
    const error = errorOf(() => registry.get(name));
    assert.equal(error.code, 'FUNCTION_NOT_FOUND');
    assert.match(error.message, /has neither an index\.ts\/index\.js nor an executable handler/);
  }
  assert.equal(errorOf(() => registry.get('absent')).code, 'FUNCTION_NOT_FOUND');
});

test('a node function without a default export, or with one that is surely not a function, is a problem before it is called', (t) => {
  const { registry } = functionsRoot(t, {
    'fine/index.ts': 'export default (request: Request) => new Response("ok");\n',
    'named/index.ts': 'export const handler = () => 1;\n',
    'object/index.mjs': 'export default { fetch() { return new Response("x"); } };\n',
    'imported/index.ts': "import handler from './handler.ts';\nexport default handler;\n",
    'unparsable/index.js': 'export default (request => {\n',
    'exec/handler': HANDLER,
  });
  const { functions, problems } = registry.list();
  assert.deepEqual(functions.map((fn) => fn.name), ['exec', 'fine', 'imported'], 'what cannot be known without running it is not a problem');
  assert.deepEqual(problems.map((p) => [p.name, p.code]), [['named', 'FUNCTION_BUILD_FAILED'], ['object', 'FUNCTION_BUILD_FAILED'], ['unparsable', 'FUNCTION_BUILD_FAILED']]);
  const [named, object, unparsable] = problems;
  assert.match(named!.message, /named\/index\.ts has no default export; a node function's module must export its handler: export default \(request, context\) =>/);
  assert.match(object!.message, /object\/index\.mjs: the default export is an object, not a function/);
  assert.match(unparsable!.message, /^function "unparsable" does not build: .*unparsable\/index\.js:2:0: /);
  assert.equal(errorOf(() => registry.get('named')).code, 'FUNCTION_BUILD_FAILED', 'a look-up says so too, so the gateway enqueues nothing');
});

test("a node entry's default export is looked at once per change of the entry, not at each look-up", (t) => {
  const { root } = functionsRoot(t, { 'changing/index.ts': 'export default () => 1;\n' });
  let inspections = 0;
  const registry = new FunctionRegistry(root, {
    inspectDefaultExport: (source, fileName) => {
      inspections++;
      return inspectDefaultExport(source, fileName);
    },
  });
  for (let i = 0; i < 5; i++) registry.get('changing');
  registry.list();
  assert.equal(inspections, 1);
  writeFileSync(join(root, 'changing', 'index.ts'), 'export const renamed = () => 1;\n');
  assert.equal(errorOf(() => registry.get('changing')).code, 'FUNCTION_BUILD_FAILED');
  assert.equal(errorOf(() => registry.get('changing')).code, 'FUNCTION_BUILD_FAILED');
  assert.equal(inspections, 2);
  writeFileSync(join(root, 'changing', 'index.ts'), 'export default () => 2;\n');
  assert.equal(registry.get('changing').runtime, 'node');
  assert.equal(inspections, 3);
});
