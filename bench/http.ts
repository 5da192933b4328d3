// npm run bench:http — sync invocations of the `hello` sample through the whole path (HTTP → gateway
// → BullMQ on Redis → worker → fresh sandbox → back), at concurrency 1 and 16, next to the raw BullMQ
// add → complete round trip with a no-op processor on the same Redis. Gateway and worker share one
// process, as in `npm start`. Then the same sync invocation with tracing off and on (spans exported
// over OTLP to a receiver on loopback), in alternating rounds, and the ratio. Prints figures only.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, Worker } from 'bullmq';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import { quietTelemetry, type Telemetry } from '../contracts/telemetry/telemetry.js';
import { createLogger } from '../contracts/telemetry/logger.js';
import { createMetrics } from '../contracts/telemetry/metrics.js';
import { loadTracingConfig, startTracing } from '../contracts/telemetry/tracing.js';
import { loadGatewayConfig } from '../gateway/gateway-config.js';
import { startGateway } from '../gateway/start-gateway.js';
import { startEmbeddedRedis } from '../queue/embedded-redis.js';
import { createRedisClient } from '../queue/redis-client.js';
import { loadWorkerConfig } from '../worker/queue/worker-config.js';
import { startWorker } from '../worker/queue/start-worker.js';

const RUNS_1 = Number(process.env.BENCH_RUNS ?? 100);
const RUNS_16 = RUNS_1 * 3;
const WARMUP = 10;
const SAMPLES = fileURLToPath(new URL('../../functions', import.meta.url));

interface Stats { p50: number; p99: number; mean: number; perSecond: number; samples: number[] }

async function measure(concurrency: number, runs: number, once: () => Promise<void>): Promise<Stats> {
  for (let i = 0; i < WARMUP; i++) await once();
  const samples: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < runs) {
      next++;
      const t = performance.now();
      await once();
      samples.push(performance.now() - t);
    }
  }));
  return stats(samples, performance.now() - started);
}

function stats(samples: number[], elapsedMs: number): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: samples.reduce((a, b) => a + b, 0) / samples.length, perSecond: (samples.length / elapsedMs) * 1000, samples };
}

/**
 * Sync hello with tracing off and on, in alternating rounds on fresh gateway + worker pairs (so
 * drift of the machine falls on both alike); the traced ones export to an OTLP receiver on loopback.
 */
async function tracingOverhead(redisUrl: string, cacheDir: string): Promise<void> {
  let spansReceived = 0;
  const sink = createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      spansReceived++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const tracing = await startTracing(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }, 'pidbox-bench'));
  const traced: Telemetry = { tracing, metrics: createMetrics(), log: createLogger({ service: 'bench', level: 'warn' }) };
  const rounds = 4;
  const perRound = Math.max(10, Math.round(RUNS_1 / 2));
  const off: number[] = [];
  const on: number[] = [];
  let offMs = 0;
  let onMs = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      for (const mode of round % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
        const telemetry = mode === 'on' ? traced : await quietTelemetry('bench');
        const env = { REDIS_URL: redisUrl, PIDBOX_FUNCTIONS_DIR: SAMPLES, PIDBOX_CACHE_DIR: cacheDir, PORT: '0', PIDBOX_HOST: '127.0.0.1' };
        const worker = await startWorker(loadWorkerConfig(env), telemetry);
        const gateway = await startGateway(loadGatewayConfig(env), telemetry);
        try {
          const s = await measure(1, perRound, async () => {
            const res = await fetch(`${gateway.url}/functions/hello`, { method: 'POST', body: 'bench' });
            if (res.status !== 200) throw new Error(`hello answered ${res.status}`);
            await res.arrayBuffer();
          });
          (mode === 'on' ? on : off).push(...s.samples);
          if (mode === 'on') onMs += s.samples.reduce((a, b) => a + b, 0);
          else offMs += s.samples.reduce((a, b) => a + b, 0);
        } finally {
          await Promise.all([gateway.close(), worker.close()]);
        }
      }
    }
    await tracing.shutdown();
  } finally {
    sink.close();
  }
  const offStats = stats(off, offMs);
  const onStats = stats(on, onMs);
  console.log('');
  console.log(`tracing off and on, sync hello at concurrency 1, ${rounds} alternating rounds of ${perRound}:`);
  console.log(row('tracing off', offStats));
  console.log(row('tracing on (OTLP/protobuf to loopback)', onStats));
  console.log(`tracing on / off: p50 ${(onStats.p50 / offStats.p50).toFixed(3)}x, mean ${(onStats.mean / offStats.mean).toFixed(3)}x  (target ≤ 1.05x); ${spansReceived} OTLP exports received`);
}

