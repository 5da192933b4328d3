// The syscalls a function may make, as plain data that worker/sandbox/seccomp-filter.ts compiles into
// the classic-BPF program bwrap loads (`--seccomp FD`) before it starts the sandbox's init. An allow-list:
// any syscall no rule names fails with EPERM, as in Docker.
//
// The model is Docker's default profile (moby profiles/seccomp/default.json): its rules for a container
// without capabilities, because a function has none. From it:
//   - only 64-bit names native to x86_64 or aarch64 (pidbox's platforms) are kept; a filter holds the
//     native architecture alone, and every other one (i386 through int 0x80, x32) kills the process, so
//     Docker's 32-bit names (chown32, fcntl64, _llseek, socketcall, …) would only be skipped;
//   - it is tighter where a function runner can be: rules marked "tighter than Docker" below.
// Names libseccomp does not know (newer than the library) are skipped when compiling, and listed.
//
// Arguments are compared as 64-bit values. The kernel reads `int` arguments (socket's family,
// personality's persona) from the low 32 bits only, so a rule of the form "allow unless the
// argument is N" lets N through with any high bit set: syscall(SYS_socket, 0x1_0000_0028, …) passes
// Docker's `socket: arg0 != 40` and opens an AF_VSOCK socket. The rules here are all "allow when
// the argument is in this range / equals this value", which fail closed for such values.
// libseccomp allows one comparison per argument in a rule, and a rule without arguments for a
// syscall silently overrides any other rule for it; the compiler refuses a policy that mixes them.

export type SeccompAction =
  | { readonly type: 'allow' }
  | { readonly type: 'errno'; readonly errno: number; readonly code: string }
  | { readonly type: 'kill-process' };

