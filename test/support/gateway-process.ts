// A gateway in a process of its own (`node dist/bin/pidbox.js gateway`), as production runs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './processes.js';

const PIDBOX = fileURLToPath(new URL('../../bin/pidbox.js', import.meta.url));

export interface GatewayProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** `http://127.0.0.1:PORT`, as it printed it. */
  readonly url: string;
  /** Everything it printed so far. */
  output(): string;
  /** Stops it if it still runs (SIGTERM, then SIGKILL after 15 s), and waits for it; safe to call twice. */
  kill(): Promise<void>;
}

/** Starts `pidbox gateway` on a free port of 127.0.0.1 (`env` over that) and waits until it listens. */
export async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [PIDBOX, 'gateway'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: '0', PIDBOX_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await exited;
  };
  let url: string;
  try {
    url = await waitFor('the gateway to listen', () => {
      if (child.exitCode !== null) throw new Error(`the gateway exited at start: ${output}`);
      return /listening on (http:\/\/\S+)/.exec(output)?.[1] ?? null;
    }, 15_000);
  } catch (error) {
    await kill();
    throw error;
  }
  return { pid: child.pid!, child, url, output: () => output, kill };
}
