// Network namespaces of a test's own, through Debian's iproute2 (ip-netns(8)): `ip netns add`
// makes a namespace held by a file under /run/netns, so it lives on with no process in it; `ip -n
// NAME …` runs one ip command inside it. Nothing here touches the machine's root network namespace.
import { execFile } from 'node:child_process';

/** Runs `ip` with `args`; rejects with its standard error. */
export function ip(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** One `ip` command inside the network namespace `netns` (ip's `-n`: it enters the namespace itself). */
export function ipIn(netns: string, args: string[]): Promise<string> {
  return ip(['-n', netns, ...args]);
}

export async function addNetns(name: string): Promise<void> {
  await ip(['netns', 'add', name]);
}

/**
 * Deletes a namespace's name. The namespace itself ends with its last process: kill those first
 * (netnsPids), or it lives on unnamed. A name that is already gone is fine.
 */
export async function deleteNetns(name: string): Promise<void> {
  if (!(await listNetns()).includes(name)) return;
  await ip(['netns', 'delete', name]);
}

/** The names of the machine's named network namespaces. */
export async function listNetns(): Promise<string[]> {
  // `ip netns list` prints "name" or "name (id: 3)", one a line.
  return (await ip(['netns', 'list'])).split('\n').map((line) => line.split(' ')[0]!).filter((name) => name !== '');
}

/** The pids of every process whose network namespace is `name` (processes in namespaces of their own below it are not). */
export async function netnsPids(name: string): Promise<number[]> {
  return (await ip(['netns', 'pids', name])).split('\n').filter((line) => line !== '').map(Number);
}
