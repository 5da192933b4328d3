// pidbox on several hosts: Redis, `pidbox gateway` and three `pidbox worker`s, each on a host of its
// own — network namespaces joined by a bridge, on this machine (test/support/pidbox-lab.ts) — and
// what losing a host or cutting one off does to the invocations it runs. The tests run in order on
// one lab: the host lost in the second is the one a worker starts on again in the third.
//
// The function `gated` (and its node twin) runs until the test opens its gate: a file in the
// function's folder, named by the request body, for every attempt or for one. Nothing is timed by
// sleeps; only the lock settings below are short, so that a lost job is taken back within seconds.
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import { closeRedisClient, createRedisClient } from '../redis/redis-client.js';
import { INVOCATIONS_QUEUE, redisKeys } from '../redis/redis-keys.js';
import { REPO_ROOT } from './helpers/paths.js';
import { labLeftovers } from './support/lab-leftovers.js';
import type { LabResponse } from './support/lab-client.js';
import type { LabHost } from './support/lab-host.js';
import { startLab, type Lab, type LabWorker } from './support/pidbox-lab.js';
import { commandOf, identify, isAlive, stillAlive, waitFor } from './support/processes.js';

const GATED = ['gated', 'gated-node'] as const;
/** A worker that stops renewing a job's lock loses the job after 3 s; workers look for such jobs every 0.5 s. */
const LOCK_ENV = { PIDBOX_LOCK_DURATION_MS: '3000', PIDBOX_STALLED_INTERVAL_MS: '500' };
const CONCURRENCY = 4;
const PREFIX = 'pidbox';
const KEYS = redisKeys(PREFIX);
/** The invocations queue's BullMQ keys, `…:wait`, `…:<job id>`. */
const JOBS = `${KEYS.bullPrefix(INVOCATIONS_QUEUE)}:${INVOCATIONS_QUEUE}`;

let lab: Lab;
let functionsDir: string;
let finishedListener: Redis | null = null;
/** `finished` messages seen on Redis, by invocation id: each must come exactly once. */
const finished = new Map<string, string[]>();
/** The host lost in the second test. */
let lostHost: LabHost | null = null;
/** bubblewrap children the lost host's worker left in their setup (see the lost-host test). */
let strandedSetups: number[] = [];

before(async () => {
  functionsDir = mkdtempSync(join(tmpdir(), 'pidbox-multi-host-functions-'));
  cpSync(join(REPO_ROOT, 'test', 'fixtures', 'multi-host'), functionsDir, { recursive: true });
  chmodSync(functionsDir, 0o755);
  for (const fn of GATED) mkdirSync(join(functionsDir, fn, 'gates'), { mode: 0o755 });
  lab = await startLab({
    workers: 3,
    functionsDir,
    env: { ...LOCK_ENV, PIDBOX_WORKER_CONCURRENCY: String(CONCURRENCY), PIDBOX_POOL_SIZE: '2' },
  });
  finishedListener = createRedisClient(lab.redis.localUrl, { name: 'lab-test-finished' });
  finishedListener.on('message', (_channel: string, text: string) => {
    const message = JSON.parse(text) as { id: string; status: string };
    finished.set(message.id, [...(finished.get(message.id) ?? []), message.status]);
  });
  await finishedListener.subscribe(KEYS.finishedChannel);
});

after(async () => {
  if (finishedListener) await closeRedisClient(finishedListener);
  await lab?.stop();
  rmSync(functionsDir, { recursive: true, force: true });
  if (lab) assert.deepEqual(await labLeftovers(lab.id), [], 'the lab left nothing on the machine');
});