function row(label: string, s: Stats): string {
  return `${label.padEnd(46)} p50 ${s.p50.toFixed(1).padStart(7)} ms   p99 ${s.p99.toFixed(1).padStart(7)} ms   ${s.perSecond.toFixed(1).padStart(7)} /s`;
}

async function main(): Promise<void> {
  const cores = availableParallelism();
  const redis = await startEmbeddedRedis({ listen: 'unix' });
  const cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-bench-'));
  const env = { REDIS_URL: redis.url, PIDBOX_FUNCTIONS_DIR: SAMPLES, PIDBOX_CACHE_DIR: cacheDir, PORT: '0', PIDBOX_HOST: '127.0.0.1' };
  const worker = await startWorker(loadWorkerConfig(env));
  const gateway = await startGateway(loadGatewayConfig(env));
  const ids: string[] = [];
  try {
    console.log(`sync POST /functions/hello, ${RUNS_1} runs at concurrency 1 and ${RUNS_16} at 16, after ${WARMUP} warm-up runs`);
    console.log(`node ${process.version}, ${cores} cores, worker concurrency ${cores}, gateway and worker in one process, Redis on a unix socket`);
    console.log('');
    const invoke = async (): Promise<void> => {
      const res = await fetch(`${gateway.url}/functions/hello`, { method: 'POST', body: 'bench' });
      if (res.status !== 200) throw new Error(`hello answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
      ids.push(res.headers.get('x-invocation-id')!);
    };
    const pidbox1 = await measure(1, RUNS_1, invoke);
    const records = await Promise.all(ids.slice(-RUNS_1).map(async (id) => (await (await fetch(`${gateway.url}/invocations/${id}`)).json()) as InvocationRecord));
    const inSandbox = records.reduce((sum, r) => sum + (r.timings.startMs ?? 0) + (r.timings.runMs ?? 0), 0) / records.length;
    const pidbox16 = await measure(16, RUNS_16, invoke);

    // The same Redis, a queue of its own, a processor that does nothing.
    const connection = createRedisClient(redis.url, { name: 'pidbox-bench' });
    const queue = new Queue('bench-raw', { connection, prefix: 'bench' });
    queue.setMaxListeners(64); // one waitUntilFinished listener per request in flight
    const rawWorker = new Worker('bench-raw', async () => 'ok', { connection, prefix: 'bench', concurrency: cores });
    const events = new QueueEvents('bench-raw', { connection, prefix: 'bench' });
    await Promise.all([rawWorker.waitUntilReady(), events.waitUntilReady()]);
    const roundTrip = async (): Promise<void> => {
      const job = await queue.add('noop', { n: 1 }, { removeOnComplete: true });
      await job.waitUntilFinished(events, 10_000);
    };
    const raw1 = await measure(1, RUNS_1, roundTrip);
    const raw16 = await measure(16, RUNS_16, roundTrip);
    await Promise.all([rawWorker.close(), events.close(), queue.close()]);
    connection.disconnect();

    console.log(row('pidbox sync hello, concurrency 1', pidbox1));
    console.log(row('pidbox sync hello, concurrency 16', pidbox16));
    console.log(row('raw BullMQ add → complete, concurrency 1', raw1));
    console.log(row('raw BullMQ add → complete, concurrency 16', raw16));
    console.log('');
    console.log(`of a pidbox invocation at concurrency 1, in the sandbox (spawn → function exit, mean): ${inSandbox.toFixed(1)} ms;`);
    console.log(`the rest (HTTP, Redis, queue, records, log, answer): about ${(pidbox1.mean - inSandbox).toFixed(1)} ms (mean ${pidbox1.mean.toFixed(1)} ms)`);
    console.log(`pidbox / raw BullMQ, p50: ${(pidbox1.p50 / raw1.p50).toFixed(1)}x at concurrency 1, ${(pidbox16.p50 / raw16.p50).toFixed(1)}x at 16`);
    console.log(`raw BullMQ / pidbox, invocations per second: ${(raw1.perSecond / pidbox1.perSecond).toFixed(1)}x at concurrency 1, ${(raw16.perSecond / pidbox16.perSecond).toFixed(1)}x at 16`);
    await Promise.all([gateway.close(), worker.close()]);
    await tracingOverhead(redis.url, cacheDir);
  } finally {
    await Promise.all([gateway.close(), worker.close()]);
    await redis.stop();
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

await main();
