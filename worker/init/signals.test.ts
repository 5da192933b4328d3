import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FORWARDED_SIGNALS } from '../../contracts/forwarded-signals.js';
import { SURVIVED_SIGNALS, exitCodeOf, signalName, signalNumber } from './signals.js';

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

test('SIGCHLD, SIGKILL and SIGSTOP are never forwarded and no signal is both forwarded and only survived', () => {
  const forwarded: readonly string[] = FORWARDED_SIGNALS;
  assert.ok(!forwarded.includes('SIGCHLD'));
  for (const s of FORWARDED_SIGNALS) assert.ok(!SURVIVED_SIGNALS.includes(s), s);
  assert.ok(!forwarded.includes('SIGKILL') && !forwarded.includes('SIGSTOP'), 'SIGKILL and SIGSTOP would bypass the init');
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGALRM'] as const) {
    assert.ok(forwarded.includes(s), s);
  }
});
