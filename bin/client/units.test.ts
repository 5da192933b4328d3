import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAge, formatBytes, formatDuration } from './units.js';

test('durations, ages and sizes read as a person would write them', () => {
  assert.deepEqual([null, 0, 850, 1500, 12_400, 125_000, 3_720_000].map(formatDuration), ['-', '0ms', '850ms', '1.5s', '12s', '2m05s', '1h02m']);
  const now = Date.parse('2026-01-02T00:00:00Z');
  assert.deepEqual(
    ['2026-01-01T23:59:48Z', '2026-01-01T23:57:00Z', '2026-01-01T21:00:00Z', '2025-12-28T00:00:00Z', null].map((iso) => formatAge(iso, now)),
    ['12s ago', '3m ago', '3h ago', '5d ago', '-'],
  );
  assert.deepEqual([null, 512, 1536, 12 * 1024 * 1024].map(formatBytes), ['-', '512B', '1.5KiB', '12MiB']);
});
