// A function is hostile code. Each test here runs one that attacks its sandbox (test/fixtures/hostile,
// each fixture named by what it tries) and checks from the host that the attack failed and that
// the worker carries on. Real sandboxes: bubblewrap, user and PID namespaces, cgroups, seccomp.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FunctionResult, InvocationRequest } from '../contracts/invocation.js';
import { PidboxError } from '../contracts/pidbox-error.js';
import { FunctionRegistry } from '../registry/function-registry.js';
import { runFunction, type RunOptions } from '../worker/invoke/run-function.js';
import { createNodeBuilder } from '../worker/runtimes/node-build.js';
import { openSandboxHost, type SandboxHost } from '../worker/sandbox/sandbox-host.js';
import { SANDBOX_PATH, spawnSandbox } from '../worker/sandbox/spawn-sandbox.js';
import { livingProcessesInPidNamespace, holdPidNamespace } from './helpers/proc.js';
import { waitUntil } from './helpers/wait.js';
import { leftoverCgroups } from './support/cgroups.js';
import { waitFor } from './support/processes.js';

const HOSTILE = fileURLToPath(new URL('../../test/fixtures/hostile', import.meta.url));
const registry = new FunctionRegistry(HOSTILE);
const cacheDir = mkdtempSync(join(tmpdir(), 'pidbox-isolation-cache-'));
const builder = createNodeBuilder({ cacheDir });
let host: SandboxHost;

