import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedBuffer, TailBuffer, printableTail } from './output.js';

test('a tail buffer keeps the last bytes and says it dropped some', () => {
  const tail = new TailBuffer(5);
  tail.push(Buffer.from('abc'));
  tail.push(Buffer.from('defg'));
  assert.equal(tail.toString(), 'cdefg');
  assert.equal(tail.truncated, true);
});

test('a tail buffer under its limit keeps everything', () => {
  const tail = new TailBuffer(100);
  tail.push(Buffer.from('hello '));
  tail.push(Buffer.from('world'));
  assert.equal(tail.toString(), 'hello world');
  assert.equal(tail.truncated, false);
});

test('a bounded buffer stops at its limit and marks the overflow', () => {
  const bounded = new BoundedBuffer(4);
  bounded.push(Buffer.from('ab'));
  bounded.push(Buffer.from('cd'));
  assert.equal(bounded.overflowed, false);
  bounded.push(Buffer.from('e'));
  assert.equal(bounded.overflowed, true);
  assert.equal(bounded.toBuffer().toString(), 'abcd');
});

test('a tail buffer counts every byte it saw, kept or not', () => {
  const tail = new TailBuffer(4);
  tail.push(Buffer.from('abcdef'));
  tail.push(Buffer.from('gh'));
  assert.equal(tail.seenBytes, 8);
  assert.equal(tail.keptBytes, 4);
  assert.deepEqual(tail.toBuffer(), Buffer.from('efgh'));
});

test('a printable tail keeps the last lines, cut at a character, with control characters shown as U+FFFD', () => {
  assert.equal(printableTail(Buffer.from('one\ntwo\nthree\n\n'), 100, 2), '…two\nthree');
  assert.equal(printableTail(Buffer.from('only line\r\n'), 100, 5), 'only line');
  // "é" is two bytes: a cut through it starts after it, not with a broken character.
  assert.equal(printableTail(Buffer.from('aé-end'), 5, 5), '…-end');
  assert.equal(printableTail(Buffer.from('\x1b[2Jred\rover'), 100, 5), '\ufffd[2Jred\ufffdover');
  assert.equal(printableTail(Buffer.from([0xff, 0xfe, 0x41]), 100, 5), '\ufffd\ufffdA');
  assert.equal(printableTail(Buffer.from(' \n\t\n'), 100, 5), '');
  assert.ok(Buffer.byteLength(printableTail(Buffer.alloc(10_000, 'x'), 1024, 5)) <= 1024 + 3);
});
