// The signals a sandbox's init passes on to the function's process group: the ones it receives
// itself, and the ones a caller sends through `POST /invocations/{id}/signal` (the gateway refuses
// any other with INVALID_SIGNAL, the worker and the init check again). Modelled on tini: the
// synchronous fault signals and terminal job-control input/output signals are not forwarded (they
// concern the init itself: worker/init/signals.ts SURVIVED_SIGNALS); SIGCHLD drives reaping and is
// never forwarded. SIGKILL and SIGSTOP cannot be caught, so the init never forwards them: a caller
// who could send them would stop or kill the function behind the init's back (its timeout, its
// exit report). Real-time signals cannot be caught from Node at all.

export const FORWARDED_SIGNALS = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT',
  'SIGCONT', 'SIGTSTP', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR',
] as const satisfies readonly NodeJS.Signals[];

export type ForwardedSignal = (typeof FORWARDED_SIGNALS)[number];

export function isForwardedSignal(name: unknown): name is ForwardedSignal {
  return typeof name === 'string' && (FORWARDED_SIGNALS as readonly string[]).includes(name);
}
