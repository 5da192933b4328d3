// Behaviour tests of the sandbox's seccomp filter, loaded for real: bubblewrap (`bwrap --seccomp 3`)
// loads the compiled program before it execs the command, which runs as an unprivileged uid in
// fresh user and PID namespaces over a read-only /usr, as a function would. Python's ctypes makes
// the raw syscalls. Where the kernel itself would refuse a probe too, the probe is built so that
// the kernel's own answer differs (a path that does not exist, a bad descriptor, an unknown
// command), and a final test runs the same probes without the filter to show that it does. A
// second suite hides libseccomp from a worker to check what it is told.

import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { afterEach, before, describe, test } from 'node:test';
import { SCMP_ARCH_X86_64, seccompArchNative, seccompSyscallResolveName } from '../native/seccomp.js';
import { compileSeccompFilter, type CompiledFilter } from '../worker/sandbox/seccomp-filter.js';
import { collectOutput } from './helpers/output.js';

const SANDBOX_ID = 99999;
const ON_X86_64 = seccompArchNative() === SCMP_ARCH_X86_64;

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const live = new Set<ChildProcess>();

afterEach(() => {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
});

/**
 * Runs `argv` in a bubblewrap sandbox as uid/gid 99999, with `bpf` loaded as its seccomp filter
 * (null: none), and resolves when bwrap and its output have ended.
 */
async function runInSandbox(argv: string[], bpf: Buffer | null): Promise<Ran> {
  const args = [
    '--unshare-user', '--unshare-pid', '--uid', String(SANDBOX_ID), '--gid', String(SANDBOX_ID),
    '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib',
    '--symlink', 'usr/lib64', '/lib64', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
    '--chdir', '/', '--die-with-parent', '--new-session',
    ...(bpf ? ['--seccomp', '3'] : []),
    '--', ...argv,
  ];
  const child = spawn('bwrap', args, {
    uid: SANDBOX_ID, gid: SANDBOX_ID, cwd: '/', env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  const stdout = collectOutput(child.stdout!);
  const stderr = collectOutput(child.stderr!);
  const filterPipe = child.stdio[3] as Writable;
  filterPipe.on('error', () => {}); // bwrap failing before it reads would be an EPIPE here; the exit says why
  filterPipe.end(bpf ?? Buffer.alloc(0));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  });
  live.delete(child);
  await Promise.all([stdout.ended, stderr.ended]);
  return { code, signal, stdout: stdout.text(), stderr: stderr.text() };
}

// The syscall numbers of this architecture, resolved by libseccomp, for the probes to use.
const SYSCALLS = [
  'mount', 'unshare', 'setns', 'bpf', 'keyctl', 'perf_event_open', 'pidfd_getfd', 'ptrace', 'clone', 'clone3',
  'io_uring_setup', 'socket', 'getpid', 'prlimit64',
];

const PYTHON_PRELUDE = `
import ctypes, errno, json, os, signal, sys
NR = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def result(r):
    return errno.errorcode[ctypes.get_errno()] if r == -1 else 'OK'

def syscall(name, *args):
    ctypes.set_errno(0)
    return result(libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args]))

def clone(flags):
    # The raw syscall with no new stack: the child returns here, as from fork, and leaves at once.
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(NR['clone']), ctypes.c_long(flags), *[ctypes.c_long(0)] * 4)
    if r == 0:
        os._exit(0)
    if r > 0:
        os.waitpid(r, 0)
    return result(r)

def attach_to_own_child():
    # A child that did not ask to be traced: the kernel lets its parent (same uid, no Yama) attach.
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.read(read_end, 1)
        os._exit(0)
    answers = []
    for request in (16, 0x4206):  # PTRACE_ATTACH, PTRACE_SEIZE
        answer = syscall('ptrace', request, pid, 0, 0)
        if answer == 'OK':
            if request == 16:
                os.waitpid(pid, 0)
            syscall('ptrace', 17, pid, 0, 0)  # PTRACE_DETACH
        answers.append(answer)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return ' '.join(answers)
`;

const CLONE_NEWUSER = 0x10000000;
const SIGCHLD = 17;