test('every pidbox process reaches Redis over the switch, and each worker host has its own run folder and cgroup', async () => {
  // Who Redis sees, by address: the gateway and each worker from its own host (the test's own
  // connections come over the unix socket, which CLIENT LIST shows as "/…" paths).
  const clients = (await lab.store.client('LIST')) as string;
  const addresses = new Set([...clients.matchAll(/ addr=([\d.]+):\d+ /g)].map((m) => m[1]));
  const workers = [...lab.workers.values()];
  assert.deepEqual([...addresses].sort(), ['10.200.0.20', ...workers.map((w) => w.host.address)].sort());

  for (const worker of workers) {
    // Its network namespace is its host's (ip netns add made it: /run/netns/<name>), not ours.
    const ns = statSync(`/proc/${worker.process.pid}/ns/net`).ino;
    assert.equal(ns, statSync(`/run/netns/${worker.host.netns}`).ino);
    assert.notEqual(ns, statSync('/proc/self/ns/net').ino);
    // Its run folder, /run/pidbox, is in its host's own /run and holds its own sandboxes' folders alone.
    const instance = instanceOf(worker);
    assert.deepEqual(readdirSync(`/proc/${worker.process.pid}/root/run/pidbox`).sort(), [instance, `${instance}.staging`, 'uids']);
    assert.ok(!readdirSync('/run').includes('pidbox') || !readdirSync('/run/pidbox').includes(instance), "nothing of it in the machine's /run");
    // Its cgroups are below its host's, in every hierarchy.
    for (const dir of worker.host.cgroup.dirs) assert.deepEqual(readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name), [instance]);
  }

  // A call through the client host runs in a sandbox on one of the worker hosts.
  openGate('smoke');
  const res = await lab.client.request('/functions/gated', { method: 'POST', body: 'smoke' });
  assert.equal(res.status, 200);
  const id = res.headers['x-invocation-id']!;
  assert.equal(res.body, `attempt 1 of ${id}\n`);
  const r = await record(id);
  assert.ok(workers.some((w) => w.name === r.worker), `${r.worker} is one of the lab's workers`);
  assert.deepEqual(finished.get(id), ['succeeded']);
});

