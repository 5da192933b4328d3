import { fstatSync, readSync, closeSync } from 'node:fs';
import { loadKoffi, type KoffiModule } from './koffi.js';
import { SyscallError } from './syscall-error.js';

// libseccomp (seccomp.h, libseccomp 2.5) through koffi: each call declared once, loaded on first
// use rather than at import, so that only the worker — which builds filters — ever maps the library;
// the sandbox's init never imports this file. libseccomp reports failure as a negative errno value
// (-EINVAL, -EACCES, …), which becomes a SyscallError naming the call, as for libc. No policy here:
// which syscalls, which actions, which attributes is worker/sandbox/seccomp-policy.ts's business.

const LIBRARY = 'libseccomp.so.2';

/** Actions (seccomp.h SCMP_ACT_*), as the 32-bit values the kernel returns from a filter. */
export const SCMP_ACT_KILL_PROCESS = 0x80000000;
export const SCMP_ACT_ALLOW = 0x7fff0000;
export function SCMP_ACT_ERRNO(errno: number): number {
  return (0x00050000 | (errno & 0xffff)) >>> 0;
}

/** Filter attributes (enum scmp_filter_attr). */
export const SCMP_FLTATR_ACT_DEFAULT = 1;
export const SCMP_FLTATR_ACT_BADARCH = 2;
/** 1: rules ordered by priority (libseccomp's default); 2: a binary tree over syscall numbers (2.5+). */
export const SCMP_FLTATR_CTL_OPTIMIZE = 8;

/** Comparison operators (enum scmp_compare). */
export const SCMP_CMP_NE = 1;
export const SCMP_CMP_LT = 2;
export const SCMP_CMP_LE = 3;
export const SCMP_CMP_EQ = 4;
export const SCMP_CMP_GE = 5;
export const SCMP_CMP_GT = 6;
export const SCMP_CMP_MASKED_EQ = 7;

/** Architecture tokens (AUDIT_ARCH_*), the values a filter compares `seccomp_data.arch` with. */
export const SCMP_ARCH_X86_64 = 0xc000003e;
export const SCMP_ARCH_AARCH64 = 0xc00000b7;

/** What seccomp_syscall_resolve_name returns for a name it does not know (__NR_SCMP_ERROR). */
export const NR_SCMP_ERROR = -1;

/** One argument comparison (struct scmp_arg_cmp): for SCMP_CMP_MASKED_EQ `datumA` is the mask, `datumB` the value. */
export interface ScmpArgCmp {
  arg: number;
  op: number;
  datumA: bigint;
  datumB: bigint;
}

/** An scmp_filter_ctx, opaque; `pointer` becomes null when seccompRelease frees it. */
export interface SeccompContext {
  pointer: unknown;
}

/** libseccomp.so.2 could not be loaded: the package that provides it is not installed. */
export class LibseccompMissingError extends Error {
  readonly library = LIBRARY;

  constructor(cause: unknown) {
    super(`${LIBRARY} could not be loaded; install libseccomp2 (Debian/Ubuntu: apt-get install libseccomp2)`, { cause });
    this.name = 'LibseccompMissingError';
  }
}

const MFD_CLOEXEC = 1;

function declare(koffi: KoffiModule) {
  let lib: ReturnType<KoffiModule['load']>;
  try {
    lib = koffi.load(LIBRARY);
  } catch (error) {
    throw new LibseccompMissingError(error);
  }
  const libc = koffi.load('libc.so.6');
  const argCmp = koffi.struct({ arg: 'unsigned int', op: 'int', datum_a: 'uint64_t', datum_b: 'uint64_t' });
  return {
    koffi,
    init: lib.func('void *seccomp_init(uint32_t def_action)'),
    release: lib.func('void seccomp_release(void *ctx)'),
    archNative: lib.func('uint32_t seccomp_arch_native(void)'),
    attrSet: lib.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    resolveName: lib.func('int seccomp_syscall_resolve_name(const char *name)'),
    ruleAddArray: lib.func('seccomp_rule_add_array', 'int', ['void *', 'uint32_t', 'int', 'unsigned int', koffi.pointer(argCmp)]),
    exportBpf: lib.func('int seccomp_export_bpf(void *ctx, int fd)'),
    exportPfc: lib.func('int seccomp_export_pfc(void *ctx, int fd)'),
    // Only for exporting: libseccomp 2.5 writes a filter to a descriptor, never to memory.
    memfdCreate: libc.func('int memfd_create(const char *name, unsigned int flags)'),
  };
}

