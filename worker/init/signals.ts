import { constants } from 'node:os';

// Which signals the init only survives (it forwards the ones in contracts/forwarded-signals.ts):
// the synchronous fault signals and terminal job-control input/output signals concern the init
// itself, as in tini. SIGCHLD drives reaping and is never forwarded.

export const SURVIVED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGSEGV', 'SIGSYS', 'SIGTTIN', 'SIGTTOU',
];

export function signalNumber(name: NodeJS.Signals): number {
  const n = constants.signals[name];
  if (n === undefined) throw new Error(`unknown signal ${name}`);
  return n;
}

export function signalName(num: number): NodeJS.Signals | null {
  for (const [name, n] of Object.entries(constants.signals)) if (n === num) return name as NodeJS.Signals;
  return null;
}

/** The shell's convention for how a process ended: its exit code, or 128 + the killing signal. */
export function exitCodeOf(exit: { code: number | null; signal: number | null }): number {
  return exit.code ?? 128 + (exit.signal ?? 0);
}
