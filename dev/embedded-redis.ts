// A private redis-server for `pidbox dev`, the tests and the benchmark: a temporary directory, a
// unix socket or a free port on 127.0.0.1, a random password, no persistence (or an append-only file,
// for tests that restart it), and gone with its parent.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { makeOwnedTempDir, removeOrphanedTempDirs } from './owned-temp-dir.js';

/** Its temporary directory is `<tmpdir>/pidbox-redis-<owner pid>-<owner start time>-XXXXXX`. */
const DIR_PREFIX = 'pidbox-redis-';

export interface EmbeddedRedisOptions {
  /** Where redis-server listens: a unix socket in its directory, or a free TCP port on 127.0.0.1. Default: `unix`. */
  listen?: 'unix' | 'tcp';
  /** The redis-server program. Default: `redis-server`, looked up in PATH. */
  command?: string;
  /** Longest wait for redis-server to accept connections. Default: 10000. */
  startTimeoutMs?: number;
  /**
   * Keep an append-only file in its directory (`appendonly yes`, fsync every second, as in
   * compose.yaml), so that `restart()` comes back with the data. Default: false (no persistence).
   */
  appendOnly?: boolean;
}

export interface EmbeddedRedis {
  /**
   * What to give REDIS_URL, with the password: `unix:///tmp/pidbox-redis-…/redis.sock?password=…`
   * or `redis://:…@127.0.0.1:PORT`. Show it with `redact()` (redis/redis-url.ts).
   */
  readonly url: string;
  /** The current redis-server's pid (a new one after `restart()`). */
  readonly pid: number;
  /** The temporary directory (socket, and the append-only file when `appendOnly`). */
  readonly dir: string;
  /** Directories of embedded Redis servers whose owner was killed (see owned-temp-dir.ts), removed before this one started. */
  readonly orphansRemoved: string[];
  /**
   * Stops redis-server (SIGTERM: it writes out its append-only file and exits) and starts it again
   * on the same socket or port, directory and password: what clients see is an outage, then the
   * same server back. Resolves once it accepts connections again.
   */
  restart(): Promise<void>;
  /** Stops redis-server (SIGTERM, then SIGKILL after 3 s) and removes its directory; safe to call twice. */
  stop(): Promise<void>;
  /** For a process about to exit at once: SIGKILLs redis-server and removes its directory, synchronously. */
  killNow(): void;
}

/** The absolute path of an executable in PATH, or null. */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | null {
  if (name.includes('/')) return isExecutable(name) ? name : null;
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

export async function startEmbeddedRedis(options: EmbeddedRedisOptions = {}): Promise<EmbeddedRedis> {
  const command = findExecutable(options.command ?? 'redis-server');
  if (!command) throw new Error(`${options.command ?? 'redis-server'} is not installed (not found in PATH)`);
  const orphansRemoved = removeOrphanedTempDirs(DIR_PREFIX);
  // A free port can be taken between our probe and redis-server's bind: try again with another.
  for (let attempt = 1; ; attempt++) {
    try {
      // Not a spread: that would copy `pid` once, and it changes with `restart()`.
      return Object.assign(await startOnce(command, options), { orphansRemoved });
    } catch (error) {
      if (attempt >= 5 || !String((error as Error).message).includes('Address already in use')) throw error;
    }
  }
}

async function startOnce(command: string, options: EmbeddedRedisOptions): Promise<Omit<EmbeddedRedis, 'orphansRemoved'>> {
  const dir = makeOwnedTempDir(DIR_PREFIX);
  const unix = (options.listen ?? 'unix') === 'unix';
  const port = unix ? 0 : await freePort();
  const socket = join(dir, 'redis.sock');
  // A new password each start: a function's sandbox, or anyone else on the machine who reaches the
  // port, gets NOAUTH. 32 random bytes, as hex so that it needs no escaping in a URL.
  const password = randomBytes(32).toString('hex');
  const args = [
    '-',
    '--port', String(port), '--bind', '127.0.0.1',
    ...(unix ? ['--unixsocket', socket, '--unixsocketperm', '700'] : []),
    '--save', '', '--appendonly', options.appendOnly ? 'yes' : 'no', '--dir', dir, '--daemonize', 'no', '--logfile', '',
  ];
  const url = unix ? `unix://${socket}?password=${password}` : `redis://:${password}@127.0.0.1:${port}`;
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  let child: ChildProcess;
  try {
    child = await spawnReady(command, args, password, startTimeoutMs);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let stopping: Promise<void> | null = null;
  return {
    url,
    get pid() {
      return child.pid!;
    },
    dir,
    async restart() {
      if (stopping) throw new Error('redis-server is stopped');
      await stopChild(child);
      // The port was ours a moment ago; redis-server binds with SO_REUSEADDR, so no TIME_WAIT is in the way.
      child = await spawnReady(command, args, password, startTimeoutMs);
    },
    stop() {
      stopping ??= stopChild(child).then(() => rmSync(dir, { recursive: true, force: true }));
      return stopping;
    },
    killNow() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts redis-server with `args` and the password on stdin; resolves once it accepts connections. */
async function spawnReady(command: string, args: string[], password: string, timeoutMs: number): Promise<ChildProcess> {
  // `-` in `args` reads the rest of the configuration from stdin: the password never shows in argv
  // (/proc/PID/cmdline is readable by every user on the machine).
  // setpriv --pdeathsig: redis-server gets SIGKILL when we die, even by SIGKILL (prctl(2),
  // PR_SET_PDEATHSIG): an embedded Redis never outlives its owner. `detached`: a session of its own
  // (setsid(2)), out of the terminal's process group, so that Ctrl-C reaches its owner alone, which
  // stops it after the invocations still running have finished (bin/shutdown-signals.ts).
  const setpriv = findExecutable('setpriv');
  const spawnOptions = { stdio: ['pipe', 'pipe', 'pipe'] as Array<'pipe'>, detached: true };
  const child = setpriv
    ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', command, ...args], spawnOptions)
    : spawn(command, args, spawnOptions);
  // A redis-server that exits before it reads stdin must not become an EPIPE thrown here.
  child.stdin!.on('error', () => {});
  child.stdin!.end(`requirepass ${password}\n`);
  try {
    await untilReady(child, timeoutMs);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  // Its output is not needed any more; keep reading so a full pipe never blocks it.
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

function untilReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => done(new Error(`redis-server did not start within ${timeoutMs} ms: ${tail(output)}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/ready to accept connections/i.test(output)) done();
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done(new Error(`redis-server exited (${signal ?? `code ${code}`}) before it was ready: ${tail(output)}`));
    const onError = (error: Error): void => done(error);
    function done(error?: Error): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      if (error) reject(error);
      else resolve();
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', onExit);
    child.on('error', onError);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A TCP port of 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function tail(output: string): string {
  const lines = output.trim().split('\n');
  return lines.slice(-3).join(' | ') || '(no output)';
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
