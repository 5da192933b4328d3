// The soak, as `npm run bench:soak` and test/soak.test.ts both run it: a redis-server with an
// append-only file, a `pidbox gateway` and two `pidbox worker` processes; async invocations of an
// exec function (`echo`) and a node one (`hello`), at most `inFlight` of them unfinished at once;
// along the way one worker is SIGKILLed (and a new one started) and redis-server is restarted on the
// same port and data. Then every accepted invocation is read back through the gateway: none may be
// lost. Redis is not mocked and no worker is in this process, so what is measured is what runs.
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { FINAL_STATUSES, type InvocationStatus } from '../contracts/invocation.js';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import { startEmbeddedRedis } from '../dev/embedded-redis.js';
import { closeRedisClient, createRedisClient } from '../redis/redis-client.js';
import { INVOCATIONS_QUEUE, redisKeys, type RedisKeys } from '../redis/redis-keys.js';
import { DEFAULT_RUN_DIR } from '../worker/sandbox/sandbox-host.js';
import { leftoverCgroups } from '../test/support/cgroups.js';
import { isAlive, pidNamespaceOf } from '../test/support/processes.js';
import { spawnGateway, type GatewayProcess } from '../test/support/gateway-process.js';
import { spawnWorker, type WorkerProcess } from '../test/support/worker-process.js';
import { cleanUpAfterKilledWorkers } from '../test/support/sandbox-state.js';

const SAMPLES = fileURLToPath(new URL('../../functions', import.meta.url));
const PREFIX = 'soak';

export interface SoakOptions {
  /** Invocations to have accepted, half `echo` (exec) and half `hello` (node). Default: 10000. */
  count?: number;
  /** Most invocations submitted and not yet finished at once. Default: 32. */
  inFlight?: number;
  /** Invocations each worker runs at once (PIDBOX_WORKER_CONCURRENCY). Default: the machine's cores. */
  workerConcurrency?: number;
  /** Accepted invocations after which one worker is SIGKILLed and a new one started. Default: 30 % of `count`. */
  killWorkerAfter?: number;
  /** Accepted invocations after which redis-server is restarted. Default: 60 % of `count`. */
  restartRedisAfter?: number;
  /**
   * The workers' job lock (PIDBOX_LOCK_DURATION_MS): how long the jobs of the killed worker stay
   * taken before another worker runs them again. Default: 10000.
   */
  lockDurationMs?: number;
  /** How often workers look for stalled jobs (PIDBOX_STALLED_INTERVAL_MS). Default: 2000. */
  stalledIntervalMs?: number;
  /** Longest wait for one accepted invocation to finish before it counts as lost. Default: 120000. */
  finishTimeoutMs?: number;
  /** Wait before a submission refused during the outage is made again. Default: 200. */
  retryDelayMs?: number;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
}

export interface SoakResult {
  count: number;
  inFlight: number;
  workerConcurrency: number;
  accepted: number;
  succeeded: number;
  /** Final but not succeeded (failed, timed out, cancelled). */
  failed: number;
  /** Accepted, but no final record at the end. */
  lost: number;
  /** Final records with `attempts` > 1: run again after their worker was lost. */
  ranTwice: number;
  /** Submissions made again after a 5xx or a connection error, by reason. */
  retried: number;
  retriedBy: Record<string, number>;
  /** Finished invocations a second, from the first `createdAt` to the last `finishedAt`. */
  perSecond: number;
  /** createdAt → finishedAt of the succeeded ones, ms. */
  p50Ms: number;
  p99Ms: number;
  wallMs: number;
  /** VmRSS of the two workers, bytes: just started, and at the end (the second one then is the replacement). */
  workerRssStart: number[];
  workerRssEnd: number[];
  /** Redis INFO used_memory, bytes: before the first invocation and once every one finished. */
  redisMemoryStart: number;
  redisMemoryEnd: number;
  /**
   * Keys that would stay in Redis for ever once every invocation finished: records or logs without an
   * expiry, BullMQ job hashes of invocations (none, when retention works).
   */
  unbounded: string[];
  /** Records and logs found with an expiry at the end (at least one per accepted invocation). */
  expiring: number;
  /** Workers that exited though nobody stopped them, with how and what they said last (none, when all is well). */
  workerExits: string[];
  /** What the stopped workers left: processes, cgroups or run folders (none, when all is well). */
  leftovers: string[];
  /** Accepted invocations by status at the end (`missing`: no record). */
  statuses: Record<string, number>;
}

type Lane = { fn: 'echo' | 'hello'; body: string };

