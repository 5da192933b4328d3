// pidbox on several hosts of this machine: Redis on one, `pidbox gateway` (the real bin) on another,
// `pidbox worker` on N more, and a client host through which the test reaches the gateway, all
// joined by the lab's switch (10.200.0.0/24) and reaching Redis over it only. Every host is a
// network namespace, a cgroup, and per process a mount and a UTS namespace (lab-host.ts); nothing
// is added to the machine's own network, and stop() removes everything the lab made.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Redis } from 'ioredis';
import { closeRedisClient, createRedisClient } from '../../redis/redis-client.js';
import { REPO_ROOT } from '../helpers/paths.js';
import type { HostProcess } from './host-process.js';
import { startLabClient, type LabClient } from './lab-client.js';
import { createLabHost, type LabHost } from './lab-host.js';
import { newLabId, removeStaleLabs } from './lab-leftovers.js';
import { startLabRedis, type LabRedis } from './lab-redis.js';
import { createSwitch, type LabSwitch } from './lab-switch.js';

const PIDBOX = join(REPO_ROOT, 'bin', 'pidbox');
const GATEWAY_PORT = 8080;
/** Sandbox uids of the lab's worker hosts: a range of their own each, away from the default one other tests use. */
const FIRST_SANDBOX_UID = 1_900_100_000;
const SANDBOX_UIDS_PER_HOST = 4096;

export interface LabOptions {
  /** Worker hosts, w1…wN. Default: 3. */
  workers?: number;
  /** The functions folder every host serves (readable by others: sandboxes see it as /var/task). */
  functionsDir: string;
  /** Environment of every pidbox process, gateway and workers, over the lab's defaults. */
  env?: Record<string, string>;
}

export interface LabWorker {
  readonly host: LabHost;
  readonly process: HostProcess;
  /** `w1:<pid>`: how records and BullMQ name it. */
  readonly name: string;
}

export interface Lab {
  readonly id: string;
  /** The lab's folder under /tmp (Redis's data, sockets, each worker host's cache). */
  readonly dir: string;
  readonly redis: LabRedis;
  readonly gateway: HostProcess;
  readonly client: LabClient;
  /** The worker hosts, w1…wN. */
  readonly workerHosts: readonly LabHost[];
  /** The worker running on each worker host now, by host name. */
  readonly workers: Map<string, LabWorker>;
  /** The test's own Redis client, on the unix socket. */
  readonly store: Redis;
  /** Starts a worker on a worker host (again, after its last one was killed). */
  startWorker(host: LabHost): Promise<LabWorker>;
  /** The worker whose name is `name` (`w1:1234`), whether it runs or not. */
  workerNamed(name: string): LabWorker | undefined;
  /** Stops every process, removes every host, the switch and the folder; idempotent. */
  stop(): Promise<void>;
}

export async function startLab(options: LabOptions): Promise<Lab> {
  await removeStaleLabs();
  const id = newLabId();
  const dir = mkdtempSync(join(tmpdir(), `${id}-`));
  // Traversable by anyone: a worker's cache and the functions' bundles are read by sandbox uids.
  chmodSync(dir, 0o755);
  const env = {
    PATH: `${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    LANG: 'C.UTF-8',
  };
  const hosts: LabHost[] = [];
  const processes: HostProcess[] = [];
  let network: LabSwitch | null = null;
  let store: Redis | null = null;
  const everyWorker: LabWorker[] = [];
  const stopAll = async (): Promise<void> => {
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>): Promise<void> => {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    };
    await attempt(async () => store && closeRedisClient(store));
    // Gracefully first, so that workers remove their own sandboxes, folders and cgroups.
    await Promise.all(processes.map((p) => attempt(() => p.stop(10_000))));
    for (const host of hosts) await attempt(() => host.close());
    await attempt(async () => network?.close());
    await attempt(async () => rmSync(dir, { recursive: true, force: true }));
    if (errors.length > 0) throw new AggregateError(errors, `the lab ${id} did not stop cleanly`);
  };

  try {
    network = await createSwitch(`${id}-switch`);
    const host = async (name: string, address: string): Promise<LabHost> => {
      const made = await createLabHost({ name, labId: id, address, network: network! });
      hosts.push(made);
      return made;
    };
    const redisHost = await host('redis', '10.200.0.10');
    const gatewayHost = await host('gateway', '10.200.0.20');
    const clientHost = await host('client', '10.200.0.30');
    const workerHosts: LabHost[] = [];
    for (let i = 1; i <= (options.workers ?? 3); i++) workerHosts.push(await host(`w${i}`, `10.200.0.${100 + i}`));

    const redis = await startLabRedis(redisHost, join(dir, 'redis'), env);
    processes.push(redis.process);
    store = createRedisClient(redis.localUrl, { name: 'lab-test' });
    const pidboxEnv = {
      ...env,
      REDIS_URL: redis.url,
      PIDBOX_FUNCTIONS_DIR: options.functionsDir,
      PIDBOX_SHUTDOWN_GRACE_MS: '2000',
      ...options.env,
    };

    const gateway = gatewayHost.spawn(PIDBOX, ['gateway'], { env: { ...pidboxEnv, PIDBOX_HOST: gatewayHost.address, PORT: String(GATEWAY_PORT) } });
    processes.push(gateway);
    const workers = new Map<string, LabWorker>();
    const startWorker = async (workerHost: LabHost): Promise<LabWorker> => {
      const index = workerHosts.indexOf(workerHost);
      const cacheDir = join(dir, workerHost.name, 'cache');
      mkdirSync(cacheDir, { recursive: true });
      const worker = workerHost.spawn(PIDBOX, ['worker'], {
        env: {
          ...pidboxEnv,
          PIDBOX_CACHE_DIR: cacheDir,
          PIDBOX_SANDBOX_UID: String(FIRST_SANDBOX_UID + index * SANDBOX_UIDS_PER_HOST),
          PIDBOX_SANDBOX_UIDS: String(SANDBOX_UIDS_PER_HOST),
        },
      });
      processes.push(worker);
      await worker.waitForOutput(/pidbox worker: \S+ runs up to/, 30_000);
      const name = /pidbox worker: (\S+) runs up to/.exec(worker.output())![1]!;
      const started: LabWorker = { host: workerHost, process: worker, name };
      workers.set(workerHost.name, started);
      everyWorker.push(started);
      return started;
    };
    await Promise.all([gateway.waitForOutput(/pidbox gateway: listening on/, 30_000), ...workerHosts.map(startWorker)]);
    const client = await startLabClient(clientHost, dir, { address: gatewayHost.address, port: GATEWAY_PORT }, env);
    processes.push(client.process);

    let stopping: Promise<void> | null = null;
    return {
      id,
      dir,
      redis,
      gateway,
      client,
      workerHosts,
      workers,
      store,
      startWorker,
      workerNamed: (name) => everyWorker.find((w) => w.name === name),
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll().catch(() => {});
    throw error;
  }
}
