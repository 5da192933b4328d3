import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import { CLONE_NEWPID } from '../../native/constants.js';
import * as libc from '../../native/libc.js';
import { lineDecoder, type InitToWorker, type RunSpec } from '../init/protocol.js';
import { exitCodeOf, signalNumber } from '../init/signals.js';
import { PidboxError } from '../../contracts/pidbox-error.js';

const INIT_PATH = fileURLToPath(new URL('../init/init.cjs', import.meta.url));

/** The PATH every sandbox starts with, whatever the worker's own environment holds. */
export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface SandboxNamespaces {
  /** A network namespace of its own with only loopback, up. Default: false (the host's network). */
  net?: boolean;
  /** An IPC namespace of its own. Default: false. */
  ipc?: boolean;
  /** A UTS namespace of its own, so the sandbox can carry the function's name as hostname. Default: false. */
  uts?: boolean;
}

export interface SandboxOptions {
  /** What to run; omit it to start a warm sandbox and call `run()` later. */
  run?: RunSpec;
  /** Namespaces beyond the PID and mount namespaces every sandbox has. */
  namespaces?: SandboxNamespaces;
  /** Give the init a descriptor 4 that becomes the function's descriptor 3. Default: false. */
  resultChannel?: boolean;
  /** Wall-clock limit from `run`, after which the function's group gets SIGTERM. Default: none. */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL of the init, on timeout or `stop()`. Default: 2000. */
  killGraceMs?: number;
}

export interface SandboxOutcome {
  /** The function's exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended the function (or its init, when it was killed), or null. */
  signal: NodeJS.Signals | null;
  /** The shell's view: code, or 128 + signal number. */
  exitCode: number;
  timedOut: boolean;
  /** pid namespace of the sandbox, as `/proc/PID/ns/pid` names it: `pid:[inode]`. */
  pidNamespace: string;
  zombiesReaped: number;
  peakProcesses: number;
  /** Spawn of the init → function started. */
  startMs: number;
  /** Function started → function exited (or the sandbox killed). */
  runMs: number;
  /** Spawn of the init → its exit and the end of all its output. */
  durationMs: number;
  /** pid of the function inside the namespace (PID 1 is the init), 0 when it never started. */
  functionPid: number;
  /** When each step happened, in epoch milliseconds (for spans made after the fact); 0 when it did not. */
  marks: SandboxMarks;
}

export interface SandboxMarks {
  spawnedAt: number;
  readyAt: number;
  startedAt: number;
  exitedAt: number;
  closedAt: number;
}

export interface Sandbox {
  /** Host pid of the init (PID 1 inside). */
  readonly pid: number;
  /** `pid:[inode]` of the sandbox's pid namespace. */
  readonly pidNamespace: string;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** The function's descriptor 3, when `resultChannel` was asked for. */
  readonly result: Readable | null;
  /** Resolves when the init reports ready (namespaces set up, waiting for or running its spec). */
  readonly ready: Promise<void>;
  /** Resolves when everything has ended; rejects only when the runner failed, never for the function. */
  readonly outcome: Promise<SandboxOutcome>;
  /** Hands a warm sandbox what to run. */
  run(spec: RunSpec): void;
  /** Sends a signal to the function's process group (through the init); SIGKILL ends the init itself. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM to the function, then SIGKILL to the init after the grace period. */
  stop(): void;
}

let hostPidNamespace: number | null = null;

/**
 * Starts an init as PID 1 of a fresh PID namespace. The namespace is entered on Node's main thread:
 * unshare(CLONE_NEWPID) changes only where the *next* child goes, so the worker itself stays where
 * it is; setns back to the saved descriptor makes the next unshare possible (a second one fails
 * with EINVAL, pid_namespaces(7)). The init makes the mount namespace and the others itself.
 */
export function spawnSandbox(options: SandboxOptions = {}): Sandbox {
  hostPidNamespace ??= libc.open('/proc/self/ns/pid');
  const started = performance.now();
  const ns = options.namespaces ?? {};
  const unshare = [ns.net && 'net', ns.ipc && 'ipc', ns.uts && 'uts'].filter(Boolean).join(',');
  let child: ChildProcess;
  libc.unshare(CLONE_NEWPID);
  try {
    child = spawn(process.execPath, [INIT_PATH, '--sandbox', `--unshare=${unshare}`], {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', options.resultChannel ? 'pipe' : 'ignore'],
      env: { PATH: SANDBOX_PATH },
    });
  } finally {
    libc.setns(hostPidNamespace, CLONE_NEWPID);
  }
  return new SandboxHandle(child, options, started);
}

class SandboxHandle implements Sandbox {
  readonly pid: number;
  pidNamespace: string;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly result: Readable | null;
  readonly ready: Promise<void>;
  readonly outcome: Promise<SandboxOutcome>;

