import { loadKoffi } from './koffi.js';
import { SyscallError } from './syscall-error.js';
import { POSIX_SPAWN_SETPGROUP, POSIX_SPAWN_SETSIGDEF, POSIX_SPAWN_SETSIGMASK } from './constants.js';

// posix_spawnp(3) through koffi. The init starts its child with it rather than with libuv so that
// (1) argv and environment pass as raw bytes, never through a JS string, (2) the child can lead its
// own process group and take the terminal's foreground before exec (tini's setpgid + tcsetpgrp), and
// (3) libuv does not know the child, so the init may reap any pid without stealing libuv's exits.
// glibc implements it with clone(CLONE_VM|CLONE_VFORK), safe in a threaded process, and reports an
// exec failure (ENOENT, EACCES, …) as the return value.

function declare() {
  const libc = loadKoffi().load('libc.so.6');
  return {
    spawnp: libc.func('int posix_spawnp(_Out_ int *pid, const void *file, void *actions, void *attr, void **argv, void **envp)'),
    actionsInit: libc.func('int posix_spawn_file_actions_init(void *actions)'),
    actionsDestroy: libc.func('int posix_spawn_file_actions_destroy(void *actions)'),
    addDup2: libc.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)'),
    addCloseFrom: libc.func('int posix_spawn_file_actions_addclosefrom_np(void *actions, int from)'),
    addTcsetpgrp: libc.func('int posix_spawn_file_actions_addtcsetpgrp_np(void *actions, int tcfd)'),
    addChdir: libc.func('int posix_spawn_file_actions_addchdir_np(void *actions, const char *path)'),
    attrInit: libc.func('int posix_spawnattr_init(void *attr)'),
    attrDestroy: libc.func('int posix_spawnattr_destroy(void *attr)'),
    attrSetFlags: libc.func('int posix_spawnattr_setflags(void *attr, short flags)'),
    attrSetPgroup: libc.func('int posix_spawnattr_setpgroup(void *attr, int pgroup)'),
    attrSetSigmask: libc.func('int posix_spawnattr_setsigmask(void *attr, const void *sigset)'),
    attrSetSigdefault: libc.func('int posix_spawnattr_setsigdefault(void *attr, const void *sigset)'),
    sigemptyset: libc.func('int sigemptyset(void *set)'),
  };
}

let calls: ReturnType<typeof declare> | null = null;

/** Declared at the first spawn (or by prepareSpawn), not at import: see native/libc.ts. */
export function prepareSpawn(): void {
  calls ??= declare();
}

export interface SpawnRequest {
  /** The program: a path, or a name looked up in the child's PATH. Raw bytes or a string. */
  file: Buffer | string;
  /** argv, argv[0] included, each entry raw bytes (no NUL inside). */
  argv: Buffer[];
  /** The environment, `NAME=value` entries as raw bytes. */
  env: Buffer[];
  /** dup2(from, to) in the child, in order. `from === to` clears close-on-exec, keeping the fd. */
  fds?: Array<[from: number, to: number]>;
  /** Close every descriptor from this one up in the child (after the dup2s). */
  closeFrom?: number;
  /** Make the child the leader of a new process group. */
  newProcessGroup?: boolean;
  /** Put the child's group in the foreground of the terminal open on this fd. */
  foregroundOf?: number;
  /** Working directory of the child. */
  cwd?: string;
}

// Every signal from 1 to 64 for POSIX_SPAWN_SETSIGDEF. Not sigfillset(3): glibc leaves out its own
// signals 32 and 33 (SIGCANCEL, SIGSETXID), and posix_spawn then sets them to SIG_IGN in the child,
// where the function would inherit them ignored across exec. A sigset_t is 1024 bits; bit n-1 is signal n.
const EVERY_SIGNAL = Buffer.concat([Buffer.alloc(8, 0xff), Buffer.alloc(120)]);

function zeroTerminated(b: Buffer | string): Buffer {
  const bytes = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.concat([bytes, Buffer.alloc(1)]);
}

function ok(call: string, r: number): void {
  if (r !== 0) throw new SyscallError(call, r);
}

/**
 * Starts a process and returns its pid. Every signal, glibc's internal 32 and 33 included, is reset
 * to its default action and none is blocked in the child, whatever Node set up (it ignores SIGPIPE). Throws SyscallError with
 * syscall `posix_spawn` when the program cannot be run (ENOENT, EACCES, ENOEXEC…).
 */
export function spawnProcess(req: SpawnRequest): number {
  prepareSpawn();
  const c = calls!;
  const actions = Buffer.alloc(256);
  const attr = Buffer.alloc(512);
  const sigset = Buffer.alloc(128);
  ok('posix_spawn_file_actions_init', c.actionsInit(actions));
  ok('posix_spawnattr_init', c.attrInit(attr));
  try {
    for (const [from, to] of req.fds ?? []) ok('posix_spawn_file_actions_adddup2', c.addDup2(actions, from, to));
    if (req.closeFrom !== undefined) ok('posix_spawn_file_actions_addclosefrom_np', c.addCloseFrom(actions, req.closeFrom));
    if (req.foregroundOf !== undefined) ok('posix_spawn_file_actions_addtcsetpgrp_np', c.addTcsetpgrp(actions, req.foregroundOf));
    if (req.cwd !== undefined) ok('posix_spawn_file_actions_addchdir_np', c.addChdir(actions, req.cwd));

    let flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (req.newProcessGroup) {
      flags |= POSIX_SPAWN_SETPGROUP;
      ok('posix_spawnattr_setpgroup', c.attrSetPgroup(attr, 0));
    }
    c.sigemptyset(sigset);
    ok('posix_spawnattr_setsigmask', c.attrSetSigmask(attr, sigset));
    ok('posix_spawnattr_setsigdefault', c.attrSetSigdefault(attr, EVERY_SIGNAL));
    ok('posix_spawnattr_setflags', c.attrSetFlags(attr, flags));

    const pid = [0];
    const argv = [...req.argv.map(zeroTerminated), null];
    const env = [...req.env.map(zeroTerminated), null];
    ok('posix_spawn', c.spawnp(pid, zeroTerminated(req.file), actions, attr, argv, env));
    return pid[0]!;
  } finally {
    c.actionsDestroy(actions);
    c.attrDestroy(attr);
  }
}
