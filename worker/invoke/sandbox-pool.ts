// Sandboxes started before the calls come, each used exactly once (prepared-sandbox.ts). The pool
// keeps, for every function called lately, as many of its own as its call rate needs (its folder
// mounted, a node function's bundle imported), plus a reserve that fits any function, per runtime;
// all within a count and a memory bound. A function not called for a while loses its own; a
// function that changed has its old ones ended before a call could take them. A burst beyond what
// is ready starts cold, as without a pool: it never waits for one.
import { availableParallelism } from 'node:os';
import type { FunctionInfo } from '../../registry/function-registry.js';
import type { Logger } from '../../telemetry/logger.js';
import type { NodeBuilder } from '../runtimes/node-build.js';
import type { SandboxHost } from '../sandbox/sandbox-host.js';
import type { SandboxLimits } from '../sandbox/spawn-sandbox.js';
import { functionEnv } from './function-env.js';
import { functionVersion, prepareSandbox, type Assignment, type PreparedSandbox, type Runtime, type SandboxShape } from './prepared-sandbox.js';

export interface SandboxPoolOptions {
  host: SandboxHost;
  builder: NodeBuilder;
  /** Most sandboxes kept ready at once (0: no pool, every start is cold). Env PIDBOX_POOL_SIZE. */
  maxSandboxes: number;
  /** Most memory the sandboxes kept ready may use together, MiB. Env PIDBOX_POOL_MEMORY_MB. */
  maxMemoryMb: number;
  /** A function not called for this long loses its sandboxes, ms. Env PIDBOX_POOL_IDLE_MS. */
  idleMs: number;
  /** Sandboxes kept for functions that have none of their own, per runtime. Env PIDBOX_POOL_RESERVE. */
  reserve: number;
  /** Limits of a sandbox while it waits (and /tmp's size of the reserve's). */
  limits: (fn: FunctionInfo | null) => SandboxLimits;
  /** The most a node function's result may take. */
  maxResultBytes: number;
  /** Whether invocations are traced (a node function's spans are recorded only then). */
  tracing: boolean;
  /** Time between SIGTERM and SIGKILL when a call times out. */
  killGraceMs?: number;
  log?: Pick<Logger, 'warn'>;
}

export interface PoolFigures {
  /** Sandboxes ready now, by what they are kept for: a function's name, or `*exec` / `*node` for the reserve. */
  ready: Record<string, number>;
}

interface Entry {
  prepared: PreparedSandbox;
  shape: SandboxShape;
  /** The function it was made for, or null (the reserve). */
  fn: string | null;
  version: string | null;
  state: 'starting' | 'ready';
  /** What it uses while it waits, measured when it became ready (an estimate until then). */
  memoryBytes: number;
}

interface Demand {
  fn: FunctionInfo;
  shape: SandboxShape;
  /** When its recent calls came, ms (the last ten seconds). */
  calls: number[];
  lastCallAt: number;
  /** When pre-starting one for it last failed (its module does not load, say), ms; 0 when it did not. */
  failedAt: number;
}

/** Rate window for a function's demand. */
const RATE_WINDOW_MS = 10_000;
/** Before any start is measured, what one is assumed to take (ms) and use (bytes), by runtime. */
const START_ESTIMATE_MS: Record<Runtime, number> = { exec: 50, node: 150 };
/** Resident memory of a ready sandbox's processes, measured: the init (exec), the init and the node host (node). */
const MEMORY_ESTIMATE: Record<Runtime, number> = { exec: 40 << 20, node: 90 << 20 };
const MAINTAIN_EVERY_MS = 1000;
/** How long after a call's answer its sandbox's replacement starts, ms (callEnded). */
const REPLACE_AFTER_MS = 10;
/** Starts at once: as many as there are cores. */
const START_CONCURRENCY = availableParallelism();
/** Pre-started sandboxes start at this CPU weight (100 is a fair share): their start takes no core from a running call. */
const PRESTART_CPU_WEIGHT = 10;
/** A function whose sandbox could not be pre-started is not tried again for this long. */
const RETRY_AFTER_FAILURE_MS = 30_000;

export class SandboxPool {
  private readonly entries = new Set<Entry>();
  private readonly demand = new Map<string, Demand>();
  private readonly startMs: Record<Runtime, number> = { ...START_ESTIMATE_MS };
  private readonly timer: NodeJS.Timeout;
  private starting = 0;
  private closed = false;

  constructor(private readonly options: SandboxPoolOptions) {
    this.timer = setInterval(() => this.maintain(), MAINTAIN_EVERY_MS);
    this.timer.unref();
    this.maintain();
  }

