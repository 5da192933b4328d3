import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from './metrics.js';

test('the metrics render as Prometheus text with pidbox_ names and the queue read at scrape time', async () => {
  const metrics = createMetrics();
  metrics.invocations.inc({ function: 'hello', outcome: 'succeeded' });
  metrics.sandboxStart.observe({ function: 'hello' }, 0.04);
  let scrapes = 0;
  metrics.watchQueue(async () => {
    scrapes++;
    return { waiting: 3, active: 1 };
  });
  const text = await metrics.render();
  assert.match(text, /^pidbox_invocations_total\{function="hello",outcome="succeeded"\} 1$/m);
  assert.match(text, /^pidbox_sandbox_start_seconds_bucket\{le="0.05",function="hello"\} 1$/m);
  assert.match(text, /^pidbox_queue_jobs\{state="waiting"\} 3$/m);
  assert.equal(scrapes, 1);
  for (const line of text.split('\n')) {
    const name = /^(?:# (?:HELP|TYPE) )?([a-z_]+)/.exec(line)?.[1];
    if (name) assert.ok(name.startsWith('pidbox_'), `${name} carries the prefix`);
  }
});

test('the queue is counted once even when gateway and worker both watch it (pidbox dev)', async () => {
  const metrics = createMetrics();
  metrics.watchQueue(async () => ({ waiting: 3 }));
  metrics.watchQueue(async () => ({ waiting: 3 }));
  assert.match(await metrics.render(), /^pidbox_queue_jobs\{state="waiting"\} 3$/m);
});

test('a queue that cannot be read leaves the gauge empty instead of failing the scrape', async () => {
  const metrics = createMetrics();
  metrics.watchQueue(async () => {
    throw new Error('redis down');
  });
  const text = await metrics.render();
  assert.match(text, /# TYPE pidbox_queue_jobs gauge/);
});
