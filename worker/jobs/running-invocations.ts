// The invocations this worker runs now, each with the AbortController of its sandbox: a cancel
// (from any gateway, through Redis) or the end of the shutdown grace period aborts it, and
// runFunction kills the sandbox. The reason decides what follows: a cancelled invocation ends
// `cancelled`; one stopped by shutdown is handed back to the queue for another worker. Once its
// sandbox exists, it is attached here too, for the requests that reach it (its processes, a signal).
import type { LiveSandbox } from '../invoke/run-function.js';

export type AbortReason = 'cancel' | 'shutdown';

export interface RunningInvocation {
  readonly signal: AbortSignal;
  /** Why it was aborted, or null while it was not. */
  reason(): AbortReason | null;
}

export class RunningInvocations {
  private readonly runs = new Map<string, { controller: AbortController; reason: AbortReason | null; sandbox: LiveSandbox | null }>();

  start(id: string): RunningInvocation {
    const run = { controller: new AbortController(), reason: null as AbortReason | null, sandbox: null as LiveSandbox | null };
    this.runs.set(id, run);
    return { signal: run.controller.signal, reason: () => run.reason };
  }

  end(id: string): void {
    this.runs.delete(id);
  }

  /** The run's sandbox exists (a retry's new sandbox replaces the last one's). */
  attach(id: string, sandbox: LiveSandbox): void {
    const run = this.runs.get(id);
    if (run) run.sandbox = sandbox;
  }

  /** Whether the invocation runs here (null when it does not), and its sandbox once it has one. */
  find(id: string): { sandbox: LiveSandbox | null } | null {
    const run = this.runs.get(id);
    return run ? { sandbox: run.sandbox } : null;
  }

  /** Aborts one invocation if it runs here; false when it does not. */
  abort(id: string, reason: AbortReason): boolean {
    const run = this.runs.get(id);
    if (!run) return false;
    if (run.reason === null) {
      run.reason = reason;
      run.controller.abort(reason);
    }
    return true;
  }

  abortAll(reason: AbortReason): void {
    for (const id of this.runs.keys()) this.abort(id, reason);
  }

  ids(): string[] {
    return [...this.runs.keys()];
  }

  get size(): number {
    return this.runs.size;
  }
}
