// Stopping `npm start` as a person does: Ctrl-C on a real terminal. The terminal sends SIGINT to its
// whole foreground process group, npm included, and npm forwards its copy to pidbox dev: one Ctrl-C
// must still be one graceful stop, in which a call in progress gets its real answer; a second one, a
// moment later, stops at once. Neither leaves a redis-server, a sandbox or a temporary folder.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { removeOrphanedTempDirs } from '../dev/owned-temp-dir.js';
import { REPO_ROOT } from './helpers/paths.js';
import { readStat } from './helpers/proc.js';
import { commandOf, isAlive, pidNamespaceOf, waitFor } from './support/processes.js';
import { cleanUpAfterKilledWorkers, staleSandboxState } from './support/sandbox-state.js';
import { runInTerminal, type Terminal } from './support/terminal.js';

const PIDBOX = fileURLToPath(new URL('../bin/pidbox.js', import.meta.url));
const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' };
let work: string;
let functionsDir: string;
const terminals: Terminal[] = [];
const children: ChildProcess[] = [];

before(() => {
  work = mkdtempSync(join(tmpdir(), 'pidbox-dev-shutdown-'));
  functionsDir = join(work, 'functions');
  mkdirSync(functionsDir);
  // The sandbox's user must be able to read its function's folder.
  chmodSync(work, 0o755);
});

after(async () => {
  for (const terminal of terminals) terminal.kill();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  const devs = allPids().filter((pid) => commandOf(pid).includes(functionsDir));
  for (const pid of devs) process.kill(pid, 'SIGKILL');
  await waitFor('every pidbox dev of this file to be gone', () => devs.every((pid) => !isAlive(pid)));
  rmSync(work, { recursive: true, force: true });
  // A pidbox dev that failed a test before it could stop left its Redis folder.
  removeOrphanedTempDirs('pidbox-redis-');
  // A pidbox dev that was forced out, or killed, left its sandboxes' folders and cgroups for the next worker.
  await cleanUpAfterKilledWorkers();
  assert.deepEqual(staleSandboxState(), []);
});

/**
 * An exec function that sleeps, then answers. Its `sleep` carries a number made for this test, so
 * the test can see on the machine (other tests may run sandboxes too) when it is running.
 */
function slowFunction(name: string, seconds: number): { marker: string } {
  const marker = `${seconds}.${randomInt(100_000, 999_999)}`;
  const dir = join(functionsDir, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'function.json'), JSON.stringify({ timeoutMs: 120_000 }));
  writeFileSync(join(dir, 'handler'), `#!/bin/sh\nbody=$(cat)\nsleep ${marker}\nprintf 'slow answer: %s' "$body"\n`, { mode: 0o755 });
  chmodSync(dir, 0o755);
  return { marker: `sleep ${marker}` };
}

function allPids(): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
}

function pidsRunning(command: string): number[] {
  return allPids().filter((pid) => commandOf(pid) === command && isAlive(pid));
}

