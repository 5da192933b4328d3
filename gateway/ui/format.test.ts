import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatMs, formatTime, NONE, shortId } from './format.js';

test('durations are written in ms, seconds or minutes, unknown ones as a dash', () => {
  assert.equal(formatMs(null), NONE);
  assert.equal(formatMs(0), '0 ms');
  assert.equal(formatMs(999.6), '1000 ms');
  assert.equal(formatMs(1234), '1.23 s');
  assert.equal(formatMs(12_345), '12.3 s');
  assert.equal(formatMs(125_000), '2 min 5 s');
});

test('sizes are written in B, KiB or MiB', () => {
  assert.equal(formatBytes(undefined), NONE);
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(3 * 1024 * 1024), '3.0 MiB');
});

test('ids are shortened to their first block and times lose their milliseconds', () => {
  assert.equal(shortId('0f8fad5b-d9cb-469f-a165-70867728950e'), '0f8fad5b');
  assert.equal(formatTime('2025-01-02T03:04:05.678Z'), '2025-01-02 03:04:05Z');
  assert.equal(formatTime(null), NONE);
});
