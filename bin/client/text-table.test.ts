import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTable } from './text-table.js';

test('columns line up two spaces apart, and no line ends in spaces', () => {
  assert.equal(
    formatTable(['NAME', 'RUNTIME', 'ENV'], [['hello', 'node', '-'], ['a-long-name', 'exec', '']]),
    ['NAME         RUNTIME  ENV', 'hello        node     -', 'a-long-name  exec'].join('\n'),
  );
});
