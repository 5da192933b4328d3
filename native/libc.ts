import { loadKoffi } from './koffi.js';
import { SyscallError } from './syscall-error.js';
import { ECHILD, EINTR } from './errno.js';
import {
  AF_INET, IFF_UP, O_CLOEXEC, O_RDONLY, P_ALL, SIOCGIFFLAGS, SIOCSIFFLAGS, SOCK_DGRAM, WEXITED, WNOHANG, WNOWAIT,
} from './constants.js';

// Each libc call declared once. Wrappers check the return value and throw SyscallError naming the
// call; no policy lives here (which flags, which signals, what to do on failure is the caller's).

const koffi = loadKoffi();
const libc = koffi.load('libc.so.6');

const c = {
  unshare: libc.func('int unshare(int flags)'),
  setns: libc.func('int setns(int fd, int nstype)'),
  mount: libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
  umount2: libc.func('int umount2(const char *target, int flags)'),
  prctl: libc.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)'),
  waitid: libc.func('int waitid(int idtype, int id, _Out_ uint8_t *infop, int options)'),
  waitpid: libc.func('int waitpid(int pid, _Out_ int *status, int options)'),
  kill: libc.func('int kill(int pid, int sig)'),
  getpid: libc.func('int getpid(void)'),
  open: libc.func('int open(const char *path, int flags, int mode)'),
  close: libc.func('int close(int fd)'),
  sethostname: libc.func('int sethostname(const char *name, size_t len)'),
  getrlimit: libc.func('int getrlimit(int resource, _Out_ uint64_t *rlim)'),
  setrlimit: libc.func('int setrlimit(int resource, const uint64_t *rlim)'),
  isatty: libc.func('int isatty(int fd)'),
  tcgetpgrp: libc.func('int tcgetpgrp(int fd)'),
  getpgrp: libc.func('int getpgrp(void)'),
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)'),
};

function check(syscall: string, result: number, detail?: string): number {
  if (result === -1) throw new SyscallError(syscall, koffi.errno(), detail);
  return result;
}

export function unshare(flags: number): void {
  check('unshare', c.unshare(flags));
}

export function setns(fd: number, nstype: number): void {
  check('setns', c.setns(fd, nstype));
}

export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  check('mount', c.mount(source, target, fstype, flags, data), target);
}

/** umount2(2); `flags` MNT_DETACH detaches a busy mount lazily. */
export function umount2(target: string, flags = 0): void {
  check('umount2', c.umount2(target, flags), target);
}

export function prctl(option: number, arg2 = 0): number {
  return check('prctl', c.prctl(option, arg2, 0, 0, 0));
}

export function kill(pid: number, signal: number): void {
  check('kill', c.kill(pid, signal), `${pid}, ${signal}`);
}

export function getpid(): number {
  return c.getpid();
}

export function open(path: string, flags = O_RDONLY | O_CLOEXEC, mode = 0): number {
  return check('open', c.open(path, flags, mode), path);
}

export function close(fd: number): void {
  check('close', c.close(fd));
}

export function sethostname(name: string): void {
  check('sethostname', c.sethostname(name, Buffer.byteLength(name)));
}

export interface ResourceLimit { soft: bigint; hard: bigint }

export function getrlimit(resource: number): ResourceLimit {
  const out = [0n, 0n];
  check('getrlimit', c.getrlimit(resource, out));
  return { soft: BigInt(out[0]!), hard: BigInt(out[1]!) };
}

export function setrlimit(resource: number, limit: ResourceLimit): void {
  check('setrlimit', c.setrlimit(resource, [limit.soft, limit.hard]));
}

export function isatty(fd: number): boolean {
  return c.isatty(fd) === 1;
}

/** The foreground process group of the terminal on `fd`, or -1 when it is not our controlling terminal. */
export function tcgetpgrp(fd: number): number {
  return c.tcgetpgrp(fd);
}

export function getpgrp(): number {
  return c.getpgrp();
}

/** Sets IFF_UP on a network interface (SIOCGIFFLAGS / SIOCSIFFLAGS on a datagram socket). */
export function setInterfaceUp(name: string): void {
  const fd = check('socket', c.socket(AF_INET, SOCK_DGRAM, 0));
  try {
    const ifreq = new Uint8Array(40); // struct ifreq: char ifr_name[16]; short ifr_flags; …
    ifreq.set(Buffer.from(name));
    check('ioctl', c.ioctl(fd, SIOCGIFFLAGS, ifreq), `${name}, SIOCGIFFLAGS`);
    const view = new DataView(ifreq.buffer);
    view.setInt16(16, view.getInt16(16, true) | IFF_UP, true);
    check('ioctl', c.ioctl(fd, SIOCSIFFLAGS, ifreq), `${name}, SIOCSIFFLAGS`);
  } finally {
    c.close(fd);
  }
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
    const r = c.waitpid(pid, status, WNOHANG);
    // A stop is reported without WUNTRACED when we are the child's tracer (it asked, PTRACE_TRACEME):
    // not an exit; the child is still there.
    if (r > 0 && isStopOrContinue(status[0]!)) continue;
    if (r > 0) return decodeWaitStatus(r, status[0]!);
    if (r === 0) return 'running';
    const errno = koffi.errno();
    if (errno === ECHILD) return 'none';
    if (errno !== EINTR) throw new SyscallError('waitpid', errno);
  }
}

/**
 * Peeks at an exited child without reaping it (waitid with WNOWAIT), so a caller that shares its
 * children with libuv can reap only those it did not spawn. Returns the pid, or null.
 */
export function peekExited(): number | null {
  const info = new Uint8Array(128);
  for (;;) {
    const r = c.waitid(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT);
    if (r === 0) {
      const pid = new DataView(info.buffer).getInt32(16, true); // siginfo_t.si_pid
      return pid === 0 ? null : pid;
    }
    const errno = koffi.errno();
    if (errno === ECHILD) return null;
    if (errno !== EINTR) throw new SyscallError('waitid', errno);
  }
}
