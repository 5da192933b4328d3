// `pidbox dev` without REDIS_URL needs redis-server. When it is missing: as root with apt-get, install
// Debian's package; otherwise say in one line what to install.
import { spawnSync } from 'node:child_process';
import { findExecutable } from './embedded-redis.js';

export type RedisServerPlan = 'ready' | 'install' | 'instruct';

/** What to do, from what is there: pure, so it can be tested without changing the machine. */
export function redisServerPlan(facts: { found: boolean; isRoot: boolean; hasAptGet: boolean }): RedisServerPlan {
  if (facts.found) return 'ready';
  return facts.isRoot && facts.hasAptGet ? 'install' : 'instruct';
}

export const INSTALL_HINT =
  'redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a Redis you run';

/** Makes sure redis-server is in PATH; returns an error message (one line) when it cannot be. */
export function ensureRedisServer(log: (line: string) => void): string | null {
  const aptGet = findExecutable('apt-get');
  const plan = redisServerPlan({ found: findExecutable('redis-server') !== null, isRoot: process.getuid?.() === 0, hasAptGet: aptGet !== null });
  switch (plan) {
    case 'ready':
      return null;
    case 'instruct':
      return INSTALL_HINT;
    case 'install': {
      log("redis-server is not installed; installing Debian's package: apt-get install redis-server");
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const options = { stdio: ['ignore', 'inherit', 'inherit'] as const, env };
      const update = spawnSync(aptGet!, ['update', '-qq'], { ...options, stdio: [...options.stdio] });
      const install = update.status === 0
        ? spawnSync(aptGet!, ['install', '-y', '-qq', '--no-install-recommends', 'redis-server'], { ...options, stdio: [...options.stdio] })
        : update;
      if (install.status !== 0 || findExecutable('redis-server') === null) {
        return `installing redis-server with apt-get failed (exit ${install.status ?? install.signal}); ${INSTALL_HINT}`;
      }
      return null;
    }
  }
}
