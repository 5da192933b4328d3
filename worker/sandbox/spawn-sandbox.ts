import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { isForwardedSignal, type ForwardedSignal } from '../../contracts/forwarded-signals.js';
import { PidboxError } from '../../contracts/pidbox-error.js';
import * as libc from '../../native/libc.js';
import { ProtocolError, lineDecoder, parseInitMessage, type InitToWorker, type RunSpec } from '../init/protocol.js';
import { exitCodeOf, signalNumber } from '../init/signals.js';
import { bwrapArguments } from './bwrap-args.js';
import type { CgroupUsage, SandboxCgroup } from './cgroups.js';
import type { SandboxHost } from './sandbox-host.js';
import type { Slot } from './slot.js';

export { SANDBOX_PATH, SANDBOX_PATHS } from './root-fs.js';

/** What a function may use of the machine; the worker's defaults fill what function.json leaves out. */
export interface SandboxLimits {
  /** Memory of the function's processes together, its /tmp included, MiB. */
  memoryMb: number;
  /** Processes and threads of the function at once. */
  maxProcesses: number;
  /** CPU bandwidth in CPUs (fractions allowed). */
  cpus: number;
  /** Size of /tmp, MiB. */
  tmpMb: number;
  /** Open files of the function (RLIMIT_NOFILE). */
  maxOpenFiles: number;
}

export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = { memoryMb: 256, maxProcesses: 128, cpus: 1, tmpMb: 64, maxOpenFiles: 1024 };

/** The most a function.json may ask for; more is refused (INVALID_FUNCTION_CONFIG). */
export type SandboxCeilings = Pick<SandboxLimits, 'memoryMb' | 'maxProcesses' | 'cpus' | 'tmpMb'>;

export const DEFAULT_SANDBOX_CEILINGS: SandboxCeilings = { memoryMb: 2048, maxProcesses: 1024, cpus: availableParallelism(), tmpMb: 1024 };

export interface SandboxOptions {
  /**
   * What to run as soon as the sandbox is ready, under `limits`, with the call (and its timeout)
   * begun right before. Omit it to start a sandbox that waits, and call `limit`, `beginCall` and
   * `run` later.
   */
  run?: RunSpec;
  /** The function's folder, mounted read-only at /var/task now; or later with `mountTask`. */
  taskDir?: string;
  /** A node function's bundle, mounted at /var/bundle/index.mjs: a path, or /proc/self/fd/N of a checked descriptor. */
  bundle?: string;
  /** `loopback` (default): a network namespace with only `lo`; `host`: the worker's network. */
  network?: 'loopback' | 'host';
  /** Limits; /tmp's size is fixed at the start, the rest applies with `limit` (at once with `run`). Default: DEFAULT_SANDBOX_LIMITS. */
  limits?: SandboxLimits;
  /** Give the init a descriptor 4 that becomes the function's descriptor 3. Default: false. */
  resultChannel?: boolean;
  /** Wall-clock limit of a call, from `beginCall`, after which the function's group gets SIGTERM. Default: none. */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL of the init, on timeout or `stop()`. Default: 2000. */
  killGraceMs?: number;
  /**
   * Its share of the CPU against other sandboxes while it starts (cgroup weight: 100 is a fair
   * share; a pre-started one starts at 10, so that it takes no core from a running call, and gets
   * 100 when a call takes it). Default: 100.
   */
  cpuWeight?: number;
}