/** A comparison of one syscall argument (`index` 0–5) with a 64-bit value; `masked-eq` tests `(arg & mask) === value`. */
export type SeccompArgCondition =
  | { readonly index: number; readonly op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'; readonly value: bigint }
  | { readonly index: number; readonly op: 'masked-eq'; readonly mask: bigint; readonly value: bigint };

export interface SeccompRule {
  /** Syscall names, as libseccomp spells them. */
  readonly names: readonly string[];
  readonly action: SeccompAction;
  /** All must hold for the rule to apply (at most one per argument). Default: none, the rule always applies. */
  readonly args?: readonly SeccompArgCondition[];
  /** One sentence: why these syscalls get this action. */
  readonly why: string;
}

export interface SeccompPolicy {
  /** The action for a syscall no rule applies to. */
  readonly defaultAction: SeccompAction;
  /** The action for a syscall made through another architecture's ABI than the native one. */
  readonly badArchAction: SeccompAction;
  readonly rules: readonly SeccompRule[];
}

export const ALLOW: SeccompAction = { type: 'allow' };
export const EPERM: SeccompAction = { type: 'errno', errno: 1, code: 'EPERM' };
export const ENOSYS: SeccompAction = { type: 'errno', errno: 38, code: 'ENOSYS' };
export const KILL_PROCESS: SeccompAction = { type: 'kill-process' };

/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET (Docker's mask). */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000n;

/**
 * ptrace requests a function may make: all those Linux defines (generic, x86 and arm64 ones) but
 * PTRACE_ATTACH (16) and PTRACE_SEIZE (0x4206), the two that take a process as tracee without its
 * asking. So a function can trace a child that asked with PTRACE_TRACEME (strace falls back to it when
 * PTRACE_SEIZE fails), but never attach to another process: the sandbox's init runs as the same uid,
 * and Yama's ptrace_scope, which would stop it, is not something the runner can count on (tighter
 * than Docker, which allows any request). A list of requests rather than "neither 16 nor 0x4206",
 * which libseccomp cannot say in one rule; a request Linux adds later is denied until added here.
 */
export const PTRACE_ALLOWED_REQUESTS: Readonly<Record<string, number>> = {
  PTRACE_TRACEME: 0, PTRACE_PEEKTEXT: 1, PTRACE_PEEKDATA: 2, PTRACE_PEEKUSR: 3, PTRACE_POKETEXT: 4,
  PTRACE_POKEDATA: 5, PTRACE_POKEUSR: 6, PTRACE_CONT: 7, PTRACE_KILL: 8, PTRACE_SINGLESTEP: 9,
  PTRACE_GETREGS: 12, PTRACE_SETREGS: 13, PTRACE_GETFPREGS: 14, PTRACE_SETFPREGS: 15, PTRACE_DETACH: 17,
  PTRACE_GETFPXREGS: 18, PTRACE_SETFPXREGS: 19, PTRACE_SYSCALL: 24, PTRACE_GET_THREAD_AREA: 25,
  PTRACE_SET_THREAD_AREA: 26, PTRACE_ARCH_PRCTL: 30, PTRACE_SYSEMU: 31, PTRACE_SYSEMU_SINGLESTEP: 32,
  PTRACE_SINGLEBLOCK: 33, PTRACE_POKEMTETAGS: 34, PTRACE_SETOPTIONS: 0x4200, PTRACE_GETEVENTMSG: 0x4201,
  PTRACE_GETSIGINFO: 0x4202, PTRACE_SETSIGINFO: 0x4203, PTRACE_GETREGSET: 0x4204, PTRACE_SETREGSET: 0x4205,
  PTRACE_INTERRUPT: 0x4207, PTRACE_LISTEN: 0x4208, PTRACE_PEEKSIGINFO: 0x4209, PTRACE_GETSIGMASK: 0x420a,
  PTRACE_SETSIGMASK: 0x420b, PTRACE_SECCOMP_GET_FILTER: 0x420c, PTRACE_SECCOMP_GET_METADATA: 0x420d,
  PTRACE_GET_SYSCALL_INFO: 0x420e, PTRACE_GET_RSEQ_CONFIGURATION: 0x420f,
  PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG: 0x4210, PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG: 0x4211,
  PTRACE_SET_SYSCALL_INFO: 0x4212,
};
// (33 is PTRACE_SINGLEBLOCK on x86 and PTRACE_PEEKMTETAGS on arm64.)

/** Socket families denied: AF_ALG (38) and AF_VSOCK (40). Every other one (0–45) is allowed. */
export const DENIED_SOCKET_FAMILIES = { AF_ALG: 38, AF_VSOCK: 40 } as const;

/** The families above AF_ALG that Linux defines, but AF_VSOCK (AF_MAX is 46). */
const SOCKET_FAMILIES_BETWEEN_AND_AFTER = { AF_NFC: 39, AF_KCM: 41, AF_QIPCRTR: 42, AF_SMC: 43, AF_XDP: 44, AF_MCTP: 45 };

/** The personality values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, both, and 0xffffffff (query). */
const PERSONALITY_ALLOWED = [0x0n, 0x8n, 0x20000n, 0x20008n, 0xffffffffn];

function whenArg0(op: 'eq' | 'lt', value: bigint): SeccompArgCondition[] {
  return [{ index: 0, op, value }];
}

/**
 * Docker's allow-list for a process without capabilities, without its 32-bit names and without the
 * syscalls the rules below deny (adjtimex, clock_adjtime, name_to_handle_at) or restrict (clone,
 * io_uring_*, ptrace, process_vm_*, socket, personality, prlimit64).
 *
 * Kept as Docker has them, on any pid: setpriority, sched_setaffinity, sched_setscheduler,
 * sched_setparam, sched_setattr and ioprio_set. The function runs as the init's uid, so it may make
 * the init nicer, pin it to one CPU or give it the idle I/O class: the init then only gets slower,
 * inside the sandbox's own cgroup (its CPU quota is the sandbox's), and the worker's timeout and
 * kill come from outside the sandbox. What would reach beyond it — a realtime policy, which the CFS
 * quota does not hold, or a negative nice — the kernel allows an unprivileged caller only up to the
 * target's RLIMIT_RTPRIO and RLIMIT_NICE, which the init sets to 0 for itself and the function
 * (worker/init/init.ts). The PRIO_USER and IOPRIO_WHO_USER forms reach only the processes of the
 * caller's PID namespace. Restricting them to pid 0 would break pthread_setaffinity_np and per-thread
 * nice, which pass a thread id.
 */
const ALLOWED_SYSCALLS = [
  'accept', 'accept4', 'access', 'alarm', 'bind', 'brk', 'capget', 'capset', 'chdir', 'chmod', 'chown',
  'clock_getres', 'clock_gettime', 'clock_nanosleep', 'close', 'close_range', 'connect', 'copy_file_range',
  'creat', 'dup', 'dup2', 'dup3', 'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait',
  'epoll_pwait2', 'epoll_wait', 'epoll_wait_old', 'eventfd', 'eventfd2', 'execve', 'execveat', 'exit',
  'exit_group', 'faccessat', 'faccessat2', 'fadvise64', 'fallocate', 'fanotify_mark', 'fchdir', 'fchmod',
  'fchmodat', 'fchown', 'fchownat', 'fcntl', 'fdatasync', 'fgetxattr', 'flistxattr', 'flock', 'fork',
  'fremovexattr', 'fsetxattr', 'fstat', 'fstatfs', 'fsync', 'ftruncate', 'futex', 'futex_waitv', 'futimesat',
  'getcpu', 'getcwd', 'getdents', 'getdents64', 'getegid', 'geteuid', 'getgid', 'getgroups', 'getitimer',
  'getpeername', 'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrandom', 'getresgid',
  'getresuid', 'getrlimit', 'get_robust_list', 'getrusage', 'getsid', 'getsockname', 'getsockopt',
  'get_thread_area', 'gettid', 'gettimeofday', 'getuid', 'getxattr', 'inotify_add_watch', 'inotify_init',
  'inotify_init1', 'inotify_rm_watch', 'io_cancel', 'ioctl', 'io_destroy', 'io_getevents', 'io_pgetevents',
  'ioprio_get', 'ioprio_set', 'io_setup', 'io_submit', 'kill', 'landlock_add_rule', 'landlock_create_ruleset',
  'landlock_restrict_self', 'lchown', 'lgetxattr', 'link', 'linkat', 'listen', 'listxattr', 'llistxattr',
  'lremovexattr', 'lseek', 'lsetxattr', 'lstat', 'madvise', 'membarrier', 'memfd_create', 'memfd_secret',
  'mincore', 'mkdir', 'mkdirat', 'mknod', 'mknodat', 'mlock', 'mlock2', 'mlockall', 'mmap', 'mprotect',
  'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedsend', 'mq_unlink', 'mremap', 'msgctl',
  'msgget', 'msgrcv', 'msgsnd', 'msync', 'munlock', 'munlockall', 'munmap', 'nanosleep', 'newfstatat', 'open',
  'openat', 'openat2', 'pause', 'pidfd_open', 'pidfd_send_signal', 'pipe', 'pipe2', 'pkey_alloc', 'pkey_free',
  'pkey_mprotect', 'poll', 'ppoll', 'prctl', 'pread64', 'preadv', 'preadv2', 'process_mrelease',
  'pselect6', 'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead', 'readlink', 'readlinkat', 'readv',
  'recvfrom', 'recvmmsg', 'recvmsg', 'remap_file_pages', 'removexattr', 'rename', 'renameat', 'renameat2',
  'restart_syscall', 'rmdir', 'rseq', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo',
  'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait', 'rt_tgsigqueueinfo', 'sched_getaffinity',
  'sched_getattr', 'sched_getparam', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_getscheduler',
  'sched_rr_get_interval', 'sched_setaffinity', 'sched_setattr', 'sched_setparam', 'sched_setscheduler',
  'sched_yield', 'seccomp', 'select', 'semctl', 'semget', 'semop', 'semtimedop', 'sendfile', 'sendmmsg',
  'sendmsg', 'sendto', 'setfsgid', 'setfsuid', 'setgid', 'setgroups', 'setitimer', 'setpgid', 'setpriority',
  'setregid', 'setresgid', 'setresuid', 'setreuid', 'setrlimit', 'set_robust_list', 'setsid', 'setsockopt',
  'set_thread_area', 'set_tid_address', 'setuid', 'setxattr', 'shmat', 'shmctl', 'shmdt', 'shmget', 'shutdown',
  'sigaltstack', 'signalfd', 'signalfd4', 'socketpair', 'splice', 'stat', 'statfs', 'statx', 'symlink',
  'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'sysinfo', 'tee', 'tgkill', 'time', 'timer_create',
  'timer_delete', 'timer_getoverrun', 'timer_gettime', 'timer_settime', 'timerfd_create', 'timerfd_gettime',
  'timerfd_settime', 'times', 'tkill', 'truncate', 'umask', 'uname', 'unlink', 'unlinkat', 'utime', 'utimensat',
  'utimes', 'vfork', 'vmsplice', 'wait4', 'waitid', 'write', 'writev',
  // x86_64 only (skipped on aarch64): the thread pointer and the LDT.
  'arch_prctl', 'modify_ldt',
];

/** Syscalls newer than the Docker profile this list was taken from, of the same kind as ones it allows. */
const ALLOWED_NEWER_SYSCALLS = [
  'cachestat', // 6.5: page-cache statistics of an open file, as mincore gives for a mapping
  'fchmodat2', // 6.6: glibc 2.39's fchmodat(AT_SYMLINK_NOFOLLOW)
  'map_shadow_stack', // 6.6: glibc's shadow stacks (x86 CET)
  'futex_wake', 'futex_wait', 'futex_requeue', // 6.7: futex2
  'mseal', // 6.10: seals a mapping; it only takes abilities away
  'setxattrat', 'getxattrat', 'listxattrat', 'removexattrat', // 6.13: the *xattr calls by directory fd
  'uretprobe', // 6.11, x86_64: entered only from the trampoline of a return probe the host installed
];

/** Syscalls no function may make (EPERM), named so that tests and documentation can list them. */
const DENIED_SYSCALLS: ReadonlyArray<{ names: string[]; why: string }> = [
  { names: ['mount', 'umount', 'umount2', 'pivot_root', 'chroot'], why: 'the sandbox\'s filesystem is built before the function starts and stays as built' },
  { names: ['fsopen', 'fsconfig', 'fsmount', 'fspick', 'open_tree', 'open_tree_attr', 'move_mount', 'mount_setattr', 'statmount', 'listmount'],
    why: 'the new mount API, which would mount as the old one does; statmount and listmount read the mount tree (tighter than Docker)' },
  { names: ['unshare', 'setns'], why: 'namespaces are the runner\'s: a function neither makes new ones nor joins others (clone is allowed only without namespace flags)' },
  { names: ['bpf', 'perf_event_open'], why: 'large kernel attack surfaces (the BPF verifier, perf events) that no function needs' },
  { names: ['keyctl', 'add_key', 'request_key'], why: 'the kernel keyring is not namespaced (Docker\'s reason too)' },
  { names: ['kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'reboot', 'swapon', 'swapoff', 'acct', 'syslog', 'sethostname', 'setdomainname', 'vhangup'],
    why: 'the host\'s business: kernels, modules, swap, accounting, the kernel log, names, terminals' },
  { names: ['quotactl', 'quotactl_fd', 'lookup_dcookie', 'open_by_handle_at', 'name_to_handle_at', 'fanotify_init'],
    why: 'filesystem administration; open_by_handle_at opens a file by handle outside the sandbox\'s view (the 2014 "shocker" escape), and the handles name_to_handle_at returns (allowed by Docker) serve nothing else but leak inode numbers and mount ids (tighter than Docker)' },
  { names: ['iopl', 'ioperm'], why: 'raw port I/O' },
  { names: ['settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'stime'],
    why: 'the clock is the host\'s; adjtimex and clock_adjtime (allowed by Docker, read-only without CAP_SYS_TIME) only read the NTP discipline state no function needs, and their 32-bit form leaked kernel memory (CVE-2018-11508) (tighter than Docker)' },
  { names: ['userfaultfd'], why: 'lets a process stall the kernel at a chosen page fault, the usual way to win a kernel race' },
  { names: ['kcmp', 'pidfd_getfd', 'process_vm_readv', 'process_vm_writev', 'process_madvise'],
    why: 'reach into another process\'s descriptors or memory: the sandbox\'s init runs as the same uid (process_vm_* tighter than Docker)' },
  { names: ['mbind', 'set_mempolicy', 'get_mempolicy', 'set_mempolicy_home_node', 'move_pages', 'migrate_pages'], why: 'NUMA placement is the host\'s' },
  { names: ['lsm_get_self_attr', 'lsm_set_self_attr', 'lsm_list_modules'], why: 'security-module attributes, newer than Docker\'s profile: nothing a function needs (tighter than Docker)' },
];

/** Every syscall the sandbox denies with EPERM whatever its arguments. */
export const SANDBOX_DENIED_SYSCALLS: readonly string[] = DENIED_SYSCALLS.flatMap((group) => group.names);

export const SANDBOX_SECCOMP_POLICY: SeccompPolicy = {
  defaultAction: EPERM,
  // The filter compares syscall numbers of the native ABI only; a number from another ABI (i386's
  // int 0x80, x32's numbers with bit 30 set) means something else and must not reach a rule.
  badArchAction: KILL_PROCESS,
  rules: [
    { names: ALLOWED_SYSCALLS, action: ALLOW, why: 'Docker\'s default profile for a process without capabilities' },
    { names: ALLOWED_NEWER_SYSCALLS, action: ALLOW, why: 'newer syscalls of the kinds Docker allows' },

    // Threads and processes: clone without any namespace flag (Docker's rule). clone(2) cannot make
    // a time namespace (0x80 lies in its exit-signal byte). x86_64 and aarch64 pass the flags first.
    {
      names: ['clone'], action: ALLOW, args: [{ index: 0, op: 'masked-eq', mask: CLONE_NAMESPACE_FLAGS, value: 0n }],
      why: 'threads and processes, but no new namespace',
    },
    // clone3's flags are in memory a filter cannot read, so it cannot be allowed without namespaces;
    // ENOSYS, not EPERM, makes glibc (pthread_create, posix_spawn) and libuv fall back to clone.
    { names: ['clone3'], action: ENOSYS, why: 'its flags cannot be checked; glibc falls back to clone on ENOSYS' },
    // io_uring is a large kernel attack surface (Google found that 60% of the kernel exploits sent
    // to its kCTF bug bounty in 2022 used it); libuv falls back to its thread pool on ENOSYS
    // (tighter than the Docker profile this list was taken from; later Docker profiles deny it too).
    { names: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'], action: ENOSYS, why: 'large attack surface; libuv falls back on ENOSYS' },

    ...Object.entries(PTRACE_ALLOWED_REQUESTS).map(([request, value]): SeccompRule => ({
      names: ['ptrace'], action: ALLOW, args: whenArg0('eq', BigInt(value)),
      why: `${request}: tracing a process that asked, never attaching to another`,
    })),

    // Every family but AF_ALG (38: the kernel's crypto API as sockets, a history of use-after-frees,
    // while functions use userspace crypto) and AF_VSOCK (40: a channel to the hypervisor — on a
    // VM this reaches the host side — and CVE-2021-26708). Ranges, not "!= 38": see the top.
    // Families from 46 up do not exist yet and get EPERM rather than EAFNOSUPPORT.
    { names: ['socket'], action: ALLOW, args: whenArg0('lt', 38n), why: 'every family below AF_ALG: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, …' },
    ...Object.entries(SOCKET_FAMILIES_BETWEEN_AND_AFTER).map(([family, value]): SeccompRule => ({
      names: ['socket'], action: ALLOW, args: whenArg0('eq', BigInt(value)), why: family,
    })),

    // The function's own resource limits only: glibc's getrlimit and setrlimit are prlimit64(0, …),
    // "this process". With another pid it could lower the init's (same uid, and prlimit(2) asks
    // nothing more): RLIMIT_NOFILE 3 and the init can no longer read /proc, RLIMIT_CPU 1 and the
    // kernel kills it. Its own pid by number is refused too (`prlimit --pid $$`), and so is a pid
    // with high bits set that the kernel, reading an int, would take for 0: see the top (tighter
    // than Docker, which allows any pid).
    { names: ['prlimit64'], action: ALLOW, args: whenArg0('eq', 0n), why: 'its own resource limits, never another process\'s (the init\'s)' },

    // Docker's personalities: not ADDR_NO_RANDOMIZE (setarch -R), which would undo ASLR.
    ...PERSONALITY_ALLOWED.map((persona): SeccompRule => ({
      names: ['personality'], action: ALLOW, args: whenArg0('eq', persona), why: 'the personalities Docker allows',
    })),

    ...DENIED_SYSCALLS.map((group): SeccompRule => ({ names: group.names, action: EPERM, why: group.why })),
  ],
};
