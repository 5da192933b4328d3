import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { PidboxError } from '../../contracts/pidbox-error.js';
import { SCMP_ARCH_X86_64, seccompArchNative, seccompSyscallResolveName } from '../../native/seccomp.js';
import { SyscallError } from '../../native/syscall-error.js';
import { compileSeccompFilter, type CompiledFilter } from './seccomp-filter.js';
import {
  ALLOW, EPERM, PTRACE_ALLOWED_REQUESTS, SANDBOX_DENIED_SYSCALLS, SANDBOX_SECCOMP_POLICY, type SeccompPolicy,
} from './seccomp-policy.js';

// The compiled program is checked by running it: a small interpreter of the classic-BPF
// instructions libseccomp emits, over a `struct seccomp_data` built here, gives the action the
// kernel would take. x86_64 and aarch64 are little-endian, as the buffers below assume.

const RET_KILL_PROCESS = 0x80000000;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const RET_EPERM = RET_ERRNO | 1;
const RET_ENOSYS = RET_ERRNO | 38;
const AUDIT_ARCH_I386 = 0x40000003;

interface SeccompData {
  nr: number;
  arch?: number;
  args?: bigint[];
}

/** The value the filter returns for one syscall: SECCOMP_RET_* with its data. */
function runFilter(bpf: Buffer, data: SeccompData): number {
  const input = Buffer.alloc(64); // struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6]
  input.writeInt32LE(data.nr, 0);
  input.writeUInt32LE(data.arch ?? seccompArchNative(), 4);
  (data.args ?? []).forEach((arg, i) => input.writeBigUInt64LE(BigInt.asUintN(64, arg), 16 + 8 * i));
  let a = 0;
  for (let pc = 0; pc < bpf.length / 8; pc++) {
    const code = bpf.readUInt16LE(pc * 8);
    const jt = bpf[pc * 8 + 2]!;
    const jf = bpf[pc * 8 + 3]!;
    const k = bpf.readUInt32LE(pc * 8 + 4);
    switch (code) {
      case 0x20: a = input.readUInt32LE(k); break; // BPF_LD | BPF_W | BPF_ABS
      case 0x54: a = (a & k) >>> 0; break; // BPF_ALU | BPF_AND | BPF_K
      case 0x05: pc += k; break; // BPF_JMP | BPF_JA
      case 0x15: pc += a === k ? jt : jf; break; // BPF_JMP | BPF_JEQ | BPF_K
      case 0x25: pc += a > k ? jt : jf; break; // BPF_JMP | BPF_JGT | BPF_K
      case 0x35: pc += a >= k ? jt : jf; break; // BPF_JMP | BPF_JGE | BPF_K
      case 0x45: pc += (a & k) !== 0 ? jt : jf; break; // BPF_JMP | BPF_JSET | BPF_K
      case 0x06: return k; // BPF_RET | BPF_K
      default: throw new Error(`instruction ${pc}: opcode 0x${code.toString(16)} is not interpreted here`);
    }
  }
  throw new Error('the program ran off its end');
}

function nr(name: string): number {
  const n = seccompSyscallResolveName(name);
  assert.ok(n >= 0, `${name} is a syscall of this architecture`);
  return n;
}

function actionOf(filter: CompiledFilter, name: string, ...args: bigint[]): number {
  return runFilter(filter.bpf, { nr: nr(name), args });
}

const CLONE_THREAD_FLAGS = 0x3d0f00n; // glibc's pthread_create: VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
const CLONE_NEWUSER = 0x10000000n;
const SIGCHLD = 17n;