let bindings: ReturnType<typeof declare> | undefined;

function c(): ReturnType<typeof declare> {
  bindings ??= declare(loadKoffi());
  return bindings;
}

function check(call: string, result: number, detail?: string): number {
  if (result < 0) throw new SyscallError(call, -result, detail);
  return result;
}

function pointerOf(ctx: SeccompContext): unknown {
  if (ctx.pointer === null) throw new Error('the seccomp filter context was already released');
  return ctx.pointer;
}

/** A new filter whose action for any syscall no rule names is `defaultAction`; native architecture only. */
export function seccompInit(defaultAction: number): SeccompContext {
  const pointer = c().init(defaultAction) as unknown;
  // NULL only when the action is invalid; libseccomp gives no errno for it.
  if (pointer === null) throw new SyscallError('seccomp_init', 22, `0x${defaultAction.toString(16)}`);
  return { pointer };
}

/** Frees the filter; a context released twice is released once. */
export function seccompRelease(ctx: SeccompContext): void {
  if (ctx.pointer === null) return;
  c().release(ctx.pointer);
  ctx.pointer = null;
}

/** The architecture token of the running kernel's native ABI (SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64, …). */
export function seccompArchNative(): number {
  return c().archNative() >>> 0;
}

export function seccompAttrSet(ctx: SeccompContext, attr: number, value: number): void {
  check('seccomp_attr_set', c().attrSet(pointerOf(ctx), attr, value), `${attr}, ${value}`);
}

/**
 * The native syscall number of `name`: NR_SCMP_ERROR (-1) when libseccomp does not know the name,
 * another negative number (a libseccomp pseudo-syscall) when it names a syscall that exists on some
 * other architecture only (`chown32` on x86_64).
 */
export function seccompSyscallResolveName(name: string): number {
  return c().resolveName(name);
}

/** Adds one rule: `action` when syscall `syscall` is made and every comparison in `args` holds. */
export function seccompRuleAddArray(ctx: SeccompContext, action: number, syscall: number, args: readonly ScmpArgCmp[], detail?: string): void {
  const array = args.map((a) => ({ arg: a.arg, op: a.op, datum_a: a.datumA, datum_b: a.datumB }));
  check('seccomp_rule_add_array', c().ruleAddArray(pointerOf(ctx), action, syscall, array.length, array.length > 0 ? array : null), detail);
}

// Exports through a memfd rather than a pipe: the export is synchronous, so a pipe read back by the
// same thread would block once the filter outgrew the pipe's buffer; a memfd has no such limit and
// touches no filesystem.
function exportThroughMemfd(call: string, ctx: SeccompContext, write: (ctx: unknown, fd: number) => number): Buffer {
  const b = c();
  const fd = b.memfdCreate(`pidbox-${call}`, MFD_CLOEXEC);
  if (fd < 0) throw new SyscallError('memfd_create', b.koffi.errno());
  try {
    check(call, write(pointerOf(ctx), fd));
    const out = Buffer.alloc(fstatSync(fd).size);
    let read = 0;
    while (read < out.length) {
      const n = readSync(fd, out, read, out.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return out.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** The compiled filter: a `struct sock_filter` array in the kernel's layout, as `--seccomp FD` reads it. */
export function seccompExportBpf(ctx: SeccompContext): Buffer {
  return exportThroughMemfd('seccomp_export_bpf', ctx, c().exportBpf);
}

/** The filter as libseccomp's human-readable pseudo filter code. */
export function seccompExportPfc(ctx: SeccompContext): string {
  return exportThroughMemfd('seccomp_export_pfc', ctx, c().exportPfc).toString('utf8');
}