/** Each probe, a Python expression giving the errno name of a syscall's failure, or OK. */
const PROBES = {
  mount: `syscall('mount', b'none', b'/nonexistent-pidbox', b'tmpfs', 0, None)`,
  unshareUser: `syscall('unshare', ${CLONE_NEWUSER})`,
  setns: `syscall('setns', -1, 0)`,
  bpf: `syscall('bpf', 9999, None, 0)`,
  keyctl: `syscall('keyctl', 9999, 0, 0, 0, 0)`,
  perfEventOpen: `syscall('perf_event_open', None, 0, -1, -1, 0)`,
  pidfdGetfd: `syscall('pidfd_getfd', -1, 0, 0)`,
  attachToOwnChild: `attach_to_own_child()`,
  cloneNewUser: `clone(${CLONE_NEWUSER | SIGCHLD})`,
  clone3: `syscall('clone3', None, 0)`,
  ioUringSetup: `syscall('io_uring_setup', 1, None)`,
  socketVsockHighBits: `syscall('socket', 0x100000028, 1, 0)`,
  // bwrap's own PID 1, the same uid: the kernel alone lets the probe lower its RLIMIT_CORE.
  prlimitInit: `syscall('prlimit64', 1, 4, (ctypes.c_uint64 * 2)(0, 0), None)`,
} as const;

