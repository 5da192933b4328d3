import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `condition` until it holds. The timeout only keeps a broken run from hanging: nothing is
 * measured by time, and a condition that needs longer than a few seconds is a failure anyway.
 */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}
