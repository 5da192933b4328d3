import { PidboxError } from '../../contracts/pidbox-error.js';
import {
  NR_SCMP_ERROR, SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS, SCMP_ARCH_AARCH64, SCMP_ARCH_X86_64,
  SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_LE, SCMP_CMP_LT, SCMP_CMP_MASKED_EQ, SCMP_CMP_NE,
  SCMP_FLTATR_ACT_BADARCH, SCMP_FLTATR_CTL_OPTIMIZE, seccompArchNative, seccompAttrSet, seccompExportBpf,
  seccompExportPfc, seccompInit, seccompRelease, seccompRuleAddArray, seccompSyscallResolveName, type ScmpArgCmp,
  type SeccompContext,
} from '../../native/seccomp.js';
import { SANDBOX_SECCOMP_POLICY, type SeccompAction, type SeccompArgCondition, type SeccompPolicy } from './seccomp-policy.js';

// Compiles a SeccompPolicy into the classic-BPF program that `bwrap --seccomp FD` loads, with
// libseccomp. The worker compiles once and hands the same bytes to every sandbox.
//
// Cost, measured with the sandbox policy and libseccomp 2.5.4 on x86_64: ~3 ms a compile (~8 ms the
// first, which also loads koffi and the library); 460 instructions, 3,680 bytes (the kernel allows
// 4,096 instructions). With libseccomp's binary tree over syscall numbers (optimisation level 2) a
// syscall runs 11 to 17 of them (those checked by argument more: socket 28, ptrace up to 61, its
// requests being compared one by one), where the default ordering tests syscalls one after another.

export interface CompiledFilter {
  /** The program: a `struct sock_filter` array in the kernel's layout, 8 bytes an instruction, as `--seccomp FD` reads it. */
  bpf: Buffer;
  /** The same filter as libseccomp's pseudo filter code, for tests and debugging. */
  pfc: string;
  /** Names in the policy that this libseccomp does not know (newer than the library), skipped, sorted. */
  unknownSyscalls: string[];
  /** Names that libseccomp knows only on other architectures (`open` on aarch64), skipped, sorted. */
  otherArchitectureSyscalls: string[];
}

/** The architectures whose ABI the policy was written for: both pass clone's flags as its first argument (s390x does not). */
const SUPPORTED_ARCHITECTURES: Readonly<Record<number, string>> = {
  [SCMP_ARCH_X86_64]: 'x86_64',
  [SCMP_ARCH_AARCH64]: 'aarch64',
};

const BINARY_TREE = 2;

const COMPARISONS: Readonly<Record<SeccompArgCondition['op'], number>> = {
  'ne': SCMP_CMP_NE, 'lt': SCMP_CMP_LT, 'le': SCMP_CMP_LE, 'eq': SCMP_CMP_EQ, 'ge': SCMP_CMP_GE, 'gt': SCMP_CMP_GT,
  'masked-eq': SCMP_CMP_MASKED_EQ,
};

const UINT64_MAX = (1n << 64n) - 1n;

function actionValue(action: SeccompAction): number {
  switch (action.type) {
    case 'allow': return SCMP_ACT_ALLOW;
    case 'errno': return SCMP_ACT_ERRNO(action.errno);
    case 'kill-process': return SCMP_ACT_KILL_PROCESS;
  }
}

function argValue(condition: SeccompArgCondition): ScmpArgCmp {
  return condition.op === 'masked-eq'
    ? { arg: condition.index, op: COMPARISONS[condition.op], datumA: condition.mask, datumB: condition.value }
    : { arg: condition.index, op: COMPARISONS[condition.op], datumA: condition.value, datumB: 0n };
}

function invalid(message: string, cause?: unknown): PidboxError {
  return new PidboxError('SANDBOX_SETUP_FAILED', `the sandbox's seccomp filter could not be built: ${message}`, cause);
}

/**
 * Refuses what libseccomp would get wrong without a word: a rule without arguments for a syscall
 * that has other rules too (libseccomp keeps the unconditional one and drops the others, whatever
 * their actions), and conditions it cannot express (two on one argument, an index beyond 5, a value
 * outside 64 bits).
 */
