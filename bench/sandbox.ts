// npm run bench:sandbox — spawn → exit of /bin/true in a pidbox sandbox (bubblewrap's containment, a
// cgroup, the init as PID 1), next to a bare Node start with a clean environment and to tini in a
// PID namespace made by unshare(1); then what each step of the containment costs, bubblewrap's steps
// added one at a time. Prints figures only, every ratio from this one run.
import { spawn, type StdioOptions } from 'node:child_process';
import * as libc from '../native/libc.js';
import { containmentSteps } from '../worker/sandbox/bwrap-args.js';
import { openSandboxHost, type SandboxHost } from '../worker/sandbox/sandbox-host.js';
import { spawnSandbox } from '../worker/sandbox/spawn-sandbox.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const WARMUP = 10;

interface Stats { median: number; p99: number; mean: number }

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p99: at(0.99), mean: samples.reduce((a, b) => a + b, 0) / samples.length };
}

async function measure(label: string, once: () => Promise<void>, runs = RUNS): Promise<Stats> {
  for (let i = 0; i < WARMUP; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await once();
    samples.push(performance.now() - t);
  }
  const s = stats(samples);
  console.log(`${label.padEnd(58)} median ${s.median.toFixed(2).padStart(7)} ms   p99 ${s.p99.toFixed(2).padStart(7)} ms`);
  return s;
}

function run(command: string, args: string[], options: { uid?: number; gid?: number; stdio?: StdioOptions } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: options.stdio ?? 'ignore', env: { PATH: '/usr/bin:/bin' }, ...(options.uid ? { uid: options.uid, gid: options.gid! } : {}) });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}`))));
  });
}

/**
 * bubblewrap alone running /bin/true, with the containment's first `count` steps. Until the root
 * step is in, a scaffold of /usr and the top-level links lets /bin/true run at all.
 */
async function bwrapSteps(host: SandboxHost): Promise<Array<{ step: string; stats: Stats }>> {
  const slot = host.createSlot();
  try {
    const plan = { ...host.containmentPlan(slot, { network: 'loopback', tmpBytes: 64 << 20, seccompFd: 3, infoFd: 4 }), command: ['/bin/true'] };
    const steps = containmentSteps(plan).filter((s) => s.step !== 'info to the worker');
    const scaffold = ['--ro-bind', '/usr', '/usr', ...plan.hostRoot.topLevel.flatMap((e) => (e.kind === 'symlink' ? ['--symlink', e.target, `/${e.name}`] : ['--ro-bind', `/${e.name}`, `/${e.name}`]))];
    const results: Array<{ step: string; stats: Stats }> = [];
    for (let count = 1; count <= steps.length; count++) {
      const taken = steps.slice(0, count);
      const hasRoot = taken.some((s) => s.step.startsWith('root'));
      const args = [...taken.flatMap((s) => s.args), ...(hasRoot ? [] : scaffold), '--', '/bin/true'];
      const label = `bwrap: + ${steps[count - 1]!.step}`;
      const stats = await measure(label, async () => {
        const seccomp = host.openSeccomp();
        try {
          await run(host.bwrap, args, { uid: slot.uid, gid: slot.gid, stdio: ['ignore', 'ignore', 'inherit', seccomp, 'ignore'] });
        } finally {
          libc.close(seccomp);
        }
      }, Math.ceil(RUNS / 2));
      results.push({ step: steps[count - 1]!.step, stats });
    }
    return results;
  } finally {
    slot.remove();
  }
}

async function main(): Promise<void> {
  console.log(`spawn → exit, ${RUNS} runs each after ${WARMUP} warm-up runs (node ${process.version})`);
  const bare = await measure('node -e 0 (clean environment)', () => run(process.execPath, ['-e', '0']));
  const host = await openSandboxHost();
  let sandbox: Stats;
  let steps: Array<{ step: string; stats: Stats }>;
  try {
    sandbox = await measure('pidbox sandbox: /bin/true (all of it)', async () => {
      const outcome = await spawnSandbox(host, { run: { argv: ['/bin/true'], env: [] } }).outcome;
      if (outcome.exitCode !== 0) throw new Error(`sandbox exited ${outcome.exitCode}`);
    });
    console.log('');
    console.log('bubblewrap alone, the containment\'s steps added one at a time:');
    steps = await bwrapSteps(host);
  } finally {
    await host.close();
  }
  let tini: Stats | null = null;
  try {
    tini = await measure('unshare --pid --fork --mount-proc tini -- /bin/true', () =>
      run('unshare', ['--pid', '--fork', '--mount-proc', 'tini', '--', '/bin/true']));
  } catch (error) {
    console.log(`tini: not measured (${(error as Error).message}); install Debian's tini`);
  }

  console.log('');
  console.log('What each step costs (median, against the step before):');
  let before = 0;
  for (const { step, stats: s } of steps) {
    console.log(`  ${step.padEnd(40)} ${(s.median - before >= 0 ? '+' : '') + (s.median - before).toFixed(2).padStart(6)} ms`);
    before = s.median;
  }
  console.log(`  ${'init (Node) as PID 1, cgroup, mounts'.padEnd(40)} ${'+' + (sandbox.median - before).toFixed(2).padStart(6)} ms`);
  console.log('');
  console.log(`sandbox / bare node, median: ${(sandbox.median / bare.median).toFixed(2)}x  (target ≤ 1.6x)`);
  if (tini) console.log(`sandbox / unshare+tini, median: ${(sandbox.median / tini.median).toFixed(2)}x`);
}

await main();
