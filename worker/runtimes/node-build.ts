import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { context } from 'esbuild';
import { PidboxError } from '../../contracts/pidbox-error.js';
import type { FunctionInfo } from '../../registry/function-registry.js';
import { confinedBuild } from './confined-build.js';

// A node function's source (TypeScript or JavaScript, with its imports) is bundled by esbuild into
// one ES module, once per change of any input file — never per invocation. `@opentelemetry/api`
// and pidbox's other packages resolve from pidbox's own node_modules, so a function can import them
// without installing anything.

const PIDBOX_NODE_MODULES = fileURLToPath(new URL('../../../node_modules', import.meta.url));
/** What a function may bundle of pidbox's own packages. */
const LENT_PACKAGES = [join(PIDBOX_NODE_MODULES, '@opentelemetry', 'api')];
/** Longest a build may take; a source tree that needs longer is not a function's. */
const BUILD_TIMEOUT_MS = 60_000;
/** Largest single file a build reads. */
const MAX_SOURCE_FILE_BYTES = 16 * 1024 * 1024;

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
  /** Where bundles and their manifests are kept (made readable by root alone). */
  cacheDir: string;
  /** Largest bundle; a bigger one fails the build (FUNCTION_BUILD_FAILED). Default: 32 MiB. */
  maxBundleBytes?: number;
}

export const DEFAULT_MAX_BUNDLE_BYTES = 32 * 1024 * 1024;

export interface FunctionBundle {
  /** Absolute path of the bundle. */
  path: string;
  /** sha256 of its bytes, hex. */
  sha256: string;
  /** The function imports @opentelemetry/api: only then does the node host set up tracing for it. */
  importsOpenTelemetry: boolean;
}

export interface LoadedBundle {
  /**
   * An open descriptor of the bundle whose bytes were checked against the hash recorded when it was
   * built: mount /proc/self/fd/<fd> and the sandbox gets exactly what was checked. Close it after.
   */
  fd: number;
  sha256: string;
  importsOpenTelemetry: boolean;
  close(): void;
}

export interface NodeBuilder {
  /** The function's bundle, built now if any input changed since the last build. */
  bundle(fn: FunctionInfo): Promise<FunctionBundle>;
  /**
   * The bundle for a sandbox, checked by content hash through the descriptor it is handed out by: a
   * cached bundle edited since it was built is never run; it is built again (once), or the
   * invocation fails.
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
      pending = buildBundle(fn, options.cacheDir, key, manifestPath, options.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES)
        .finally(() => inFlight.delete(manifestPath));
      inFlight.set(manifestPath, pending);
    }
    return pending;
  };
  return {
    bundle,
    async load(fn) {
      for (let attempt = 1; ; attempt++) {
        const built = await bundle(fn);
        const opened = openAndHash(built.path);
        if (opened && opened.sha256 === built.sha256) {
          const fd = opened.fd;
          return { fd, sha256: opened.sha256, importsOpenTelemetry: built.importsOpenTelemetry, close: () => closeSync(fd) };
        }
        if (opened) closeSync(opened.fd);
        // Changed since it was built: forget it, so the next look builds it again from source.
        rmSync(manifestOf(fn).manifestPath, { force: true });
        if (attempt >= 2) {
          throw new PidboxError('FUNCTION_BUILD_FAILED', `the bundle of function "${fn.name}" does not match its hash after a rebuild (${built.path})`);
        }
      }
    },
  };
}

async function buildBundle(fn: FunctionInfo, cacheDir: string, key: string, manifestPath: string, maxBundleBytes: number): Promise<FunctionBundle> {
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  // A source saved while esbuild reads it must not be taken for built: inputs changed since (a
  // little before) this moment are recorded as stale, so the next invocation builds again.
  const startedAtMs = Date.now() - 20;
  let result;
  let timer: NodeJS.Timeout | undefined;
  const ctx = await context({
      entryPoints: [fn.entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      metafile: true,
      // Line numbers of the function's own files in its stack traces, without its sources again.
      sourcemap: 'inline',
      sourcesContent: false,
      logLevel: 'silent',
      nodePaths: [PIDBOX_NODE_MODULES],
      banner: { js: BANNER },
      define: { 'import.meta.url': JSON.stringify(`file:///var/task/${basename(fn.entry)}`) },
      outfile: join(cacheDir, `${fn.name}-${key}.mjs`),
      plugins: [confinedBuild({ roots: [fn.dir, ...LENT_PACKAGES], maxFileBytes: MAX_SOURCE_FILE_BYTES })],
  });
  try {
    result = await Promise.race([
      ctx.rebuild(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          void ctx.cancel();
          reject(new Error(`the build took longer than ${BUILD_TIMEOUT_MS} ms`));
        }, BUILD_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    const errors = (error as { errors?: Array<{ text: string; location?: { file: string; line: number } }> }).errors ?? [];
    const detail = errors
      .map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text))
      .join('; ');
    throw new PidboxError('FUNCTION_BUILD_FAILED', `function "${fn.name}" does not build: ${detail || (error as Error).message}`, error);
  } finally {
    clearTimeout(timer);
    await ctx.dispose();
  }
  const file = result.outputFiles![0]!;
  if (file.contents.length > maxBundleBytes) {
    throw new PidboxError('FUNCTION_BUILD_FAILED', `function "${fn.name}" bundles to ${file.contents.length} bytes, more than the ${maxBundleBytes} allowed (PIDBOX_MAX_BUNDLE_BYTES)`);
  }
  const sha256 = createHash('sha256').update(file.contents).digest('hex');
  const output = join(cacheDir, `${fn.name}-${key}-${sha256.slice(0, 16)}.mjs`);
  writeAtomically(output, file.contents);
  const inputs: Record<string, string> = {};
  for (const input of Object.keys(result.metafile!.inputs)) {
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

/** Opens a bundle and hashes it through that descriptor; null when it cannot be opened. */
function openAndHash(path: string): { fd: number; sha256: string } | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(256 * 1024);
  let position = 0;
  for (let n; (n = readSync(fd, chunk, 0, chunk.length, position)) > 0; position += n) hash.update(chunk.subarray(0, n));
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    return null;
  }
  return { fd, sha256: hash.digest('hex') };
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
