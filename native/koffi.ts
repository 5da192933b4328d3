import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';

export type KoffiModule = typeof Koffi;

/**
 * Loads koffi's native addon. The `koffi` entry point parses the node binary's ELF header to choose
 * between glibc and musl builds, which costs ~8 ms at every start; the init starts once per sandbox,
 * so on glibc it loads the prebuilt addon of its platform package directly and falls back to the
 * full entry point anywhere else.
 */
export function loadKoffi(): KoffiModule {
  const require = createRequire(import.meta.url);
  try {
    return require(`@koromix/koffi-linux-${process.arch}/linux_${process.arch}/koffi.node`) as KoffiModule;
  } catch {
    return require('koffi') as KoffiModule;
  }
}
