import { Counter, Gauge, Histogram, Registry } from 'prom-client';

// The Prometheus metrics of one process (gateway, worker, or both under `pidbox dev`), all named
// `pidbox_…`. Served as text on GET /metrics. Units are in the names (seconds, _total counters).

export type QueueCounts = () => Promise<Record<string, number>>;

export interface Metrics {
  readonly registry: Registry;
  /** Finished invocations by function and outcome (succeeded, failed, timed_out, cancelled). */
  readonly invocations: Counter<'function' | 'outcome'>;
  /** Time from enqueue to a worker starting the job. */
  readonly queueWait: Histogram<'function'>;
  /** Sandbox spawn → function started. */
  readonly sandboxStart: Histogram<'function'>;
  /** Function started → exited. */
  readonly functionRun: Histogram<'function'>;
  /** Sandboxes alive in this process now. */
  readonly sandboxesRunning: Gauge;
  /** Zombies the sandboxes' inits reaped (orphans of the functions). */
  readonly zombiesReaped: Counter<'function'>;
  /** Invocations accepted by the gateway, by function and mode (sync, async, batch). */
  readonly accepted: Counter<'function' | 'mode'>;
  /** CPU time of the functions' processes, from their cgroups. */
  readonly functionCpu: Counter<'function'>;
  /** Most memory one run of a function used at once, from its cgroup. */
  readonly functionMemoryPeak: Histogram<'function'>;
  /** Runs the kernel's OOM killer ended (memoryMb reached). */
  readonly outOfMemory: Counter<'function'>;
  /** Sandboxes a call ran in, by function and start: `warm` (pre-started) or `cold`. */
  readonly sandboxStarts: Counter<'function' | 'start'>;
  /**
   * Reads the pre-started sandboxes ready now at each scrape, by what they are kept for (a
   * function's name, or `*exec` / `*node` for the reserve).
   */
  watchPool(figures: () => Record<string, number>): void;
  /**
   * Reads the queue's job counts on each scrape. One source: a later call replaces an earlier one,
   * so a gateway and a worker sharing a registry (`pidbox dev`) do not count the queue twice.
   */
  watchQueue(counts: QueueCounts): void;
  render(): Promise<string>;
  readonly contentType: string;
}

const START_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5];
const RUN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const MIB = 1024 * 1024;
const MEMORY_BUCKETS = [1, 4, 16, 32, 64, 128, 256, 512, 1024, 4096].map((mib) => mib * MIB);

export function createMetrics(): Metrics {
  const registry = new Registry();
  // prom-client's default metrics name three gauges *_total, which promtool rejects; the process
  // figures worth having are these two.
  new Gauge({
    name: 'pidbox_process_resident_memory_bytes',
    help: 'Resident memory of this process.',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Counter({
    name: 'pidbox_process_cpu_seconds_total',
    help: 'User and system CPU time of this process.',
    registers: [registry],
    collect() {
      const { user, system } = process.cpuUsage();
      this.reset();
      this.inc((user + system) / 1e6);
    },
  });
  let queueSource: QueueCounts | null = null;
  let poolSource: (() => Record<string, number>) | null = null;
  new Gauge({
    name: 'pidbox_sandbox_pool',
    help: 'Pre-started sandboxes ready now, by what they are kept for (a function, or *exec / *node for any).',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [pool, n] of Object.entries(poolSource?.() ?? {})) this.set({ pool }, n);
    },
  });
  new Gauge({
    name: 'pidbox_queue_jobs',
    help: 'Jobs in the invocation queue by state.',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      if (!queueSource) return;
      try {
        for (const [state, n] of Object.entries(await queueSource())) this.set({ state }, n);
      } catch {
        // Redis unreachable: the gauge stays empty for this scrape; /readyz tells why.
      }
    },
  });
  return {
    registry,
    invocations: new Counter({
      name: 'pidbox_invocations_total',
      help: 'Finished invocations by function and outcome.',
      labelNames: ['function', 'outcome'],
      registers: [registry],
    }),
    queueWait: new Histogram({
      name: 'pidbox_queue_wait_seconds',
      help: 'Time from enqueue to a worker starting the invocation.',
      labelNames: ['function'],
      buckets: RUN_BUCKETS,
      registers: [registry],
    }),
    sandboxStart: new Histogram({
      name: 'pidbox_sandbox_start_seconds',
      help: 'Sandbox spawn to the function started, in a fresh PID namespace.',
      labelNames: ['function'],
      buckets: START_BUCKETS,
      registers: [registry],
    }),
    functionRun: new Histogram({
      name: 'pidbox_function_run_seconds',
      help: 'Function started to exited.',
      labelNames: ['function'],
      buckets: RUN_BUCKETS,
      registers: [registry],
    }),
    sandboxesRunning: new Gauge({
      name: 'pidbox_sandboxes_running',
      help: 'Sandboxes alive in this process.',
      registers: [registry],
    }),
    zombiesReaped: new Counter({
      name: 'pidbox_zombies_reaped_total',
      help: 'Zombie processes reaped by the sandboxes\' inits.',
      labelNames: ['function'],
      registers: [registry],
    }),
    accepted: new Counter({
      name: 'pidbox_invocations_accepted_total',
      help: 'Invocations accepted by the gateway, by function and mode.',
      labelNames: ['function', 'mode'],
      registers: [registry],
    }),
    functionCpu: new Counter({
      name: 'pidbox_function_cpu_seconds_total',
      help: 'CPU time (user and system) of the functions\' processes, from their cgroups.',
      labelNames: ['function'],
      registers: [registry],
    }),
    functionMemoryPeak: new Histogram({
      name: 'pidbox_function_memory_peak_bytes',
      help: 'Most memory one run used at once, its /tmp included, from its cgroup.',
      labelNames: ['function'],
      buckets: MEMORY_BUCKETS,
      registers: [registry],
    }),
    outOfMemory: new Counter({
      name: 'pidbox_function_out_of_memory_total',
      help: 'Runs ended by the kernel\'s OOM killer at their memory limit.',
      labelNames: ['function'],
      registers: [registry],
    }),
    sandboxStarts: new Counter({
      name: 'pidbox_sandbox_starts_total',
      help: 'Sandboxes calls ran in, by function and start: warm (pre-started) or cold.',
      labelNames: ['function', 'start'],
      registers: [registry],
    }),
    watchPool(figures) {
      poolSource = figures;
    },
    watchQueue(counts) {
      queueSource = counts;
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
