import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';

export type KoffiModule = typeof Koffi;

/**
 * Loads koffi's native addon. In the sandbox runtime (dist/runtime/, mounted at /var/runtime in
 * every sandbox) the addon sits beside the bundle that loads it: a sandbox sees no node_modules.
 * Elsewhere it loads the prebuilt addon of this platform's package directly: the `koffi` entry
 * point parses the node binary's ELF header to choose between glibc and musl builds, ~8 ms at every
 * init start. Anywhere else, the full entry point.
 */
export function loadKoffi(): KoffiModule {
  return (loaded ??= load());
}

let loaded: KoffiModule | null = null;

function load(): KoffiModule {
  const require = createRequire(import.meta.url);
  const beside = new URL('./koffi.node', import.meta.url);
  if (existsSync(beside)) return require(beside.pathname) as KoffiModule;
  try {
    return require(`@koromix/koffi-linux-${process.arch}/linux_${process.arch}/koffi.node`) as KoffiModule;
  } catch {
    return require('koffi') as KoffiModule;
  }
}
