import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeCounts, progressBar, progressLine, progressOf } from './batch-progress.js';

const figures = { total: 1000, counts: { queued: 586, running: 2, succeeded: 400, failed: 12, timed_out: 0, cancelled: 0 }, elapsedMs: 10_000 };

test('progress counts finished invocations, and the rate and ETA follow from them', () => {
  assert.deepEqual(progressOf(figures), { done: 412, total: 1000, perSecond: 41.2, etaMs: (588 / 41.2) * 1000 });
  assert.equal(progressOf({ ...figures, counts: { queued: 10 }, elapsedMs: 0 }).etaMs, null);
  assert.equal(describeCounts(figures.counts), 'succeeded 400, failed 12, running 2, queued 586');
});

test("the terminal's bar fits its width; the plain line says the same in words", () => {
  const bar = progressBar(figures, 120);
  assert.match(bar, /^\[█+░+\] 412\/1000 41% {2}succeeded 400, failed 12, running 2, queued 586 {2}41\/s {2}ETA 14s$/);
  assert.ok(bar.length < 120);
  assert.ok(progressBar(figures, 40).length <= 39);
  assert.match(progressBar({ ...figures, counts: { succeeded: 1000 } }, 100), /^\[█+\] 1000\/1000 100% {2}succeeded 1000 {2}100\/s {2}done$/);
  assert.equal(progressLine(figures), '412/1000 done (41%): succeeded 400, failed 12, running 2, queued 586; 41/s, ETA 14s');
});
