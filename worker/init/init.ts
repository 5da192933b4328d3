// pidbox-init: PID 1 of every sandbox, and a standalone init for containers (bin/pidbox-init).
//
// Read top to bottom: arguments → become init (namespaces, /proc, subreaper, lifeline) → signals →
// start the child → reap on every SIGCHLD → when the child exits, end everything and exit with its
// status. The shape follows tini: each syscall is checked and its failure names the call; ESRCH and
// ECHILD are expected; exit codes follow the shell (128 + signal, 126 and 127 for exec failures).
//
// Two modes:
//   standalone  pidbox-init [--] CMD [ARGS…]   argv, environment, stdio and every other inherited
//               descriptor pass to CMD unchanged; nothing is printed in normal operation.
//   sandbox     PID 1 of a sandbox that bubblewrap made (user, PID, mount, IPC, UTS, network and
//               cgroup namespaces, its root, seccomp: worker/sandbox/bwrap-args.ts), running as the
//               sandbox's unprivileged uid with no capability; its control socket is fd 3. It makes
//               itself undumpable (the function, same uid, can then neither ptrace it nor take its
//               descriptors or memory), waits for a RunSpec (so a sandbox can be started before a
//               call is known), reports ready / started / exited, forwards the signals its worker
//               sends as if it had received them, ends the call when its worker cancels it (and
//               still reports the exit, with its counts), and ends its namespace when the socket
//               closes.

import { readFileSync, readSync, readdirSync, writeSync } from 'node:fs';
import {
  PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, PR_SET_PDEATHSIG, RLIMIT_CORE, RLIMIT_NICE, RLIMIT_NOFILE, RLIMIT_RTPRIO,
} from '../../native/constants.js';
import { ENOENT, ESRCH, errnoText } from '../../native/errno.js';
import * as libc from '../../native/libc.js';
import { watchReadable, type FdWatch } from '../../native/poll.js';
import { prepareSpawn, spawnProcess } from '../../native/spawn.js';
import { SyscallError } from '../../native/syscall-error.js';
import { lineDecoder, parseWorkerMessage, type InitToWorker, type RunSpec } from './protocol.js';
import { FORWARDED_SIGNALS } from '../../contracts/forwarded-signals.js';
import { SURVIVED_SIGNALS, exitCodeOf, signalName, signalNumber } from './signals.js';

const SIGKILL = 9;
/** sysexits.h EX_SOFTWARE: the init itself failed, as opposed to the child's own status. */
const EX_SOFTWARE = 70;
const SAVED_ENV_PREFIX = Buffer.from('PIDBOX_INIT_SAVED_');
const USAGE = 'usage: pidbox-init [--] COMMAND [ARGS...]\n';

interface InitArgs {
  sandbox: boolean;
  /** The soft RLIMIT_NOFILE the init was started with (Node raises it); given back to the child. */
  nofileSoft: bigint | null;
  /** Descriptors above 2 the init inherited (bin/pidbox-init lists them); the child gets them too. */
  inheritedFds: number[];
  command: Buffer[];
}

const state = {
  isPid1: false,
  child: 0,
  zombiesReaped: 0,
  peakProcesses: 0,
  control: null as FdWatch | null,
  finishing: false,
  /** The worker ended the call: what dies of it now was killed, not reaped as a zombie of the function's. */
  ending: false,
};

function fail(message: string, code: number): never {
  writeSync(2, `pidbox-init: ${message}\n`);
  process.exit(code);
}

