// npm run bench:http — one table from one run, every ratio from figures of this run:
//   raw BullMQ       add → finished with a no-op processor, on the same Redis;
//   do it yourself   a BullMQ worker that spawns `unshare --pid --fork --mount-proc tini -- <handler>` per
//                    job (a Node fetch handler, and `cat`), the job's body on stdin;
//   pidbox cold      sync POST /functions/<name> through the gateway, pre-starting off (PIDBOX_POOL_SIZE=0);
//   pidbox warm      the same with the pool on; at concurrency 1 each call waits until the function has a
//                    pre-started sandbox (calls arriving no faster than the pool refills).
// For each: p50 and p99 at concurrency 1, calls per second and p99 at concurrency 16, and CPU ms per call
// (every process on the machine, user + system, from /proc/stat over the concurrency-16 run). Then the
// same warm sync call with tracing off and on. Gateway and worker share one process, as in `npm start`.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, Worker } from 'bullmq';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import { quietTelemetry, type Telemetry } from '../telemetry/telemetry.js';
import { loadTracingConfig, startTracing } from '../telemetry/tracing.js';
import { loadGatewayConfig } from '../gateway/gateway-config.js';
import { startGateway } from '../gateway/start-gateway.js';
import { startEmbeddedRedis } from '../dev/embedded-redis.js';
import { createRedisClient } from '../redis/redis-client.js';
import { loadWorkerConfig } from '../worker/jobs/worker-config.js';
import { startWorker } from '../worker/jobs/start-worker.js';

const RUNS_1 = Number(process.env.BENCH_RUNS ?? 100);
const RUNS_16 = RUNS_1 * 3;
const WARMUP = 10;
const SAMPLES = fileURLToPath(new URL('../../functions', import.meta.url));
const CORES = availableParallelism();
const CLEAN_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin' };

interface Stats { p50: number; p99: number; mean: number; perSecond: number; samples: number[] }
interface Row { label: string; runtime: 'node' | 'exec' | '-'; c1: Stats; c16: Stats; cpuMs: number; note?: string }

/** Busy CPU time of the whole machine so far, ms (all cores; user, nice, system, irq, softirq, steal). */
function machineBusyMs(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields as [number, number, number, number, number, number, number, number];
  return ((user + nice + system + irq + softirq + (steal ?? 0)) * 1000) / 100; // USER_HZ is 100 on Linux
}

async function measure(concurrency: number, runs: number, once: () => Promise<void>, pace?: () => Promise<void>): Promise<Stats & { cpuMs: number }> {
  for (let i = 0; i < WARMUP; i++) {
    await pace?.();
    await once();
  }
  const samples: number[] = [];
  let next = 0;
  const busy = machineBusyMs();
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < runs) {
      next++;
      await pace?.();
      const t = performance.now();
      await once();
      samples.push(performance.now() - t);
    }
  }));
  const elapsed = performance.now() - started;
  return { ...stats(samples, elapsed), cpuMs: (machineBusyMs() - busy) / runs };
}

function stats(samples: number[], elapsedMs: number): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: samples.reduce((a, b) => a + b, 0) / samples.length, perSecond: (samples.length / elapsedMs) * 1000, samples };
}

function run(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'ignore'], env: CLEAN_ENV });
    const out: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString()) : reject(new Error(`${command} exited ${code}`))));
    child.stdin?.end(input);
  });
}

/** CPU ms of one `node -e 0` with a clean environment, machine-wide, as the yardstick. */
async function bareNodeCpuMs(): Promise<{ cpuMs: number; wallMs: number }> {
  for (let i = 0; i < 5; i++) await run(process.execPath, ['-e', '0']);
  const runs = 60;
  const busy = machineBusyMs();
  const started = performance.now();
  for (let i = 0; i < runs; i++) await run(process.execPath, ['-e', '0']);
  return { cpuMs: (machineBusyMs() - busy) / runs, wallMs: (performance.now() - started) / runs };
}

