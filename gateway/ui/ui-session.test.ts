import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loginPath, safeNext } from './ui-session.js';

test('a login leads back to a page of the dashboard or of Bull Board', () => {
  assert.equal(safeNext('/ui/invocations/abc?sent=SIGTERM'), '/ui/invocations/abc?sent=SIGTERM');
  assert.equal(safeNext('/ui'), '/ui');
  assert.equal(safeNext('/ui?function=hello'), '/ui?function=hello');
  assert.equal(safeNext('/admin/queues/queue/invocations'), '/admin/queues/queue/invocations');
});

test('a login never leads to another site or to the API, whatever next says', () => {
  for (const next of [undefined, '', 'https://evil.example/ui', '//evil.example/ui', '/ui//evil.example', '/ui\\evil', '/\\evil.example', '/uievil', '/invocations/abc', '/admin/queuesx', 'ui']) {
    assert.equal(safeNext(next), '/ui', String(next));
  }
});

test('the login path carries where to go back to, escaped, and whether the last key failed', () => {
  assert.equal(loginPath('/ui/invocations/a?b=c&d'), '/ui/login?next=%2Fui%2Finvocations%2Fa%3Fb%3Dc%26d');
  assert.equal(loginPath('/ui', true), '/ui/login?next=%2Fui&failed=1');
});