/** `npm start` on a terminal, with its own functions folder, a free port and its own cache. */
async function npmStartInTerminal(graceMs: number): Promise<{ terminal: Terminal; url: string; redisSocket: string; devPid: number }> {
  // exec: npm leads the terminal's foreground process group, as when typed at an interactive shell
  // (a non-interactive sh in between would itself die of the SIGINT).
  const terminal = runInTerminal(`exec npm start --silent -- --port 0 --functions ${functionsDir} --cache-dir ${join(work, 'cache')}`, {
    cwd: REPO_ROOT,
    env: { ...ENV, PIDBOX_SHUTDOWN_GRACE_MS: String(graceMs) },
  });
  terminals.push(terminal);
  await waitFor('pidbox dev to be ready', () => terminal.output().includes('Ctrl-C stops everything') || terminal.child.exitCode !== null, 30_000);
  const output = terminal.output();
  const url = /gateway +(http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
  const redisSocket = /redis +unix:\/\/(\S+redis\.sock)\?password=\*\*\*/.exec(output)?.[1];
  assert.ok(url && redisSocket, output);
  const devPid = allPids().find((pid) => commandOf(pid).includes(`dist/bin/pidbox.js dev --port 0 --functions ${functionsDir}`));
  assert.ok(devPid, 'pidbox dev runs');
  return { terminal, url, redisSocket, devPid };
}

function redisServerOn(socket: string): number | undefined {
  return allPids().find((pid) => /redis-server/.test(commandOf(pid)) && commandOf(pid).includes(socket));
}

test('one Ctrl-C on npm start lets a call in progress finish with its real answer, exits 0 and leaves nothing behind', async () => {
  const { marker } = slowFunction('slow-answer', 2);
  const { terminal, url, redisSocket, devPid } = await npmStartInTerminal(20_000);
  const redisPid = redisServerOn(redisSocket);
  assert.ok(redisPid, 'the private redis-server runs');
  // Out of the terminal's reach: a session of its own.
  assert.notEqual(readStat(redisPid)!.session, readStat(devPid)!.session);
  assert.equal(readStat(devPid)!.pgrp, readStat(devPid)!.tpgid, 'pidbox dev is in the terminal\'s foreground process group');

  const call = fetch(`${url}/functions/slow-answer`, { method: 'POST', body: 'from the caller' });
  const [sleepPid] = await waitFor('the function to be running', () => {
    const found = pidsRunning(marker);
    return found.length > 0 ? found : null;
  }, 20_000);
  const sandboxNamespace = pidNamespaceOf(sleepPid!);
  // Two presses in a row: with npm's forwarded copies, four SIGINTs within a moment, one request.
  terminal.interrupt();
  terminal.interrupt();

  const answer = await call;
  assert.equal(answer.status, 200);
  assert.equal(await answer.text(), 'slow answer: from the caller');
  assert.equal(answer.headers.get('x-invocation-status'), 'succeeded');
  assert.equal(await terminal.exited, 0);
  const output = terminal.output();
  assert.equal(output.match(/SIGINT, shutting down/g)?.length, 1, output);
  assert.doesNotMatch(output, /exiting now/);
  assert.equal(isAlive(devPid), false);
  assert.equal(isAlive(redisPid), false, 'redis-server is gone');
  assert.equal(existsSync(dirname(redisSocket)), false, 'its folder is removed');
  assert.equal(isAlive(sleepPid!) && pidNamespaceOf(sleepPid!) === sandboxNamespace, false, 'the sandbox is gone');
  assert.deepEqual(pidsRunning(marker), []);
});

test('a second Ctrl-C a moment after the first stops pidbox dev at once, and still leaves no redis-server, sandbox or folder', async () => {
  const { marker } = slowFunction('never-answers', 90);
  const { terminal, url, redisSocket, devPid } = await npmStartInTerminal(60_000);
  const redisPid = redisServerOn(redisSocket);
  assert.ok(redisPid);
  const call = fetch(`${url}/functions/never-answers`, { method: 'POST' }).then(
    (response) => `answered ${response.status}`,
    (error: Error) => `failed: ${error.message}`,
  );
  const [sleepPid] = await waitFor('the function to be running', () => {
    const found = pidsRunning(marker);
    return found.length > 0 ? found : null;
  }, 20_000);
  const sandboxNamespace = pidNamespaceOf(sleepPid!);

  terminal.interrupt();
  await waitFor('the graceful stop to begin', () => terminal.output().includes('SIGINT, shutting down'));
  // Signals within a second of the first are copies of it; a press after that is a second one.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.equal(isAlive(devPid), true, 'the grace period (60 s) is running');
  terminal.interrupt();

  // Well within the grace period: only a forced stop ends it this soon.
  const code = await Promise.race([terminal.exited, new Promise((resolve) => setTimeout(resolve, 15_000, 'still running'))]);
  assert.notEqual(code, 'still running');
  assert.notEqual(code, 0);
  assert.match(terminal.output(), /SIGINT again, exiting now/);
  assert.match(await call, /^failed/);
  assert.equal(isAlive(devPid), false);
  await waitFor('redis-server to be gone', () => !isAlive(redisPid));
  assert.equal(existsSync(dirname(redisSocket)), false, 'its folder is removed');
  await waitFor('the sandbox to be gone', () => !(isAlive(sleepPid!) && pidNamespaceOf(sleepPid!) === sandboxNamespace));
});

test("a pidbox dev killed outright leaves its Redis folder, and the next start removes it", async () => {
  const start = (): { child: ChildProcess; output: () => string } => {
    const child = spawn(process.execPath, [PIDBOX, 'dev', '--port', '0', '--functions', functionsDir, '--cache-dir', join(work, 'cache')], { cwd: REPO_ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return { child, output: () => output };
  };
  const socketOf = async (dev: { child: ChildProcess; output: () => string }): Promise<string> => {
    await waitFor('pidbox dev to be ready', () => dev.output().includes('Ctrl-C stops everything') || dev.child.exitCode !== null, 30_000);
    const socket = /redis +unix:\/\/(\S+redis\.sock)\?password=\*\*\*/.exec(dev.output())?.[1];
    assert.ok(socket, dev.output());
    return socket;
  };

  const killed = start();
  const leftDir = dirname(await socketOf(killed));
  const redisPid = redisServerOn(join(leftDir, 'redis.sock'));
  assert.ok(redisPid);
  killed.child.kill('SIGKILL');
  // redis-server dies with its owner (its parent-death signal), its folder stays.
  await waitFor('redis-server to die with its owner', () => !isAlive(redisPid));
  assert.equal(existsSync(leftDir), true);

  const next = start();
  const nextDir = dirname(await socketOf(next));
  assert.equal(existsSync(leftDir), false, 'the dead owner\'s folder is removed');
  assert.equal(existsSync(nextDir), true);
  assert.ok(next.output().includes(`removed ${leftDir}: the process that made it was killed`), next.output());
  next.child.kill('SIGTERM');
  await new Promise((resolve) => next.child.once('exit', resolve));
  assert.equal(existsSync(nextDir), false);
});
