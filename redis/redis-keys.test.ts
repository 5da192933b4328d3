import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INVOCATION_STATUSES } from '../contracts/invocation-list.js';
import { indexKeys } from './invocation-index.js';
import { CALLBACKS_QUEUE, INVOCATIONS_QUEUE, redisKeys } from './redis-keys.js';

/** The part of a key Redis Cluster hashes (cluster spec, "Hash tags"): keys with the same one share a slot. */
function hashedPart(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

const keys = redisKeys('pidbox');

test("every key of pidbox's own falls in one slot, the one of the prefix's tag", () => {
  const id = '0b8f6e2c-5d1a-4c3e-9f70-2a6b1d4e8c90';
  const batchId = 'f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b';
  // What the status scripts, the batch's MULTI and the list's reads touch together.
  const together = [
    keys.invocation(id), keys.log(id), keys.batch(batchId), keys.batchMembers(batchId), keys.idempotency('hello', 'order-42'),
    ...indexKeys(keys, 'hello'), ...indexKeys(keys, 'other'),
  ];
  assert.deepEqual(new Set(together.map(hashedPart)), new Set(['pidbox']));
  // Keys still start with the prefix (an ACL such as ~pidbox:* covers them), and differ.
  for (const key of together) assert.ok(key.startsWith('pidbox:'), key);
  // The two functions share only the set of every invocation and those of each status.
  assert.equal(new Set(together).size, together.length - 1 - INVOCATION_STATUSES.length);
});

test('an id that is not one of ours cannot move its keys to another slot', () => {
  for (const id of ['x', '}abc', '{ab}', 'ABCD-upper', '']) {
    assert.equal(hashedPart(keys.invocation(id)), 'pidbox', JSON.stringify(id));
    assert.equal(hashedPart(keys.log(id)), 'pidbox', JSON.stringify(id));
  }
  assert.equal(hashedPart(keys.idempotency('hello', '{other}')), 'pidbox');
});

test("each BullMQ queue's keys carry a tag of their own, with the prefix in it", () => {
  const invocations = `${keys.bullPrefix(INVOCATIONS_QUEUE)}:${INVOCATIONS_QUEUE}:wait`;
  const callbacks = `${keys.bullPrefix(CALLBACKS_QUEUE)}:${CALLBACKS_QUEUE}:wait`;
  assert.equal(hashedPart(invocations), 'pidbox:invocations');
  assert.equal(hashedPart(callbacks), 'pidbox:callbacks');
  assert.equal(hashedPart(`${redisKeys('other').bullPrefix(INVOCATIONS_QUEUE)}:x`), 'other:invocations');
  assert.equal(hashedPart(redisKeys('other').invocation('x')), 'other');
  assert.ok(invocations.startsWith('pidbox:bull:'));
});
