import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FORWARDED_SIGNALS, SURVIVED_SIGNALS, exitCodeOf, signalName, signalNumber } from './signals.js';

test('an exit code passes as it is and a killing signal becomes 128 + its number', () => {
  assert.equal(exitCodeOf({ code: 3, signal: null }), 3);
  assert.equal(exitCodeOf({ code: null, signal: 15 }), 143);
  assert.equal(exitCodeOf({ code: null, signal: 9 }), 137);
});

test('signal names and numbers map both ways', () => {
  assert.equal(signalNumber('SIGTERM'), 15);
  assert.equal(signalName(10), 'SIGUSR1');
  assert.equal(signalName(99), null);
});

test('SIGCHLD is never forwarded and no signal is both forwarded and only survived', () => {
  assert.ok(!FORWARDED_SIGNALS.includes('SIGCHLD'));
  for (const s of FORWARDED_SIGNALS) assert.ok(!SURVIVED_SIGNALS.includes(s), s);
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGALRM'] as const) {
    assert.ok(FORWARDED_SIGNALS.includes(s), s);
  }
});