  /**
   * A ready sandbox for `fn`: one of its own of its current version, else one of the reserve, given
   * the function now; null when there is none (the caller starts one cold).
   */
  async take(fn: FunctionInfo, shape: SandboxShape): Promise<PreparedSandbox | null> {
    this.noteCall(fn, shape);
    try {
      if (this.options.maxSandboxes === 0 || this.closed) return null;
      // Its replacement starts once the call has been answered (callEnded).
      const version = await this.versionOf(fn);
      for (const entry of this.entries) {
        if (entry.fn !== fn.name || !sameShape(entry.shape, shape)) continue;
        if (entry.version !== version) {
          // The function changed since this one was made: it never runs.
          this.end(entry);
          continue;
        }
        if (entry.state === 'ready') return this.hand(entry);
      }
      for (const entry of this.entries) {
        if (entry.fn !== null || entry.state !== 'ready' || !sameShape(entry.shape, shape)) continue;
        this.entries.delete(entry);
        this.afterCall(entry.prepared);
        try {
          const assignment = await this.assignmentOf(fn);
          try {
            await entry.prepared.assign(assignment.assignment);
          } finally {
            assignment.close();
          }
          return entry.prepared;
        } catch (error) {
          entry.prepared.destroy();
          setImmediate(() => this.maintain());
          this.options.log?.warn('a pre-started sandbox could not take its function; starting cold', { function: fn.name, error: (error as Error).message });
          return null;
        }
      }
      // Nothing fits: the call starts cold, and the pool catches up with this function at the next turn.
      setImmediate(() => this.maintain());
      return null;
    } catch (error) {
      setImmediate(() => this.maintain());
      throw error;
    }
  }

  /**
   * A call's answer is out (its record final, its `finished` published): the sandbox it took is
   * replaced REPLACE_AFTER_MS later. A replacement's spawn holds this process's event loop for
   * milliseconds (a fork of the worker, a cgroup's making); started at once, it sits in front of the
   * answer's last steps (a gateway in this process reading the record and responding, the job's
   * completion): measured, warm sync calls took ~14 ms with it there and ~10.5 ms without. Without
   * this signal the pool catches up at its next maintenance (within a second).
   */
  callEnded(): void {
    if (this.closed) return;
    setTimeout(() => this.maintain(), REPLACE_AFTER_MS).unref();
  }

  /** A sandbox handed to a call gets a fair share of the CPU. */
  private afterCall(prepared: PreparedSandbox): void {
    prepared.sandbox.setCpuWeight(100);
  }

  /** Sandboxes ready now, by what they are kept for. */
  figures(): PoolFigures {
    const ready: Record<string, number> = {};
    for (const entry of this.entries) {
      if (entry.state !== 'ready') continue;
      const key = entry.fn ?? `*${entry.shape.runtime}`;
      ready[key] = (ready[key] ?? 0) + 1;
    }
    return { ready };
  }

  /** Ends every sandbox it keeps; the ones still starting too. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const ending = [...this.entries].map((entry) => entry.prepared.sandbox.closed);
    for (const entry of this.entries) entry.prepared.destroy();
    this.entries.clear();
    await Promise.all(ending);
  }

  private hand(entry: Entry): PreparedSandbox {
    this.entries.delete(entry);
    this.afterCall(entry.prepared);
    return entry.prepared;
  }

  private end(entry: Entry): void {
    this.entries.delete(entry);
    entry.prepared.destroy();
  }

  private noteCall(fn: FunctionInfo, shape: SandboxShape): void {
    const now = Date.now();
    const key = `${fn.name}\0${shape.runtime}\0${shape.network}\0${shape.tmpMb}`;
    const demand = this.demand.get(key) ?? { fn, shape, calls: [], lastCallAt: now, failedAt: 0 };
    demand.fn = fn;
    demand.lastCallAt = now;
    demand.calls.push(now);
    while (demand.calls.length > 0 && demand.calls[0]! < now - RATE_WINDOW_MS) demand.calls.shift();
    this.demand.set(key, demand);
  }

  private async versionOf(fn: FunctionInfo): Promise<string> {
    return functionVersion(fn, fn.runtime === 'node' ? (await this.options.builder.bundle(fn)).sha256 : '');
  }

  /** What a sandbox needs to be given `fn`; `close` after it was assigned (the bundle's descriptor). */
  private async assignmentOf(fn: FunctionInfo): Promise<{ assignment: Assignment; close: () => void }> {
    if (fn.runtime !== 'node') return { assignment: { fn, env: functionEnv(fn) }, close: () => {} };
    const bundle = await this.options.builder.load(fn);
    return {
      assignment: {
        fn,
        bundle: { file: `/proc/self/fd/${bundle.fd}`, sha256: bundle.sha256 },
        env: functionEnv(fn),
        tracing: bundle.importsOpenTelemetry && this.options.tracing,
      },
      close: () => bundle.close(),
    };
  }

