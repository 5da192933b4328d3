import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signalName } from './signal-command.js';

test('a signal is named the one way the route takes, from a name in any case or a number', () => {
  assert.deepEqual(['usr1', 'USR1', 'SIGUSR1', 'sigusr1', '10', 'term', '15'].map(signalName), ['SIGUSR1', 'SIGUSR1', 'SIGUSR1', 'SIGUSR1', 'SIGUSR1', 'SIGTERM', 'SIGTERM']);
  // Names the init does not forward go to the gateway, which says which it takes (INVALID_SIGNAL).
  assert.equal(signalName('kill'), 'SIGKILL');
  assert.throws(() => signalName('999'), { exitCode: 2, message: 'no signal has the number 999' });
  assert.throws(() => signalName('USR 1'), { exitCode: 2 });
});
