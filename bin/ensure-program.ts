// `pidbox dev` needs programs a new machine may lack: redis-server (without REDIS_URL) and bwrap
// (every sandbox). When one is missing: as root with apt-get, install Debian's package; otherwise
// say in one line what to install.
import { spawnSync } from 'node:child_process';
import { findExecutable } from '../dev/embedded-redis.js';

export type InstallPlan = 'ready' | 'install' | 'instruct';

export interface Program {
  /** The command looked up in PATH. */
  command: string;
  /** Debian's package that provides it. */
  debianPackage: string;
  /** What to tell a user who must install it themselves. */
  hint: string;
}

export const REDIS_SERVER: Program = {
  command: 'redis-server',
  debianPackage: 'redis-server',
  hint: 'redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a Redis you run',
};

export const BUBBLEWRAP: Program = {
  command: 'bwrap',
  debianPackage: 'bubblewrap',
  hint: 'bubblewrap (bwrap) is not installed: every sandbox is built with it (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap)',
};

/** What to do, from what is there: pure, so it can be tested without changing the machine. */
export function installPlan(facts: { found: boolean; isRoot: boolean; hasAptGet: boolean }): InstallPlan {
  if (facts.found) return 'ready';
  return facts.isRoot && facts.hasAptGet ? 'install' : 'instruct';
}

/** Makes sure `program` is in PATH; returns an error message (one line) when it cannot be. */
export function ensureProgram(program: Program, log: (line: string) => void): string | null {
  const aptGet = findExecutable('apt-get');
  const plan = installPlan({ found: findExecutable(program.command) !== null, isRoot: process.getuid?.() === 0, hasAptGet: aptGet !== null });
  switch (plan) {
    case 'ready':
      return null;
    case 'instruct':
      return program.hint;
    case 'install': {
      log(`${program.command} is not installed; installing Debian's package: apt-get install ${program.debianPackage}`);
      const options = { stdio: ['ignore', 'inherit', 'inherit'] as Array<'ignore' | 'inherit'>, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } };
      const update = spawnSync(aptGet!, ['update', '-qq'], options);
      const install = update.status === 0
        ? spawnSync(aptGet!, ['install', '-y', '-qq', '--no-install-recommends', program.debianPackage], options)
        : update;
      if (install.status !== 0 || findExecutable(program.command) === null) {
        return `installing ${program.debianPackage} with apt-get failed (exit ${install.status ?? install.signal}); ${program.hint}`;
      }
      return null;
    }
  }
}