export interface SandboxOutcome {
  /** The function's exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended the function (or its init, when it was killed), or null. */
  signal: NodeJS.Signals | null;
  /** The shell's view: code, or 128 + signal number. */
  exitCode: number;
  timedOut: boolean;
  /** The kernel's OOM killer ended a process of the sandbox (memoryMb reached). */
  outOfMemory: boolean;
  /** pid namespace of the sandbox, as `/proc/PID/ns/pid` names it: `pid:[inode]`. */
  pidNamespace: string;
  zombiesReaped: number;
  /** Most processes and threads of the function at once (the pids cgroup's peak; sampled where the kernel keeps none). */
  peakProcesses: number;
  /** CPU time of the sandbox's processes during the call (user + system), ms. */
  cpuMs: number;
  /** Most memory of the function's processes at once during the call (its /tmp included), bytes; null where the kernel keeps no peak. */
  memoryPeakBytes: number | null;
  /** Spawn of the sandbox → function started (or the call begun, when later). */
  startMs: number;
  /** Function started (or the call begun) → function exited (or the sandbox killed). */
  runMs: number;
  /** pid of the function inside the namespace (PID 1 is the init), 0 when it never started. */
  functionPid: number;
  /** When each step happened, in epoch milliseconds (for spans made after the fact); 0 when it did not. */
  marks: SandboxMarks;
}

export interface SandboxMarks {
  spawnedAt: number;
  readyAt: number;
  /** The call began (`beginCall`). */
  calledAt: number;
  /** The function's process started. */
  startedAt: number;
  exitedAt: number;
  /** The outcome was known: the exit reported and the output read to its last byte. */
  settledAt: number;
}

export interface Sandbox {
  /** Host pid of the init (PID 1 inside); 0 until `spawned`. */
  readonly pid: number;
  /** `pid:[inode]` of the sandbox's pid namespace; '' until `spawned`. */
  readonly pidNamespace: string;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** The function's descriptor 3, when `resultChannel` was asked for: a socket, both ways. */
  readonly result: Socket | null;
  /** Resolves once the sandbox exists and `pid` and `pidNamespace` are known, while its init is still starting. */
  readonly spawned: Promise<void>;
  /** Resolves when the sandbox is set up (namespaces, root, cgroup, seccomp) and its init waits or runs. */
  readonly ready: Promise<void>;
  /**
   * Resolves once the function has exited and all it wrote has been read, before the sandbox is torn
   * down; rejects only when the runner failed, never for the function.
   */
  readonly outcome: Promise<SandboxOutcome>;
  /** Resolves once the sandbox is gone and its cgroup and slot removed. Never rejects. */
  readonly closed: Promise<void>;
  /** Mounts the function's folder at /var/task of a sandbox started without one. */
  mountTask(folder: string): void;
  /** Mounts a node function's bundle at /var/bundle/index.mjs of a sandbox started without one. */
  mountBundle(file: string): void;
  /** Applies limits, on top of what the init used when it became ready (after `ready`). */
  limit(limits: SandboxLimits): void;
  /** Begins the call: CPU time and the memory peak are counted from now, and the timeout runs. */
  beginCall(timeoutMs?: number): void;
  /** Starts the function's process (after `ready`); once. */
  run(spec: RunSpec): void;
  /** Sends a signal to the function's process group (through the init); SIGKILL ends the init itself. */
  kill(signal?: NodeJS.Signals): void;
  /**
   * Asks the init, on its control socket, to forward `signal` to the function's process group, as it
   * forwards the signals it receives; only those (contracts/forwarded-signals.ts), others throw
   * INVALID_SIGNAL. False when there is no function to signal: not started yet, or ended.
   */
  signal(signal: ForwardedSignal): boolean;
  /** Its outcome is known or it is gone: nothing of it runs any more (or soon will not). */
  readonly ended: boolean;
  /** SIGTERM to the function, then SIGKILL to the init after the grace period. */
  stop(): void;
  /**
   * Ends the call at once (a cancel): the init kills every process of the sandbox and reports the
   * function's exit, with its counts (zombies reaped) that SIGKILL to the init would lose; SIGKILL
   * to the init when no function runs, or when the init has not reported within CANCEL_GRACE_MS.
   */
  cancel(): void;
  /** Memory its processes use now, bytes (0 when it cannot be read). */
  memoryBytes(): number;
  /**
   * The call's answer is complete (a node function's result has come whole): the outcome is known
   * once the logs are read, as an exit with code 0, and the sandbox is ended without waiting for
   * the function's process to exit on its own.
   */
  answered(): void;
  /** Its share of the CPU against other sandboxes (cgroup weight, 100 by default): see SandboxOptions.cpuWeight. */
  setCpuWeight(weight: number): void;
}

