// A write that must not be given up (a run's status change: its result, its start): tried again
// while Redis is unreachable or full, until Redis takes it or the connection is closed for good.
import type { RedisClient } from './redis-client.js';
import { redisTrouble } from './redis-errors.js';

/** First wait before trying again, doubled each time up to MAX_DELAY_MS. */
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2000;

/**
 * Runs `write`, and again after a failure that Redis's state explains (redis/redis-errors.ts); any
 * other failure, or a client that was closed (the process is shutting down), is thrown. A write
 * whose connection broke after sending may have been applied: the status changes are scripts that
 * look at the record first, so a second one finds the first's work (a finish then answers `already`).
 */
export async function retryWhileUnavailable<T>(redis: RedisClient, write: () => Promise<T>): Promise<T> {
  for (let delay = FIRST_DELAY_MS; ; delay = Math.min(delay * 2, MAX_DELAY_MS)) {
    try {
      return await write();
    } catch (error) {
      if (redisTrouble(error) === null || redis.status === 'end') throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
