// What esbuild may read when it bundles a node function. esbuild runs in the worker, as root, with
// the whole host in view: left alone, an import of `/proc/self/environ` or `/etc/shadow` (with
// `{ type: 'text' }`), or a symlink in the function's folder, would put the worker's secrets into
// the bundle the function then runs, and an import of a pipe or of /dev/zero would hold or swell
// the build for ever. So every file is loaded here, not by esbuild: its real path must lie inside
// the function's folder or the packages pidbox lends functions, it must be a regular file of a
// bounded size, and it is read once, whole, from the descriptor that was checked.
import { closeSync, constants, fstatSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, extname, sep } from 'node:path';
import type { Loader, Plugin } from 'esbuild';

export interface ConfinementOptions {
  /** Folders whose files may be bundled (real paths are compared). */
  roots: string[];
  /** Largest single file read. */
  maxFileBytes: number;
}

const LOADERS: Record<string, Loader> = {
  '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx',
  '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx',
  '.json': 'json', '.txt': 'text',
};

/** Import attributes (`with { type }`) esbuild understands, and the loader each asks for. */
const ATTRIBUTE_LOADERS: Record<string, Loader> = { json: 'json', text: 'text', bytes: 'binary' };

export function confinedBuild(options: ConfinementOptions): Plugin {
  const roots = options.roots.map((root) => realpathOrSelf(root));
  const inside = (path: string): boolean => roots.some((root) => path === root || path.startsWith(root + sep));
  return {
    name: 'pidbox-confined-build',
    setup(build) {
      build.onLoad({ filter: /.*/ }, (args) => {
        if (args.namespace !== 'file') return { errors: [{ text: `${args.path}: not a file of the function` }] };
        const fail = (why: string) => ({ errors: [{ text: `${args.path}: ${why}` }] });
        let real: string;
        try {
          real = realpathSync(args.path);
        } catch {
          return fail('cannot be read');
        }
        if (!inside(real)) return fail("outside the function's folder: a function bundles only its own files and the packages pidbox provides");
        const loader = args.with?.type !== undefined ? ATTRIBUTE_LOADERS[args.with.type] : LOADERS[extname(real).toLowerCase()];
        if (!loader) return fail(`no loader for ${args.with?.type !== undefined ? `type "${args.with.type}"` : `"${extname(real)}" files`}`);
        let fd: number;
        try {
          // Non-blocking, so that opening a pipe does not wait for a writer; no symlink at the last step.
          fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
        } catch {
          return fail('cannot be read');
        }
        try {
          const stat = fstatSync(fd);
          if (!stat.isFile()) return fail('not a regular file');
          if (stat.size > options.maxFileBytes) return fail(`larger than ${options.maxFileBytes} bytes`);
          return { contents: readFileSync(fd), loader, resolveDir: dirname(args.path) };
        } finally {
          closeSync(fd);
        }
      });
    },
  };
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
