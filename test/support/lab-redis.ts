// The lab's Redis: a real redis-server on one host, as in production — a password, the append-only
// file on, listening on the host's address, where workers and gateway reach it over the switch.
// It also listens on a unix socket in the lab's folder, only root may open: that is how the test
// itself reads records and BullMQ's keys, from our namespace, without a route into the lab.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HostProcess } from './host-process.js';
import type { LabHost } from './lab-host.js';

export const LAB_REDIS_PORT = 6379;

export interface LabRedis {
  /** REDIS_URL for the lab's hosts: `redis://:password@<address>:6379`. */
  readonly url: string;
  /** REDIS_URL for the test: its unix socket. */
  readonly localUrl: string;
  /** The append-only file's folder. */
  readonly dir: string;
  readonly process: HostProcess;
}

/** Starts redis-server on `host`, its data in `dir` (made here). */
export async function startLabRedis(host: LabHost, dir: string, env: Record<string, string>): Promise<LabRedis> {
  mkdirSync(dir, { mode: 0o700 });
  const password = randomBytes(32).toString('hex');
  const socket = join(dir, 'redis.sock');
  // `-`: the rest of the configuration comes on stdin, so the password never shows in argv.
  const redis = host.spawn('redis-server', [
    '-',
    '--bind', host.address, '--port', String(LAB_REDIS_PORT),
    '--unixsocket', socket, '--unixsocketperm', '700',
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
    '--dir', dir, '--daemonize', 'no', '--logfile', '',
  ], { env, stdin: `requirepass ${password}\n` });
  try {
    await redis.waitForOutput(/ready to accept connections/i, 15_000);
  } catch (error) {
    await redis.stop(1000);
    throw error;
  }
  return {
    url: `redis://:${password}@${host.address}:${LAB_REDIS_PORT}`,
    localUrl: `unix://${socket}?password=${password}`,
    dir,
    process: redis,
  };
}
