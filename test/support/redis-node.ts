// A redis-server the test drives itself: a free port on 127.0.0.1, a folder of its own, a password,
// and whatever else the test asks for (append-only file, cluster mode, DEBUG); it can be stopped,
// killed and started again on the same port and folder, as an operator restarts Redis.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, freePort } from '../../dev/embedded-redis.js';
import { isAlive } from './processes.js';

export interface RedisNodeOptions {
  /** Asked of every client (and, with `--masterauth`, of replicas). */
  password: string;
  /** More redis-server arguments, e.g. `['--appendonly', 'yes']`. */
  args?: string[];
  /** Its folder; made (and removed by `remove()`) when not given. */
  dir?: string;
}

export interface RedisNode {
  readonly port: number;
  readonly dir: string;
  /** `redis://:password@127.0.0.1:port`. */
  readonly url: string;
  /** `127.0.0.1:port`. */
  readonly address: string;
  /** The pid of the redis-server running now (0 when stopped). */
  pid(): number;
  /** Everything it printed since it last started. */
  output(): string;
  /** SIGTERM (a clean shutdown: the append-only file is written out), and waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, as a crashed host, and waits for the exit. */
  kill(): Promise<void>;
  /** Starts it again, same port, folder and arguments. */
  start(): Promise<void>;
  /** Kills it if it runs and removes its folder. Safe to call twice. */
  remove(): Promise<void>;
}

export async function startRedisNode(options: RedisNodeOptions): Promise<RedisNode> {
  const command = findExecutable('redis-server');
  if (!command) throw new Error('redis-server is not installed');
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'pidbox-redis-node-'));
  const port = await freePort();
  const args = [
    '-', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--logfile', '',
    '--save', '', ...(options.args ?? []),
  ];
  let child: ChildProcess | null = null;
  let output = '';
  const start = async (): Promise<void> => {
    output = '';
    // setpriv --pdeathsig: redis-server dies with the test process, however it ends.
    const setpriv = findExecutable('setpriv');
    const spawned = setpriv
      ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', command, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child = spawned;
    spawned.stdin!.on('error', () => {});
    // On stdin, so that the password is not in argv.
    spawned.stdin!.end(`requirepass ${options.password}\nmasterauth ${options.password}\n`);
    spawned.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    spawned.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server on ${port} did not start: ${output.slice(-500)}`)), 15_000);
      const check = (): void => {
        if (/ready to accept connections/i.test(output)) {
          clearTimeout(timer);
          spawned.stdout!.off('data', check);
          resolve();
        }
      };
      spawned.stdout!.on('data', check);
      spawned.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`redis-server on ${port} exited (${signal ?? code}): ${output.slice(-500)}`));
      });
    });
  };
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    await exited;
    // setpriv execs redis-server, so the pid is redis-server's; make sure nothing of it is left.
    if (running.pid && isAlive(running.pid)) throw new Error(`redis-server ${running.pid} is still alive`);
  };
  await start();
  let removed: Promise<void> | null = null;
  return {
    port,
    dir,
    url: `redis://:${options.password}@127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    pid: () => {
      const current = child as ChildProcess | null;
      return current && current.exitCode === null && current.signalCode === null ? current.pid ?? 0 : 0;
    },
    output: () => output,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    start,
    remove() {
      removed ??= end('SIGKILL').then(() => {
        if (!options.dir) rmSync(dir, { recursive: true, force: true });
      });
      return removed;
    },
  };
}