function checkPolicy(policy: SeccompPolicy): void {
  const rulesOf = new Map<string, Array<{ conditional: boolean }>>();
  for (const rule of policy.rules) {
    const indexes = new Set<number>();
    for (const condition of rule.args ?? []) {
      if (!Number.isInteger(condition.index) || condition.index < 0 || condition.index > 5) throw invalid(`${rule.names.join(', ')}: argument index ${condition.index} is not 0–5`);
      if (indexes.has(condition.index)) throw invalid(`${rule.names.join(', ')}: two conditions on argument ${condition.index} in one rule (libseccomp allows one)`);
      indexes.add(condition.index);
      const values = condition.op === 'masked-eq' ? [condition.mask, condition.value] : [condition.value];
      if (values.some((v) => v < 0n || v > UINT64_MAX)) throw invalid(`${rule.names.join(', ')}: a value of argument ${condition.index} is not a 64-bit unsigned number`);
    }
    for (const name of rule.names) {
      const rules = rulesOf.get(name) ?? [];
      rules.push({ conditional: indexes.size > 0 });
      rulesOf.set(name, rules);
    }
  }
  for (const [name, rules] of rulesOf) {
    if (rules.length > 1 && rules.some((r) => !r.conditional)) {
      throw invalid(`${name} has a rule without arguments and others besides, which libseccomp would drop`);
    }
  }
}

function sameAction(a: SeccompAction, b: SeccompAction): boolean {
  return actionValue(a) === actionValue(b);
}

function addRules(ctx: SeccompContext, policy: SeccompPolicy, unknown: Set<string>, otherArch: Set<string>): void {
  for (const rule of policy.rules) {
    // libseccomp refuses a rule whose action is the default one (EACCES): the default already does it.
    const needed = !sameAction(rule.action, policy.defaultAction);
    const args = (rule.args ?? []).map(argValue);
    for (const name of rule.names) {
      const nr = seccompSyscallResolveName(name);
      if (nr === NR_SCMP_ERROR) unknown.add(name);
      else if (nr < 0) otherArch.add(name);
      else if (needed) seccompRuleAddArray(ctx, actionValue(rule.action), nr, args, name);
    }
  }
}

/**
 * Builds the filter of `policy` for the native architecture: its syscalls are matched by the rules,
 * a syscall through any other ABI (i386's int 0x80, x32) gets `badArchAction` before any rule is
 * looked at. The same policy and library always give the same bytes. Throws PidboxError
 * SANDBOX_SETUP_FAILED, with the libseccomp failure as its cause (a missing libseccomp2 included).
 */
export function compileSeccompFilter(policy: SeccompPolicy = SANDBOX_SECCOMP_POLICY): CompiledFilter {
  checkPolicy(policy);
  let ctx: SeccompContext | undefined;
  try {
    const arch = seccompArchNative();
    if (SUPPORTED_ARCHITECTURES[arch] === undefined) throw invalid(`architecture 0x${arch.toString(16)} is not one the policy was written for (x86_64, aarch64)`);
    ctx = seccompInit(actionValue(policy.defaultAction));
    seccompAttrSet(ctx, SCMP_FLTATR_ACT_BADARCH, actionValue(policy.badArchAction));
    try {
      seccompAttrSet(ctx, SCMP_FLTATR_CTL_OPTIMIZE, BINARY_TREE);
    } catch {
      // libseccomp before 2.5 has no optimiser: the filter is the same, only checked linearly.
    }
    const unknown = new Set<string>();
    const otherArch = new Set<string>();
    addRules(ctx, policy, unknown, otherArch);
    return {
      bpf: seccompExportBpf(ctx),
      pfc: seccompExportPfc(ctx),
      unknownSyscalls: [...unknown].sort(),
      otherArchitectureSyscalls: [...otherArch].sort(),
    };
  } catch (error) {
    if (error instanceof PidboxError) throw error;
    throw invalid((error as Error).message, error);
  } finally {
    if (ctx !== undefined) seccompRelease(ctx);
  }
}
