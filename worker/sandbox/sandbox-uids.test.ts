import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openUidPool } from './sandbox-uids.js';

test('sandboxes alive at once get uids of their own, the lowest free first, and a released uid is taken again', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pidbox-uids-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Two pools on one folder: two workers of one host.
  const one = openUidPool(dir, { first: 5000, count: 3 });
  const other = openUidPool(dir, { first: 5000, count: 3 });
  const a = one.acquire();
  const b = other.acquire();
  const c = one.acquire();
  assert.deepEqual([a.uid, b.uid, c.uid], [5000, 5001, 5002]);
  assert.equal(a.gid, a.uid);
  assert.throws(() => other.acquire(), { code: 'SANDBOX_SPAWN_FAILED', message: /every sandbox uid from 5000/ });
  b.release();
  b.release();
  assert.equal(one.acquire().uid, 5001);
});