/** BullMQ producer and worker on `queueName`; `process` is the processor. */
async function bullmqRow(redisUrl: string, queueName: string, processor: (body: string) => Promise<string>, check: (out: string) => boolean): Promise<{ c1: Stats; c16: Stats; cpuMs: number }> {
  const connection = createRedisClient(redisUrl, { name: 'pidbox-bench' });
  const queue = new Queue(queueName, { connection, prefix: 'bench' });
  queue.setMaxListeners(64); // one waitUntilFinished listener per request in flight
  const worker = new Worker(queueName, async (job) => processor(job.data.body as string), { connection, prefix: 'bench', concurrency: CORES });
  const events = new QueueEvents(queueName, { connection, prefix: 'bench' });
  await Promise.all([worker.waitUntilReady(), events.waitUntilReady()]);
  try {
    const roundTrip = async (): Promise<void> => {
      const job = await queue.add('call', { body: 'bench' }, { removeOnComplete: true, removeOnFail: true });
      const out = (await job.waitUntilFinished(events, 30_000)) as string;
      if (!check(out)) throw new Error(`${queueName} answered ${JSON.stringify(out)}`);
    };
    const c1 = await measure(1, RUNS_1, roundTrip);
    const c16 = await measure(16, RUNS_16, roundTrip);
    return { c1, c16, cpuMs: c16.cpuMs };
  } finally {
    await Promise.all([worker.close(), events.close(), queue.close()]);
    connection.disconnect();
  }
}

/** A Node fetch handler as one would run it by hand: the same as the `hello` sample, stdin in, stdout out. */
const DIY_HANDLER = `
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = new Request('http://localhost/', { method: 'POST', body: Buffer.concat(chunks) });
const name = (await request.text()).trim() || 'world';
console.error(\`greeting \${name}\`);
const response = Response.json({ message: \`Hello, \${name}!\`, pid: process.pid });
process.stdout.write(await response.text());
`;