// Descriptors of bubblewrap: 0–2 stdio, 3 the control socket, 4 the result channel, then these.
const SECCOMP_FD = 5;
const INFO_FD = 6;
/** Most of bubblewrap's stderr kept to explain a sandbox that failed to start. */
const SETUP_ERROR_BYTES = 4096;
/** How long a cancelled sandbox's init has to report the function's end before it is killed. */
const CANCEL_GRACE_MS = 500;
/** A sandbox that has told its end but does not go is killed after this long. */
const TEARDOWN_GRACE_MS = 2000;

/**
 * Starts a sandbox: bubblewrap, as the sandbox's unprivileged uid, makes its namespaces and root
 * and loads its seccomp filter, then runs the init as PID 1 (worker/sandbox/bwrap-args.ts). The
 * worker, meanwhile, puts the init in a cgroup of its own (the host pid comes on bubblewrap's info
 * descriptor, so this overlaps with the init's start).
 */
export function spawnSandbox(host: SandboxHost, options: SandboxOptions = {}): Sandbox {
  const limits = options.limits ?? DEFAULT_SANDBOX_LIMITS;
  const slot = host.createSlot();
  let cgroup: SandboxCgroup | null = null;
  let child: ChildProcess;
  try {
    if (options.taskDir) slot.mountTask(options.taskDir);
    if (options.bundle) slot.mountBundle(options.bundle);
    cgroup = host.cgroups.create(`sandbox-${slot.dir.slice(slot.dir.lastIndexOf('/') + 1)}`);
    if (options.cpuWeight !== undefined) cgroup.setCpuWeight(options.cpuWeight);
    const seccompFd = host.openSeccomp();
    try {
      child = spawn(host.bwrap, bwrapArguments(host.containmentPlan(slot, {
        network: options.network ?? 'loopback',
        tmpBytes: limits.tmpMb * 1024 * 1024,
        seccompFd: SECCOMP_FD,
        infoFd: INFO_FD,
      })), {
        stdio: ['pipe', 'pipe', 'pipe', 'pipe', options.resultChannel ? 'pipe' : 'ignore', seccompFd, 'pipe'],
        // A session of its own (setsid(2)) for bubblewrap too, not only for the init (--new-session):
        // in the worker's process group, the terminal's Ctrl-C would kill bubblewrap, and with it
        // (--die-with-parent) the function, before the worker's graceful shutdown could let it finish.
        detached: true,
        env: {},
        uid: slot.uid,
        gid: slot.gid,
      });
    } finally {
      libc.close(seccompFd);
    }
  } catch (error) {
    slot.remove();
    void cgroup?.remove();
    throw new PidboxError('SANDBOX_SPAWN_FAILED', `the sandbox could not be started: ${(error as Error).message}`, error);
  }
  const sandbox = new SandboxHandle(child, options, limits, slot, cgroup, performance.now());
  host.track(sandbox.closed);
  return sandbox;
}

class SandboxHandle implements Sandbox {
  pid = 0;
  pidNamespace = '';
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly result: Socket | null;
  readonly spawned: Promise<void>;
  readonly ready: Promise<void>;
  readonly outcome: Promise<SandboxOutcome>;
  readonly closed: Promise<void>;