test("a lost host's invocations run again on the other hosts: every accepted one succeeds exactly once, the re-run ones in 2 attempts", async () => {
  const gate = 'lost-host';
  const known = await invocationIds();
  // As many invocations as the three workers run at once, so that all of them are running when
  // the host goes: async ones of both runtimes, and sync callers who wait for their answer.
  const asyncExec = 7;
  const asyncNode = 2;
  const syncCalls = 3;
  const total = asyncExec + asyncNode + syncCalls;
  assert.equal(total, CONCURRENCY * lab.workers.size);
  const accepted: string[] = [];
  for (let i = 0; i < asyncExec + asyncNode; i++) {
    const res = await lab.client.request(`/functions/${i < asyncExec ? 'gated' : 'gated-node'}/invocations`, { method: 'POST', body: gate });
    assert.equal(res.status, 202);
    accepted.push((JSON.parse(res.body) as { id: string }).id);
  }
  const answers: Array<Promise<LabResponse>> = [];
  for (let i = 0; i < syncCalls; i++) answers.push(lab.client.request('/functions/gated', { method: 'POST', body: gate }));

  // Running, each: its function has started and said so in its log.
  const running = await waitFor('every invocation to wait at its gate', async () => {
    const ids = [...(await invocationIds())].filter((id) => !known.has(id));
    if (ids.length < total) return null;
    const hashes = await Promise.all(ids.map((id) => lab.store.hgetall(KEYS.invocation(id))));
    if (!hashes.every((h) => h.status === 'running' && h.sandbox)) return null;
    const logs = await Promise.all(ids.map((id) => logText(id)));
    return logs.every((log) => log.includes(`attempt 1 waits for ${gate}`)) ? hashes : null;
  }, 30_000);
  assert.equal(running.length, total);
  const syncIds = running.map((h) => h.id!).filter((id) => !accepted.includes(id));
  assert.equal(syncIds.length, syncCalls);
  const workerOf = new Map(running.map((h) => [h.id!, h.worker!]));
  for (const worker of lab.workers.values()) {
    assert.equal(running.filter((h) => h.worker === worker.name).length, CONCURRENCY, `${worker.name} runs ${CONCURRENCY}`);
  }

  // The host with the most sync callers waiting on it is lost.
  const victim = [...lab.workers.values()].sort((a, b) => syncCount(b) - syncCount(a))[0]!;
  function syncCount(w: LabWorker): number {
    return syncIds.filter((id) => workerOf.get(id) === w.name).length;
  }
  const lost = running.filter((h) => h.worker === victim.name).map((h) => h.id!);
  const sandboxPids = running.filter((h) => h.worker === victim.name).map((h) => (JSON.parse(h.sandbox!) as { hostPid: number }).hostPid);
  const everything = await victim.host.processes();
  for (const pid of sandboxPids) assert.ok(everything.includes(pid), `sandbox ${pid} is one of the host's processes`);
  const before = identify(everything);

  const killed = await victim.host.kill();
  assert.ok(killed.includes(victim.process.pid));
  assert.deepEqual(await victim.process.exited, { code: null, signal: 'SIGKILL' });
  lostHost = victim.host;
  lab.workers.delete(victim.host.name);
  // Its sandboxes got no signal from us, and die with their worker (bubblewrap's --die-with-parent,
  // the init's parent-death signal): nothing of the host runs anywhere any more.
  await waitFor("the lost host's sandboxes to end", () => stillAlive(before).length === 0, 5000);
  assert.deepEqual(stillAlive(before), []);
  // What may still run: a bubblewrap child caught between its clone and its uid map when its worker
  // died (it waits on bubblewrap's eventfd, before it has a parent-death signal or a network of the
  // host's). Nothing else. The next worker of the host kills it (the next test).
  strandedSetups = await victim.host.processes();
  for (const pid of strandedSetups) {
    assert.match(commandOf(pid), new RegExp(`^\\S*bwrap .*/run/pidbox/pidbox-${victim.name.split(':')[1]}-`), `process ${pid} of the lost host is a stranded sandbox setup`);
  }

  openGate(gate);
  const answered = await Promise.all(answers);
  const all = [...accepted, ...syncIds];
  const records = await waitFor('every invocation to finish', async () => {
    const rs = await Promise.all(all.map(record));
    return rs.every((r) => r.finishedAt !== null) ? rs : null;
  }, 30_000);

  const survivors = [...lab.workers.values()].map((w) => w.name);
  for (const r of records) {
    const rerun = lost.includes(r.id);
    assert.equal(r.status, 'succeeded', r.id);
    assert.equal(r.attempts, rerun ? 2 : 1, `${r.id} (${rerun ? 'lost' : 'kept'})`);
    assert.equal(r.response?.body, `attempt ${r.attempts} of ${r.id}\n`);
    if (rerun) assert.ok(survivors.includes(r.worker!), `${r.id} ran again on ${r.worker}, a survivor`);
    else assert.equal(r.worker, workerOf.get(r.id));
    assert.deepEqual(finished.get(r.id), ['succeeded'], `${r.id}: one finished message`);
  }
  assert.deepEqual(answered.map((a) => a.status), [200, 200, 200]);
  for (const a of answered) {
    const id = a.headers['x-invocation-id']!;
    assert.equal(a.body, `attempt ${lost.includes(id) ? 2 : 1} of ${id}\n`);
  }
  assert.ok(answered.some((a) => lost.includes(a.headers['x-invocation-id']!)), 'a sync caller of the lost host got its answer');

  // BullMQ: the lost host's jobs, and only those, were found stalled once; nothing failed or waits.
  assert.deepEqual((await jobEvents('stalled')).filter((id) => all.includes(id)).sort(), [...lost].sort());
  assert.deepEqual(await lab.store.call('ZCARD', `${JOBS}:failed`), 0);
  // The records finish before their workers hand the jobs back to BullMQ: wait for that.
  await waitFor('every job to leave the active list', async () => (await lab.store.llen(`${JOBS}:active`)) === 0, 5000);
  assert.deepEqual(await lab.store.llen(`${JOBS}:wait`), 0);
  // The log of a re-run exec invocation holds both runs: the first was cut off where it waited.
  const rerunExec = lost.find((id) => syncIds.includes(id) || accepted.indexOf(id) < asyncExec);
  const log = (await lab.client.request(`/invocations/${rerunExec}/logs`)).body;
  assert.equal(log, `attempt 1 waits for ${gate}\n--- pidbox: attempt 2 ---\nattempt 2 waits for ${gate}\nattempt 2 passed ${gate}\n`);
});

