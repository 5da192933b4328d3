// The containment of one sandbox, as bubblewrap's arguments: one ordered list of named steps, in
// the manner of nsjail's containProc(). bubblewrap runs as the sandbox's unprivileged host uid, so
// the user namespace it makes maps that uid alone: nothing inside is root on the host, and nothing
// inside keeps a capability (bubblewrap drops them all, the bounding set included, when the uid
// inside is not 0). A pure function: unit tests read the list without privileges.
import { SANDBOX_HOSTNAME, SANDBOX_PATH, SANDBOX_PATHS, type HostRoot } from './root-fs.js';

export interface ContainmentPlan {
  /** Host uid and gid the sandbox runs as (its own: sandbox-uids.ts); the same numbers inside. */
  uid: number;
  gid: number;
  /** `loopback`: a network namespace of its own with only `lo`; `host`: the worker's network (trusted functions only). */
  network: 'loopback' | 'host';
  /** The host's top-level directories and /etc files to mirror (readHostRoot). */
  hostRoot: HostRoot;
  /** The generated /etc (host path, bound read-only). */
  etcDir: string;
  /** pidbox's sandbox runtime (host path, bound read-only at /var/runtime): init.cjs, node-host.cjs, koffi.node, bin/node. */
  runtimeDir: string;
  /** This sandbox's slot (host path): `task/` becomes /var/task, `bundle/` /var/bundle, `passwd` and `group` /etc's. */
  slotDir: string;
  /** Size of the private /tmp, bytes. */
  tmpBytes: number;
  /** Descriptor (in bubblewrap) holding the compiled seccomp program. */
  seccompFd: number;
  /** Descriptor bubblewrap writes `{"child-pid": …}` to once the sandbox exists. */
  infoFd: number;
  /** What bubblewrap runs as PID 1: the init's argv, inside paths. */
  command: string[];
}

export interface ContainmentStep {
  /** What the step does, for benchmarks and docs. */
  step: string;
  args: string[];
}

/** The containment, step by step, in the order bubblewrap takes them. */
export function containmentSteps(plan: ContainmentPlan): ContainmentStep[] {
  return [
    { step: 'user namespace, non-root uid', args: userNamespace(plan) },
    { step: 'PID namespace, init as PID 1', args: pidNamespace() },
    { step: 'IPC, UTS and cgroup namespaces', args: ipcUtsAndCgroupNamespaces() },
    { step: 'network namespace (loopback)', args: networkNamespace(plan) },
    { step: 'new session', args: session() },
    { step: 'root from read-only binds', args: rootFilesystem(plan) },
    { step: 'clean environment', args: environment() },
    { step: 'seccomp filter', args: seccomp(plan) },
    { step: 'info to the worker', args: report(plan) },
  ];
}

export function bwrapArguments(plan: ContainmentPlan): string[] {
  return [...containmentSteps(plan).flatMap((s) => s.args), '--', ...plan.command];
}

/** Its own user namespace, mapping only the sandbox's uid and gid; no nested user namespaces. */
function userNamespace(plan: ContainmentPlan): string[] {
  return ['--unshare-user', '--uid', String(plan.uid), '--gid', String(plan.gid), '--disable-userns'];
}

/**
 * Its own PID namespace with the command as PID 1 (the init: no reaper of bubblewrap's own), and
 * SIGKILL for it when bubblewrap or its parent, the worker, dies.
 */
function pidNamespace(): string[] {
  return ['--unshare-pid', '--as-pid-1', '--die-with-parent'];
}

/** IPC and UTS namespaces of its own (hostname `pidbox`), and a cgroup namespace where the kernel has them. */
function ipcUtsAndCgroupNamespaces(): string[] {
  return ['--unshare-ipc', '--unshare-uts', '--hostname', SANDBOX_HOSTNAME, '--unshare-cgroup-try'];
}

/** A network namespace with only `lo`, up (bubblewrap brings it up), unless the function asked for the host's. */
function networkNamespace(plan: ContainmentPlan): string[] {
  return plan.network === 'loopback' ? ['--unshare-net'] : [];
}

/** A new session: no controlling terminal to inject input into (TIOCSTI). */
function session(): string[] {
  return ['--new-session'];
}

/**
 * An empty root (bubblewrap's tmpfs) with read-only binds of what functions need, a fresh /proc
 * and a minimal /dev, a private size-limited /tmp, then the root itself remounted read-only.
 */
function rootFilesystem(plan: ContainmentPlan): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const entry of plan.hostRoot.topLevel) {
    if (entry.kind === 'symlink') args.push('--symlink', entry.target, `/${entry.name}`);
    else args.push('--ro-bind', `/${entry.name}`, `/${entry.name}`);
  }
  args.push('--ro-bind', plan.etcDir, '/etc', '--ro-bind', `${plan.slotDir}/passwd`, '/etc/passwd', '--ro-bind', `${plan.slotDir}/group`, '/etc/group');
  for (const path of plan.hostRoot.etcBinds) args.push('--ro-bind', path, path);
  args.push(
    '--ro-bind', plan.runtimeDir, SANDBOX_PATHS.runtime,
    '--ro-bind', `${plan.slotDir}/task`, SANDBOX_PATHS.task,
    '--ro-bind', `${plan.slotDir}/bundle`, SANDBOX_PATHS.bundle,
    '--proc', '/proc',
    ...minimalDev(),
    '--size', String(plan.tmpBytes), '--tmpfs', SANDBOX_PATHS.tmp,
    '--remount-ro', '/',
    '--chdir', SANDBOX_PATHS.task,
  );
  return args;
}

/** Character devices a function may use; no block device, no pseudo-terminal, nothing else of the host's /dev. */
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'] as const;

/**
 * /dev made by hand rather than with bubblewrap's --dev, which also brings a devpts instance and a
 * /dev/shm directory of its own: here POSIX shared memory (shm_open, Python's multiprocessing)
 * lands in the one size-limited tmpfs, /tmp, and /dev itself is read-only.
 */
function minimalDev(): string[] {
  const args = ['--tmpfs', '/dev'];
  for (const name of DEVICES) args.push('--dev-bind', `/dev/${name}`, `/dev/${name}`);
  args.push(
    '--symlink', '/proc/self/fd', '/dev/fd',
    '--symlink', '/proc/self/fd/0', '/dev/stdin',
    '--symlink', '/proc/self/fd/1', '/dev/stdout',
    '--symlink', '/proc/self/fd/2', '/dev/stderr',
    '--symlink', SANDBOX_PATHS.tmp, '/dev/shm',
    '--remount-ro', '/dev',
  );
  return args;
}

/** The init starts with PATH alone; the function's environment comes with what it runs. */
function environment(): string[] {
  return ['--clearenv', '--setenv', 'PATH', SANDBOX_PATH];
}

/** The seccomp filter, loaded last, right before the init starts: it covers the init and all it starts. */
function seccomp(plan: ContainmentPlan): string[] {
  return ['--seccomp', String(plan.seccompFd)];
}

/** The host pid of PID 1, so the worker can put it in its cgroup without waiting for it. */
function report(plan: ContainmentPlan): string[] {
  return ['--info-fd', String(plan.infoFd)];
}