  private readonly control: Socket;
  private resolveSpawned!: () => void;
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;
  private resolveOutcome!: (outcome: SandboxOutcome) => void;
  private rejectOutcome!: (error: Error) => void;
  private resolveClosed!: () => void;
  private readyAt = 0;
  private calledAt = 0;
  private functionPid = 0;
  private functionStartedAt = 0;
  private functionExitedAt = 0;
  private exited: Extract<InitToWorker, { type: 'exited' }> | null = null;
  /** The worker took the function's complete result as its answer (answered()). */
  private answeredEarly = false;
  private initReady = false;
  private joined = false;
  private timedOut = false;
  private killedByUs = false;
  private killWhenSpawned = false;
  private sentRun = false;
  private settled = false;
  private protocolError: ProtocolError | null = null;
  private setupError = '';
  /** What the init alone used when it became ready: limits go on top of it. */
  private initUsage = { memoryBytes: 0, tasks: 0 };
  /** CPU time when the call began: the call's own is counted from there. */
  private callCpuNanos = 0;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly child: ChildProcess,
    private readonly options: SandboxOptions,
    private readonly limits: SandboxLimits,
    private readonly slot: Slot,
    private readonly cgroup: SandboxCgroup,
    private readonly startedAt: number,
  ) {
    if (child.pid === undefined) {
      // spawn failed (EAGAIN at a pid limit…): Node emits 'error' on the next tick, and an 'error'
      // without a listener would crash the worker; the outcome says why instead.
      child.once('error', () => {});
    }
    this.stdin = child.stdio[0] as Writable;
    this.stdout = child.stdio[1] as Readable;
    this.stderr = child.stdio[2] as Readable;
    this.control = child.stdio[3] as Socket;
    this.result = (child.stdio[4] as Socket | null) ?? null;
    // A function that does not read its stdin must not crash the worker with EPIPE.
    this.stdin.on('error', () => {});
    this.result?.on('error', () => {});
    this.spawned = new Promise((resolve) => (this.resolveSpawned = resolve));
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => this.resolveSpawned());
    this.outcome = new Promise((resolve, reject) => {
      this.resolveOutcome = resolve;
      this.rejectOutcome = reject;
    });
    this.outcome.catch(() => {});
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    // Until the init is ready, bubblewrap's own complaints arrive on stderr: keep them to say why.
    const onSetupError = (chunk: Buffer): void => {
      if (this.setupError.length < SETUP_ERROR_BYTES) this.setupError += chunk.toString('utf8');
    };
    this.stderr.on('data', onSetupError);
    this.ready.then(() => this.stderr.off('data', onSetupError), () => {});
    this.readInfo((child.stdio as unknown as Array<Readable | null>)[INFO_FD]!);
    const decode = lineDecoder((line) => this.onMessage(parseInitMessage(line)));
    this.control.on('data', (chunk: Buffer) => {
      if (this.protocolError) return;
      try {
        decode(chunk);
      } catch (error) {
        this.breakProtocol(error);
      }
    });
    this.control.on('error', () => {});
    child.on('error', (error) => this.rejectOutcome(new PidboxError('SANDBOX_SPAWN_FAILED', error.message, error)));
    child.on('close', (code, signal) => void this.onClose(code, signal));
    if (options.run) {
      const spec = options.run;
      void this.ready.then(() => {
        this.limit(limits);
        this.beginCall(options.timeoutMs);
        this.run(spec);
      }, () => {});
    }
  }

  mountTask(folder: string): void {
    this.slot.mountTask(folder);
  }

  mountBundle(file: string): void {
    this.slot.mountBundle(file);
  }

  limit(limits: SandboxLimits): void {
    this.assertReady();
    this.cgroup.setLimits({
      memoryBytes: this.initUsage.memoryBytes + limits.memoryMb * 1024 * 1024,
      maxTasks: this.initUsage.tasks + limits.maxProcesses,
      cpus: limits.cpus,
    });
  }

  beginCall(timeoutMs?: number): void {
    this.assertReady();
    this.calledAt = performance.now();
    this.callCpuNanos = this.cgroup.usage().cpuNanos;
    this.cgroup.resetPeaks();
    if (timeoutMs !== undefined && timeoutMs > 0) {
      this.timers.push(setTimeout(() => {
        this.timedOut = true;
        this.stop();
      }, timeoutMs));
    }
  }

  run(spec: RunSpec): void {
    if (this.sentRun) throw new PidboxError('SANDBOX_BUSY', 'this sandbox was already given a function to run');
    this.assertReady();
    this.sentRun = true;
    this.control.write(`${JSON.stringify({ type: 'run', spec: { ...spec, maxOpenFiles: spec.maxOpenFiles ?? this.limits.maxOpenFiles } })}\n`);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (signal === 'SIGKILL') this.killedByUs = true;
    if (!this.pid) {
      // Before its host pid is known the sandbox is still being made. SIGKILL to bubblewrap alone
      // could leave its child behind (the parent-death signal is set late in its setup): the
      // sandbox's PID 1 is killed as soon as bubblewrap names it (readInfo); nothing runs before.
      if (signal === 'SIGKILL') this.killWhenSpawned = true;
      return;
    }
    try {
      process.kill(this.pid, signalNumber(signal));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  signal(signal: ForwardedSignal): boolean {
    if (!isForwardedSignal(signal)) throw new PidboxError('INVALID_SIGNAL', `the init does not forward ${String(signal).slice(0, 40)}`);
    if (this.functionPid === 0 || this.exited !== null || this.ended) return false;
    this.control.write(`${JSON.stringify({ type: 'signal', signal })}\n`);
    return true;
  }

  cancel(): void {
    if (this.functionPid === 0 || this.exited !== null || this.ended) {
      this.kill('SIGKILL');
      return;
    }
    this.killedByUs = true;
    this.control.write('{"type":"end"}\n');
    this.timers.push(setTimeout(() => this.kill('SIGKILL'), CANCEL_GRACE_MS));
  }

  get ended(): boolean {
    return this.settled || this.protocolError !== null || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  stop(): void {
    this.kill('SIGTERM');
    const grace = this.options.killGraceMs ?? 2000;
    this.timers.push(setTimeout(() => this.kill('SIGKILL'), grace));
  }

  answered(): void {
    if (this.exited || this.settled) return;
    this.answeredEarly = true;
    this.functionExitedAt = performance.now();
    this.exited = { type: 'exited', code: 0, signal: null, zombiesReaped: 0, peakProcesses: 0 };
    this.settleWhenRead(() => this.kill('SIGKILL'));
  }

  setCpuWeight(weight: number): void {
    try {
      this.cgroup.setCpuWeight(weight);
    } catch {
      // The sandbox has gone.
    }
  }

  memoryBytes(): number {
    try {
      return this.cgroup.usage().memoryBytes;
    } catch {
      return 0;
    }
  }

  private assertReady(): void {
    if (!this.initReady || !this.joined) throw new PidboxError('SANDBOX_BUSY', 'this sandbox is not ready yet');
  }

  private readInfo(info: Readable): void {
    let text = '';
    info.on('data', (chunk: Buffer) => {
      if (text.length < 4096) text += chunk.toString('utf8');
    });
    info.on('error', () => {});
    info.on('end', () => {
      const pid = parseChildPid(text);
      if (pid === null) return; // bubblewrap failed before it made the sandbox: 'close' says so
      this.pid = pid;
      this.pidNamespace = readNamespace(pid);
      this.resolveSpawned();
      if (this.killWhenSpawned) {
        this.kill('SIGKILL');
        return;
      }
      this.cgroup.join(pid).then(
        () => {
          this.joined = true;
          this.settleReady();
        },
        (error: Error) => {
          this.rejectReady(new PidboxError('SANDBOX_SPAWN_FAILED', `the sandbox could not join its cgroup: ${error.message}`, error));
          this.kill('SIGKILL');
        },
      );
    });
  }

  private settleReady(): void {
    if (!this.initReady || !this.joined || this.readyAt) return;
    this.readyAt = performance.now();
    let usage: CgroupUsage;
    try {
      usage = this.cgroup.usage();
    } catch (error) {
      // Its cgroup went as it became ready (the worker is closing it, or its host): it never is.
      this.rejectReady(new PidboxError('SANDBOX_SPAWN_FAILED', `the sandbox's cgroup could not be read: ${(error as Error).message}`, error));
      this.kill('SIGKILL');
      return;
    }
    this.initUsage = { memoryBytes: usage.memoryBytes, tasks: usage.tasks };
    this.resolveReady();
  }

  private onMessage(message: InitToWorker): void {
    switch (message.type) {
      case 'ready':
        if (this.initReady) throw new ProtocolError('the init said ready twice');
        this.initReady = true;
        this.settleReady();
        break;
      case 'started':
        if (!this.sentRun || this.functionPid !== 0) throw new ProtocolError('the init started a function it was not given');
        this.functionStartedAt = performance.now();
        this.functionPid = message.pid;
        break;
      case 'exited':
        // The answer was complete before the init's report came (or before the outcome settled on
        // it): the call is over, and what the host did after answering does not change its outcome.
        if (this.answeredEarly) break;
        if (!this.sentRun || this.exited) throw new ProtocolError('the init reported an exit out of order');
        this.functionExitedAt = performance.now();
        this.exited = message;
        this.settleWhenRead();
        break;
    }
  }

  /**
   * The function has exited, and the init has ended what it left: every byte it wrote is in the
   * pipes. Once the worker has read them all (nothing left to read on any of its ends), the
   * outcome is known, without waiting for the namespaces to be torn down.
   */
  private settleWhenRead(then?: () => void): void {
    const streams = [this.stdout, this.stderr, this.result].filter((s): s is Readable => s !== null);
    const check = (): void => {
      if (this.settled) return;
      if (streams.every((stream) => unread(stream) === 0)) {
        this.settle(null, null);
        then?.();
        return;
      }
      this.timers.push(setTimeout(check, 1));
    };
    setImmediate(check);
  }

  /** Anything that breaks the protocol ends the sandbox; the invocation fails with SANDBOX_PROTOCOL_ERROR. */
  private breakProtocol(error: unknown): void {
    this.protocolError = error instanceof ProtocolError ? error : new ProtocolError(String((error as Error)?.message ?? error));
    this.control.destroy();
    this.kill('SIGKILL');
  }

  private notReady(code: number | null, signal: NodeJS.Signals | null): PidboxError {
    const said = this.setupError.trim().split('\n').slice(-3).join(' | ');
    return new PidboxError(
      'SANDBOX_INIT_FAILED',
      `the sandbox ended before it was ready (${signal ?? `code ${code}`})${said ? `: ${said}` : ''}`,
    );
  }

  private async onClose(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    // Only settles it when the sandbox ended before it was ready (a resolved promise stays so).
    this.rejectReady(this.notReady(code, signal));
    this.resolveSpawned();
    if (!this.settled) this.settle(code, signal);
    try {
      // The init's exit ended the namespace; what the kernel is still tearing down goes now.
      this.cgroup.killAll();
    } catch {
      // Gone already.
    }
    this.slot.remove();
    await this.cgroup.remove().catch(() => {});
    this.resolveClosed();
  }

  /** The outcome, from the init's report when there is one, else from how bubblewrap ended. */
  private settle(code: number | null, signal: NodeJS.Signals | null): void {
    this.settled = true;
    const now = performance.now();
    let usage: CgroupUsage | null = null;
    try {
      usage = this.cgroup.usage();
    } catch {
      // The cgroup could not be read: the figures stay empty.
    }
    if (!this.child.killed && this.child.exitCode === null) {
      // A sandbox that has said its last word but lingers (a hostile init) goes after a grace.
      const linger = setTimeout(() => this.kill('SIGKILL'), TEARDOWN_GRACE_MS);
      linger.unref();
      this.timers.push(linger);
    }
    if (this.protocolError) {
      this.rejectOutcome(new PidboxError('SANDBOX_PROTOCOL_ERROR', `the sandbox broke the protocol and was ended: ${this.protocolError.message}`, this.protocolError));
      return;
    }
    const callStarted = Math.max(this.functionStartedAt, this.calledAt) || now;
    const functionEnded = this.functionExitedAt || now;
    const outOfMemory = (usage?.oomKills ?? 0) > 0;
    const common = {
      timedOut: this.timedOut,
      outOfMemory,
      pidNamespace: this.pidNamespace,
      cpuMs: usage && this.calledAt ? round(Math.max(0, usage.cpuNanos - this.callCpuNanos) / 1e6) : 0,
      memoryPeakBytes: usage?.memoryPeakBytes != null ? Math.max(0, usage.memoryPeakBytes - this.initUsage.memoryBytes) : null,
      startMs: round(callStarted - this.startedAt),
      runMs: round(Math.max(0, functionEnded - callStarted)),
      functionPid: this.functionPid,
      marks: {
        spawnedAt: epoch(this.startedAt),
        readyAt: epoch(this.readyAt),
        calledAt: epoch(this.calledAt),
        startedAt: epoch(this.functionStartedAt),
        exitedAt: epoch(this.functionExitedAt),
        settledAt: epoch(now),
      },
    };
    const peak = (sampled: number): number => (usage?.tasksPeak != null ? Math.max(0, usage.tasksPeak - this.initUsage.tasks) : sampled);
    if (this.exited) {
      const exit = { code: this.exited.code, signal: this.exited.signal };
      this.resolveOutcome({
        ...exit,
        exitCode: exitCodeOf({ code: exit.code, signal: exit.signal === null ? null : signalNumber(exit.signal) }),
        zombiesReaped: this.exited.zombiesReaped,
        peakProcesses: peak(Math.max(0, this.exited.peakProcesses - 1)),
        ...common,
      });
      return;
    }
    // bubblewrap reports a child killed by a signal as 128 + the signal.
    const killed = signal === 'SIGKILL' || code === 137;
    if (killed && (this.killedByUs || this.timedOut || outOfMemory)) {
      // The init was killed before the function ended (by us, or by the OOM killer): the function died with the namespace.
      this.resolveOutcome({ code: null, signal: 'SIGKILL', exitCode: 137, zombiesReaped: 0, peakProcesses: peak(0), ...common });
      return;
    }
    if (!this.initReady || !this.joined) {
      this.rejectOutcome(this.notReady(code, signal));
      return;
    }
    this.rejectOutcome(new PidboxError(
      'SANDBOX_INIT_FAILED',
      `the sandbox init ended without reporting the function's exit (code ${code}, signal ${signal})`,
    ));
  }
}

/** Bytes of a stream not yet handed on: buffered by the stream, or waiting in the kernel (0 once it has ended). */
function unread(stream: Readable): number {
  if (stream.readableEnded || stream.destroyed) return 0;
  // Read from the kernel but not yet handed on (a paused stream holds it).
  if (stream.readableLength > 0) return stream.readableLength;
  const fd = (stream as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (fd === undefined || fd < 0) return 0;
  try {
    return libc.bytesReadable(fd);
  } catch {
    return 0;
  }
}

/** `child-pid` from bubblewrap's info JSON, or null. */
function parseChildPid(text: string): number | null {
  try {
    const pid = (JSON.parse(text) as Record<string, unknown>)['child-pid'];
    return Number.isSafeInteger(pid) && (pid as number) > 1 ? (pid as number) : null;
  } catch {
    return null;
  }
}

function readNamespace(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return '';
  }
}

function epoch(monotonicMs: number): number {
  return monotonicMs === 0 ? 0 : performance.timeOrigin + monotonicMs;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
