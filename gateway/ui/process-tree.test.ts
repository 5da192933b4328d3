import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProcessInfo } from './api-shapes.js';
import { processTree, type ProcessNode } from './process-tree.js';

function proc(pid: number, ppid: number, command = `p${pid}`): ProcessInfo {
  return { pid, ppid, state: 'S', command, rssBytes: 0, cpuMs: 0 };
}

function shape(nodes: ProcessNode[]): unknown[] {
  return nodes.map((n) => [n.process.pid, shape(n.children)]);
}

test('puts each process under its parent, the init at the root, siblings in pid order', () => {
  const tree = processTree([proc(7, 2), proc(1, 0), proc(3, 2), proc(2, 1), proc(9, 1)]);
  assert.deepEqual(shape(tree), [[1, [[2, [[3, []], [7, []]]], [9, []]]]]);
});

test('keeps a process whose parent is gone as a root of its own', () => {
  const tree = processTree([proc(1, 0), proc(5, 4)]);
  assert.deepEqual(shape(tree), [[1, []], [5, []]]);
});

test('an empty list is an empty tree', () => {
  assert.deepEqual(processTree([]), []);
});