  /** What should be kept: the reserve, then each function called lately as its rate needs, busiest first. */
  private wanted(now: number): Array<{ fn: FunctionInfo | null; shape: SandboxShape; count: number }> {
    const wanted: Array<{ fn: FunctionInfo | null; shape: SandboxShape; count: number; rate: number }> = [];
    const reserveLimits = this.options.limits(null);
    for (const runtime of ['exec', 'node'] as const) {
      wanted.push({ fn: null, shape: { runtime, network: 'loopback', tmpMb: reserveLimits.tmpMb }, count: this.options.reserve, rate: Infinity });
    }
    for (const [key, demand] of this.demand) {
      if (now - demand.lastCallAt > this.options.idleMs) {
        this.demand.delete(key);
        continue;
      }
      if (now - demand.failedAt < RETRY_AFTER_FAILURE_MS) continue;
      const rate = demand.calls.filter((at) => at >= now - RATE_WINDOW_MS).length / (RATE_WINDOW_MS / 1000);
      // Enough to cover the calls that come while a used one is replaced, twice over; at least one
      // while the function is in use at all.
      const count = Math.max(1, Math.ceil(rate * (this.startMs[demand.shape.runtime] / 1000) * 2));
      wanted.push({ fn: demand.fn, shape: demand.shape, count, rate });
    }
    return wanted.sort((a, b) => b.rate - a.rate);
  }

  /** Ends what is no longer wanted and starts what is missing, within the pool's bounds. */
  private maintain(): void {
    if (this.closed || this.options.maxSandboxes === 0) return;
    const now = Date.now();
    const wanted = this.wanted(now);
    const keep = new Set<Entry>();
    const toStart: Array<{ fn: FunctionInfo | null; shape: SandboxShape }> = [];
    let count = 0;
    let memory = 0;
    for (const want of wanted) {
      const have = [...this.entries].filter((e) => e.fn === (want.fn?.name ?? null) && sameShape(e.shape, want.shape));
      for (let i = 0; i < want.count; i++) {
        const estimate = have[i]?.memoryBytes ?? MEMORY_ESTIMATE[want.shape.runtime];
        if (count >= this.options.maxSandboxes || memory + estimate > this.options.maxMemoryMb * 1024 * 1024) break;
        count++;
        memory += estimate;
        if (have[i]) keep.add(have[i]!);
        else toStart.push({ fn: want.fn, shape: want.shape });
      }
    }
    for (const entry of this.entries) if (!keep.has(entry)) this.end(entry);
    // Starts take CPU from the calls running now: a few at a time, as many as there are cores.
    for (const start of toStart) {
      if (this.starting >= START_CONCURRENCY) break;
      void this.start(start.fn, start.shape);
    }
  }

  private async start(fn: FunctionInfo | null, shape: SandboxShape): Promise<void> {
    this.starting++;
    const began = performance.now();
    let assignment: { assignment: Assignment; close: () => void } | null = null;
    let entry: Entry | null = null;
    try {
      assignment = fn ? await this.assignmentOf(fn) : null;
      if (this.closed) return;
      const prepared = prepareSandbox({
        host: this.options.host,
        shape,
        limits: this.options.limits(fn),
        maxResultBytes: this.options.maxResultBytes,
        ...(this.options.killGraceMs !== undefined ? { killGraceMs: this.options.killGraceMs } : {}),
        ...(assignment ? { assign: assignment.assignment } : {}),
        cpuWeight: PRESTART_CPU_WEIGHT,
      });
      assignment?.close();
      assignment = null;
      entry = {
        prepared,
        shape,
        fn: fn?.name ?? null,
        version: prepared.assigned?.version ?? null,
        state: 'starting',
        memoryBytes: MEMORY_ESTIMATE[shape.runtime],
      };
      this.entries.add(entry);
      await prepared.ready;
      if (!this.entries.has(entry)) return;
      entry.state = 'ready';
      // Its cgroup's figure, but never less than the estimate: on cgroup v1 what the init used
      // before it joined its cgroup stays charged to the worker's.
      entry.memoryBytes = Math.max(prepared.sandbox.memoryBytes(), MEMORY_ESTIMATE[shape.runtime]);
      const took = performance.now() - began;
      this.startMs[shape.runtime] = this.startMs[shape.runtime] * 0.8 + took * 0.2;
    } catch (error) {
      // Ended by the pool itself while it started (closed, or its function changed): no failure.
      if (this.closed || (entry && !this.entries.has(entry))) return;
      if (entry) this.end(entry);
      if (fn) for (const demand of this.demand.values()) if (demand.fn.name === fn.name) demand.failedAt = Date.now();
      // A function whose module fails to load, or a machine that cannot start sandboxes now: its
      // calls start cold and say why; the pool does not try again until the next maintenance.
      this.options.log?.warn('a sandbox could not be pre-started', { function: fn?.name ?? null, error: (error as Error).message });
    } finally {
      assignment?.close();
      this.starting--;
      if (!this.closed) setImmediate(() => this.maintain());
    }
  }
}

function sameShape(a: SandboxShape, b: SandboxShape): boolean {
  return a.runtime === b.runtime && a.network === b.network && a.tmpMb === b.tmpMb;
}
