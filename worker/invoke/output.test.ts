import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedBuffer, TailBuffer } from './output.js';

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
