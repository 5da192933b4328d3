import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lineDecoder } from './protocol.js';

test('messages split across chunks, even inside a character, arrive whole', () => {
  const got: unknown[] = [];
  const decode = lineDecoder((m) => got.push(m));
  const bytes = Buffer.from(`${JSON.stringify({ type: 'run', spec: { argv: ['café'], env: [] } })}\n{"type":"x"}\n`);
  const split = bytes.indexOf(Buffer.from('é')) + 1; // between the two bytes of é
  decode(bytes.subarray(0, split));
  assert.deepEqual(got, []);
  decode(bytes.subarray(split));
  assert.deepEqual(got, [{ type: 'run', spec: { argv: ['café'], env: [] } }, { type: 'x' }]);
});
