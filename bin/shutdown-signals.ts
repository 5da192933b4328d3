// SIGINT or SIGTERM asks a server to stop gracefully; another one, at least SAME_REQUEST_MS after the
// first, forces it to exit at once. Copies that arrive together are one request: Ctrl-C on `npm
// start` reaches pidbox twice — the terminal signals its whole foreground process group, npm
// included, and npm forwards the SIGINT it got to its child (@npmcli/run-script, signal-manager.js).

/** Signals within this long of the first are the same request (a forwarded copy), not a second one. */
export const SAME_REQUEST_MS = 1000;

/** What a signal means: the first asks to stop, a copy changes nothing, a later one forces. */
export type SignalVerdict = 'stop' | 'same' | 'force';

/** Pure, for tests: the verdict on a signal at `nowMs`, given when the first came (null: none yet). */
export function judgeSignal(firstAtMs: number | null, nowMs: number, sameRequestMs = SAME_REQUEST_MS): SignalVerdict {
  if (firstAtMs === null) return 'stop';
  return nowMs - firstAtMs < sameRequestMs ? 'same' : 'force';
}

export interface ShutdownOptions {
  /** Said with the first signal: what a graceful stop waits for (`running invocations get up to 10000 ms`). */
  waitsFor?: string;
  /**
   * Run synchronously on a forced exit, before `process.exit`: what can be cleaned up at once (an
   * embedded Redis, temporary folders). Whatever it throws is ignored. Default: nothing.
   */
  onForce?: () => void;
}

/**
 * Resolves with the first SIGINT or SIGTERM. A later one (SAME_REQUEST_MS on) runs `onForce` and
 * exits at once with 128 + its number, as a shell reports a process a signal ended.
 */
export function untilShutdown(name: string, options: ShutdownOptions = {}): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let firstAtMs: number | null = null;
    const onSignal = (signal: NodeJS.Signals): void => {
      const now = performance.now();
      switch (judgeSignal(firstAtMs, now)) {
        case 'stop':
          firstAtMs = now;
          console.error(`${name}: ${signal}, shutting down${options.waitsFor ? `: ${options.waitsFor}` : ''} (Ctrl-C again to stop at once)`);
          resolve(signal);
          return;
        case 'same':
          return;
        case 'force':
          console.error(`${name}: ${signal} again, exiting now`);
          try {
            options.onForce?.();
          } catch {
            // Exiting matters more than tidying up; the next start removes what is left.
          }
          process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
