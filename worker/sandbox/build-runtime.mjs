// Builds the sandbox runtime: what every sandbox sees read-only at /var/runtime, and what the
// standalone bin/pidbox-init runs. Three files in dist/runtime/, each loadable with no module
// resolution and nothing else of pidbox's tree (a sandbox sees none of it):
//   init.cjs       the init (worker/init/init.ts), one CommonJS file: no ESM loader at start
//   node-host.cjs  the node runtime's host (worker/runtimes/node-host.ts), its tracing included
//   koffi.node     koffi's native addon for this platform, which init.cjs loads from beside itself
// Run by `npm run build` after tsc.
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'dist', 'runtime');
mkdirSync(out, { recursive: true });

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  // import.meta.url in a CommonJS bundle: the bundle's own file.
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__importMetaUrl' },
};

await Promise.all([
  build({ ...common, entryPoints: [join(root, 'worker/init/init.ts')], outfile: join(out, 'init.cjs'), external: ['koffi'] }),
  build({ ...common, entryPoints: [join(root, 'worker/runtimes/node-host.ts')], outfile: join(out, 'node-host.cjs') }),
]);

const require = createRequire(import.meta.url);
const platform = `linux_${process.arch}`;
const addon = require.resolve(`@koromix/koffi-linux-${process.arch}/${platform}/koffi.node`);
copyFileSync(addon, join(out, 'koffi.node'));
