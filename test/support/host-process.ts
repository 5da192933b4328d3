// A process started on a lab host (lab-host.ts): its output as it comes, its exit, and a stop that
// escalates SIGTERM → grace → SIGKILL, for `after` hooks.
import type { ChildProcess } from 'node:child_process';
import { waitFor } from './processes.js';

export interface HostProcess {
  readonly pid: number;
  /** Everything it printed so far, standard output and error together. */
  output(): string;
  /** Resolves once its output matches `pattern`; rejects if it exits first or after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with its exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether it has exited. */
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10000) if it still runs; waits for its exit. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

export function watchProcess(child: ChildProcess, name: string): HostProcess {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exitedNow = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedNow = true;
      resolve({ code, signal });
    });
    // A spawn that failed (no `ip`) never exits: it errors.
    child.once('error', (error) => {
      output += `\nspawn failed: ${error.message}`;
      exitedNow = true;
      resolve({ code: null, signal: null });
    });
  });
  if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
  let stopping: Promise<void> | null = null;
  return {
    pid: child.pid,
    output: () => output,
    exited,
    hasExited: () => exitedNow,
    async waitForOutput(pattern, timeoutMs = 15_000) {
      try {
        await waitFor(`${name} to print ${pattern}`, () => pattern.test(output) || exitedNow, timeoutMs);
      } catch (error) {
        throw new Error(`${(error as Error).message}; it printed: ${output}`);
      }
      if (!pattern.test(output)) throw new Error(`${name} exited before it printed ${pattern}: ${output}`);
    },
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (exitedNow) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
