// A real Redis Cluster for a test: three masters with a replica each, cluster-enabled redis-servers
// on free ports in temporary folders, joined by `redis-cli --cluster create`, all asking for one
// password. The test can fail a master over to its replica (CLUSTER FAILOVER) or kill it outright.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { findExecutable } from '../../dev/embedded-redis.js';
import { startRedisNode, type RedisNode } from './redis-node.js';
import { waitFor } from './processes.js';

/** How long a node may not answer before the others hold it failed: short, so a failover is quick. */
export const NODE_TIMEOUT_MS = 1000;

export interface RedisCluster {
  readonly nodes: RedisNode[];
  /** What PIDBOX_REDIS_CLUSTER gets: three seeds, the password before them. */
  readonly seeds: string;
  /** A command on one node (its answer, or the error Redis answered as a string). */
  command(node: RedisNode, ...args: Array<string | number>): Promise<unknown>;
  /** The slot of a key, as the cluster computes it. */
  keySlot(key: string): Promise<number>;
  /** The node that is master of `slot` now, and its replicas, as a live node sees the cluster. */
  shardOf(slot: number): Promise<{ master: RedisNode; replicas: RedisNode[] }>;
  /** Until every live node says cluster_state:ok and sees one master per shard, each with a synced replica when `withReplicas`. */
  untilHealthy(withReplicas?: boolean): Promise<void>;
  /** Kills every node and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

export async function startRedisCluster(): Promise<RedisCluster> {
  const password = randomBytes(16).toString('hex');
  const args = [
    '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
    '--appendonly', 'no',
  ];
  const nodes: RedisNode[] = [];
  const clients = new Map<RedisNode, Redis>();
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const client of clients.values()) client.disconnect();
      await Promise.all(nodes.map((node) => node.remove()));
    })();
    return stopping;
  };
  const clientOf = (node: RedisNode): Redis => {
    let client = clients.get(node);
    if (!client) {
      // Reconnects forever: a node killed and its client asked again fails each command at once.
      client = new Redis({ host: '127.0.0.1', port: node.port, password, maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: false });
      client.on('error', () => {});
      clients.set(node, client);
    }
    return client;
  };
  const command = async (node: RedisNode, ...commandArgs: Array<string | number>): Promise<unknown> => {
    const client = clientOf(node);
    if (client.status !== 'ready') await waitFor(`a connection to ${node.address}`, () => client.status === 'ready', 5000);
    try {
      return await client.call(String(commandArgs[0]), ...commandArgs.slice(1));
    } catch (error) {
      return (error as Error).message;
    }
  };
  const live = (): RedisNode[] => nodes.filter((node) => node.pid() !== 0);
  /** CLUSTER NODES of a live node, as {address, id, master id, flags, slot ranges}. */
  const layout = async (): Promise<Array<{ node: RedisNode | undefined; id: string; masterId: string; flags: string[]; ranges: Array<[number, number]> }>> => {
    const text = String(await command(live()[0]!, 'CLUSTER', 'NODES'));
    return text.trim().split('\n').map((line) => {
      const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
      const hostPort = address!.split('@')[0]!;
      return {
        node: nodes.find((n) => n.address === hostPort),
        id: id!,
        masterId: masterId!,
        flags: flags!.split(','),
        ranges: slots.filter((s) => /^\d/.test(s)).map((s) => {
          const [from, to] = s.split('-').map(Number);
          return [from!, to ?? from!] as [number, number];
        }),
      };
    });
  };
  const shardOf = async (slot: number): Promise<{ master: RedisNode; replicas: RedisNode[] }> => {
    const entries = await layout();
    const master = entries.find((e) => e.flags.includes('master') && !e.flags.includes('fail') && e.ranges.some(([a, b]) => slot >= a && slot <= b));
    if (!master?.node) throw new Error(`no master for slot ${slot}`);
    const replicas = entries.filter((e) => e.masterId === master.id && !e.flags.includes('fail') && e.node).map((e) => e.node!);
    return { master: master.node, replicas };
  };

  try {
    for (let i = 0; i < 6; i++) nodes.push(await startRedisNode({ password, args }));
    await createCluster(nodes, password);
    const cluster: RedisCluster = {
      nodes,
      seeds: `redis://:${password}@${nodes.slice(0, 3).map((n) => n.address).join(',')}`,
      command,
      keySlot: async (key) => Number(await command(live()[0]!, 'CLUSTER', 'KEYSLOT', key)),
      shardOf,
      async untilHealthy(withReplicas = true) {
        await waitFor('the cluster to be healthy', async () => {
          for (const node of live()) {
            if (!/cluster_state:ok/.test(String(await command(node, 'CLUSTER', 'INFO')))) return false;
          }
          const entries = await layout();
          const masters = entries.filter((e) => e.flags.includes('master') && !e.flags.includes('fail') && e.ranges.length > 0);
          if (masters.length !== 3) return false;
          if (!withReplicas) return true;
          for (const master of masters) {
            const replica = entries.find((e) => e.masterId === master.id && !e.flags.includes('fail') && e.node);
            if (!replica) return false;
            if (!/master_link_status:up/.test(String(await command(replica.node!, 'INFO', 'replication')))) return false;
          }
          return true;
        }, 30_000, 100);
      },
      stop,
    };
    await cluster.untilHealthy();
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `redis-cli --cluster create`: the first three become masters, the others their replicas. */
async function createCluster(nodes: RedisNode[], password: string): Promise<void> {
  const cli = findExecutable('redis-cli');
  if (!cli) throw new Error('redis-cli is not installed');
  const child = spawn(cli, ['--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', '1', '--cluster-yes'], {
    // The password in the environment, not in argv.
    env: { ...process.env, REDISCLI_AUTH: password },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0 || !/All 16384 slots covered/.test(output)) throw new Error(`redis-cli --cluster create failed (${code}): ${output.slice(-1000)}`);
}
