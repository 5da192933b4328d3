import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../telemetry/logger.js';
import { functionsDirProblem, warnAboutFunctionsDir } from './functions-dir.js';

test('a missing functions folder, or a file in its place, is a warning in the log; a folder is not', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pidbox-fns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'file'), '');
  assert.equal(functionsDirProblem(dir), null);
  assert.equal(functionsDirProblem(join(dir, 'file')), 'is not a folder');
  assert.equal(functionsDirProblem(join(dir, 'file', 'below')), 'is not a folder');

  const lines: string[] = [];
  const log = createLogger({ service: 'test', write: (line) => lines.push(line) });
  assert.equal(warnAboutFunctionsDir(join(dir, 'missing'), log), 'does not exist');
  assert.equal(warnAboutFunctionsDir(dir, log), null);
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]!) as { level: string; msg: string; functions_dir: string };
  assert.equal(line.level, 'warn');
  assert.equal(line.functions_dir, join(dir, 'missing'));
  assert.match(line.msg, /does not exist: no function can be called \(set PIDBOX_FUNCTIONS_DIR or --functions\)/);
});
