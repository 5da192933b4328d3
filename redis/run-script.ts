// Runs a Lua script by its SHA1 and sends the source only when Redis does not have it yet (after a
// restart or SCRIPT FLUSH), so a status change costs one short command.
import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-client.js';

const shas = new Map<string, string>();

export async function runScript(redis: RedisClient, source: string, keys: string[], args: Array<string | number>): Promise<unknown> {
  let sha = shas.get(source);
  if (sha === undefined) {
    sha = createHash('sha1').update(source).digest('hex');
    shas.set(source, sha);
  }
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
    return redis.eval(source, keys.length, ...keys, ...args);
  }
}