describe('the sandbox seccomp filter', () => {
  let filter: CompiledFilter;

  before(() => {
    filter = compileSeccompFilter();
  });

  test('compiles to a whole number of instructions within the kernel\'s limit of 4096', () => {
    assert.equal(filter.bpf.length % 8, 0);
    const instructions = filter.bpf.length / 8;
    assert.ok(instructions > 100 && instructions < 4096, `${instructions} instructions`);
  });

  test('compiles to the same bytes every time', () => {
    const again = compileSeccompFilter();
    assert.ok(again.bpf.equals(filter.bpf));
    assert.equal(again.pfc, filter.pfc);
  });

  test('lists the names this libseccomp does not know instead of failing on them', () => {
    for (const name of filter.unknownSyscalls) assert.equal(seccompSyscallResolveName(name), -1, name);
    for (const name of filter.otherArchitectureSyscalls) assert.ok(seccompSyscallResolveName(name) < -1, name);
    const compiled = compileSeccompFilter({ ...SANDBOX_SECCOMP_POLICY, rules: [...SANDBOX_SECCOMP_POLICY.rules, { names: ['pidbox_no_such_call'], action: ALLOW, why: 'test' }] });
    assert.deepEqual(compiled.unknownSyscalls, [...filter.unknownSyscalls, 'pidbox_no_such_call'].sort());
  });

  test('the pseudo code checks the native architecture first and kills a process that uses another', () => {
    const arch = seccompArchNative();
    assert.match(filter.pfc, new RegExp(`^if \\(\\$arch == ${arch}\\)$`, 'm'));
    assert.match(filter.pfc, /# invalid architecture action\naction KILL_PROCESS;/);
    assert.match(filter.pfc, /# default action\n\s*action ERRNO\(1\);/);
  });

  test('a syscall through another architecture\'s ABI kills the process, whatever its number', () => {
    for (const n of [0, 20, 120, 400]) assert.equal(runFilter(filter.bpf, { nr: n, arch: AUDIT_ARCH_I386 }), RET_KILL_PROCESS);
  });

  test('an x32 syscall number (bit 30 set) kills the process on x86_64', { skip: seccompArchNative() !== SCMP_ARCH_X86_64 }, () => {
    assert.equal(runFilter(filter.bpf, { nr: 0x40000000 | nr('getpid') }), RET_KILL_PROCESS);
  });

  test('read, futex and clone without namespace flags (a fork, a thread) are allowed', () => {
    assert.equal(actionOf(filter, 'read', 0n), RET_ALLOW);
    assert.equal(actionOf(filter, 'futex'), RET_ALLOW);
    assert.equal(actionOf(filter, 'clone', SIGCHLD), RET_ALLOW);
    assert.equal(actionOf(filter, 'clone', CLONE_THREAD_FLAGS), RET_ALLOW);
  });

  test('every syscall the policy allows outright is allowed', () => {
    const names = SANDBOX_SECCOMP_POLICY.rules.filter((r) => r.action === ALLOW && !r.args).flatMap((r) => r.names);
    assert.ok(names.length > 250);
    for (const name of names) {
      if (seccompSyscallResolveName(name) < 0) continue;
      assert.equal(actionOf(filter, name), RET_ALLOW, name);
    }
  });

  test('mount, unshare, bpf and every other denied syscall fail with EPERM', () => {
    for (const name of ['mount', 'unshare', 'bpf', 'setns', 'keyctl', 'perf_event_open', 'pidfd_getfd', 'adjtimex', 'name_to_handle_at']) {
      assert.ok(SANDBOX_DENIED_SYSCALLS.includes(name), name);
    }
    for (const name of SANDBOX_DENIED_SYSCALLS) {
      if (seccompSyscallResolveName(name) < 0) continue;
      assert.equal(actionOf(filter, name), RET_EPERM, name);
    }
  });

  test('a syscall no rule names fails with EPERM', () => {
    assert.equal(actionOf(filter, 'uselib'), RET_EPERM);
    assert.equal(runFilter(filter.bpf, { nr: 1000 }), RET_EPERM);
  });

  test('clone with CLONE_NEWUSER, or any other namespace flag, fails with EPERM', () => {
    for (const flag of [0x20000n, 0x2000000n, 0x4000000n, 0x8000000n, CLONE_NEWUSER, 0x20000000n, 0x40000000n]) {
      assert.equal(actionOf(filter, 'clone', flag | SIGCHLD), RET_EPERM, `0x${flag.toString(16)}`);
    }
  });

  test('clone3 and io_uring fail with ENOSYS, so that glibc and libuv fall back', () => {
    for (const name of ['clone3', 'io_uring_setup', 'io_uring_enter', 'io_uring_register']) assert.equal(actionOf(filter, name), RET_ENOSYS, name);
  });

  test('ptrace allows PTRACE_TRACEME and requests on a tracee but not PTRACE_ATTACH or PTRACE_SEIZE', () => {
    for (const [request, value] of Object.entries(PTRACE_ALLOWED_REQUESTS)) assert.equal(actionOf(filter, 'ptrace', BigInt(value)), RET_ALLOW, request);
    assert.equal(actionOf(filter, 'ptrace', 16n), RET_EPERM);
    assert.equal(actionOf(filter, 'ptrace', 0x4206n), RET_EPERM);
    assert.equal(actionOf(filter, 'ptrace', 0x4300n), RET_EPERM, 'a request Linux does not define (yet)');
  });

  test('socket allows every family but AF_ALG and AF_VSOCK, even with high bits set that the kernel ignores', () => {
    for (const family of [1n, 2n, 10n, 16n, 17n, 37n, 39n, 41n, 45n]) assert.equal(actionOf(filter, 'socket', family), RET_ALLOW, `${family}`);
    for (const family of [38n, 40n, 46n, 0x1_0000_0028n, 0x1_0000_0002n, -1n]) assert.equal(actionOf(filter, 'socket', family), RET_EPERM, `${family}`);
  });

  test('prlimit64 is allowed on the caller itself (pid 0) only, so a function cannot change its init\'s limits', () => {
    assert.equal(actionOf(filter, 'prlimit64', 0n, 7n), RET_ALLOW, 'glibc\'s getrlimit and setrlimit');
    for (const pid of [1n, 2n, 4242n, 0x1_0000_0000n, -1n]) assert.equal(actionOf(filter, 'prlimit64', pid, 7n), RET_EPERM, `pid ${pid}`);
  });

  test('setpriority, sched_setaffinity, sched_setscheduler, sched_setattr and ioprio_set stay allowed on any pid, thread ids included', () => {
    for (const name of ['setpriority', 'sched_setaffinity', 'sched_setscheduler', 'sched_setattr', 'ioprio_set']) {
      for (const args of [[0n, 0n], [1n, 1n], [2n, 1n]]) assert.equal(actionOf(filter, name, ...args), RET_ALLOW, `${name}(${args.join(', ')})`);
    }
  });

  test('personality allows Docker\'s values only, so ADDR_NO_RANDOMIZE cannot turn ASLR off', () => {
    for (const persona of [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn]) assert.equal(actionOf(filter, 'personality', persona), RET_ALLOW);
    assert.equal(actionOf(filter, 'personality', 0x0040000n), RET_EPERM);
  });
});

describe('compiling a policy', () => {
  const base: SeccompPolicy = { defaultAction: EPERM, badArchAction: SANDBOX_SECCOMP_POLICY.badArchAction, rules: [] };

  test('refuses a rule without arguments beside other rules for the same syscall, which libseccomp would drop', () => {
    const policy: SeccompPolicy = {
      ...base,
      rules: [
        { names: ['socket'], action: ALLOW, why: 'test' },
        { names: ['socket'], action: { type: 'errno', errno: 97, code: 'EAFNOSUPPORT' }, args: [{ index: 0, op: 'eq', value: 40n }], why: 'test' },
      ],
    };
    assert.throws(() => compileSeccompFilter(policy), (error: unknown) => error instanceof PidboxError && error.code === 'SANDBOX_SETUP_FAILED' && /socket/.test(error.message));
  });

  test('refuses two conditions on one argument, which libseccomp cannot express', () => {
    const policy: SeccompPolicy = {
      ...base,
      rules: [{ names: ['ptrace'], action: ALLOW, args: [{ index: 0, op: 'ne', value: 16n }, { index: 0, op: 'ne', value: 0x4206n }], why: 'test' }],
    };
    assert.throws(() => compileSeccompFilter(policy), (error: unknown) => error instanceof PidboxError && /argument 0/.test(error.message));
  });

  test('a rule libseccomp refuses fails the build with the call and the syscall named', () => {
    const when40 = [{ index: 0, op: 'eq', value: 40n }] as const;
    const policy: SeccompPolicy = {
      ...base,
      rules: [
        { names: ['socket'], action: ALLOW, args: when40, why: 'test' },
        { names: ['socket'], action: { type: 'errno', errno: 97, code: 'EAFNOSUPPORT' }, args: when40, why: 'test' },
      ],
    };
    assert.throws(() => compileSeccompFilter(policy), (error: unknown) => {
      assert.ok(error instanceof PidboxError);
      assert.equal(error.code, 'SANDBOX_SETUP_FAILED');
      assert.ok(error.cause instanceof SyscallError);
      assert.equal(error.cause.syscall, 'seccomp_rule_add_array');
      assert.equal(error.cause.code, 'EEXIST');
      assert.match(error.message, /seccomp_rule_add_array\(socket\) failed: EEXIST/);
      return true;
    });
  });
});

describe('loading libseccomp', () => {
  test('importing the bindings maps no libseccomp until the first call', () => {
    const bindings = new URL('../../native/seccomp.js', import.meta.url).href;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
      import { readFileSync } from 'node:fs';
      const mapped = () => readFileSync('/proc/self/maps', 'utf8').includes('libseccomp');
      const seccomp = await import(${JSON.stringify(bindings)});
      const before = mapped();
      seccomp.seccompArchNative();
      console.log(before, mapped());
    `], { encoding: 'utf8' });
    assert.equal(out.trim(), 'false true');
  });

  test('the sandbox\'s init bundle does not contain the bindings, so the init never loads libseccomp', () => {
    const init = readFileSync(new URL('../../runtime/init.cjs', import.meta.url), 'utf8');
    assert.ok(init.length > 1000);
    assert.ok(!init.includes('libseccomp'));
  });
});
