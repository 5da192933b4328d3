import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installPlan } from './ensure-program.js';

test('a program found is ready; missing, it is installed only as root with apt-get, else explained', () => {
  assert.equal(installPlan({ found: true, isRoot: false, hasAptGet: false }), 'ready');
  assert.equal(installPlan({ found: false, isRoot: true, hasAptGet: true }), 'install');
  assert.equal(installPlan({ found: false, isRoot: true, hasAptGet: false }), 'instruct');
  assert.equal(installPlan({ found: false, isRoot: false, hasAptGet: true }), 'instruct');
});