before(async () => {
  host = await openSandboxHost();
});
after(async () => {
  await host.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

function request(body = '', path = '/'): InvocationRequest {
  return { method: 'POST', path, headers: {}, bodyBase64: Buffer.from(body).toString('base64') };
}

function invoke(name: string, body = '', options: Partial<RunOptions> & { registry?: FunctionRegistry; path?: string } = {}): Promise<FunctionResult> {
  const fn = (options.registry ?? registry).get(name);
  return runFunction(fn, request(body, options.path), { host, invocationId: `inv-${name}`, builder, ...options });
}

function text(result: FunctionResult): string {
  return Buffer.from(result.response.bodyBase64, 'base64').toString('utf8');
}

function lines(result: FunctionResult, prefix: string): string[] {
  return text(result).split('\n').filter((l) => l.startsWith(prefix));
}

/** A functions folder of the test's own, readable by the sandbox's uid, with `name` copied from the hostile fixtures and a function.json. */
function variant(name: string, config: object): { registry: FunctionRegistry; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'pidbox-variant-'));
  chmodSync(root, 0o755);
  mkdirSync(join(root, name), { mode: 0o755 });
  copyFileSync(join(HOSTILE, name, 'handler'), join(root, name, 'handler'));
  chmodSync(join(root, name, 'handler'), 0o755);
  writeFileSync(join(root, name, 'function.json'), JSON.stringify(config));
  return { registry: new FunctionRegistry(root), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

describe('what a function can see', { timeout: 60_000 }, () => {
  test('no host process, even after it tries to unmount its /proc', async () => {
    const result = await invoke('looks-under-proc');
    assert.equal(result.status, 'succeeded', result.log);
    assert.deepEqual(lines(result, 'umount:'), ['umount: refused']);
    const pids = lines(result, 'pids:')[0]!.slice(6).trim().split(' ').map(Number);
    assert.ok(pids.includes(1) && pids.every((pid) => pid < 50), `only the sandbox's own pids: ${pids}`);
    assert.match(lines(result, 'proc-1:')[0]!, /\/var\/runtime\/init\.cjs --sandbox/);
  });

  test('no /etc/shadow, no environment of the worker, no other function, no bundle cache, no socket', async () => {
    const result = await invoke('reads-host-secrets');
    assert.equal(result.status, 'succeeded', result.log);
    assert.deepEqual(lines(result, 'read '), [], 'nothing secret was readable');
    const etc = lines(result, 'etc: ')[0]!.slice(5).trim().split(' ').sort();
    assert.deepEqual(etc.filter((f) => !['alternatives', 'ld.so.cache', 'localtime', 'ssl'].includes(f)), ['group', 'hostname', 'hosts', 'nsswitch.conf', 'passwd', 'resolv.conf']);
    assert.deepEqual(lines(result, 'task: '), ['task: . .. handler ']);
    assert.deepEqual(lines(result, 'parent-of-task: '), ['parent-of-task: . .. bundle runtime task ']);
    // Its own handler, and the (here empty) mount point of a node function's bundle.
    assert.deepEqual(lines(result, 'found ').sort(), ['found /var/bundle/index.mjs', 'found /var/task/handler'], 'no socket, no other function, no bundle of another');
  });

  test('nothing outside /tmp is writable, and what it writes in /tmp never reaches the host or the next call', async () => {
    const result = await invoke('writes-everywhere');
    assert.equal(result.status, 'succeeded', result.log);
    assert.deepEqual(lines(result, 'wrote '), ['wrote /tmp']);

    const leftBehind = '/tmp/left-behind';
    const before = existsSync(leftBehind) ? readFileSync(leftBehind, 'utf8') : null;
    const first = await invoke('leaves-a-file-in-tmp', '', { invocationId: 'first' });
    const second = await invoke('leaves-a-file-in-tmp', '', { invocationId: 'second' });
    assert.deepEqual([text(first), text(second)], ['clean\nhome /tmp\n', 'clean\nhome /tmp\n'], 'each call starts with an empty /tmp');
    assert.equal(existsSync(leftBehind) ? readFileSync(leftBehind, 'utf8') : null, before, "the host's /tmp is untouched");
  });
});

describe('what a function can reach', { timeout: 60_000 }, () => {
  let server: Server;
  let port = 0;
  let socketDir = '';
  before(async () => {
    server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    port = (server.address() as { port: number }).port;
    socketDir = mkdtempSync(join(tmpdir(), 'pidbox-socket-'));
    chmodSync(socketDir, 0o755);
  });
  after(() => {
    server.close();
    rmSync(socketDir, { recursive: true, force: true });
  });

  const targets = (): string => {
    const addresses = Object.values(networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4').map((a) => a!.address);
    return [...new Set(['127.0.0.1', ...addresses])].map((a) => `tcp ${a} ${port}`).join('\n') + `\nunix ${join(socketDir, 'redis.sock')}\n`;
  };

  test('by default, only its own loopback: no host port, no Redis socket, no other interface', async () => {
    const unix = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => unix.listen(join(socketDir, 'redis.sock'), resolve));
    try {
      const result = await invoke('dials-the-host', targets());
      assert.equal(result.status, 'succeeded', result.log);
      assert.deepEqual(lines(result, 'open'), [], 'nothing of the host answered');
      assert.ok(lines(result, 'closed').length >= 2);
      assert.deepEqual(lines(result, 'interfaces: '), ['interfaces: lo ']);
    } finally {
      unix.close();
    }
  });

  test('with "network": "host", the same function does reach the host: the test can see an open port', async () => {
    const { registry: hostNetwork, cleanup } = variant('dials-the-host', { network: 'host' });
    try {
      const result = await invoke('dials-the-host', `tcp 127.0.0.1 ${port}\n`, { registry: hostNetwork });
      assert.deepEqual(lines(result, 'open'), [`open 127.0.0.1 ${port}`]);
    } finally {
      cleanup();
    }
  });
});

describe('what a function is', { timeout: 60_000 }, () => {
  test('an unprivileged host uid with no capability, no new privileges and a seccomp filter', async () => {
    let initPid = 0;
    const running = invoke('reports-its-privileges', '', { onSandbox: (info) => (initPid = info.hostPid) });
    // The function waits for a line on stdin that never comes until it ends: look at it from the
    // host meanwhile. Its stdin is the request body (empty, closed), so it ends at once; the status
    // lines are what it printed of itself.
    const result = await running;
    assert.equal(result.status, 'succeeded', result.log);
    const status = Object.fromEntries(text(result).trim().split('\n').filter((l) => l.includes(':')).map((l) => l.split(/:\s+/) as [string, string]));
    const uid = Number(status.Uid!.split('\t')[0]);
    assert.ok(uid >= host.uids.first && uid < host.uids.first + host.uids.count, `a uid of the sandbox range: ${uid}`);
    assert.equal(status.Uid, `${uid}\t${uid}\t${uid}\t${uid}`);
    assert.equal(status.Gid, `${uid}\t${uid}\t${uid}\t${uid}`);
    assert.equal(status.Groups ?? '', '', 'no supplementary group');
    for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(status[cap], '0000000000000000', cap);
    assert.equal(status.NoNewPrivs, '1');
    assert.equal(status.Seccomp, '2');
    assert.ok(initPid > 0);
  });

  test('seen from the host, its processes run as the sandbox uid, not root', async () => {
    const sandbox = spawnSandbox(host, { taskDir: join(HOSTILE, 'reports-its-privileges'), run: { argv: ['/var/task/handler'], env: [`PATH=${SANDBOX_PATH}`] } });
    await sandbox.ready;
    const functionPid = await waitFor('the function started', () => {
      const children = readFileSync(`/proc/${sandbox.pid}/task/${sandbox.pid}/children`, 'utf8').trim();
      return children ? Number(children.split(' ')[0]) : null;
    });
    const uid = (pid: number): string => /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
    const seen = Number(uid(functionPid));
    assert.ok(seen >= host.uids.first && seen < host.uids.first + host.uids.count, `a uid of the sandbox range, not root: ${seen}`);
    assert.equal(uid(sandbox.pid), String(seen), 'the init too');
    sandbox.stdin.end('\n');
    assert.equal((await sandbox.outcome).exitCode, 0);
  });

  test('mount, new namespaces, cgroups, core_pattern, raw devices, the hostname, kexec, bpf and ptrace of the init are refused', async () => {
    const result = await invoke('pokes-the-kernel');
    assert.equal(result.status, 'succeeded', result.log);
    assert.deepEqual(lines(result, 'allowed'), []);
    assert.equal(lines(result, 'refused').length, 14);
  });

  test("the init's control socket, memory and descriptors cannot be taken, and the call ends normally", async () => {
    const result = await invoke('steals-the-init-socket');
    assert.equal(result.status, 'succeeded', result.log);
    const out = text(result);
    assert.match(out, /^pidfd_getfd 3 EPERM$/m);
    assert.match(out, /^proc-fd EACCES$/m);
    assert.match(out, /^proc-mem EACCES$/m);
  });
});

describe('what a function can do to its worker', { timeout: 60_000 }, () => {
  test('a forged result fails only that call, with SANDBOX_PROTOCOL_ERROR, and nothing of it is kept', async () => {
    for (const kind of ['null-headers', 'header-injection', 'garbage']) {
      const result = await invoke('forges-its-result', '', { path: `/?kind=${kind}` });
      assert.equal(result.status, 'failed', kind);
      assert.equal(result.error?.code, 'SANDBOX_PROTOCOL_ERROR', kind);
      assert.equal(result.response.status, 502, kind);
      assert.doesNotMatch(text(result), /evil/, kind);
    }
    const ordinary = await invoke('node-uses-tmp-and-crypto', 'still here');
    assert.equal(ordinary.status, 'succeeded', ordinary.log);
  });

  // A sandbox whose PID 1 is not pidbox's init but a hostile program: what reaches the worker on the
  // control socket is then anything at all. The worker must end that sandbox and nothing else.
  async function withHostileInit(script: string): Promise<{ error: unknown; namespace: string | null }> {
    const hostile: SandboxHost = {
      ...host,
      createSlot: () => host.createSlot(),
      openSeccomp: () => host.openSeccomp(),
      containmentPlan: (slot, options) => ({ ...host.containmentPlan(slot, options), command: ['/bin/sh', '-c', script] }),
    };
    const sandbox = spawnSandbox(hostile, {});
    await sandbox.spawned;
    const held = holdPidNamespace(sandbox.pid);
    try {
      let error: unknown = null;
      try {
        await sandbox.outcome;
      } catch (e) {
        error = e;
      }
      if (held.namespace) await waitUntil(() => livingProcessesInPidNamespace(held.namespace!).length === 0, 'the hostile sandbox has ended');
      return { error, namespace: held.namespace };
    } finally {
      held.release();
    }
  }

  for (const [what, script] of [
    ['a line that is not JSON', 'printf "not json\\n" >&3; sleep 30'],
    ['a line of 2 MiB that never ends', 'head -c 2100000 /dev/zero | tr "\\0" x >&3; sleep 30'],
    ['an exit before anything ran', 'printf "{\\"type\\":\\"ready\\"}\\n{\\"type\\":\\"exited\\",\\"code\\":0,\\"signal\\":null,\\"zombiesReaped\\":0,\\"peakProcesses\\":1}\\n" >&3; sleep 30'],
    ['ready said twice', 'printf "{\\"type\\":\\"ready\\"}\\n{\\"type\\":\\"ready\\"}\\n" >&3; sleep 30'],
  ] as const) {
    test(`garbage from a hostile init ends only its own sandbox: ${what}`, async () => {
      const { error } = await withHostileInit(script);
      assert.ok(error instanceof PidboxError, String(error));
      assert.equal(error.code, 'SANDBOX_PROTOCOL_ERROR');
      const ordinary = await invoke('python-handler', 'ok');
      assert.equal(ordinary.status, 'succeeded', ordinary.log);
    });
  }
});

describe('what a function may use', { timeout: 120_000 }, () => {
  test('memory beyond memoryMb ends the call with FUNCTION_OUT_OF_MEMORY', async () => {
    const result = await invoke('hogs-memory');
    assert.equal(result.status, 'failed', result.log);
    assert.equal(result.error?.code, 'FUNCTION_OUT_OF_MEMORY');
    assert.equal(result.response.status, 500);
    const allocated = Math.max(...result.log.trim().split('\n').map(Number));
    assert.ok(allocated <= 64, `it got no further than its 64 MiB: ${allocated}`);
    assert.ok((result.sandbox.memoryPeakBytes ?? 0) >= 32 * 1024 * 1024, `peak ${result.sandbox.memoryPeakBytes}`);
    assert.ok((result.sandbox.memoryPeakBytes ?? Infinity) <= 64 * 1024 * 1024, `peak ${result.sandbox.memoryPeakBytes}`);
  });

  test('forks fail inside the function at maxProcesses, and it still answers', async () => {
    const result = await invoke('forks-forever');
    assert.equal(result.status, 'succeeded', result.log);
    assert.deepEqual(lines(result, 'error'), ['error EAGAIN']);
    const started = Number(lines(result, 'started')[0]!.split(' ')[1]);
    assert.equal(started, 19, 'python and 19 children make its 20');
    assert.equal(result.sandbox.peakProcesses, 20);
  });

  test('CPU time is measured and held to cpus', async () => {
    const limited = await invoke('spins-every-core');
    assert.equal(limited.status, 'succeeded', limited.log);
    const share = limited.sandbox.cpuMs / limited.timings.runMs;
    assert.ok(share > 0.3 && share < 0.7, `half a CPU: ${limited.sandbox.cpuMs} ms of CPU in ${limited.timings.runMs} ms`);
    const { registry: unlimited, cleanup } = variant('spins-every-core', { cpus: 2 });
    try {
      const free = await invoke('spins-every-core', '', { registry: unlimited });
      assert.ok(free.sandbox.cpuMs > 1.5 * limited.sandbox.cpuMs, `two CPUs: ${free.sandbox.cpuMs} ms against ${limited.sandbox.cpuMs} ms`);
    } finally {
      cleanup();
    }
  });

  test('/tmp holds tmpMb and no more', async () => {
    const result = await invoke('fills-tmp');
    assert.equal(result.status, 'succeeded', result.log);
    assert.deepEqual(lines(result, 'wrote'), ['wrote 8 MiB']);
    assert.deepEqual(lines(result, 'No space'), ['No space left on device']);
  });
});

describe('ordinary functions', { timeout: 60_000 }, () => {
  test('a Python handler with threads and ssl works', async () => {
    const result = await invoke('python-handler', 'hello');
    assert.equal(result.status, 'succeeded', result.log);
    const out = JSON.parse(text(result)) as { python: number; tls: string; upper: string };
    assert.deepEqual({ python: out.python, upper: out.upper }, { python: 3, upper: 'HELLO' });
    assert.equal(out.tls, 'OpenSSL');
  });

  test('a TypeScript function writes /tmp, hashes with node:crypto and makes spans', async () => {
    const result = await invoke('node-uses-tmp-and-crypto', 'abc');
    assert.equal(result.status, 'succeeded', result.log);
    assert.deepEqual(JSON.parse(text(result)), {
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      home: '/tmp',
    });
  });
});

describe('after many calls', { timeout: 120_000 }, () => {
  test('no cgroup and no slot of a call is left, after 100 of them', async () => {
    for (let i = 0; i < 100; i++) {
      const result = await invoke('python-handler', String(i));
      assert.equal(result.status, 'succeeded', result.log);
    }
    // The calls answered as soon as their output was read; their sandboxes go right after.
    await host.settled();
    const sandboxCgroups = leftoverCgroups(host.name).filter((path) => !host.cgroups.paths.includes(path));
    assert.deepEqual(sandboxCgroups, [], 'only the worker\'s own subtree is left while it runs');
    const slots = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(`${host.name}/slots/`));
    assert.deepEqual(slots, [], 'no function folder is still mounted');
  });
});