/** A line on stderr about a failure the init survives; a stderr that fails too is let be. */
function warn(message: string): void {
  try {
    writeSync(2, `pidbox-init: ${message}\n`);
  } catch {
    // Nobody reads it any more.
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---- arguments -------------------------------------------------------------------------------

/** argv after the script, as raw bytes: process.argv has replaced bytes that are not UTF-8. */
function rawArguments(): Buffer[] {
  const parts = splitNul(readFileSync('/proc/self/cmdline'));
  return parts.slice(2 + process.execArgv.length);
}

function splitNul(bytes: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0) {
      parts.push(bytes.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < bytes.length) parts.push(bytes.subarray(start));
  return parts;
}

function parseArguments(raw: Buffer[]): InitArgs {
  const args: InitArgs = { sandbox: false, nofileSoft: null, inheritedFds: [], command: [] };
  let i = 0;
  for (; i < raw.length; i++) {
    const arg = raw[i]!.toString('latin1');
    if (arg === '--') { i++; break; }
    if (!arg.startsWith('--')) break;
    if (arg === '--sandbox') args.sandbox = true;
    else if (arg.startsWith('--nofile=')) args.nofileSoft = arg === '--nofile=unlimited' ? -1n : BigInt(arg.slice(9));
    else if (arg.startsWith('--fds=')) args.inheritedFds = arg.slice(6).split(',').filter(Boolean).map(Number);
    else fail(`unknown option ${arg}\n${USAGE}`, 2);
  }
  args.command = raw.slice(i);
  if (!args.sandbox && args.command.length === 0) fail(`no command given\n${USAGE}`, 2);
  return args;
}

/**
 * The environment the init was started with, as raw bytes. bin/pidbox-init moves variables that
 * would change how Node runs the init itself (NODE_OPTIONS) to PIDBOX_INIT_SAVED_<NAME>; they are
 * given back to the child under their own name.
 */
function rawEnvironment(): Buffer[] {
  return splitNul(readFileSync('/proc/self/environ')).map((entry) =>
    entry.subarray(0, SAVED_ENV_PREFIX.length).equals(SAVED_ENV_PREFIX) ? entry.subarray(SAVED_ENV_PREFIX.length) : entry,
  );
}

// ---- becoming init ---------------------------------------------------------------------------

function becomeInit(args: InitArgs): void {
  state.isPid1 = process.pid === 1;
  if (args.sandbox) {
    if (!state.isPid1) fail('--sandbox needs a fresh PID namespace (the init must be PID 1)', EX_SOFTWARE);
    // The function runs as the same uid: undumpable, the init cannot be ptraced, and its memory
    // (/proc/1/mem), descriptors (pidfd_getfd, /proc/1/fd) and environment are out of the
    // function's reach (ptrace(2), "Ptrace access mode checking"). exec resets it for the function.
    libc.prctl(PR_SET_DUMPABLE, 0);
    // Dies with bubblewrap, and so with the worker. The parent-death signal alone races with a
    // parent that dies before this line runs; the control socket closing covers that window.
    libc.prctl(PR_SET_PDEATHSIG, SIGKILL);
    // No core dumps in a sandbox: a crash must not write the function's memory anywhere.
    libc.setrlimit(RLIMIT_CORE, { soft: 0n, hard: 0n });
    // No realtime scheduling and no nice value below 0, for the init and, inherited, the function.
    // The kernel lets an unprivileged caller raise a priority only as far as the target's own
    // RLIMIT_RTPRIO and RLIMIT_NICE allow (sched_setscheduler(2), setpriority(2)), and the function,
    // being the init's uid, may set the init's priority too. A realtime task escapes the cgroup's
    // CFS quota: one spinning would hold a host CPU. Soft and hard: lowering a hard limit needs no
    // privilege, raising it again needs CAP_SYS_RESOURCE in the host's user namespace.
    libc.setrlimit(RLIMIT_RTPRIO, { soft: 0n, hard: 0n });
    libc.setrlimit(RLIMIT_NICE, { soft: 0n, hard: 0n });
  } else if (!state.isPid1) {
    // Not PID 1: orphans would go to the real init. As a subreaper they come to us instead.
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
}

// ---- signals ---------------------------------------------------------------------------------

function installSignalHandlers(): void {
  // A listener for every catchable signal: as PID 1 seen from a parent namespace, a signal without
  // a handler would kill the init. A SIGUSR1 listener also keeps Node from opening its inspector.
  for (const name of FORWARDED_SIGNALS) process.on(name, () => forwardSignal(name));
  for (const name of SURVIVED_SIGNALS) process.on(name, () => {});
  process.on('SIGCHLD', onChildSignal);
}

/**
 * Passes a signal on to the child's process group. ESRCH is expected: the group is gone, and its
 * exit is on its way as a SIGCHLD. Any other failure loses that one signal, not the init: an
 * exception thrown from a signal listener would end it with nobody to report the child's exit.
 */
function forwardSignal(name: NodeJS.Signals): void {
  if (state.child === 0) return;
  try {
    libc.kill(-state.child, signalNumber(name));
  } catch (error) {
    if (!(error instanceof SyscallError && error.code === 'ESRCH')) warn(`forwarding ${name} failed: ${describeError(error)}`);
  }
}

// ---- the child -------------------------------------------------------------------------------

function startChild(
  argv: Buffer[],
  env: Buffer[],
  options: { cwd?: string; resultChannel?: boolean; inheritedFds?: number[] },
): void {
  const fds: Array<[number, number]> = [[0, 0], [1, 1], [2, 2]];
  for (const fd of options.inheritedFds ?? []) fds.push([fd, fd]);
  if (options.resultChannel) fds.push([4, 3]);
  // Node marks stdio close-on-exec; dup2(fd, fd) in the spawn clears the flag for the child alone.
  const foreground = libc.isatty(0) && libc.tcgetpgrp(0) >= 0;
  try {
    state.child = spawnProcess({
      file: argv[0]!,
      argv,
      env,
      fds,
      ...(state.control ? { closeFrom: options.resultChannel ? 4 : 3 } : {}),
      newProcessGroup: true,
      ...(foreground ? { foregroundOf: 0 } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
  } catch (error) {
    if (!(error instanceof SyscallError) || error.syscall !== 'posix_spawn') throw error;
    const status = error.errno === ENOENT ? 127 : 126;
    writeSync(2, `pidbox-init: cannot run '${argv[0]!.toString()}': ${errnoText(error.errno)}\n`);
    if (state.control) {
      send({ type: 'exited', code: status, signal: null, zombiesReaped: 0, peakProcesses: 1 });
    }
    finish(status);
    return;
  }
  state.peakProcesses = Math.max(state.peakProcesses, 2);
  if (state.control) send({ type: 'started', pid: state.child });
}

function restoreNofile(soft: bigint | null): void {
  if (soft === null) return;
  const current = libc.getrlimit(RLIMIT_NOFILE);
  libc.setrlimit(RLIMIT_NOFILE, { soft: soft < 0n ? current.hard : soft, hard: current.hard });
}

// ---- reaping ---------------------------------------------------------------------------------

/**
 * Reaps every exited child: the function and any orphan reparented to us. Runs on SIGCHLD; signals
 * coalesce, so it loops until nothing more has exited. The init spawns no process through libuv, so
 * waitpid(-1) steals nothing from it.
 */
function reapChildren(): void {
  sampleProcesses();
  for (;;) {
    const exit = libc.reapOne(-1);
    if (exit === 'running' || exit === 'none') return;
    if (exit.pid !== state.child) {
      if (!state.ending) state.zombiesReaped++;
      continue;
    }
    state.child = 0;
    const code = exitCodeOf(exit);
    if (state.control) {
      send({
        type: 'exited',
        code: exit.code,
        signal: exit.signal === null ? null : signalName(exit.signal),
        zombiesReaped: state.zombiesReaped,
        peakProcesses: state.peakProcesses,
      });
    }
    finish(code);
    return;
  }
}

/**
 * The SIGCHLD listener. Reaping must not throw out of it: Node would end the init, and the child's
 * exit would go unreported. A failure to reap leaves the init unable to learn how the child ends,
 * so it ends the namespace instead (giveUp).
 */
function onChildSignal(): void {
  try {
    reapChildren();
  } catch (error) {
    giveUp(`reaping failed: ${describeError(error)}`);
  }
}

/**
 * Counts the processes in our namespace, from the /proc we mounted for it (sandbox mode only).
 * Sampled when a child of the init's own exits, so peakProcesses is the most seen at those moments;
 * an exact peak needs the pids cgroup's accounting. A sample that fails (EMFILE, ENOMEM) is lost:
 * the exit that woke us still has to be reaped and reported.
 */
function sampleProcesses(): void {
  if (!state.control) return;
  try {
    let n = 0;
    for (const name of readdirSync('/proc')) if (name.charCodeAt(0) <= 57) n++;
    state.peakProcesses = Math.max(state.peakProcesses, n);
  } catch (error) {
    warn(`counting processes failed: ${describeError(error)}`);
  }
}

// ---- ending ----------------------------------------------------------------------------------

/** Ends everything the child left behind and exits with `code`, once the last message is written. */
function finish(code: number): void {
  if (state.finishing) return;
  state.finishing = true;
  try {
    killLeftovers();
  } catch (error) {
    // Still exit with the child's status. As PID 1 the kernel kills what is left when we exit; as
    // a subreaper, what could not be killed outlives us, and this line says so.
    warn(`ending what the child left failed: ${describeError(error)}`);
  }
  // Everything the init says is written synchronously, so nothing is left to flush: _exit skips
  // Node's teardown, a millisecond or two at the end of every sandbox.
  libc.exitNow(code);
}

/**
 * The init cannot carry on: it can no longer learn how the child ends. It says why, ends every
 * process of the namespace and exits EX_SOFTWARE. An exit it has reported already stays reported
 * (reaping sends it before anything else can fail); one it does not know, it does not make up:
 * the worker then reports that the init failed.
 */
function giveUp(message: string): void {
  warn(`${message}; ending the child and everything it left`);
  finish(EX_SOFTWARE);
}

function killLeftovers(): void {
  if (state.isPid1) {
    // kill(-1) from PID 1 reaches every process of this namespace and nothing outside it. The
    // kernel does the same when PID 1 exits; doing it first keeps the order explicit.
    signalIgnoringEsrch(-1);
    return;
  }
  // A subreaper outside its own namespace must never kill(-1): it would signal the whole host.
  // Its leftovers are the orphans reparented to it; each one killed hands its own children to us
  // in turn, so this goes on until none is left (bounded: a fork bomb must not hold the exit).
  const deadline = Date.now() + SUBREAPER_TEARDOWN_MS;
  for (;;) {
    while (typeof libc.reapOne(-1) === 'object');
    const children = reparentedChildren();
    if (children.length === 0 || Date.now() > deadline) return;
    for (const pid of children) signalIgnoringEsrch(pid);
    Atomics.wait(PAUSE, 0, 0, 5);
  }
}

const SUBREAPER_TEARDOWN_MS = 2000;
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

function signalIgnoringEsrch(pid: number): void {
  try {
    libc.kill(pid, SIGKILL);
  } catch (error) {
    if (!(error instanceof SyscallError && error.errno === ESRCH)) throw error;
  }
}

/** Our live children (zombies are reaped, not killed), from /proc. */
function reparentedChildren(): number[] {
  const self = String(libc.getpid());
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) > 57) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      // Fields after the command (which may hold spaces and parentheses): state, ppid, …
      const [processState, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (ppid === self && processState !== 'Z') children.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

/**
 * A cancel: every process of the namespace is killed at once (kill(-1) from PID 1 reaches all of
 * them but the init). The function's exit then comes as a SIGCHLD, and is reaped and reported as
 * any exit, with the counts of the call until now. Without a function there is nothing to report:
 * the worker kills the init itself.
 */
function endCall(): void {
  if (state.child === 0 || !state.isPid1) return;
  state.ending = true;
  signalIgnoringEsrch(-1);
}

// ---- the control channel (sandbox mode) ------------------------------------------------------

const CONTROL_FD = 3;

function openControl(onRun: (spec: RunSpec) => void): FdWatch {
  const buffer = Buffer.alloc(64 * 1024);
  const decode = lineDecoder((line) => {
    const message = parseWorkerMessage(line);
    switch (message.type) {
      case 'run':
        onRun(message.spec);
        break;
      case 'signal':
        // As if the init had received it: the same rules (only forwarded signals, to the group).
        forwardSignal(message.signal);
        break;
      case 'end':
        endCall();
        break;
    }
  });
  const watch = watchReadable(CONTROL_FD, () => {
    let n = 0;
    try {
      n = readSync(CONTROL_FD, buffer);
    } catch {
      n = 0;
    }
    if (n > 0) {
      try {
        decode(buffer.subarray(0, n));
      } catch (error) {
        fail(`bad message from the worker: ${describeError(error)}`, EX_SOFTWARE);
      }
      return;
    }
    // The lifeline: the worker's end closed (it exited or was killed). Nobody is left to report to.
    watch.close();
    state.control = null;
    finish(137);
  });
  return watch;
}

/** Writes one message synchronously: the socket is blocking and the messages are small. */
function send(message: InitToWorker): void {
  if (state.control) sendNow(message);
}

function sendNow(message: InitToWorker): void {
  try {
    writeSync(CONTROL_FD, `${JSON.stringify(message)}\n`);
  } catch {
    // The worker is gone; the lifeline watch ends the sandbox.
  }
}

// ---- main ------------------------------------------------------------------------------------

function main(): void {
  const args = parseArguments(rawArguments());
  // A sandbox's worker hears at once that its init runs, so that what it sends next travels while
  // the init loads koffi and sets itself up (~2 ms) rather than after. Nothing of it is read before
  // the init has made itself undumpable and watches its control socket: that comes below.
  if (args.sandbox && process.pid === 1) sendNow({ type: 'ready' });
  try {
    becomeInit(args);
  } catch (error) {
    fail(describeError(error), EX_SOFTWARE);
  }
  installSignalHandlers();

  if (!args.sandbox) {
    const env = rawEnvironment();
    restoreNofile(args.nofileSoft);
    // Node's signal handles do not keep the event loop alive; this timer does, and never fires in
    // practice (24.8 days). The init does not poll: it wakes on signals only.
    setInterval(() => {}, 0x7fffffff);
    startChild(args.command, env, { inheritedFds: args.inheritedFds });
    return;
  }

  let started = false;
  state.control = openControl((spec) => {
    if (started) return;
    started = true;
    if (spec.maxOpenFiles !== undefined) {
      const limit = BigInt(spec.maxOpenFiles);
      libc.setrlimit(RLIMIT_NOFILE, { soft: limit, hard: limit });
    }
    startChild(spec.argv.map((a) => Buffer.from(a)), spec.env.map((e) => Buffer.from(e)), spec);
  });
  // Declared now, while the run message may still be on its way, rather than at the first spawn.
  prepareSpawn();
}

main();
