// A worker in a process of its own (`node dist/bin/pidbox.js worker`), so that a test can SIGKILL it.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './processes.js';

const PIDBOX = fileURLToPath(new URL('../../bin/pidbox.js', import.meta.url));

export interface WorkerProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with its exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops it if it still runs (SIGTERM, then SIGKILL after 15 s), and waits for it; safe to call twice (for `after` hooks). */
  kill(): Promise<void>;
}

export async function spawnWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [PIDBOX, 'worker'], {
    // Several workers share this host in the tests: each takes a free port for its /metrics.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PIDBOX_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const handle: WorkerProcess = {
    pid: child.pid!,
    child,
    output: () => output,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        // Graceful first, so that it removes its own sandboxes' folders and cgroups.
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      await exited;
    },
  };
  try {
    await waitFor('the worker to start', () => /runs up to/.test(output) || child.exitCode !== null, 15_000);
  } catch (error) {
    await handle.kill();
    throw error;
  }
  if (child.exitCode !== null) throw new Error(`the worker exited at start: ${output}`);
  return handle;
}
