// Behaviour tests of the standalone init, bin/pidbox-init [--] CMD [ARGS…], started the way a
// container starts its entry point: as a plain process (a subreaper, not PID 1), and as PID 1 of a
// PID namespace made by unshare(1). Real processes and real signals throughout. The suites'
// timeouts only keep a broken init from hanging the run.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { collectOutput, numbersAfter, type Output } from './helpers/output.js';
import { INIT_BIN, sandboxFixture } from './helpers/paths.js';
import { childrenOf, isAlive, killProcessTree, pidNamespaceOf, readStat } from './helpers/proc.js';
import { waitUntil } from './helpers/wait.js';

/** The wrapper runs `node` from the PATH: the one running these tests. */
const PATH = `${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Started {
  child: ChildProcess;
  /** The pid of what was started: the init itself, unless a shell or unshare(1) starts it. */
  pid: number;
  stdout: Output;
  stderr: Output;
  /** Resolves when the process has exited and its output has ended. */
  exit: Promise<Exit>;
}

const running = new Set<ChildProcess>();
/** Daemons a test expects the init to end; killed afterwards if it did not. */
const daemons = new Set<number>();
const scratch = mkdtempSync(join(tmpdir(), 'pidbox-init-test-'));

/** Starts a process in / with only PATH in its environment, unless `env` says otherwise. */
function launch(file: string, args: string[], env: NodeJS.ProcessEnv = { PATH }): Started {
  const child = spawn(file, args, { stdio: 'pipe', env, cwd: '/' });
  running.add(child);
  const exit = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  child.stdin!.on('error', () => {}); // a child that never reads its stdin
  return { child, pid: child.pid!, stdout: collectOutput(child.stdout!), stderr: collectOutput(child.stderr!), exit };
}

/** bin/pidbox-init -- COMMAND… */
function startInit(command: string[]): Started {
  return launch(INIT_BIN, ['--', ...command]);
}

/** /bin/sh -c SCRIPT with $0 the init and $1… the arguments: for bytes and settings Node cannot pass. */
function startInitFromShell(script: string, ...args: string[]): Started {
  return launch('/bin/sh', ['-c', script, INIT_BIN, ...args]);
}

/** unshare --pid --fork --mount-proc bin/pidbox-init -- COMMAND…: the init as PID 1. */
function startInitAsPid1(command: string[]): Started {
  return launch('unshare', ['--pid', '--fork', '--mount-proc', INIT_BIN, '--', ...command]);
}

afterEach(() => {
  for (const child of running) if (child.pid !== undefined) killProcessTree(child.pid);
  for (const pid of daemons) if (readStat(pid)?.comm === 'sleep' && isAlive(pid)) process.kill(pid, 'SIGKILL');
  daemons.clear();
});

after(() => rmSync(scratch, { recursive: true, force: true }));

/** The pid the fixture traps-signals.sh prints in its "ready PID" line. */
async function readyPid(started: Started): Promise<number> {
  await started.stdout.waitFor(/^ready \d+\n/m);
  return Number(/^ready (\d+)$/m.exec(started.stdout.text())![1]);
}

/** The signals traps-signals.sh reported ("got NAME"), sorted. */
function signalsGot(output: Output): string[] {
  return [...output.text().matchAll(/^got (\w+)$/gm)].map((m) => m[1]!).sort();
}

/** Waits a few seconds at most for the child to report each of `names`; the caller asserts. */
async function awaitSignals(output: Output, names: string[]): Promise<void> {
  try {
    await waitUntil(() => names.every((n) => output.text().includes(`got ${n}\n`)), 'the child has every signal', 5_000);
  } catch {
    // The assertion that follows shows which are missing.
  }
}

function hex(bytes: Buffer | string): string {
  return (typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes).toString('hex');
}

/** The soft and hard open-files limits of this process, from /proc/self/limits. */
function openFilesLimits(): { soft: string; hard: string } {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = line.slice('Max open files'.length).trim().split(/\s+/);
  return { soft: soft!, hard: hard! };
}

describe('the standalone init: exit status', { timeout: 60_000 }, () => {
  test("exits with its child's exit code", async () => {
    for (const code of [0, 7, 255]) {
      const init = startInit([sandboxFixture('exits-with-code.sh'), String(code)]);
      assert.deepEqual(await init.exit, { code, signal: null });
      assert.equal(init.stdout.text() + init.stderr.text(), '', 'the init prints nothing of its own');
    }
  });

  test('exits with 128 + the signal number when a signal kills its child', async () => {
    for (const [signal, code] of [['TERM', 143], ['USR2', 140], ['KILL', 137]] as const) {
      const init = startInit([sandboxFixture('killed-by-signal.sh'), signal]);
      assert.deepEqual(await init.exit, { code, signal: null }, `SIG${signal}`);
      assert.equal(init.stderr.text(), '');
    }
  });

  test('exits 127 with a message naming a command that does not exist', async () => {
    for (const command of ['/nonexistent/pidbox-no-such-command', 'pidbox-no-such-command']) {
      const init = startInit([command, 'an argument']);
      assert.deepEqual(await init.exit, { code: 127, signal: null });
      assert.match(init.stderr.text(), /^pidbox-init: .*No such file or directory\n$/);
      assert.ok(init.stderr.text().includes(`'${command}'`), init.stderr.text());
      assert.equal(init.stdout.text(), '');
    }
  });

  test('exits 126 with a message naming a command that is not executable', async () => {
    const script = join(scratch, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\necho should not run\n');
    chmodSync(script, 0o644);
    const init = startInit([script]);
    assert.deepEqual(await init.exit, { code: 126, signal: null });
    assert.match(init.stderr.text(), /^pidbox-init: .*Permission denied\n$/);
    assert.ok(init.stderr.text().includes(`'${script}'`), init.stderr.text());
    assert.equal(init.stdout.text(), '');
  });

  test('prints nothing of its own: its output is exactly what the child printed', async () => {
    const init = startInit(['/bin/sh', '-c', 'printf "out\\n"; printf "err" >&2; printf "more out"']);
    assert.deepEqual(await init.exit, { code: 0, signal: null });
    assert.equal(init.stdout.text(), 'out\nmore out');
    assert.equal(init.stderr.text(), 'err');
  });
});

describe('the standalone init: what the child inherits', { timeout: 60_000 }, () => {
  test('passes its arguments byte for byte, bytes that are not UTF-8 included', async () => {
    // Node passes arguments as UTF-8 strings; printf builds the other bytes.
    const init = startInitFromShell(
      `exec "$0" -- "$1" "$(printf 'caf\\351')" "" "two  words" "$(printf 'new\\nline')" --sandbox -- "$(printf '\\377\\001')"`,
      sandboxFixture('prints-argv-hex.sh'),
    );
    assert.deepEqual(await init.exit, { code: 0, signal: null });
    const expected = ['caf\xe9', '', 'two  words', 'new\nline', '--sandbox', '--', '\xff\x01'];
    assert.equal(init.stdout.text(), expected.map((a) => `${hex(a)}\n`).join(''));
    assert.equal(init.stderr.text(), '');

    // Without "--", the options end at the command.
    const bare = startInitFromShell(`exec "$0" "$1" --nofile=1 -x`, sandboxFixture('prints-argv-hex.sh'));
    assert.deepEqual(await bare.exit, { code: 0, signal: null });
    assert.equal(bare.stdout.text(), `${hex('--nofile=1')}\n${hex('-x')}\n`);
  });

  test('passes its environment exactly, a value that is not UTF-8 and NODE_OPTIONS included', async () => {
    // The NODE_OPTIONS would break the init itself if Node applied it: the wrapper hides it from
    // Node and the init gives it back to the child. The init runs in /, as every process launch()
    // starts, with a PWD that says so.
    const given = [
      'A=1',
      'B=caf\xe9',
      'EMPTY=',
      'NODE_OPTIONS=--require=/nonexistent/pidbox-test-preload.js',
      `PATH=${PATH}`,
      'PWD=/',
    ];
    const init = startInitFromShell(`exec env -i A=1 "B=$(printf 'caf\\351')" EMPTY= "$1" "PATH=$2" PWD=/ "$0" -- env -0`, given[3]!, PATH);
    assert.deepEqual(await init.exit, { code: 0, signal: null });
    assert.equal(init.stderr.text(), '');
    const received = init.stdout.text().split('\0').slice(0, -1);
    assert.deepEqual(received.map(hex).sort(), given.map(hex).sort());

    const without = startInitFromShell(`exec env -i A=1 "PATH=$1" PWD=/ "$0" -- env -0`, PATH);
    assert.deepEqual(await without.exit, { code: 0, signal: null });
    assert.deepEqual(without.stdout.text().split('\0').slice(0, -1).sort(), ['A=1', `PATH=${PATH}`, 'PWD=/']);
  });

  test('adds no PWD to an environment that has none, and keeps a stale one as it was', async () => {
    const init = startInitFromShell(`exec env -i A=1 "PATH=$1" "$0" -- env -0`, PATH);
    assert.deepEqual(await init.exit, { code: 0, signal: null });
    assert.deepEqual(init.stdout.text().split('\0').slice(0, -1).sort(), ['A=1', `PATH=${PATH}`]);
    const stale = startInitFromShell(`exec env -i "PATH=$1" PWD=/nowhere "$0" -- env -0`, PATH);
    assert.deepEqual(await stale.exit, { code: 0, signal: null });
    assert.deepEqual(stale.stdout.text().split('\0').slice(0, -1).sort(), [`PATH=${PATH}`, 'PWD=/nowhere']);
  });

  test('passes its working directory, umask and open-files limits to the child unchanged', async () => {
    const cwd = realpathSync(mkdtempSync(join(scratch, 'cwd-')));
    const { hard } = openFilesLimits();
    const init = startInitFromShell(`cd "$1" && umask 027 && ulimit -Sn 512 && exec "$0" -- "$2"`, cwd, sandboxFixture('prints-its-context.sh'));
    assert.deepEqual(await init.exit, { code: 0, signal: null });
    // Node raises its own soft limit to the hard one at start; the child gets the 512 back.
    assert.equal(init.stdout.text(), `cwd ${cwd}\numask 0027\nnofile 512 ${hard}\n`);
    assert.equal(init.stderr.text(), '');
  });

  test(
    'passes an extra inherited descriptor to the child',
    async () => {
      const file = join(scratch, 'on-fd-5.txt');
      writeFileSync(file, 'read through fd 5\n');
      const init = startInitFromShell(`exec 5<"$1" && exec "$0" -- /bin/sh -c 'cat <&5'`, file);
      assert.deepEqual(await init.exit, { code: 0, signal: null });
      assert.equal(init.stdout.text(), 'read through fd 5\n');
    },
  );

  test('gives the child no descriptor of its own', async () => {
    // What ls sees open, besides the directory it reads; the same command without the init is the
    // baseline (a test runner may itself pass descriptors down).
    const openFds = async (started: Started): Promise<number[]> => {
      assert.deepEqual(await started.exit, { code: 0, signal: null });
      return [...started.stdout.text().matchAll(/ (\d+) -> (.*)$/gm)]
        .filter((m) => !/^\/proc\/\d+\/fd$/.test(m[2]!))
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
    };
    const direct = await openFds(launch('ls', ['-l', '/proc/self/fd']));
    const throughInit = await openFds(startInit(['ls', '-l', '/proc/self/fd']));
    assert.deepEqual(throughInit.slice(0, 3), [0, 1, 2]);
    assert.deepEqual(throughInit.filter((fd) => !direct.includes(fd)), [], 'no descriptor the init opened');
  });

  test('starts the child as its direct child, leading a process group of its own', async () => {
    const init = startInit([sandboxFixture('prints-its-stat.sh')]);
    assert.deepEqual(await init.exit, { code: 0, signal: null });
    const [pid, ppid, pgrp] = [...init.stdout.text().matchAll(/\d+/g)].map(Number);
    assert.equal(ppid, init.pid, "the init is the child's parent");
    assert.equal(pgrp, pid, 'the child leads its process group');
    assert.notEqual(pgrp, readStat('self')!.pgrp);
  });

  test("puts the child's process group in the terminal's foreground", async () => {
    const init = launch('script', ['-qc', `'${INIT_BIN}' -- '${sandboxFixture('prints-its-stat.sh')}'`, '/dev/null'], {
      PATH,
      SHELL: '/bin/sh',
    });
    init.child.stdin!.end();
    await init.exit;
    const match = /pid (\d+) ppid \d+ pgrp (\d+) tpgid (-?\d+)/.exec(init.stdout.text());
    assert.ok(match, JSON.stringify(init.stdout.text()));
    const [, pid, pgrp, tpgid] = match;
    assert.equal(pgrp, pid, 'the child leads its process group');
    assert.equal(tpgid, pgrp, "the terminal's foreground group is the child's");
  });
});

describe('the standalone init: signals', { timeout: 60_000 }, () => {
  test('forwards a burst of different signals to the child, every one of them', async () => {
    const names = ['USR1', 'USR2', 'HUP', 'WINCH', 'ALRM', 'INT', 'URG'];
    const init = startInit([sandboxFixture('traps-signals.sh'), ...names]);
    await readyPid(init);
    for (const name of names) process.kill(init.pid, `SIG${name}`);
    await awaitSignals(init.stdout, names);
    assert.deepEqual(signalsGot(init.stdout), [...names].sort());

    init.child.stdin!.write('exit 4\n');
    assert.deepEqual(await init.exit, { code: 4, signal: null });
    assert.equal(init.stderr.text(), '');
  });

  test('does not forward a SIGCHLD sent to it', async () => {
    const init = startInit([sandboxFixture('traps-signals.sh'), 'CHLD', 'WINCH']);
    await readyPid(init);
    process.kill(init.pid, 'SIGCHLD');
    // SIGWINCH (28) comes after SIGCHLD (17): once the child has it, the init has handled both.
    process.kill(init.pid, 'SIGWINCH');
    await init.stdout.waitFor('got WINCH');
    init.child.stdin!.write('exit 3\n');
    assert.deepEqual(await init.exit, { code: 3, signal: null });
    assert.doesNotMatch(init.stdout.text(), /got CHLD/);
  });

  test('does not take a stopped and continued child for one that exited', async () => {
    const init = startInit([sandboxFixture('traps-signals.sh'), 'WINCH']);
    const child = await readyPid(init);
    process.kill(child, 'SIGSTOP');
    await waitUntil(() => readStat(child)?.state === 'T', 'the child is stopped');
    process.kill(init.pid, 'SIGCONT'); // through the init, which forwards it
    await waitUntil(() => readStat(child)?.state !== 'T', 'the child runs again');
    // SIGWINCH (28) comes after the SIGCHLDs (17) of the stop and the continue: once the child has
    // it, the init has handled those.
    process.kill(init.pid, 'SIGWINCH');
    await init.stdout.waitFor('got WINCH');
    assert.ok(isAlive(init.pid), 'the init still runs');
    assert.equal(init.child.exitCode, null);

    init.child.stdin!.write('exit 5\n');
    assert.deepEqual(await init.exit, { code: 5, signal: null });
    assert.equal(init.stderr.text(), '');
  });

  test("survives every signal it can catch, and still exits with its child's status", async () => {
    // Not forwarded: the fault and terminal signals. Forwarded: the others, which the child traps.
    const kept = ['ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'SEGV', 'SYS', 'TTIN', 'TTOU'];
    const forwarded = ['PIPE', 'QUIT', 'TERM', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'IO', 'PWR'];
    const init = startInit([sandboxFixture('traps-signals.sh'), ...forwarded]);
    await readyPid(init);
    for (const name of [...kept, ...forwarded]) process.kill(init.pid, `SIG${name}`);
    await awaitSignals(init.stdout, forwarded);
    assert.deepEqual(signalsGot(init.stdout), [...forwarded].sort());
    assert.ok(isAlive(init.pid), 'the init still runs');
    // A signal that killed or stopped the init would show below at the latest: a fatal one ends it
    // as it is sent, and a stopped init could not report its child's exit.

    init.child.stdin!.write('exit 9\n');
    assert.deepEqual(await init.exit, { code: 9, signal: null });
    assert.equal(init.stderr.text(), '');
  });
});

describe('the standalone init: orphans and leftovers', { timeout: 60_000 }, () => {
  test('adopts and reaps the orphans its child leaves, while the child runs', async () => {
    const init = startInit([sandboxFixture('spawns-orphans.sh'), '200']);
    await init.stdout.waitFor(/^adopted .*\n/m);
    assert.deepEqual(numbersAfter(init.stdout, 'adopted'), [200, 0], 'the init (a subreaper) adopted all 200');
    init.child.stdin!.end();
    assert.deepEqual(await init.exit, { code: 0, signal: null });
    assert.deepEqual(numbersAfter(init.stdout, 'left'), [0, 0], 'no orphan and no zombie left');
  });

  test('ends a double-forked daemon when its child exits', async () => {
    const init = startInit([sandboxFixture('double-forks-daemon.sh')]);
    await init.stdout.waitFor(/^daemon \d+\n/m);
    const [daemon] = numbersAfter(init.stdout, 'daemon') as [number];
    daemons.add(daemon);
    const stat = readStat(daemon);
    assert.equal(stat?.comm, 'sleep');
    assert.equal(stat.session, daemon, 'the daemon leads a session of its own');
    assert.equal(stat.ppid, init.pid, 'the init adopted the daemon');

    init.child.stdin!.end();
    assert.deepEqual(await init.exit, { code: 0, signal: null });
    await waitUntil(() => !isAlive(daemon), 'the daemon has ended');
  });

  test('ends the orphans its child leaves and their own children too, when it is not PID 1', async () => {
    // A subshell that leaves a process, which itself leaves another: two generations of orphans.
    const script = '(sh -c "sleep 91 & echo grandchild \\$!; exec sleep 92" & echo child $!) ; sleep 0.2; exit 0';
    const init = startInit(['/bin/sh', '-c', script]);
    assert.deepEqual(await init.exit, { code: 0, signal: null });
    const [child] = numbersAfter(init.stdout, 'child') as [number];
    const [grandchild] = numbersAfter(init.stdout, 'grandchild') as [number];
    for (const pid of [child, grandchild]) daemons.add(pid);
    await waitUntil(() => !isAlive(child) && !isAlive(grandchild), 'both generations have ended');
  });

  test("exits with its child's status, saying what failed, when the child has left it no descriptor to look for orphans with", async () => {
    // Outside a sandbox nothing stops a child of the same uid from lowering its init's limits.
    const script = 'import ctypes, os, sys\n' +
      'limit = (ctypes.c_uint64 * 2)(3, 3)\n' +
      'sys.exit(5 if ctypes.CDLL(None).prlimit(os.getppid(), 7, limit, None) == 0 else 100)\n';
    const init = startInit(['python3', '-c', script]);
    assert.deepEqual(await init.exit, { code: 5, signal: null });
    assert.match(init.stderr.text(), /^pidbox-init: ending what the child left failed: .*EMFILE/m);
  });

  test('as PID 1 of a PID namespace, reaps the orphans its child leaves', async () => {
    const init = startInitAsPid1([sandboxFixture('spawns-orphans.sh'), '200']);
    await init.stdout.waitFor(/^adopted .*\n/m);
    assert.deepEqual(numbersAfter(init.stdout, 'adopted'), [200, 0]);
    init.child.stdin!.end();
    assert.deepEqual(await init.exit, { code: 0, signal: null });
    assert.deepEqual(numbersAfter(init.stdout, 'left'), [0, 0]);
    assert.equal(init.stderr.text(), '');
  });

  test('as PID 1, forwards a SIGTERM from the parent namespace and exits 128 + 15', async () => {
    const init = startInitAsPid1([sandboxFixture('traps-signals.sh')]);
    await readyPid(init);
    const [pid1] = childrenOf(init.pid); // unshare --fork's child: the init, seen from the host
    assert.ok(pid1);
    assert.notEqual(pidNamespaceOf(pid1.pid), pidNamespaceOf('self'));
    process.kill(pid1.pid, 'SIGTERM');
    assert.deepEqual(await init.exit, { code: 143, signal: null });
    assert.equal(init.stderr.text(), '');
  });
});
