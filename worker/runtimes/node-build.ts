import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { PidboxError } from '../../contracts/pidbox-error.js';
import type { FunctionInfo } from '../../contracts/functions/function-registry.js';

// A node function's source (TypeScript or JavaScript, with its imports) is bundled by esbuild into
// one ES module, once per change of any input file — never per invocation. `@opentelemetry/api`
// and pidbox's other packages resolve from pidbox's own node_modules, so a function can import them
// without installing anything.

const PIDBOX_NODE_MODULES = fileURLToPath(new URL('../../../node_modules', import.meta.url));

// Bundled CommonJS packages call require(); an ES module has none of its own. The bundle runs at
// /var/bundle/index.mjs of a sandbox whose function folder is /var/task: require() and
// import.meta.url answer as if the function's own entry ran from its folder, so a package left
// outside the bundle resolves from the function's node_modules and `new URL('./data.json',
// import.meta.url)` finds the file beside the source.
const BANNER = "import { createRequire as __pidboxCreateRequire } from 'node:module';\n" +
  "const require = __pidboxCreateRequire('/var/task/');";

interface Manifest {
  output: string;
  /** sha256 of the bundle's bytes, hex: checked every time the bundle is loaded for a sandbox. */
  sha256: string;
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
  /** sha256 of its bytes, hex. */
  sha256: string;
  /** The function imports @opentelemetry/api: only then does the node host set up tracing for it. */
  importsOpenTelemetry: boolean;
}

export interface LoadedBundle {
  /** The bundle's bytes, checked against the hash recorded when it was built. */
  code: Buffer;
  sha256: string;
  importsOpenTelemetry: boolean;
}

export interface NodeBuilder {
  /** The function's bundle, built now if any input changed since the last build. */
  bundle(fn: FunctionInfo): Promise<FunctionBundle>;
  /**
   * The bundle's bytes for a sandbox, read once and checked by content hash: a cached bundle edited
   * since it was built is never run; it is built again (once), or the invocation fails.
   */
  load(fn: FunctionInfo): Promise<LoadedBundle>;
}

export function createNodeBuilder(options: NodeBuilderOptions): NodeBuilder {
  const inFlight = new Map<string, Promise<FunctionBundle>>();
  const manifestOf = (fn: FunctionInfo): { key: string; manifestPath: string } => {
    const key = createHash('sha256').update(fn.entry).digest('hex').slice(0, 16);
    return { key, manifestPath: join(options.cacheDir, `${fn.name}-${key}.json`) };
  };
  const bundle = (fn: FunctionInfo): Promise<FunctionBundle> => {
    const { key, manifestPath } = manifestOf(fn);
    const cached = readManifest(manifestPath);
    if (cached && isFresh(cached)) return Promise.resolve({ path: cached.output, sha256: cached.sha256, importsOpenTelemetry: cached.importsOpenTelemetry });
    // Concurrent invocations of a changed function share one build.
    let pending = inFlight.get(manifestPath);
    if (!pending) {
      pending = buildBundle(fn, options.cacheDir, key, manifestPath).finally(() => inFlight.delete(manifestPath));
      inFlight.set(manifestPath, pending);
    }
    return pending;
  };
  return {
    bundle,
    async load(fn) {
      for (let attempt = 1; ; attempt++) {
        const built = await bundle(fn);
        const code = readOrEmpty(built.path);
        const sha256 = createHash('sha256').update(code).digest('hex');
        if (sha256 === built.sha256) return { code, sha256, importsOpenTelemetry: built.importsOpenTelemetry };
        // Changed since it was built: forget it, so the next look builds it again from source.
        rmSync(manifestOf(fn).manifestPath, { force: true });
        if (attempt >= 2) {
          throw new PidboxError('FUNCTION_BUILD_FAILED', `the bundle of function "${fn.name}" does not match its hash after a rebuild (${built.path})`);
        }
      }
    },
  };
}

async function buildBundle(fn: FunctionInfo, cacheDir: string, key: string, manifestPath: string): Promise<FunctionBundle> {
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
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
      define: { 'import.meta.url': JSON.stringify(`file:///var/task/${basename(fn.entry)}`) },
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
  const sha256 = createHash('sha256').update(file.contents).digest('hex');
  const output = join(cacheDir, `${fn.name}-${key}-${sha256.slice(0, 16)}.mjs`);
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
  writeAtomically(manifestPath, JSON.stringify({ output, sha256, ...(previous ? { previous } : {}), importsOpenTelemetry, inputs } satisfies Manifest));
  return { path: output, sha256, importsOpenTelemetry };
}

function readManifest(path: string): Manifest | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

function isFresh(manifest: Manifest): boolean {
  if (typeof manifest.sha256 !== 'string' || fingerprint(manifest.output) === null) return false;
  return Object.entries(manifest.inputs).every(([path, print]) => fingerprint(path) === print);
}

function readOrEmpty(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    return Buffer.alloc(0);
  }
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
