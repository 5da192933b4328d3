import { loadKoffi, type KoffiModule } from './koffi.js';
import { SyscallError } from './syscall-error.js';
import { ECHILD, EINTR, EWOULDBLOCK } from './errno.js';
import { FIONREAD, LOCK_EX, LOCK_NB, O_CLOEXEC, O_RDONLY, SC_CLK_TCK, WNOHANG } from './constants.js';

// Each libc call declared once. Wrappers check the return value and throw SyscallError naming the
// call; no policy lives here (which flags, which signals, what to do on failure is the caller's).

let koffi: KoffiModule | null = null;

function declare() {
  koffi = loadKoffi();
  const libc = koffi.load('libc.so.6');
  return {
    mount: libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: libc.func('int umount2(const char *target, int flags)'),
    prctl: libc.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)'),
    waitpid: libc.func('int waitpid(int pid, _Out_ int *status, int options)'),
    kill: libc.func('int kill(int pid, int sig)'),
    exit: libc.func('void _exit(int status)'),
    getpid: libc.func('int getpid(void)'),
    open: libc.func('int open(const char *path, int flags, int mode)'),
    close: libc.func('int close(int fd)'),
    flock: libc.func('int flock(int fd, int operation)'),
    getrlimit: libc.func('int getrlimit(int resource, _Out_ uint64_t *rlim)'),
    setrlimit: libc.func('int setrlimit(int resource, const uint64_t *rlim)'),
    isatty: libc.func('int isatty(int fd)'),
    tcgetpgrp: libc.func('int tcgetpgrp(int fd)'),
    ioctlInt: libc.func('int ioctl(int fd, unsigned long request, _Out_ int *value)'),
    sysconf: libc.func('long sysconf(int name)'),
  };
}

let calls: ReturnType<typeof declare> | null = null;

/**
 * The declarations, made at the first call rather than at import: loading koffi's addon and
 * declaring costs ~2 ms, and the sandbox's init answers its worker before it pays for them.
 */
function c(): ReturnType<typeof declare> {
  return (calls ??= declare());
}

function errno(): number {
  return koffi!.errno();
}

function check(syscall: string, result: number, detail?: string): number {
  if (result === -1) throw new SyscallError(syscall, errno(), detail);
  return result;
}

export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  check('mount', c().mount(source, target, fstype, flags, data), target);
}

/** umount2(2); `flags` MNT_DETACH detaches a busy mount lazily. */
export function umount2(target: string, flags = 0): void {
  check('umount2', c().umount2(target, flags), target);
}

export function prctl(option: number, arg2 = 0): number {
  return check('prctl', c().prctl(option, arg2, 0, 0, 0));
}

export function kill(pid: number, signal: number): void {
  check('kill', c().kill(pid, signal), `${pid}, ${signal}`);
}

/**
 * _exit(2): ends the process at once, without Node's teardown (exit handlers, flushing streams,
 * destroying the V8 isolate). Only for a process that has written everything it means to, with
 * synchronous writes.
 */
export function exitNow(code: number): never {
  c().exit(code);
  throw new Error('_exit returned');
}

export function getpid(): number {
  return c().getpid();
}

export function open(path: string, flags = O_RDONLY | O_CLOEXEC, mode = 0): number {
  return check('open', c().open(path, flags, mode), path);
}

export function close(fd: number): void {
  check('close', c().close(fd));
}

/**
 * flock(fd, LOCK_EX | LOCK_NB): true when this descriptor now holds the lock, false when another
 * holds it. The lock goes when the descriptor is closed, or its process ends.
 */
export function tryLockExclusive(fd: number): boolean {
  if (c().flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
  const code = errno();
  if (code === EWOULDBLOCK) return false;
  throw new SyscallError('flock', code);
}

export interface ResourceLimit { soft: bigint; hard: bigint }

export function getrlimit(resource: number): ResourceLimit {
  const out = [0n, 0n];
  check('getrlimit', c().getrlimit(resource, out));
  return { soft: BigInt(out[0]!), hard: BigInt(out[1]!) };
}

export function setrlimit(resource: number, limit: ResourceLimit): void {
  check('setrlimit', c().setrlimit(resource, [limit.soft, limit.hard]));
}

export function isatty(fd: number): boolean {
  return c().isatty(fd) === 1;
}

/** The foreground process group of the terminal on `fd`, or -1 when it is not our controlling terminal. */
export function tcgetpgrp(fd: number): number {
  return c().tcgetpgrp(fd);
}

/** Bytes waiting to be read on a pipe or socket (ioctl FIONREAD). */
export function bytesReadable(fd: number): number {
  const out = [0];
  check('ioctl', c().ioctlInt(fd, FIONREAD, out), `${fd}, FIONREAD`);
  return out[0]!;
}

/** Clock ticks a second (sysconf _SC_CLK_TCK): the unit of the CPU times in /proc/PID/stat. */
export function clockTicksPerSecond(): number {
  return check('sysconf', Number(c().sysconf(SC_CLK_TCK)), '_SC_CLK_TCK');
}

/** How a child ended: `code` when it exited, `signal` (a number) when a signal killed it. */
export interface ChildExit { pid: number; code: number | null; signal: number | null }

function isStopOrContinue(status: number): boolean {
  return (status & 0xff) === 0x7f || status === 0xffff;
}

function decodeWaitStatus(pid: number, status: number): ChildExit {
  const signal = status & 0x7f;
  return signal === 0 ? { pid, code: (status >> 8) & 0xff, signal: null } : { pid, code: null, signal };
}

/**
 * Reaps one exited child without blocking: `pid` -1 means any child. Returns 'running' when children
 * remain but none has exited, 'none' when there is no child at all (ECHILD is expected, not an
 * error). Stopped and continued children are not reported (no WUNTRACED/WCONTINUED), so a stop is
 * never taken for an exit.
 */
export function reapOne(pid = -1): ChildExit | 'running' | 'none' {
  for (;;) {
    const status = [0];
    const r = c().waitpid(pid, status, WNOHANG);
    // A stop is reported without WUNTRACED when we are the child's tracer (it asked, PTRACE_TRACEME):
    // not an exit; the child is still there.
    if (r > 0 && isStopOrContinue(status[0]!)) continue;
    if (r > 0) return decodeWaitStatus(r, status[0]!);
    if (r === 0) return 'running';
    const code = errno();
    if (code === ECHILD) return 'none';
    if (code !== EINTR) throw new SyscallError('waitpid', code);
  }
}
