import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SAME_REQUEST_MS, judgeSignal } from './shutdown-signals.js';

test('the first signal stops gracefully; copies within a second are the same request; a later one forces', () => {
  assert.equal(judgeSignal(null, 5000), 'stop');
  // npm forwards the SIGINT the terminal sent it too: both arrive within milliseconds.
  assert.equal(judgeSignal(5000, 5003), 'same');
  assert.equal(judgeSignal(5000, 5000 + SAME_REQUEST_MS - 1), 'same');
  assert.equal(judgeSignal(5000, 5000 + SAME_REQUEST_MS), 'force');
  assert.equal(judgeSignal(5000, 60_000), 'force');
});
