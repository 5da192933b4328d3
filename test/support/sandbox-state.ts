// What a worker killed outright leaves on its host — its run folder under /run/pidbox and its
// cgroups — goes when the next worker of the host prepares its sandboxes. Tests that SIGKILL
// workers do what that next worker would, so that nothing stays behind after them.
import { existsSync, readdirSync } from 'node:fs';
import { DEFAULT_RUN_DIR, openSandboxHost } from '../../worker/sandbox/sandbox-host.js';
import { isInstanceGone } from '../../worker/sandbox/instance-name.js';
import { leftoverCgroups } from './cgroups.js';

export async function cleanUpAfterKilledWorkers(): Promise<void> {
  const host = await openSandboxHost();
  await host.close();
}

/** Run folders and cgroups of workers that are gone. */
export function staleSandboxState(): string[] {
  const folders = existsSync(DEFAULT_RUN_DIR) ? readdirSync(DEFAULT_RUN_DIR).filter((name) => isInstanceGone(name.replace(/\.staging$/, ''))) : [];
  const cgroups = leftoverCgroups().filter((path) => path.split('/').some((part) => part.startsWith('pidbox-') && isInstanceGone(part)));
  return [...folders, ...cgroups];
}