test('a worker started again on the lost host removes what the killed one left in its cgroup', async () => {
  assert.ok(lostHost, 'the previous test lost a host');
  const leftBehind = lostHost.cgroup.dirs.map((dir) => readdirSync(dir).filter((name) => name.startsWith('pidbox-')));
  assert.ok(leftBehind.every((names) => names.length === 1), `the killed worker's subtree is there: ${JSON.stringify(leftBehind)}`);
  const worker = await lab.startWorker(lostHost);
  await waitFor('the stranded sandbox setups to be killed', () => strandedSetups.every((pid) => !isAlive(pid)), 5000);
  for (const dir of lostHost.cgroup.dirs) {
    assert.deepEqual(readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name), [instanceOf(worker)]);
  }
});

test('a partitioned worker cannot finish a job another worker took over: BullMQ refuses its completion, and the record keeps the new run', async () => {
  const gate = 'partition';
  const known = await invocationIds();
  let settled = false;
  const answer = lab.client.request('/functions/gated', { method: 'POST', body: gate }).finally(() => (settled = true));
  const first = await waitFor('the call to wait at its gate', async () => {
    const [id] = [...(await invocationIds())].filter((i) => !known.has(i));
    if (!id) return null;
    const h = await lab.store.hgetall(KEYS.invocation(id));
    return h.status === 'running' && (await logText(id)).includes(`attempt 1 waits for ${gate}`) ? h : null;
  }, 15_000);
  const id = first.id!;
  const cutOff = lab.workerNamed(first.worker!)!;
  assert.ok(cutOff, `${first.worker} is one of the lab's workers`);
  const lockKey = `${JOBS}:${id}:lock`;
  const firstToken = await lab.store.get(lockKey);
  assert.ok(firstToken);
  const firstSandbox = JSON.parse(first.sandbox!) as { hostPid: number };
  const firstRun = identify(await cutOff.host.processes()).filter((p) => p.pid === firstSandbox.hostPid);
  assert.equal(firstRun.length, 1);

  // Cut off: the worker goes on running the function, but reaches Redis no more, so it cannot renew
  // the job's lock. Once the lock has expired, another worker's stalled check takes the job back and
  // a worker runs it again: attempt 2, while attempt 1 still runs on the far side of the partition.
  await cutOff.host.setLink('down');
  const second = await waitFor('another worker to run it again', async () => {
    const h = await lab.store.hgetall(KEYS.invocation(id));
    return h.attempts === '2' && h.status === 'running' && (await logText(id)).includes(`attempt 2 waits for ${gate}`) ? h : null;
  }, 15_000);
  const takeover = lab.workerNamed(second.worker!)!;
  assert.ok(takeover && takeover !== cutOff, `taken over by ${second.worker}`);
  const secondToken = await lab.store.get(lockKey);
  assert.ok(secondToken && secondToken !== firstToken, 'the new run holds a lock token of its own');
  assert.equal(await lab.store.hget(`${JOBS}:${id}`, 'pb'), takeover.name);
  assert.equal(await lab.store.hget(`${JOBS}:${id}`, 'stc'), '1');
  assert.equal(stillAlive(firstRun).length, 1, 'attempt 1 still runs on the partitioned host');

  // Attempt 1 ends while cut off; its worker's writes wait in its TCP connections until the link is
  // back, then arrive late: BullMQ's lock token refuses its completion, and the record its finish.
  openGate(`${gate}-1`);
  await waitFor('attempt 1 to end', () => stillAlive(firstRun).length === 0, 10_000);
  await cutOff.host.setLink('up');
  await cutOff.process.waitForOutput(new RegExp(`Lock mismatch for job ${id}\\. Cmd moveToFinished from active`), 30_000);
  const late = logLines(cutOff).filter((l) => l.invocation_id === id && l.msg === 'a late result was dropped');
  assert.equal(late.length, 1, cutOff.process.output());
  assert.deepEqual(
    { attempt: late[0]!.attempt, status: late[0]!.status, current_attempt: late[0]!.current_attempt, current_worker: late[0]!.current_worker },
    { attempt: 1, status: 'succeeded', current_attempt: 2, current_worker: takeover.name },
  );
  const meanwhile = await record(id);
  assert.deepEqual(
    { status: meanwhile.status, attempts: meanwhile.attempts, worker: meanwhile.worker, response: meanwhile.response, finishedAt: meanwhile.finishedAt },
    { status: 'running', attempts: 2, worker: takeover.name, response: null, finishedAt: null },
  );
  assert.equal(finished.get(id), undefined, 'no finished message');
  assert.equal(settled, false, 'the sync caller still waits');
  assert.equal(await lab.store.get(lockKey), secondToken);

  openGate(`${gate}-2`);
  const res = await answer;
  assert.equal(res.status, 200);
  assert.equal(res.body, `attempt 2 of ${id}\n`);
  const done = await record(id);
  assert.deepEqual(
    { status: done.status, attempts: done.attempts, worker: done.worker, body: done.response?.body },
    { status: 'succeeded', attempts: 2, worker: takeover.name, body: `attempt 2 of ${id}\n` },
  );
  assert.deepEqual(finished.get(id), ['succeeded']);
  // BullMQ: stalled once, completed once (by the new run: a completed job is removed at once). The
  // record finishes, and the caller is answered, before the worker hands the job back to BullMQ.
  assert.deepEqual((await jobEvents('stalled')).filter((j) => j === id), [id]);
  await waitFor('BullMQ to complete the job', async () => (await jobEvents('completed')).includes(id), 5000);
  assert.deepEqual((await jobEvents('completed')).filter((j) => j === id), [id]);
  assert.equal(await lab.store.exists(`${JOBS}:${id}`), 0);
  // The log holds what both runs wrote, the late run's lines where they arrived; only its result is dropped.
  const log = (await lab.client.request(`/invocations/${id}/logs`)).body;
  assert.equal(log, `attempt 1 waits for ${gate}\n--- pidbox: attempt 2 ---\nattempt 2 waits for ${gate}\nattempt 1 passed ${gate}\nattempt 2 passed ${gate}\n`);
  assert.doesNotMatch(takeover.process.output(), new RegExp(`(Lock mismatch|Missing lock) for job ${id}`));
});

