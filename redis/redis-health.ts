// Whether Redis can serve pidbox now, for /readyz. One Redis: it answers PING. A cluster: the
// client is connected, the cluster says its state is ok, and the master of every slot, as the client
// knows them, answers PING — a master that just died leaves its slots unserved well before the
// cluster marks it failed (cluster-node-timeout), and a failover ends it.
import { Cluster } from 'ioredis';
import type { RedisClient } from './redis-client.js';

export interface RedisHealth {
  ok: boolean;
  /** Why not, when not. */
  error?: string;
  /** On a cluster: CLUSTER INFO's cluster_state, and the masters serving its slots. */
  cluster?: { state: string; masters: number };
}

const SLOTS = 16384;

export async function checkRedis(client: RedisClient, timeoutMs: number): Promise<RedisHealth> {
  try {
    if (!(client instanceof Cluster)) {
      await within(client.ping(), timeoutMs);
      return { ok: true };
    }
    return await checkCluster(client, timeoutMs);
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

async function checkCluster(client: Cluster, timeoutMs: number): Promise<RedisHealth> {
  if (client.status !== 'ready') return { ok: false, error: `the cluster connection is ${client.status}` };
  const info = String(await within(client.cluster('INFO'), timeoutMs));
  const state = /^cluster_state:(\w+)/m.exec(info)?.[1] ?? 'unknown';
  const owners = new Set<string>();
  let unserved = 0;
  for (let slot = 0; slot < SLOTS; slot++) {
    const owner = client.slots[slot]?.[0];
    if (owner) owners.add(owner);
    else unserved++;
  }
  const cluster = { state, masters: owners.size };
  if (state !== 'ok') return { ok: false, error: `cluster_state is ${state}`, cluster };
  if (unserved > 0) return { ok: false, error: `${unserved} slots have no master`, cluster };
  const masters = new Map(client.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
  const failed = await Promise.all([...owners].map(async (key) => {
    const node = masters.get(key);
    if (!node) return `${key}: no connection`;
    try {
      await within(node.ping(), timeoutMs);
      return null;
    } catch (error) {
      return `${key}: ${(error as Error).message}`;
    }
  }));
  const problems = failed.filter((problem) => problem !== null);
  if (problems.length > 0) return { ok: false, error: `masters not answering: ${problems.join('; ')}`, cluster };
  return { ok: true, cluster };
}

function within<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()),
  ]);
}