describe('a sandbox under the seccomp filter', { timeout: 60_000 }, () => {
  let filter: CompiledFilter;
  let numbers: string;

  before(() => {
    filter = compileSeccompFilter();
    numbers = JSON.stringify(Object.fromEntries(SYSCALLS.map((name) => [name, seccompSyscallResolveName(name)])));
  });

  async function python(code: string, bpf: Buffer | null = filter.bpf): Promise<Ran> {
    return runInSandbox(['python3', '-c', `${PYTHON_PRELUDE}\n${code}`, numbers], bpf);
  }

  /** The answer of one probe, under the filter unless `bpf` is null. */
  async function probe(expression: string, bpf: Buffer | null = filter.bpf): Promise<string> {
    const ran = await python(`print(${expression})`, bpf);
    assert.equal(ran.code, 0, ran.stderr);
    return ran.stdout.trim();
  }

  test('the sandboxed process runs under a seccomp filter: /proc/self/status says Seccomp: 2', async () => {
    const ran = await runInSandbox(['sh', '-c', 'grep ^Seccomp: /proc/self/status'], filter.bpf);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /^Seccomp:\s+2$/m);
  });

  test('mount fails with EPERM', async () => {
    assert.equal(await probe(PROBES.mount), 'EPERM');
  });

  test('unshare(CLONE_NEWUSER) fails with EPERM, so a function cannot make namespaces of its own', async () => {
    assert.equal(await probe(PROBES.unshareUser), 'EPERM');
  });

  test('clone with CLONE_NEWUSER fails with EPERM', async () => {
    assert.equal(await probe(PROBES.cloneNewUser), 'EPERM');
  });

  test('setns fails with EPERM, so a function cannot join another namespace', async () => {
    assert.equal(await probe(PROBES.setns), 'EPERM');
  });

  test('bpf fails with EPERM', async () => {
    assert.equal(await probe(PROBES.bpf), 'EPERM');
  });

  test('keyctl fails with EPERM, so the kernel keyrings stay out of reach', async () => {
    assert.equal(await probe(PROBES.keyctl), 'EPERM');
  });

  test('perf_event_open fails with EPERM', async () => {
    assert.equal(await probe(PROBES.perfEventOpen), 'EPERM');
  });

  test('pidfd_getfd fails with EPERM, so a function cannot take another process\'s descriptors', async () => {
    assert.equal(await probe(PROBES.pidfdGetfd), 'EPERM');
  });

  test('ptrace(PTRACE_ATTACH, 1) fails with EPERM: the sandbox\'s PID 1 cannot be attached to', async () => {
    assert.equal(await probe(`syscall('ptrace', 16, 1, 0, 0)`), 'EPERM');
  });

  test('PTRACE_ATTACH and PTRACE_SEIZE fail with EPERM even on a child of the caller, which the kernel alone allows', async () => {
    assert.equal(await probe(PROBES.attachToOwnChild), 'EPERM EPERM');
  });

  test('clone3 fails with ENOSYS, the answer that makes glibc fall back to clone', async () => {
    assert.equal(await probe(PROBES.clone3), 'ENOSYS');
  });

  test('io_uring_setup fails with ENOSYS, the answer that makes libuv fall back', async () => {
    assert.equal(await probe(PROBES.ioUringSetup), 'ENOSYS');
  });

  test('socket(AF_VSOCK) and socket(AF_ALG) fail with EPERM, also with high bits set in the family that the kernel ignores', async () => {
    assert.equal(await probe(`' '.join([syscall('socket', 40, 1, 0), syscall('socket', 38, 5, 0), ${PROBES.socketVsockHighBits}])`), 'EPERM EPERM EPERM');
    assert.equal(await probe(`syscall('socket', 2, 2, 0)`), 'OK', 'AF_INET stays allowed');
  });

  test('prlimit64 on PID 1 fails with EPERM, so a function cannot change its init\'s limits; its own limits still work', async () => {
    assert.equal(await probe(PROBES.prlimitInit), 'EPERM');
    const ran = await python(`
import resource
old = (ctypes.c_uint64 * 2)()
own = syscall('prlimit64', 0, 7, None, old)
by_pid = syscall('prlimit64', os.getpid(), 7, None, old)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 64), hard))
print(own, by_pid, resource.getrlimit(resource.RLIMIT_NOFILE)[0] == min(soft, 64))
`);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), 'OK EPERM True', 'pid 0 and getrlimit/setrlimit work; its own pid by number is refused');
  });

  test('a syscall through the i386 ABI (int 0x80) kills the process with SIGSYS', { skip: !ON_X86_64 && 'x86_64 only' }, async () => {
    // mov eax, 20 (getpid in the i386 table); int 0x80; ret — run in a child, whose end the parent reports.
    const ran = await python(`
import mmap
page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3]))
call = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
pid = os.fork()
if pid == 0:
    os._exit(0 if call() == os.getpid() else 1)
_, status = os.waitpid(pid, 0)
print('signal', os.WTERMSIG(status) if os.WIFSIGNALED(status) else None, 'exit', os.WEXITSTATUS(status) if os.WIFEXITED(status) else None)
`);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), 'signal 31 exit None');
  });

  test('a syscall number of the x32 ABI kills the process with SIGSYS', { skip: !ON_X86_64 && 'x86_64 only' }, async () => {
    const ran = await python(`libc.syscall(ctypes.c_long(0x40000000 | NR['getpid']))\nprint('survived')`);
    assert.equal(ran.stdout, '');
    // bwrap reports a child killed by a signal as 128 + its number.
    assert.equal(ran.code, 128 + 31, ran.stderr);
  });

  test('a shell pipeline works: sh -c \'echo hi | cat\'', async () => {
    const ran = await runInSandbox(['sh', '-c', 'echo hi | cat'], filter.bpf);
    assert.deepEqual({ code: ran.code, stdout: ran.stdout, stderr: ran.stderr }, { code: 0, stdout: 'hi\n', stderr: '' });
  });

  test('python3 imports ssl and runs a thread and a subprocess', async () => {
    const ran = await runInSandbox(['python3', '-c', `
import ssl, subprocess, threading
results = []
thread = threading.Thread(target=lambda: results.append(sum(range(10))))
thread.start()
thread.join()
context = ssl.create_default_context()
child = subprocess.run(['/bin/sh', '-c', 'echo from-child'], capture_output=True, text=True, check=True)
print(results[0], child.stdout.strip(), context.verify_mode == ssl.CERT_REQUIRED)
`], filter.bpf);
    assert.deepEqual({ code: ran.code, stdout: ran.stdout, stderr: ran.stderr }, { code: 0, stdout: '45 from-child True\n', stderr: '' });
  });

  test('node starts a Worker thread, makes a Request, spawns a child process and exits 0', { skip: !existsSync('/usr/bin/node') && 'no /usr/bin/node' }, async () => {
    const ran = await runInSandbox(['/usr/bin/node', '-e', `
const { Worker } = require('node:worker_threads');
const { spawnSync } = require('node:child_process');
const request = new Request('http://x/');
const worker = new Worker('require("node:worker_threads").parentPort.postMessage(6 * 7)', { eval: true });
worker.once('message', (answer) => {
  const child = spawnSync('/bin/sh', ['-c', 'exit 3']);
  console.log(JSON.stringify({ answer, url: request.url, childStatus: child.status, childError: child.error?.code ?? null }));
});
`], filter.bpf);
    assert.equal(ran.code, 0, ran.stderr);
    assert.deepEqual(JSON.parse(ran.stdout), { answer: 42, url: 'http://x/', childStatus: 3, childError: null });
    assert.equal(ran.stderr, '');
  });

  test('a child that asks with PTRACE_TRACEME is traced by its parent: stopped, inspected, continued', async () => {
    const ran = await python(`
pid = os.fork()
if pid == 0:
    if syscall('ptrace', 0, 0, 0, 0) != 'OK':  # PTRACE_TRACEME
        os._exit(100)
    os.kill(os.getpid(), signal.SIGSTOP)
    os._exit(7)
_, status = os.waitpid(pid, 0)
stopped = os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGSTOP
message = ctypes.c_ulong(0)
inspected = syscall('ptrace', 0x4201, pid, 0, ctypes.byref(message))  # PTRACE_GETEVENTMSG
continued = syscall('ptrace', 7, pid, 0, 0)  # PTRACE_CONT
_, status = os.waitpid(pid, 0)
print(stopped, inspected, continued, os.WEXITSTATUS(status))
`);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), 'True OK OK 7');
  });

  test('strace traces a command it starts, falling back from PTRACE_SEIZE to PTRACE_TRACEME', { skip: !existsSync('/usr/bin/strace') && 'no strace' }, async () => {
    const ran = await runInSandbox(['sh', '-c', 'strace -qq -e trace=write -o /tmp/trace sh -c "echo traced" && cat /tmp/trace'], filter.bpf);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /^traced\nwrite\(1, "traced\\n", 7\) += 7$/m);
  });

  test('without the filter the same probes get other answers from the kernel, so the answers above are the filter\'s', async () => {
    const underFilter: Record<keyof typeof PROBES, string> = {
      mount: 'EPERM', unshareUser: 'EPERM', setns: 'EPERM', bpf: 'EPERM', keyctl: 'EPERM', perfEventOpen: 'EPERM',
      pidfdGetfd: 'EPERM', attachToOwnChild: 'EPERM EPERM', cloneNewUser: 'EPERM', clone3: 'ENOSYS', ioUringSetup: 'ENOSYS',
      socketVsockHighBits: 'EPERM', prlimitInit: 'EPERM',
    };
    // One process a probe: a user namespace made by one would change what the next may do.
    for (const [name, expression] of Object.entries(PROBES) as Array<[keyof typeof PROBES, string]>) {
      const answer = await probe(expression, null);
      assert.notEqual(answer, underFilter[name], `${name}: ${answer} without the filter too`);
    }
    const status = await runInSandbox(['sh', '-c', 'grep ^Seccomp: /proc/self/status'], null);
    assert.match(status.stdout, /^Seccomp:\s+0$/m);
  });
});

