import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CALLBACKS_QUEUE, INVOCATIONS_QUEUE, groupOf, idempotencyGroup, newIdInGroup, redisKeys } from './redis-keys.js';

/** The part of a key Redis Cluster hashes (cluster spec, "Hash tags"): keys with the same one share a slot. */
function hashedPart(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const keys = redisKeys('pidbox');

test('every key of an invocation and of its batch falls in one slot, the one of its group', () => {
  const batchId = newIdInGroup();
  const member = newIdInGroup(groupOf(batchId));
  assert.match(batchId, UUID);
  assert.match(member, UUID);
  assert.notEqual(member, batchId);
  // What the FINISH and CANCEL scripts touch together.
  const together = [keys.invocation(member), keys.log(member), keys.batch(batchId), keys.batchMembers(batchId)];
  assert.deepEqual(new Set(together.map(hashedPart)), new Set([groupOf(batchId)]));
  // Keys still start with the prefix (an ACL such as ~pidbox:* covers them).
  for (const key of together) assert.ok(key.startsWith('pidbox:'), key);
});

test("an invocation made with an Idempotency-Key shares the key's slot, whatever the function", () => {
  const group = idempotencyGroup('order-42');
  const id = newIdInGroup(group);
  assert.match(id, UUID);
  assert.equal(hashedPart(keys.idempotency('hello', 'order-42')), hashedPart(keys.invocation(id)));
  assert.equal(hashedPart(keys.idempotency('other', 'order-42')), group);
  assert.notEqual(keys.idempotency('hello', 'order-42'), keys.idempotency('other', 'order-42'));
});

test('random ids spread over many groups', () => {
  const groups = new Set(Array.from({ length: 2000 }, () => groupOf(newIdInGroup())));
  assert.ok(groups.size > 1900, `${groups.size} groups of 2000 ids`);
});

test('an id that is not one of ours still has all its keys in one slot', () => {
  for (const id of ['x', '}abc', '{ab}', 'ABCD-upper', '']) {
    assert.equal(hashedPart(keys.invocation(id)), hashedPart(keys.log(id)), JSON.stringify(id));
    assert.match(groupOf(id), /^[0-9a-f]{4}$/);
  }
});

test("each BullMQ queue's keys carry a tag of their own, with the prefix in it", () => {
  const invocations = `${keys.bullPrefix(INVOCATIONS_QUEUE)}:${INVOCATIONS_QUEUE}:wait`;
  const callbacks = `${keys.bullPrefix(CALLBACKS_QUEUE)}:${CALLBACKS_QUEUE}:wait`;
  assert.equal(hashedPart(invocations), 'pidbox:invocations');
  assert.equal(hashedPart(callbacks), 'pidbox:callbacks');
  assert.equal(hashedPart(`${redisKeys('other').bullPrefix(INVOCATIONS_QUEUE)}:x`), 'other:invocations');
  assert.ok(invocations.startsWith('pidbox:bull:'));
});
