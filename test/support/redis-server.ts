// A real redis-server for a test file: a free port on 127.0.0.1, a temporary directory, no
// persistence, and a password, so that every test goes through AUTH (dev/embedded-redis.ts, the
// same code `pidbox dev` uses; `url` carries the password). Never the system one.
import { startEmbeddedRedis, type EmbeddedRedis } from '../../dev/embedded-redis.js';

export async function startTestRedis(): Promise<EmbeddedRedis> {
  return startEmbeddedRedis({ listen: 'tcp' });
}