describe('a worker without libseccomp2', { timeout: 30_000 }, () => {
  test('fails to compile the filter with an error that says to install libseccomp2', () => {
    compileSeccompFilter(); // maps the library here, to learn which file to hide
    const library = /\s(\/\S*libseccomp\.so[.\d]*)$/m.exec(readFileSync('/proc/self/maps', 'utf8'))?.[1];
    assert.ok(library, 'libseccomp is mapped');
    const compiler = new URL('../worker/sandbox/seccomp-filter.js', import.meta.url).href;
    const out = execFileSync('bwrap', [
      '--ro-bind', '/', '/', '--ro-bind', '/dev/null', library, '--dev', '/dev', '--proc', '/proc', '--die-with-parent', '--',
      process.execPath, '--input-type=module', '-e', `
        const { compileSeccompFilter } = await import(${JSON.stringify(compiler)});
        try {
          compileSeccompFilter();
        } catch (error) {
          console.log(JSON.stringify({ code: error.code, message: error.message, cause: error.cause?.name }));
        }
      `,
    ], { encoding: 'utf8' });
    const failure = JSON.parse(out) as { code: string; message: string; cause: string };
    assert.equal(failure.code, 'SANDBOX_SETUP_FAILED');
    assert.equal(failure.cause, 'LibseccompMissingError');
    assert.match(failure.message, /libseccomp\.so\.2 could not be loaded; install libseccomp2/);
  });
});