  private readonly child: ChildProcess;
  private readonly control: import('node:net').Socket;
  private readonly options: SandboxOptions;
  private readonly startedAt: number;
  private runAt = 0;
  private readyAt = 0;
  private functionPid = 0;
  private functionStartedAt = 0;
  private functionExitedAt = 0;
  private exited: Extract<InitToWorker, { type: 'exited' }> | null = null;
  private timedOut = false;
  private killedByUs = false;
  private sentRun = false;
  private timers: NodeJS.Timeout[] = [];
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;

  constructor(child: ChildProcess, options: SandboxOptions, startedAt: number) {
    if (child.pid === undefined) {
      // spawn failed (ENOENT, EAGAIN at a pid limit…): Node emits 'error' on the next tick, and an
      // 'error' without a listener would crash the worker; the throw below says why instead.
      let reason = 'the init could not be started';
      child.once('error', (error) => (reason = error.message));
      throw new PidboxError('SANDBOX_SPAWN_FAILED', reason);
    }
    this.child = child;
    this.options = options;
    this.startedAt = startedAt;
    this.pid = child.pid;
    this.pidNamespace = readNamespace(child.pid);
    this.stdin = child.stdio[0] as Writable;
    this.stdout = child.stdio[1] as Readable;
    this.stderr = child.stdio[2] as Readable;
    this.control = child.stdio[3] as import('node:net').Socket;
    this.result = (child.stdio[4] as Readable | null) ?? null;
    // A function that does not read its stdin must not crash the worker with EPIPE.
    this.stdin.on('error', () => {});
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {});
    this.control.on('data', lineDecoder<InitToWorker>((message) => this.onMessage(message)));
    this.control.on('error', () => {});
    this.outcome = new Promise((resolve, reject) => {
      child.on('error', (error) => reject(new PidboxError('SANDBOX_SPAWN_FAILED', error.message, error)));
      child.on('close', (code, signal) => {
        for (const timer of this.timers) clearTimeout(timer);
        // Only settles it when the init died before it was ready (a resolved promise stays so).
        this.rejectReady(new PidboxError('SANDBOX_INIT_FAILED', `the sandbox init ended before it was ready (code ${code}, signal ${signal})`));
        try {
          resolve(this.finish(code, signal));
        } catch (error) {
          reject(error);
        }
      });
    });
    if (options.run) this.run(options.run);
  }

  run(spec: RunSpec): void {
    if (this.sentRun) throw new PidboxError('SANDBOX_BUSY', 'this sandbox was already given a function to run');
    this.sentRun = true;
    this.runAt = performance.now();
    this.control.write(`${JSON.stringify({ type: 'run', spec })}\n`);
    if (this.options.timeoutMs !== undefined && this.options.timeoutMs > 0) {
      this.timers.push(setTimeout(() => {
        this.timedOut = true;
        this.stop();
      }, this.options.timeoutMs));
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    // Once the init has been reaped its pid may belong to another process: signal nothing.
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (signal === 'SIGKILL') this.killedByUs = true;
    try {
      process.kill(this.pid, signalNumber(signal));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  stop(): void {
    this.kill('SIGTERM');
    const grace = this.options.killGraceMs ?? 2000;
    this.timers.push(setTimeout(() => this.kill('SIGKILL'), grace));
  }

  private onMessage(message: InitToWorker): void {
    switch (message.type) {
      case 'ready':
        this.readyAt = performance.now();
        this.pidNamespace ||= message.pidNamespace;
        this.resolveReady();
        break;
      case 'started':
        this.functionStartedAt = performance.now();
        this.functionPid = message.pid;
        break;
      case 'exited':
        this.functionExitedAt = performance.now();
        this.exited = message;
        break;
    }
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): SandboxOutcome {
    const now = performance.now();
    const functionStarted = this.functionStartedAt || this.runAt || now;
    const functionEnded = this.functionExitedAt || now;
    const common = {
      timedOut: this.timedOut,
      pidNamespace: this.pidNamespace,
      startMs: round(functionStarted - this.startedAt),
      runMs: round(Math.max(0, functionEnded - functionStarted)),
      durationMs: round(now - this.startedAt),
      functionPid: this.functionPid,
      marks: {
        spawnedAt: epoch(this.startedAt),
        readyAt: epoch(this.readyAt),
        startedAt: epoch(this.functionStartedAt),
        exitedAt: epoch(this.functionExitedAt),
        closedAt: epoch(now),
      },
    };
    if (this.exited) {
      const exit = { code: this.exited.code, signal: this.exited.signal };
      return {
        ...exit,
        exitCode: exitCodeOf({ code: exit.code, signal: exit.signal === null ? null : signalNumber(exit.signal) }),
        zombiesReaped: this.exited.zombiesReaped,
        peakProcesses: this.exited.peakProcesses,
        ...common,
      };
    }
    if (signal === 'SIGKILL' && (this.killedByUs || this.timedOut)) {
      // We killed the init before the function ended: the function died with the namespace.
      return { code: null, signal: 'SIGKILL', exitCode: 137, zombiesReaped: 0, peakProcesses: 0, ...common };
    }
    throw new PidboxError(
      'SANDBOX_INIT_FAILED',
      `the sandbox init ended without reporting the function's exit (code ${code}, signal ${signal})`,
    );
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