/** The worker's sandbox host name, `pidbox-<pid>-<start time>-1` (worker/sandbox/instance-name.ts). */
function instanceOf(worker: LabWorker): string {
  const stat = readFileSync(`/proc/${worker.process.pid}/stat`, 'latin1');
  return `pidbox-${worker.process.pid}-${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}-1`;
}

/** Opens a gate for every attempt of the gated functions, or for one attempt (`name-<attempt>`). */
function openGate(name: string): void {
  for (const fn of GATED) writeFileSync(join(functionsDir, fn, 'gates', name), '', { mode: 0o644 });
}

async function record(id: string): Promise<InvocationRecord> {
  const res = await lab.client.request(`/invocations/${id}`);
  assert.equal(res.status, 200, res.body);
  return JSON.parse(res.body) as InvocationRecord;
}

/** The JSON log lines a pidbox process wrote. */
function logLines(worker: LabWorker): Array<Record<string, unknown>> {
  return worker.process.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Every invocation id with a record in Redis. */
async function invocationIds(): Promise<Set<string>> {
  const keys = await lab.store.keys(KEYS.invocation('*'));
  return new Set(keys.filter((k) => !k.endsWith(':log')).map((k) => k.slice(KEYS.invocation('').length)));
}

/** An invocation's log as Redis holds it so far: its data entries' bytes, as text. */
async function logText(id: string): Promise<string> {
  const entries = (await lab.store.xrange(KEYS.log(id), '-', '+')) as Array<[string, string[]]>;
  return entries.map(([, fields]) => (fields[1] === 'data' ? fields[3] ?? '' : '')).join('');
}

/** Job ids of every event `name` in BullMQ's event stream of the invocations queue. */
async function jobEvents(name: string): Promise<string[]> {
  const entries = (await lab.store.xrange(`${JOBS}:events`, '-', '+')) as Array<[string, string[]]>;
  return entries.flatMap(([, fields]) => {
    const map = new Map<string, string>();
    for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
    return map.get('event') === name && map.has('jobId') ? [map.get('jobId')!] : [];
  });
}
