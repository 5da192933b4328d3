import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspectDefaultExport, type DefaultExport } from './default-export.js';

function kind(source: string, fileName = 'index.ts'): DefaultExport {
  return inspectDefaultExport(Buffer.from(source), fileName);
}

test('a default export that is a function, in any of its forms, is found to be one', () => {
  const forms = [
    'export default function handler(request: Request) { return new Response("x"); }',
    'export default async function () { return 1; }',
    'export default function* () {}',
    'export default (request) => ({ ok: true })',
    'export default async (request) => 1',
    'export default async request => 1',
    'export default (function () {})',
    'const handler = (request: Request) => 1;\nexport default handler;',
    'function handler() {}\nexport { handler as default };',
    'const a = () => 1; const b = a; export default b;',
    'export default function () {}\nconst s = `\nexport default 42\n`;',
  ];
  for (const source of forms) assert.deepEqual(kind(source), { kind: 'function' }, source);
});

test('no default export is found, whatever else the module exports', () => {
  for (const source of ['export const handler = () => 1;', 'export function handler() {}', "export * from './other.js';", 'console.log(1);', '']) {
    assert.deepEqual(kind(source), { kind: 'none' }, source);
  }
});

test('a default that is surely not a function says what it is', () => {
  const cases: Array<[string, RegExp]> = [
    ['export default { fetch() { return new Response("x"); } }', /^an object$/],
    ["import { Hono } from 'hono';\nconst app = new Hono();\napp.get('/', (c) => c.text('x'));\nexport default app;", /^an object \(new Hono/],
    ['export default [1, 2]', /^an array$/],
    ['export default "handler"', /^a string$/],
    ['export default `a ${1} b`', /^a string$/],
    ['export default 42', /^a number$/],
    ['export default null', /^null$/],
    ['export default undefined', /^undefined$/],
    ['export default class Handler {}', /^a class/],
    ['export default class { handle() {} }', /^a class/],
    ['const config = { a: 1 };\nexport default config;', /^an object$/],
  ];
  for (const [source, what] of cases) {
    const found = kind(source);
    assert.equal(found.kind, 'not-a-function', source);
    assert.match((found as { what: string }).what, what, source);
  }
});

test('what cannot be known without running the module is unknown, never taken for a mistake', () => {
  const unknowns = [
    "import handler from './handler.js';\nexport default handler;",
    "export { default } from './handler.js';",
    'export default wrap(() => 1);',
    'export default [() => 1][0];',
    'export default {}.toString;',
    'export default ({ f() {} }).f;',
    'export default (function () { return 42; })();',
    'export default new Proxy(() => 1, {});',
    'export default new Function("return 1");',
    'export default new Builder().handler;',
    'let handler = null;\nhandler = () => 1;\nexport default handler;',
    'let handler = null;\nexport function set() { handler = () => 1; }\nexport default handler;',
    'export default app.fetch;',
  ];
  for (const source of unknowns) assert.deepEqual(kind(source), { kind: 'unknown' }, source);
  assert.deepEqual(kind('module.exports = (request) => 1;', 'index.js'), { kind: 'unknown' }, 'CommonJS');
});

test('an entry that does not parse is reported with esbuild\'s message and the line', () => {
  const found = kind('export default (request => {\n  return 1;\n', 'functions/broken/index.ts');
  assert.equal(found.kind, 'syntax-error');
  assert.match((found as { message: string }).message, /^functions\/broken\/index\.ts:3:\d+: Unexpected end of file/);
});
