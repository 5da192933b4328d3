import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { once } from 'node:events';
import { test } from 'node:test';
import { makeOwnedTempDir, orphanedTempDirs, removeOrphanedTempDirs } from './owned-temp-dir.js';

function ourStartTime(): string {
  const stat = readFileSync('/proc/self/stat', 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

/** The pid of a process that has come and gone. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await once(child, 'exit');
  return child.pid!;
}

test("a folder is named after its owner's pid and start time, and is not an orphan while its owner lives", (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pidbox-owned-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = makeOwnedTempDir('pidbox-test-', root);
  assert.match(basename(dir), new RegExp(`^pidbox-test-${process.pid}-${ourStartTime()}-[A-Za-z0-9]{6}$`));
  assert.deepEqual(orphanedTempDirs('pidbox-test-', root), []);
  assert.deepEqual(removeOrphanedTempDirs('pidbox-test-', root), []);
  assert.ok(existsSync(dir));
});

test('folders of a dead owner or of a reused pid are removed; those of a live owner, and any of another form, stay', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pidbox-owned-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const live = makeOwnedTempDir('pidbox-test-', root);
  const dead = join(root, `pidbox-test-${await deadPid()}-12345-aB3dE6`);
  // Our pid, another start time: a process that had our pid before us.
  const reused = join(root, `pidbox-test-${process.pid}-1-Zz9Yy8`);
  const otherForm = join(root, 'pidbox-test-Xq3Rk1');
  const otherPrefix = join(root, `pidbox-other-${await deadPid()}-12345-aB3dE6`);
  for (const dir of [dead, reused, otherForm, otherPrefix]) mkdirSync(join(dir, 'inside'), { recursive: true });

  assert.deepEqual(orphanedTempDirs('pidbox-test-', root).sort(), [dead, reused].sort());
  assert.deepEqual(removeOrphanedTempDirs('pidbox-test-', root).sort(), [dead, reused].sort());
  assert.equal(existsSync(dead), false);
  assert.equal(existsSync(reused), false);
  for (const dir of [live, otherForm, otherPrefix]) assert.ok(existsSync(dir), dir);
});
