// npm run bench:sandbox — spawn → exit of /bin/true in a pidbox sandbox, next to tini in a PID
// namespace made by unshare(1) and a bare Node start with a clean environment. Prints figures only.
import { spawn } from 'node:child_process';
import { openSandboxHost } from '../worker/sandbox/sandbox-host.js';
import { spawnSandbox } from '../worker/sandbox/spawn-sandbox.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const WARMUP = 10;

interface Stats { median: number; p99: number; mean: number }

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p99: at(0.99), mean: samples.reduce((a, b) => a + b, 0) / samples.length };
}

async function measure(label: string, once: () => Promise<void>): Promise<Stats> {
  for (let i = 0; i < WARMUP; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await once();
    samples.push(performance.now() - t);
  }
  const s = stats(samples);
  console.log(`${label.padEnd(52)} median ${s.median.toFixed(2).padStart(7)} ms   p99 ${s.p99.toFixed(2).padStart(7)} ms`);
  return s;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore', env: { PATH: '/usr/bin:/bin' } });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}`))));
  });
}

async function main(): Promise<void> {
  console.log(`spawn → exit, ${RUNS} runs each after ${WARMUP} warm-up runs (node ${process.version})`);
  const bare = await measure('node -e 0 (clean environment)', () => run(process.execPath, ['-e', '0']));
  const host = await openSandboxHost();
  const sandbox = await measure('pidbox sandbox: /bin/true', async () => {
    const outcome = await spawnSandbox(host, { run: { argv: ['/bin/true'], env: [] } }).outcome;
    if (outcome.exitCode !== 0) throw new Error(`sandbox exited ${outcome.exitCode}`);
  });
  await host.close();
  let tini: Stats | null = null;
  try {
    tini = await measure('unshare --pid --fork --mount-proc tini -- /bin/true', () =>
      run('unshare', ['--pid', '--fork', '--mount-proc', 'tini', '--', '/bin/true']));
  } catch (error) {
    console.log(`tini: not measured (${(error as Error).message}); install Debian's tini`);
  }
  console.log('');
  console.log(`sandbox / bare node, median: ${(sandbox.median / bare.median).toFixed(2)}x  (target ≤ 1.5x)`);
  if (tini) console.log(`sandbox / unshare+tini, median: ${(sandbox.median / tini.median).toFixed(2)}x`);
}

await main();
