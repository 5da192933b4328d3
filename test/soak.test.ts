// The soak, shortened: a few hundred async invocations through a `pidbox gateway` and two `pidbox
// worker` processes on a redis-server with an append-only file, one worker SIGKILLed and Redis
// restarted along the way (bench/soak-run.ts, the same run as `npm run bench:soak`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSoak, runSoak } from '../bench/soak-run.js';

test('a soak with a worker killed and Redis restarted loses no invocation and leaves nothing behind', { timeout: 120_000 }, async () => {
  const lines: string[] = [];
  const result = await runSoak({
    count: 300,
    inFlight: 24,
    // The killed worker's jobs run again within seconds, so the test stays short.
    lockDurationMs: 5000,
    stalledIntervalMs: 1000,
    finishTimeoutMs: 45_000,
    log: (line) => lines.push(line),
  });
  const context = `\n${lines.join('\n')}\n${formatSoak(result)}\n${JSON.stringify(result.statuses)}`;
  assert.equal(result.accepted, 300, context);
  assert.equal(result.lost, 0, context);
  assert.equal(result.succeeded, result.accepted, context);
  assert.equal(result.failed, 0, context);
  assert.deepEqual(result.statuses, { succeeded: 300 }, context);
  // Both faults happened: a worker was replaced, and Redis came back as another process.
  assert.ok(lines.some((l) => /SIGKILLed/.test(l)) && lines.some((l) => /started in its place/.test(l)), context);
  assert.ok(lines.some((l) => /redis-server restarted/.test(l)), context);
  assert.equal(result.workerRssStart.length, 2);
  assert.equal(result.workerRssEnd.length, 2);
  assert.deepEqual(result.unbounded, [], context);
  assert.ok(result.expiring >= result.accepted, context);
  assert.deepEqual(result.workerExits, [], context);
  assert.deepEqual(result.leftovers, [], context);
});
