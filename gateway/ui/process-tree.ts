// The processes of a sandbox as a tree, parents above their children, from the flat list of
// GET /invocations/{id}/processes.
import type { ProcessInfo } from './api-shapes.js';

export interface ProcessNode {
  process: ProcessInfo;
  children: ProcessNode[];
}

/**
 * Roots are the processes whose parent is not in the list (the init, pid 1, whose parent is outside
 * the namespace); siblings in pid order. A parent that exited between two reads of /proc leaves its
 * children as roots rather than losing them.
 */
export function processTree(processes: ProcessInfo[]): ProcessNode[] {
  const nodes = new Map<number, ProcessNode>();
  for (const process of [...processes].sort((a, b) => a.pid - b.pid)) nodes.set(process.pid, { process, children: [] });
  const roots: ProcessNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.process.ppid !== node.process.pid ? nodes.get(node.process.ppid) : undefined;
    (parent ? parent.children : roots).push(node);
  }
  return roots;
}
