import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as libc from './libc.js';
import { spawnProcess } from './spawn.js';
import { SyscallError } from './syscall-error.js';

test('a failing call throws a SyscallError naming the call and the errno code', () => {
  assert.throws(() => libc.kill(0x7ffffff0, 0), (error: unknown) => {
    assert.ok(error instanceof SyscallError);
    assert.equal(error.syscall, 'kill');
    assert.equal(error.code, 'ESRCH');
    assert.equal(error.errno, 3);
    return true;
  });
  assert.throws(() => libc.prctl(-1), (error: unknown) => error instanceof SyscallError && error.code === 'EINVAL');
});

test("the clock ticks a second are the kernel's USER_HZ, as /proc reports CPU time in", () => {
  // USER_HZ is 100 on every architecture Linux builds for today; a wrong declaration would read garbage.
  assert.equal(libc.clockTicksPerSecond(), 100);
});

test('getpid agrees with Node', () => {
  assert.equal(libc.getpid(), process.pid);
});

test('reaping with no children at all reports none rather than failing', () => {
  // node:test runs each file in its own process, which has no children of its own here.
  assert.equal(libc.reapOne(-1), 'none');
});

test('resource limits read back as set', () => {
  const before = libc.getrlimit(7);
  libc.setrlimit(7, { soft: 1000n, hard: before.hard });
  assert.equal(libc.getrlimit(7).soft, 1000n);
  libc.setrlimit(7, before);
});

test('posix_spawn reports a program that does not exist as ENOENT', () => {
  assert.throws(
    () => spawnProcess({ file: '/nonexistent/pidbox', argv: [Buffer.from('x')], env: [] }),
    (error: unknown) => error instanceof SyscallError && error.syscall === 'posix_spawn' && error.code === 'ENOENT',
  );
});

test('a spawned child starts with no signal ignored or blocked, glibc\'s own 32 and 33 included', async () => {
  // This process has SIGPIPE ignored (Node) and handlers on 32 and 33 (glibc); the child must see none of it.
  const dir = mkdtempSync(join(tmpdir(), 'pidbox-spawn-'));
  try {
    const out = openSync(join(dir, 'status'), 'w');
    const pid = spawnProcess({
      file: '/bin/sh',
      argv: ['sh', '-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status'].map((a) => Buffer.from(a)),
      env: [],
      fds: [[out, 1]],
    });
    closeSync(out);
    let exit = libc.reapOne(pid);
    for (let i = 0; i < 500 && exit === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      exit = libc.reapOne(pid);
    }
    assert.deepEqual(exit, { pid, code: 0, signal: null });
    assert.equal(readFileSync(join(dir, 'status'), 'utf8'), 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
