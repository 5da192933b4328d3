import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FunctionSlots } from './function-slots.js';
import { RunningInvocations } from './running-invocations.js';

test("a function's slots stop at its concurrency and come back when released; null means no limit", () => {
  const slots = new FunctionSlots();
  assert.equal(slots.tryAcquire('a', 2), true);
  assert.equal(slots.tryAcquire('a', 2), true);
  assert.equal(slots.tryAcquire('a', 2), false);
  assert.equal(slots.tryAcquire('b', 1), true, 'other functions are not held back');
  slots.release('a');
  assert.equal(slots.tryAcquire('a', 2), true);
  for (let i = 0; i < 50; i++) assert.equal(slots.tryAcquire('c', null), true);
  assert.equal(slots.inUseBy('c'), 50);
});

test('an abort reaches only the running invocation it names, once, with its reason', () => {
  const running = new RunningInvocations();
  const a = running.start('a');
  const b = running.start('b');
  assert.equal(running.abort('missing', 'cancel'), false);
  assert.equal(running.abort('a', 'cancel'), true);
  assert.equal(running.abort('a', 'shutdown'), true);
  assert.equal(a.signal.aborted, true);
  assert.equal(a.reason(), 'cancel', 'the first reason stays');
  assert.equal(b.signal.aborted, false);
  running.abortAll('shutdown');
  assert.equal(b.reason(), 'shutdown');
  running.end('a');
  assert.deepEqual(running.ids(), ['b']);
});
