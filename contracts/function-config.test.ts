import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PidboxError } from './pidbox-error.js';
import { DEFAULT_FUNCTION_CONFIG, parseFunctionConfig } from './function-config.js';

function errorOf(raw: unknown): PidboxError {
  try {
    parseFunctionConfig(raw, 'functions/x/function.json');
  } catch (error) {
    assert.ok(error instanceof PidboxError);
    return error;
  }
  assert.fail('expected the config to be rejected');
}

test('an empty object gives the documented defaults', () => {
  assert.deepEqual(parseFunctionConfig({}, 'f.json'), DEFAULT_FUNCTION_CONFIG);
});

test('every setting is read', () => {
  const config = parseFunctionConfig(
    {
      timeoutMs: 500, retries: 2, concurrency: 3, network: 'host', contentType: 'application/json', cgi: true, env: { A: '1' },
      memoryMb: 64, maxProcesses: 8, cpus: 0.5, tmpMb: 4,
    },
    'f.json',
  );
  assert.deepEqual(config, {
    timeoutMs: 500, retries: 2, concurrency: 3, network: 'host', contentType: 'application/json', cgi: true, env: { A: '1' },
    memoryMb: 64, maxProcesses: 8, cpus: 0.5, tmpMb: 4,
  });
});

test('a function has a network of its own with only loopback unless it asks for the host\'s', () => {
  assert.equal(parseFunctionConfig({}, 'f.json').network, 'loopback');
});

test('limits out of their bounds are rejected with the bounds', () => {
  assert.match(errorOf({ memoryMb: 8 }).message, /"memoryMb" must be a whole number from 16 to 65536, got 8/);
  assert.match(errorOf({ maxProcesses: 0 }).message, /"maxProcesses" must be a whole number from 1/);
  assert.match(errorOf({ cpus: 0 }).message, /"cpus" must be a number of CPUs from 0.01/);
  assert.match(errorOf({ cpus: '1' }).message, /"cpus" must be a number/);
  assert.match(errorOf({ tmpMb: 1.5 }).message, /"tmpMb" must be a whole number/);
});

test('a bad value is rejected with a message naming the file and the field', () => {
  const error = errorOf({ timeoutMs: 'soon' });
  assert.equal(error.code, 'INVALID_FUNCTION_CONFIG');
  assert.match(error.message, /^functions\/x\/function\.json: "timeoutMs" must be/);
});

test('"cgi" is true or false', () => {
  assert.equal(parseFunctionConfig({}, 'f.json').cgi, false);
  assert.match(errorOf({ cgi: 'yes' }).message, /"cgi" must be true or false, got "yes"/);
});

test('an unknown field is rejected rather than ignored', () => {
  assert.match(errorOf({ timeout: 5 }).message, /"timeout" is not a known setting/);
});

test('environment names and values are checked one by one', () => {
  assert.match(errorOf({ env: { 'BAD-NAME': 'x' } }).message, /"env\.BAD-NAME" is not a valid/);
  assert.match(errorOf({ env: { GOOD: 5 } }).message, /"env\.GOOD" must be a string/);
});

test('a config that is not an object is rejected', () => {
  assert.match(errorOf([1, 2]).message, /must hold a JSON object/);
});

test('"$schema" is allowed and ignored', () => {
  assert.deepEqual(parseFunctionConfig({ $schema: 'http://127.0.0.1:8080/schemas/function.json', retries: 1 }, 'f.json'), { ...DEFAULT_FUNCTION_CONFIG, retries: 1 });
});

test('every field is named with its range, and the value that was there', () => {
  assert.equal(errorOf({ timeoutMs: 0 }).message, 'functions/x/function.json: "timeoutMs" must be a whole number of milliseconds from 1 to 900000, got 0');
  assert.equal(errorOf({ retries: 101 }).message, 'functions/x/function.json: "retries" must be a whole number from 0 to 100, got 101');
  assert.match(errorOf({ concurrency: 0 }).message, /"concurrency" must be a whole number of at least 1, or null, got 0$/);
  assert.match(errorOf({ network: 'none' }).message, /"network" must be "host" or "loopback", got "none"$/);
  assert.match(errorOf({ contentType: '' }).message, /"contentType" must be a non-empty string, got ""$/);
  assert.match(errorOf({ env: [] }).message, /"env" must be an object of strings$/);
});

test('defaults are not shared between configs', () => {
  const first = parseFunctionConfig({}, 'f.json');
  first.env.CHANGED = 'yes';
  assert.deepEqual(parseFunctionConfig({}, 'f.json').env, {});
});
