import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { PidboxError } from '../../contracts/pidbox-error.js';
import type { FunctionInfo } from '../../contracts/functions/function-registry.js';

// A node function's source (TypeScript or JavaScript, with its imports) is bundled by esbuild into
// one ES module, once per change of any input file — never per invocation. `@opentelemetry/api`
// and pidbox's other packages resolve from pidbox's own node_modules, so a function can import them
// without installing anything.

const PIDBOX_NODE_MODULES = fileURLToPath(new URL('../../../node_modules', import.meta.url));

// Bundled CommonJS packages call require(); an ES module has none of its own.
const BANNER = "import { createRequire as __pidboxCreateRequire } from 'node:module';\n" +
  'const require = __pidboxCreateRequire(import.meta.url);';

interface Manifest {
  output: string;
  /** The bundle before this one: kept while invocations may still be starting with it. */
  previous?: string;
  importsOpenTelemetry: boolean;
  /** Input file → `mtimeMs:size` when it was built. */
  inputs: Record<string, string>;
}

export interface NodeBuilderOptions {
  /** Where bundles and their manifests are kept. */
  cacheDir: string;
}

export interface FunctionBundle {
  /** Absolute path of the bundle. */
  path: string;
  /** The function imports @opentelemetry/api: only then does the node host set up tracing for it. */
  importsOpenTelemetry: boolean;
}

export interface NodeBuilder {
  /** The function's bundle, built now if any input changed since the last build. */
  bundle(fn: FunctionInfo): Promise<FunctionBundle>;
}

export function createNodeBuilder(options: NodeBuilderOptions): NodeBuilder {
  const inFlight = new Map<string, Promise<FunctionBundle>>();
  return {
    async bundle(fn) {
      const key = createHash('sha256').update(fn.entry).digest('hex').slice(0, 16);
      const manifestPath = join(options.cacheDir, `${fn.name}-${key}.json`);
      const cached = readManifest(manifestPath);
      if (cached && isFresh(cached)) return { path: cached.output, importsOpenTelemetry: cached.importsOpenTelemetry };
      // Concurrent invocations of a changed function share one build.
      let pending = inFlight.get(manifestPath);
      if (!pending) {
        pending = buildBundle(fn, options.cacheDir, key, manifestPath).finally(() => inFlight.delete(manifestPath));
        inFlight.set(manifestPath, pending);
      }
      return pending;
    },
  };
}

async function buildBundle(fn: FunctionInfo, cacheDir: string, key: string, manifestPath: string): Promise<FunctionBundle> {
  mkdirSync(cacheDir, { recursive: true });
  // A source saved while esbuild reads it must not be taken for built: inputs changed since (a
  // little before) this moment are recorded as stale, so the next invocation builds again.
  const startedAtMs = Date.now() - 20;
  let result;
  try {
    result = await build({
      entryPoints: [fn.entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      metafile: true,
      sourcemap: 'inline',
      logLevel: 'silent',
      nodePaths: [PIDBOX_NODE_MODULES],
      banner: { js: BANNER },
      outfile: join(cacheDir, `${fn.name}-${key}.mjs`),
    });
  } catch (error) {
    const errors = (error as { errors?: Array<{ text: string; location?: { file: string; line: number } }> }).errors ?? [];
    const detail = errors
      .map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text))
      .join('; ');
    throw new PidboxError('FUNCTION_BUILD_FAILED', `function "${fn.name}" does not build: ${detail || (error as Error).message}`, error);
  }
  const file = result.outputFiles[0]!;
  const hash = createHash('sha256').update(file.contents).digest('hex').slice(0, 16);
  const output = join(cacheDir, `${fn.name}-${key}-${hash}.mjs`);
  writeAtomically(output, file.contents);
  const inputs: Record<string, string> = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    const path = input.startsWith('/') ? input : join(process.cwd(), input);
    const print = fingerprint(path);
    inputs[path] = print === null || Number(print.split(':')[0]) >= startedAtMs ? 'stale' : print;
  }
  // Two generations are kept: the one before may still be starting in a sandbox; older ones go.
  const before = readManifest(manifestPath);
  if (before?.previous && before.previous !== output && before.previous !== before.output) rmSync(before.previous, { force: true });
  const importsOpenTelemetry = Object.keys(inputs).some((path) => path.includes('/node_modules/@opentelemetry/api/'));
  const previous = before && before.output !== output ? before.output : before?.previous;
  writeAtomically(manifestPath, JSON.stringify({ output, ...(previous ? { previous } : {}), importsOpenTelemetry, inputs } satisfies Manifest));
  return { path: output, importsOpenTelemetry };
}

function readManifest(path: string): Manifest | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

function isFresh(manifest: Manifest): boolean {
  if (fingerprint(manifest.output) === null) return false;
  return Object.entries(manifest.inputs).every(([path, print]) => fingerprint(path) === print);
}

function fingerprint(path: string): string | null {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return null;
  }
}

function writeAtomically(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, data);
  renameSync(temp, path);
}