/** Ready pre-started sandboxes of `fn`, as /metrics reports them. */
async function readyFor(telemetry: Telemetry, fn: string): Promise<number> {
  const text = await telemetry.metrics.render();
  const line = text.split('\n').find((l) => l.startsWith(`pidbox_sandbox_pool{pool="${fn}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function pidboxRows(redisUrl: string, cacheDir: string, telemetry: Telemetry, warm: boolean): Promise<Row[]> {
  const env = { REDIS_URL: redisUrl, PIDBOX_FUNCTIONS_DIR: SAMPLES, PIDBOX_CACHE_DIR: cacheDir, PORT: '0', PIDBOX_HOST: '127.0.0.1', ...(warm ? {} : { PIDBOX_POOL_SIZE: '0' }) };
  const worker = await startWorker(loadWorkerConfig(env), telemetry);
  const gateway = await startGateway(loadGatewayConfig(env), telemetry);
  const rows: Row[] = [];
  try {
    for (const [fn, runtime, check] of [['hello', 'node', (t: string) => t.includes('Hello, bench!')], ['echo', 'exec', (t: string) => t === 'bench']] as const) {
      const ids: string[] = [];
      const invoke = async (): Promise<void> => {
        const res = await fetch(`${gateway.url}/functions/${fn}`, { method: 'POST', body: 'bench' });
        const text = await res.text();
        if (res.status !== 200 || !check(text)) throw new Error(`${fn} answered ${res.status}: ${text}`);
        ids.push(res.headers.get('x-invocation-id')!);
      };
      // Warm at concurrency 1: each call waits (up to 2 s) for a pre-started sandbox of its function.
      const pace = warm
        ? async () => {
          const until = Date.now() + 2000;
          while ((await readyFor(telemetry, fn)) < 1 && Date.now() < until) await delay(5);
        }
        : undefined;
      const c1 = await measure(1, RUNS_1, invoke, pace);
      const c1Warm = await prestartedShare(gateway.url, ids.slice(-RUNS_1));
      ids.length = 0;
      const c16 = await measure(16, RUNS_16, invoke);
      const c16Warm = await prestartedShare(gateway.url, ids.slice(-RUNS_16));
      rows.push({
        label: `pidbox ${warm ? 'warm' : 'cold'}: ${fn}`,
        runtime,
        c1,
        c16,
        cpuMs: c16.cpuMs,
        note: `pre-started: ${pct(c1Warm)} at c1, ${pct(c16Warm)} at c16`,
      });
    }
  } finally {
    await Promise.all([gateway.close(), worker.close()]);
  }
  return rows;
}

async function prestartedShare(gatewayUrl: string, ids: string[]): Promise<number> {
  const records = await Promise.all(ids.map(async (id) => (await (await fetch(`${gatewayUrl}/invocations/${id}`)).json()) as InvocationRecord));
  return records.filter((r) => r.sandbox?.prestarted).length / records.length;
}

function pct(share: number): string {
  return `${Math.round(share * 100)} %`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Warm sync hello with tracing off and on, in alternating rounds on fresh gateway + worker pairs (so
 * drift of the machine falls on both alike); the traced ones export to an OTLP receiver on loopback.
 */
async function tracingOverhead(redisUrl: string, cacheDir: string): Promise<void> {
  let exports = 0;
  const sink = createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const tracing = await startTracing(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }, 'pidbox-bench'));
  const rounds = 4;
  const perRound = Math.max(10, Math.round(RUNS_1 / 2));
  const off: number[] = [];
  const on: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      for (const mode of round % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
        const telemetry = mode === 'on' ? { ...(await quietTelemetry('bench')), tracing } : await quietTelemetry('bench');
        const env = { REDIS_URL: redisUrl, PIDBOX_FUNCTIONS_DIR: SAMPLES, PIDBOX_CACHE_DIR: cacheDir, PORT: '0', PIDBOX_HOST: '127.0.0.1' };
        const worker = await startWorker(loadWorkerConfig(env), telemetry);
        const gateway = await startGateway(loadGatewayConfig(env), telemetry);
        try {
          const s = await measure(1, perRound, async () => {
            const res = await fetch(`${gateway.url}/functions/hello`, { method: 'POST', body: 'bench' });
            if (res.status !== 200) throw new Error(`hello answered ${res.status}`);
            await res.arrayBuffer();
          }, async () => {
            const until = Date.now() + 2000;
            while ((await readyFor(telemetry, 'hello')) < 1 && Date.now() < until) await delay(5);
          });
          (mode === 'on' ? on : off).push(...s.samples);
        } finally {
          await Promise.all([gateway.close(), worker.close()]);
        }
      }
    }
    await tracing.shutdown();
  } finally {
    sink.close();
  }
  const offStats = stats(off, 1);
  const onStats = stats(on, 1);
  console.log('');
  console.log(`Tracing off and on: warm sync hello at concurrency 1, ${rounds} alternating rounds of ${perRound}`);
  console.log(`  off  p50 ${ms(offStats.p50)}  p99 ${ms(offStats.p99)}  mean ${ms(offStats.mean)}`);
  console.log(`  on   p50 ${ms(onStats.p50)}  p99 ${ms(onStats.p99)}  mean ${ms(onStats.mean)}  (OTLP/protobuf to loopback, ${exports} exports)`);
  console.log(`  on / off: p50 ${(onStats.p50 / offStats.p50).toFixed(2)}x, mean ${(onStats.mean / offStats.mean).toFixed(2)}x`);
}

function ms(value: number): string {
  return `${value.toFixed(1).padStart(6)} ms`;
}

function printTable(rows: Row[]): void {
  const header = `${'what'.padEnd(30)} ${'c1 p50'.padStart(9)} ${'c1 p99'.padStart(9)} ${'c16 calls/s'.padStart(12)} ${'c16 p99'.padStart(9)} ${'CPU/call'.padStart(9)}`;
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of rows) {
    console.log(`${r.label.padEnd(30)} ${ms(r.c1.p50).padStart(9)} ${ms(r.c1.p99).padStart(9)} ${r.c16.perSecond.toFixed(0).padStart(12)} ${ms(r.c16.p99).padStart(9)} ${ms(r.cpuMs).padStart(9)}${r.note ? `   ${r.note}` : ''}`);
  }
}

async function main(): Promise<void> {
  const redis = await startEmbeddedRedis({ listen: 'unix' });
  const cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-bench-'));
  const diyDir = mkdtempSync(join(tmpdir(), 'pidbox-bench-diy-'));
  const handler = join(diyDir, 'handler.mjs');
  writeFileSync(handler, DIY_HANDLER);
  try {
    console.log(`node ${process.version}, ${CORES} cores; ${RUNS_1} calls at concurrency 1 and ${RUNS_16} at 16, each after ${WARMUP} warm-up calls;`);
    console.log(`workers run ${CORES} calls at once; Redis on a unix socket; pidbox's gateway and worker in one process`);
    const bare = await bareNodeCpuMs();
    console.log(`yardstick: node -e 0 with a clean environment, ${bare.wallMs.toFixed(1)} ms wall, ${bare.cpuMs.toFixed(1)} ms CPU`);
    console.log('');

    const rows: Row[] = [];
    const raw = await bullmqRow(redis.url, 'raw', async () => 'ok', (out) => out === 'ok');
    rows.push({ label: 'raw BullMQ (no-op processor)', runtime: '-', ...raw });
    const unshareTini = ['--pid', '--fork', '--mount-proc', 'tini', '--'];
    const diyNode = await bullmqRow(redis.url, 'diy-node', (body) => run('unshare', [...unshareTini, process.execPath, handler], body), (out) => out.includes('Hello, bench!'));
    rows.push({ label: 'DIY: unshare+tini node', runtime: 'node', ...diyNode });
    const diyCat = await bullmqRow(redis.url, 'diy-cat', (body) => run('unshare', [...unshareTini, 'cat'], body), (out) => out === 'bench');
    rows.push({ label: 'DIY: unshare+tini cat', runtime: 'exec', ...diyCat });

    rows.push(...(await pidboxRows(redis.url, cacheDir, await quietTelemetry('bench'), false)));
    rows.push(...(await pidboxRows(redis.url, cacheDir, await quietTelemetry('bench'), true)));

    printTable(rows);
    console.log('');
    const rawP50 = raw.c1.p50;
    console.log('Ratios (targets in brackets):');
    for (const r of rows.filter((x) => x.label.startsWith('pidbox'))) {
      const limit = (CORES * 1000) / r.cpuMs;
      const latencyTarget = r.label.includes('warm') ? ' [≤ 8x]' : '';
      const cpuTarget = r.runtime === 'node' ? ' [≤ 3x]' : ' [≤ 1.4x]';
      console.log(`  ${r.label.padEnd(20)} c1 p50 / raw BullMQ p50 ${(r.c1.p50 / rawP50).toFixed(1).padStart(5)}x${latencyTarget.padEnd(8)}`
        + `  CPU / node -e 0 ${(r.cpuMs / bare.cpuMs).toFixed(2).padStart(5)}x${cpuTarget.padEnd(9)}`
        + `  c16 calls/s / (cores × 1000 / CPU ms) ${(r.c16.perSecond / limit * 100).toFixed(0).padStart(3)} % [≥ 85 %]`);
    }
    for (const r of rows.filter((x) => x.label.startsWith('DIY'))) {
      console.log(`  ${r.label.padEnd(20)} c1 p50 / raw BullMQ p50 ${(r.c1.p50 / rawP50).toFixed(1).padStart(5)}x          CPU / node -e 0 ${(r.cpuMs / bare.cpuMs).toFixed(2).padStart(5)}x`);
    }
    await tracingOverhead(redis.url, cacheDir);
  } finally {
    await redis.stop();
    rmSync(cacheDir, { recursive: true, force: true });
    rmSync(diyDir, { recursive: true, force: true });
  }
}

await main();
