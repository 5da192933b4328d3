// One "host" of the lab: a network namespace of its own joined to the lab's switch, a cgroup of its
// own, and, for each process started on it, a mount namespace (ip netns exec makes one per process;
// host-mounts.ts fills it) and a UTS namespace whose hostname is the host's name, so that records
// name workers `w1:1234`. A process starts as `ip netns exec NS unshare --uts setpriv --pdeathsig
// KILL sh -c '<mounts, cgroup, hostname>; exec "$@"' …`: each of these execs the next, so the pid
// the test spawned is the pid of the program itself, and it dies with the test even on SIGKILL.
import { spawn } from 'node:child_process';
import { isAlive } from './processes.js';
import { createHostCgroup, type HostCgroup } from './host-cgroup.js';
import { hostMountCommands, shellQuote } from './host-mounts.js';
import { watchProcess, type HostProcess } from './host-process.js';
import type { LabSwitch } from './lab-switch.js';
import { addNetns, deleteNetns, ipIn, netnsPids } from './network-namespaces.js';

export interface LabHostOptions {
  /** Its name in the lab (`redis`, `w1`): its hostname, and the end of its namespace's and cgroup's names. */
  name: string;
  /** The lab's id: the start of its namespace's and cgroup's names. */
  labId: string;
  /** Its IPv4 address on the lab's subnet. */
  address: string;
  network: LabSwitch;
}

export interface SpawnOptions {
  /** The whole environment of the program (nothing of the test's is passed on). */
  env: Record<string, string>;
  /** Written to its standard input, which is then closed. Default: nothing. */
  stdin?: string;
}

export interface LabHost {
  readonly name: string;
  /** Its network namespace (under /run/netns). */
  readonly netns: string;
  readonly address: string;
  readonly cgroup: HostCgroup;
  /** Starts `command` on the host. */
  spawn(command: string, args: string[], options: SpawnOptions): HostProcess;
  /** Pids of every live process of the host: in its network namespace or its cgroup (its sandboxes, in namespaces of their own). */
  processes(): Promise<number[]>;
  /**
   * The host lost at once: SIGKILL to every process in its network namespace (`ip netns pids`),
   * again until none is left there (a fork may race a round). Its sandboxes, in network namespaces
   * of their own, get no signal from here: they must die with their worker. Returns the pids killed.
   */
  kill(): Promise<number[]>;
  /** Brings its link (`eth0`, inside its namespace) down or up: a partition from every other host. */
  setLink(state: 'up' | 'down'): Promise<void>;
  /** Kills what still runs there, then removes its namespace and cgroup; idempotent. */
  close(): Promise<void>;
}

/** How long a kill waits for the last killed process to go. */
const KILL_WAIT_MS = 10_000;

export async function createLabHost(options: LabHostOptions): Promise<LabHost> {
  const netns = `${options.labId}-${options.name}`;
  await addNetns(netns);
  let cgroup: HostCgroup;
  try {
    // The switch's end of the veth pair: one port per host, named after it.
    await options.network.plug(netns, `v-${options.name}`.slice(0, 15), options.address);
    cgroup = createHostCgroup(netns);
  } catch (error) {
    await deleteNetns(netns);
    throw error;
  }
  const entry = [
    'set -e',
    ...hostMountCommands(),
    ...cgroup.joinCommands(),
    `hostname ${shellQuote(options.name)}`,
    'exec "$@"',
  ].join('\n');

  const processes = async (): Promise<number[]> => {
    const all = new Set([...(await netnsPids(netns)), ...cgroup.pids()]);
    all.delete(process.pid);
    return [...all].filter((pid) => isAlive(pid)).sort((a, b) => a - b);
  };
  /** SIGKILL to what `find` lists, until it lists nothing. */
  const killEvery = async (find: () => Promise<number[]>): Promise<number[]> => {
    const killed = new Set<number>();
    const deadline = Date.now() + KILL_WAIT_MS;
    for (;;) {
      const left = (await find()).filter((pid) => pid !== process.pid && isAlive(pid));
      if (left.length === 0) return [...killed].sort((a, b) => a - b);
      if (Date.now() > deadline) throw new Error(`host ${options.name}: processes ${left.join(' ')} still run after SIGKILL`);
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
          killed.add(pid);
        } catch {
          // Gone meanwhile.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  let closing: Promise<void> | null = null;
  return {
    name: options.name,
    netns,
    address: options.address,
    cgroup,
    spawn(command, args, spawnOptions) {
      const child = spawn('ip', [
        'netns', 'exec', netns,
        'unshare', '--uts', '--',
        'setpriv', '--pdeathsig', 'KILL', '--',
        'sh', '-c', entry, 'sh', command, ...args,
      ], { env: spawnOptions.env, stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin!.on('error', () => {});
      child.stdin!.end(spawnOptions.stdin ?? '');
      return watchProcess(child, `${command} on ${options.name}`);
    },
    processes,
    kill: () => killEvery(() => netnsPids(netns)),
    async setLink(state) {
      await ipIn(netns, ['link', 'set', 'eth0', state]);
    },
    close() {
      closing ??= (async () => {
        // Everything: what runs in its network namespace and what is left in its cgroup.
        await killEvery(processes);
        await deleteNetns(netns);
        await cgroup.remove();
      })();
      return closing;
    },
  };
}
