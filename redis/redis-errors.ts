// What a failed Redis command says about Redis, read from ioredis's and Redis's error messages:
// unreachable (down, restarting, a cluster in failover, too slow to answer) or full (maxmemory
// reached under noeviction). Either way the command may succeed later; anything else is a bug.

export type RedisTrouble = 'unreachable' | 'full';

/** ioredis's own errors while it has no usable connection, and Redis's while it cannot serve. */
const UNREACHABLE = new RegExp([
  'Command timed out',
  'Connection is closed',
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'connect ENOENT',
  'Reached the max retries',
  "Stream isn't writeable",
  "Cluster isn't ready",
  'Too many Cluster redirections',
  'Failed to refresh slots cache',
  'No subscriber for the cluster',
  // Redis: loading its data after a start; a cluster whose slots are not all served; a slot
  // moving; a master that just became a replica.
  '^LOADING', '^CLUSTERDOWN', '^TRYAGAIN', '^READONLY', '^MASTERDOWN',
].join('|'), 'i');
/** Redis refuses writes past maxmemory when its policy is noeviction (or nothing can be evicted). */
const FULL = /^OOM /;

/** Why a Redis command failed, when Redis is the cause; null for any other error. */
export function redisTrouble(error: unknown): RedisTrouble | null {
  // A MULTI whose queued commands Redis refused ends in EXECABORT; ioredis keeps why in previousErrors.
  const previous = (error as { previousErrors?: unknown[] } | undefined)?.previousErrors;
  if (Array.isArray(previous)) {
    for (const cause of previous) {
      const trouble = redisTrouble(cause);
      if (trouble !== null) return trouble;
    }
  }
  const message = (error as Error | undefined)?.message ?? String(error);
  if (FULL.test(message)) return 'full';
  if (UNREACHABLE.test(message)) return 'unreachable';
  return null;
}
