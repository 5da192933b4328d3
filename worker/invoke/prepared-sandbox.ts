// A sandbox made ready for one call before the call is known: the init waiting as PID 1 of its
// fresh namespaces, in its cgroup, under its limits and seccomp filter; for node functions, the
// node host running too, with Request and Response loaded and — once a function is assigned — its
// bundle imported. A call takes it, runs in it, and it is destroyed: nothing of one call can reach
// the next. The cold path makes one the same way, right when the call comes.
import type { FunctionInfo } from '../../registry/function-registry.js';
import type { SandboxHost } from '../sandbox/sandbox-host.js';
import { SANDBOX_PATH, SANDBOX_PATHS, spawnSandbox, type Sandbox, type SandboxLimits } from '../sandbox/spawn-sandbox.js';
import { LoadFailed, NodeHostChannel } from './node-host-channel.js';

export type Runtime = 'exec' | 'node';

/** What a sandbox is made for: two sandboxes of one shape are interchangeable until assigned. */
export interface SandboxShape {
  runtime: Runtime;
  network: 'loopback' | 'host';
  /** Size of /tmp (fixed when the sandbox starts), MiB. */
  tmpMb: number;
}

/** A function given to a prepared sandbox. */
export interface Assignment {
  fn: FunctionInfo;
  /** node: the bundle to mount (a path, or /proc/self/fd/N of a checked descriptor), its hash, and what its module gets. */
  bundle?: { file: string; sha256: string };
  /** node: the function's own environment, set before its module loads. */
  env?: Record<string, string>;
  /** node: record the function's spans. */
  tracing?: boolean;
}

export interface PrepareOptions {
  host: SandboxHost;
  shape: SandboxShape;
  /** Limits while it waits; a call sets its own. */
  limits: SandboxLimits;
  /** The most a node function's result may take (header and body). */
  maxResultBytes: number;
  /** Time between SIGTERM and SIGKILL of the init, when a call times out. */
  killGraceMs?: number;
  /** Assign a function now (a function's own pre-started sandbox, or a cold start). */
  assign?: Assignment;
  /** Its CPU weight while it starts and waits (SandboxOptions.cpuWeight); a call sets 100 again. Default: 100. */
  cpuWeight?: number;
}

export interface PreparedSandbox {
  readonly shape: SandboxShape;
  readonly sandbox: Sandbox;
  /** node: the host's channel. */
  readonly channel: NodeHostChannel | null;
  /** Resolves once it is ready for a call (and, when one was assigned, its function is loaded); rejects when it failed. */
  readonly ready: Promise<void>;
  /** The function assigned, with what identifies its version (folder, settings, bundle). */
  readonly assigned: { name: string; version: string } | null;
  /** Gives it a function (once): mounts its folder and, for node, its bundle, and loads it. */
  assign(assignment: Assignment): Promise<void>;
  /** Ends it (when it is not taken after all). */
  destroy(): void;
}

/** What identifies a function's version for a sandbox made for it: a changed one is not taken. */
export function functionVersion(fn: FunctionInfo, bundleSha256 = ''): string {
  return JSON.stringify([fn.dir, fn.entry, fn.config, bundleSha256]);
}

export function prepareSandbox(options: PrepareOptions): PreparedSandbox {
  const { shape } = options;
  const early = options.assign;
  // A function known now has its folder and bundle mounted before the sandbox starts.
  const sandbox = spawnSandbox(options.host, {
    network: shape.network,
    limits: { ...options.limits, tmpMb: shape.tmpMb },
    resultChannel: shape.runtime === 'node',
    ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
    ...(early ? { taskDir: early.fn.dir } : {}),
    ...(options.cpuWeight !== undefined ? { cpuWeight: options.cpuWeight } : {}),
    ...(early?.bundle ? { bundle: early.bundle.file } : {}),
  });
  const channel = shape.runtime === 'node' ? new NodeHostChannel(sandbox.result!, options.maxResultBytes) : null;
  const identify = (assignment: Assignment): PreparedSandbox['assigned'] => ({
    name: assignment.fn.name,
    version: functionVersion(assignment.fn, assignment.bundle?.sha256),
  });
  let assigned: PreparedSandbox['assigned'] = early ? identify(early) : null;
  let hostReady: Promise<void> = Promise.resolve();

  /** Loads the function into the host; the mounts are the caller's (before this). */
  const load = async (assignment: Assignment): Promise<void> => {
    if (!channel) return;
    await hostReady;
    // A module whose top level never ends would hold the sandbox: its load counts against the
    // function's timeout (an init phase, as in Lambda, with a limit of its own).
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        channel.load({ type: 'load', bundle: `${SANDBOX_PATHS.bundle}/index.mjs`, env: assignment.env ?? {}, tracing: assignment.tracing ?? false }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new LoadFailed({ name: 'LoadTimeout', message: `the module did not load within ${assignment.fn.config.timeoutMs} ms` })), assignment.fn.config.timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };

  const assign = (assignment: Assignment): Promise<void> => {
    if (assigned) return Promise.reject(new Error(`this sandbox already runs function "${assigned.name}"`));
    assigned = identify(assignment);
    // Synchronous, so that a bundle given as /proc/self/fd/N is mounted while the caller holds N.
    sandbox.mountTask(assignment.fn.dir);
    if (channel) sandbox.mountBundle(assignment.bundle!.file);
    return load(assignment);
  };

  const ready = (async () => {
    await sandbox.ready;
    sandbox.limit({ ...options.limits, tmpMb: shape.tmpMb });
    if (channel) {
      // The host is the function's process: it starts now, and waits for its function and its call.
      sandbox.run({
        argv: [SANDBOX_PATHS.node, `${SANDBOX_PATHS.runtime}/node-host.cjs`],
        env: [`PATH=${SANDBOX_PATH}`, `HOME=${SANDBOX_PATHS.tmp}`, `TMPDIR=${SANDBOX_PATHS.tmp}`, 'LANG=C.UTF-8'],
        cwd: SANDBOX_PATHS.task,
        resultChannel: true,
      });
      hostReady = channel.ready;
      await hostReady;
    }
    if (early) await load(early);
  })();
  ready.catch(() => sandbox.kill('SIGKILL'));

  return {
    shape,
    sandbox,
    channel,
    ready,
    get assigned() {
      return assigned;
    },
    assign,
    destroy: () => sandbox.kill('SIGKILL'),
  };
}