export async function runSoak(options: SoakOptions = {}): Promise<SoakResult> {
  const count = options.count ?? 10_000;
  const inFlight = options.inFlight ?? 32;
  const workerConcurrency = options.workerConcurrency ?? availableParallelism();
  const killWorkerAfter = options.killWorkerAfter ?? Math.floor(count * 0.3);
  const restartRedisAfter = options.restartRedisAfter ?? Math.floor(count * 0.6);
  const finishTimeoutMs = options.finishTimeoutMs ?? 120_000;
  const retryDelayMs = options.retryDelayMs ?? 200;
  const log = options.log ?? (() => {});

  const redis = await startEmbeddedRedis({ listen: 'tcp', appendOnly: true });
  const cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-soak-cache-'));
  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    PIDBOX_REDIS_PREFIX: PREFIX,
    PIDBOX_FUNCTIONS_DIR: SAMPLES,
    PIDBOX_CACHE_DIR: cacheDir,
    // The soak bounds what is outstanding itself; the gateway's own limit is not what is measured.
    PIDBOX_MAX_QUEUED: String(Math.max(10_000, inFlight * 4)),
  };
  const workerEnv = {
    ...env,
    PIDBOX_WORKER_CONCURRENCY: String(workerConcurrency),
    PIDBOX_LOCK_DURATION_MS: String(options.lockDurationMs ?? 10_000),
    PIDBOX_STALLED_INTERVAL_MS: String(options.stalledIntervalMs ?? 2000),
  };
  const started = performance.now();
  const workers: WorkerProcess[] = [];
  let gateway: GatewayProcess | null = null;
  const killed = new Set<number>();
  const workerExits: string[] = [];
  let stopping = false;
  /** Starts a worker, and notes it if it ever exits before the soak stops it. */
  const startWorker = async (): Promise<WorkerProcess> => {
    const worker = await spawnWorker(workerEnv);
    workers.push(worker);
    void worker.exited.then(({ code, signal }) => {
      if (stopping || killed.has(worker.pid)) return;
      const said = worker.output().trim().split('\n').slice(-5).join(' | ');
      const line = `worker ${worker.pid} exited by itself (${signal ?? `code ${code}`}) at ${((performance.now() - started) / 1000).toFixed(1)} s: ${said}`;
      workerExits.push(line);
      log(line);
    });
    return worker;
  };
  // The soak's own view of Redis: statuses while it waits, used_memory; it reconnects as pidbox's do.
  const client = createRedisClient(redis.url, { name: 'pidbox-soak', log: { error: () => {} } });
  const keys = redisKeys(PREFIX);
  try {
    gateway = await spawnGateway(env);
    await startWorker();
    await startWorker();
    const workerRssStart = workers.map((w) => rssOf(w.pid));
    const redisMemoryStart = await usedMemory(client);
    log(`redis ${redis.pid}, gateway ${gateway.pid}, workers ${workers.map((w) => w.pid).join(' and ')}; ${count} invocations, ${inFlight} in flight`);

    const ids: string[] = [];
    const retriedBy: Record<string, number> = {};
    const waiter = new FinishWaiter(client, keys.invocation);
    const faults: Promise<void>[] = [];
    // Awaited once every invocation is in; marked handled now, so that a failure is not an unhandled rejection meanwhile.
    const fault = (run: () => Promise<void>): void => {
      const p = run();
      p.catch(() => {});
      faults.push(p);
    };
    let next = 0;
    let lastReport = 0;
    const afterAccepted = (): void => {
      const accepted = ids.length;
      if (accepted === killWorkerAfter) {
        fault(async () => {
          const victim = workers[0]!;
          killed.add(victim.pid);
          victim.child.kill('SIGKILL');
          await victim.exited;
          log(`${accepted} accepted: worker ${victim.pid} SIGKILLed`);
          const replacement = await startWorker();
          log(`worker ${replacement.pid} started in its place`);
        });
      }
      if (accepted === restartRedisAfter) {
        fault(async () => {
          const before = redis.pid;
          const t = performance.now();
          await redis.restart();
          log(`${accepted} accepted: redis-server restarted (${before} → ${redis.pid}, ${Math.round(performance.now() - t)} ms down)`);
        });
      }
      if (accepted - lastReport >= Math.max(100, Math.floor(count / 10))) {
        lastReport = accepted;
        log(`${accepted} accepted, ${waiter.finished} finished`);
      }
    };
    const submitOne = async (lane: Lane): Promise<string> => {
      // An outage of Redis lasts a second or two; a gateway that refuses for a minute is broken.
      const until = Date.now() + 60_000;
      for (;;) {
        const reason = await submit(gateway!.url, lane).then((id) => ({ id }), (error: Error) => ({ error }));
        if ('id' in reason) return reason.id;
        if (!(reason.error instanceof Retryable)) throw reason.error;
        if (Date.now() > until) throw new Error(`the gateway refused a submission for a minute (${reason.error.message}): ${gateway!.output().slice(-2000)}`);
        retriedBy[reason.error.message] = (retriedBy[reason.error.message] ?? 0) + 1;
        await delay(retryDelayMs);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const n = next++;
        const lane: Lane = n % 2 === 0 ? { fn: 'echo', body: `soak ${n}` } : { fn: 'hello', body: `soak${n}` };
        const id = await submitOne(lane);
        ids.push(id);
        afterAccepted();
        await waiter.until(id, finishTimeoutMs);
      }
    }));
    await Promise.all(faults);
    waiter.stop();
    log(`${ids.length} accepted, ${waiter.finished} finished; reading every record`);

    const records = await readRecords(gateway.url, ids);
    const workerRssEnd = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null).map((w) => rssOf(w.pid));
    const redisMemoryEnd = await usedMemory(client);
    const { unbounded, expiring } = await retentionOf(client, keys);
    const wallMs = performance.now() - started;
    const statuses: Record<string, number> = {};
    for (const r of records) statuses[r?.status ?? 'missing'] = (statuses[r?.status ?? 'missing'] ?? 0) + 1;
    const finals = records.filter((r): r is InvocationRecord => r !== null && isFinal(r.status));
    const succeeded = finals.filter((r) => r.status === 'succeeded');
    const latencies = succeeded.map((r) => Date.parse(r.finishedAt!) - Date.parse(r.createdAt)).sort((a, b) => a - b);
    const first = Math.min(...finals.map((r) => Date.parse(r.createdAt)));
    const last = Math.max(...finals.map((r) => Date.parse(r.finishedAt ?? r.createdAt)));

    stopping = true;
    await stopAll(gateway, workers);
    const leftovers = await leftoversOf(workers, finals);
    return {
      count,
      inFlight,
      workerConcurrency,
      accepted: ids.length,
      succeeded: succeeded.length,
      failed: finals.length - succeeded.length,
      lost: ids.length - finals.length,
      ranTwice: finals.filter((r) => r.attempts > 1).length,
      retried: Object.values(retriedBy).reduce((a, b) => a + b, 0),
      retriedBy,
      perSecond: finals.length / ((last - first) / 1000),
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      wallMs,
      workerRssStart,
      workerRssEnd,
      redisMemoryStart,
      redisMemoryEnd,
      unbounded,
      expiring,
      workerExits,
      leftovers,
      statuses,
    };
  } finally {
    stopping = true;
    await stopAll(gateway, workers);
    await closeRedisClient(client);
    await redis.stop();
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

/** The printed table. */
export function formatSoak(r: SoakResult): string {
  const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  const reasons = Object.entries(r.retriedBy).map(([why, n]) => `${why}: ${n}`).join(', ');
  const rows: Array<[string, string]> = [
    ['accepted', `${r.accepted} of ${r.count}`],
    ['succeeded', String(r.succeeded)],
    ['failed', String(r.failed)],
    ['lost', String(r.lost)],
    ['run twice', `${r.ranTwice} (attempts > 1)`],
    ['submissions retried', `${r.retried}${reasons ? ` (${reasons})` : ''}`],
    ['throughput', `${r.perSecond.toFixed(1)} invocations/s (first created → last finished)`],
    ['latency p50', `${r.p50Ms} ms (created → finished)`],
    ['latency p99', `${r.p99Ms} ms`],
    ['worker RSS', `${r.workerRssStart.map(mb).join(' + ')} at start → ${r.workerRssEnd.map(mb).join(' + ')} at end`],
    ['Redis used_memory', `${mb(r.redisMemoryStart)} at start → ${mb(r.redisMemoryEnd)} at end (every record kept)`],
    ['kept for ever', r.unbounded.length === 0 ? `nothing (${r.expiring} records and logs, each with an expiry; no BullMQ job left)` : `${r.unbounded.length} keys, such as ${r.unbounded.slice(0, 3).join(', ')}`],
    ['wall time', `${(r.wallMs / 1000).toFixed(0)} s`],
    ['workers that died by themselves', r.workerExits.length === 0 ? 'none' : r.workerExits.join('; ')],
    ['left behind', r.leftovers.length === 0 ? 'nothing' : r.leftovers.join(', ')],
  ];
  return rows.map(([what, value]) => `| ${what} | ${value} |`).join('\n');
}

/** Refused for now (a 5xx, or no answer): try again after a moment. */
class Retryable extends Error {}

async function submit(gatewayUrl: string, lane: Lane): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${gatewayUrl}/functions/${lane.fn}/invocations`, { method: 'POST', body: lane.body, signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    throw new Retryable(`no answer (${(error as Error).name})`);
  }
  const text = await res.text();
  if (res.status === 202) return (JSON.parse(text) as { id: string }).id;
  if (res.status >= 500) {
    const code = (() => {
      try {
        return (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '';
      } catch {
        return '';
      }
    })();
    throw new Retryable(`${res.status}${code ? ` ${code}` : ''}`);
  }
  throw new Error(`POST /functions/${lane.fn}/invocations answered ${res.status}: ${text}`);
}

/**
 * Resolves `until(id)` once the record of `id` is final, from one pipelined HGET of every waited-for
 * id every 100 ms (the gateway is for the submissions; this load is not what is measured). A Redis
 * that is down is asked again at the next tick.
 */
class FinishWaiter {
  finished = 0;
  private readonly waiting = new Map<string, () => void>();
  private readonly timer: NodeJS.Timeout;
  private polling = false;

  constructor(private readonly redis: Redis, private readonly keyOf: (id: string) => string) {
    this.timer = setInterval(() => void this.poll(), 100);
  }

  until(id: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      // Given up on after `timeoutMs`: it then counts as lost, and its lane goes on.
      const timer = setTimeout(() => done(), timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve();
      };
      this.waiting.set(id, () => {
        this.finished++;
        done();
      });
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.waiting.size === 0) return;
    this.polling = true;
    try {
      const ids = [...this.waiting.keys()];
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hget(this.keyOf(id), 'status');
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([error, status], i) => {
        if (!error && isFinal(status as InvocationStatus)) this.waiting.get(ids[i]!)?.();
      });
    } catch {
      // Redis is restarting: the next tick asks again.
    } finally {
      this.polling = false;
    }
  }
}

/** Every record through the gateway's GET /invocations/{id}, 16 at a time; null where there is none. */
async function readRecords(gatewayUrl: string, ids: string[]): Promise<Array<InvocationRecord | null>> {
  const records: Array<InvocationRecord | null> = new Array(ids.length).fill(null);
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < ids.length) {
      const i = next++;
      const res = await fetch(`${gatewayUrl}/invocations/${ids[i]}`);
      if (res.status === 200) records[i] = (await res.json()) as InvocationRecord;
      else if (res.status === 404) await res.arrayBuffer();
      else throw new Error(`GET /invocations/${ids[i]} answered ${res.status}: ${await res.text()}`);
    }
  }));
  return records;
}

async function stopAll(gateway: GatewayProcess | null, workers: WorkerProcess[]): Promise<void> {
  await Promise.all([gateway?.kill(), ...workers.map((w) => w.kill())]);
}

/**
 * What the workers left once stopped: a sandbox still running (a process in one of their cgroups,
 * or a record's sandbox init still alive in its pid namespace), their cgroups, their run folders.
 * The killed worker's are removed first, as the next worker of the host would.
 */
async function leftoversOf(workers: WorkerProcess[], records: InvocationRecord[]): Promise<string[]> {
  await cleanUpAfterKilledWorkers();
  const names = workers.map((w) => `pidbox-${w.pid}-`);
  const found: string[] = [];
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) found.push(`worker ${w.pid} still runs`);
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let cgroup = '';
    try {
      cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      continue;
    }
    if (names.some((name) => cgroup.includes(name)) && isAlive(Number(pid))) found.push(`process ${pid} in a sandbox cgroup`);
  }
  for (const r of records) {
    if (r.sandbox && isAlive(r.sandbox.hostPid) && pidNamespaceOf(r.sandbox.hostPid) === r.sandbox.pidNamespace) found.push(`sandbox init ${r.sandbox.hostPid} of ${r.id}`);
  }
  for (const name of names) found.push(...leftoverCgroups(name));
  if (existsSync(DEFAULT_RUN_DIR)) found.push(...readdirSync(DEFAULT_RUN_DIR).filter((n) => names.some((name) => n.startsWith(name))).map((n) => join(DEFAULT_RUN_DIR, n)));
  return found;
}

/** Records and logs without an expiry, and invocation jobs BullMQ kept (every invocation has finished). */
async function retentionOf(redis: Redis, keys: RedisKeys): Promise<{ unbounded: string[]; expiring: number }> {
  const found: string[] = [];
  let expiring = 0;
  const records = await scan(redis, keys.invocation('*'));
  for (let i = 0; i < records.length; i += 1000) {
    const batch = records.slice(i, i + 1000);
    const pipeline = redis.pipeline();
    for (const key of batch) pipeline.ttl(key);
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([, ttl], j) => {
      if (ttl === -1) found.push(batch[j]!);
      else if (typeof ttl === 'number' && ttl > 0) expiring++;
    });
  }
  const jobs = await scan(redis, `${keys.bullPrefix}:${INVOCATIONS_QUEUE}:*`);
  found.push(...jobs.filter((key) => /:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(key)));
  return { unbounded: found, expiring };
}

async function scan(redis: Redis, match: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

/** VmRSS of a process, bytes; 0 once it is gone. */
function rssOf(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0);
}

function isFinal(status: InvocationStatus | null | undefined): boolean {
  return status !== null && status !== undefined && FINAL_STATUSES.includes(status);
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
