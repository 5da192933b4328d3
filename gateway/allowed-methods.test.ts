import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allowedMethods } from './allowed-methods.js';

const routes = [
  { method: 'ALL', path: '*' },
  { method: 'GET', path: '/invocations/:id' },
  { method: 'GET', path: '/invocations/:id' },
  { method: 'DELETE', path: '/invocations/:id' },
  { method: 'POST', path: '/function/:name/:path{.*}' },
  { method: 'ALL', path: '/anything/*' },
];

test('the methods a path takes come from its routes, with HEAD wherever GET is, sorted', () => {
  const allowed = allowedMethods(routes);
  assert.deepEqual(allowed('/invocations/abc'), ['DELETE', 'GET', 'HEAD']);
  assert.deepEqual(allowed('/function/hello/a/b'), ['POST']);
});

test('middleware and routes of every method say nothing of what a path takes', () => {
  const allowed = allowedMethods(routes);
  assert.deepEqual(allowed('/nowhere'), []);
  assert.deepEqual(allowed('/anything/at/all'), []);
  assert.deepEqual(allowed('/invocations/abc/more'), []);
});
