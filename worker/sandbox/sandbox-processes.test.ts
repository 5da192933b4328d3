import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { listSandboxProcesses, parseStat, parseStatus, renderCommand } from './sandbox-processes.js';

test('the fields of /proc/PID/stat are read after the last parenthesis, whatever the name holds', () => {
  const stat = '42 (a) S 1 2 (evil) R) Z 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 1 0 100 1000 50';
  assert.deepEqual(parseStat(stat), { name: 'a) S 1 2 (evil) R', state: 'Z', utimeTicks: 250, stimeTicks: 30 });
  assert.equal(parseStat('garbage'), null);
  assert.equal(parseStat('1 (x) S 0'), null, 'a stat without CPU times is not read');
});

test("the pid inside is NSpid's last field, and memory is VmRSS in bytes", () => {
  const status = 'Name:\tsleep\nState:\tS (sleeping)\nPPid:\t5001\nNSpid:\t5003\t3\nVmRSS:\t    1024 kB\n';
  assert.deepEqual(parseStatus(status), { pid: 3, hostPpid: 5001, rssBytes: 1024 * 1024 });
  // A zombie has no VmRSS; a name cannot forge a line (the kernel escapes a newline in it).
  assert.deepEqual(parseStatus('Name:\tNSpid:\\t9\nPPid:\t1\nNSpid:\t7\t2\n'), { pid: 2, hostPpid: 1, rssBytes: 0 });
  assert.equal(parseStatus('Name:\tx\n'), null);
});

test('a command line is its arguments joined by spaces, with unsafe bytes made harmless', () => {
  assert.equal(renderCommand(Buffer.from('sleep\x0030\x00'), false, 'sleep'), 'sleep 30');
  // Not UTF-8, a terminal escape, a right-to-left override: none reaches a terminal or a page as it was.
  assert.equal(renderCommand(Buffer.from([0x61, 0xff, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0x00]), false, 'x'), 'a\uFFFD \uFFFD[2J');
  assert.equal(renderCommand(Buffer.from('evil\u202etxt.exe\x00'), false, 'x'), 'evil\uFFFDtxt.exe');
  assert.equal(renderCommand(Buffer.from('a'.repeat(10)), true, 'x'), `${'a'.repeat(10)}…`);
  // No command line (a zombie): its name, as ps shows it.
  assert.equal(renderCommand(Buffer.alloc(0), false, 'sh'), '[sh]');
  assert.equal(renderCommand(Buffer.alloc(0), false, '\x1b]0;x'), '[\uFFFD]0;x]');
});

test("this process is listed with its pid, parent, command and figures, among its namespace's", () => {
  const pidNamespace = readlinkSync('/proc/self/ns/pid');
  const { processes, truncated } = listSandboxProcesses({ pidNamespace, maxProcesses: 100_000 });
  assert.equal(truncated, false);
  const self = processes.find((p) => p.pid === process.pid);
  assert.ok(self, 'this process is listed');
  assert.equal(self.ppid, process.ppid);
  assert.equal(self.state, 'R', 'it is running while it reads');
  assert.match(self.command, /node/);
  assert.ok(self.rssBytes > 10 * 1024 * 1024, `${self.rssBytes} bytes resident`);
  assert.ok(self.cpuMs > 0);
  for (let i = 1; i < processes.length; i++) assert.ok(processes[i - 1]!.pid < processes[i]!.pid, 'sorted by pid');
});

test('a list past its bound is cut, and says so', () => {
  const pidNamespace = readlinkSync('/proc/self/ns/pid');
  const { processes, truncated } = listSandboxProcesses({ pidNamespace, maxProcesses: 2 });
  assert.equal(processes.length, 2);
  assert.equal(truncated, true);
  const { processes: none, truncated: nothingCut } = listSandboxProcesses({ pidNamespace: 'pid:[1]' });
  assert.deepEqual(none, []);
  assert.equal(nothingCut, false);
});

test('a long command line is read only up to its bound', () => {
  const pidNamespace = readlinkSync('/proc/self/ns/pid');
  const { processes } = listSandboxProcesses({ pidNamespace, maxProcesses: 100_000, maxCommandBytes: 4 });
  const self = processes.find((p) => p.pid === process.pid)!;
  const start = readFileSync('/proc/self/cmdline').subarray(0, 4).toString('utf8');
  assert.ok(!start.includes('\0'), 'the test runs node by a name longer than 4 bytes');
  assert.equal(self.command, `${start}…`);
});
