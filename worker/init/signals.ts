import { constants } from 'node:os';

// Which signals the init passes on to the function's process group, and which it only survives.
// Modelled on tini: the synchronous fault signals and terminal job-control input/output signals
// are not forwarded (they concern the init itself); SIGCHLD drives reaping and is never forwarded.
// SIGKILL and SIGSTOP cannot be caught. Real-time signals cannot be caught from Node at all.

export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT',
  'SIGCONT', 'SIGTSTP', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR',
];

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
