import { accessSync, closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { PidboxError } from '../contracts/pidbox-error.js';
import { DEFAULT_FUNCTION_CONFIG, parseFunctionConfig, type FunctionConfig } from '../contracts/function-config.js';
import { inspectDefaultExport, type DefaultExport } from './default-export.js';
import { jsonErrorPosition } from './json-error-position.js';

// The registry runs as root in the gateway and the worker, over folders that whoever deploys a
// function writes. So it follows no symlink out of a function's folder (the folder itself may not be
// one, function.json may not be one, an entry may be one only within the folder), reads only regular
// files, and never quotes what it read in an error: an error goes to the caller of an invocation and
// to GET /functions, and a function.json linked to /etc/shadow must not tell its first line.

export type FunctionRuntime = 'node' | 'exec';

export interface FunctionInfo {
  name: string;
  runtime: FunctionRuntime;
  /** Absolute folder of the function. */
  dir: string;
  /** Absolute path of the entry: index.ts/index.js/index.mjs (node) or handler (exec). */
  entry: string;
  config: FunctionConfig;
}

/** A function's name: its folder's, and the `{name}` of its routes. */
export const FUNCTION_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const NODE_ENTRIES = ['index.ts', 'index.mts', 'index.js', 'index.mjs'];
/** Largest function.json read; a settings file is a few hundred bytes. */
const MAX_CONFIG_BYTES = 1024 * 1024;
/** Largest node entry whose default export is looked at (the build's own bound per file). */
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;
/** Node entries whose default export is remembered, each until it changes. */
const MAX_INSPECTED_ENTRIES = 1024;
const HANDLER_SHAPE = 'export default (request, context) => Response | value';

export interface FunctionRegistryOptions {
  /** How a node entry's default export is found. Default: inspectDefaultExport (esbuild, default-export.ts). */
  inspectDefaultExport?: (source: Uint8Array, fileName: string) => DefaultExport;
}

export function isValidFunctionName(name: string): boolean {
  return FUNCTION_NAME.test(name);
}

export function invalidFunctionName(name: string): PidboxError {
  return new PidboxError(
    'INVALID_FUNCTION_NAME',
    `"${name.slice(0, 80)}" is not a valid function name: lower-case letters, digits, "-" and "_", at most 63, starting with a letter or digit`,
  );
}

export function assertFunctionName(name: string): void {
  if (!isValidFunctionName(name)) throw invalidFunctionName(name);
}

/**
 * Functions are read from disk at each look-up, so a changed function.json or a new folder is
 * served at once (`pidbox dev`); the look-up costs a few stat calls.
 */
export class FunctionRegistry {
  readonly root: string;
  private readonly inspect: (source: Uint8Array, fileName: string) => DefaultExport;
  /** A node entry's real path → what its default export is, and the file's fingerprint then. */
  private readonly inspected = new Map<string, { print: string; found: DefaultExport }>();

  constructor(root: string, options: FunctionRegistryOptions = {}) {
    this.root = root;
    this.inspect = options.inspectDefaultExport ?? inspectDefaultExport;
  }

  /**
   * The function, or a PidboxError: INVALID_FUNCTION_NAME, FUNCTION_NOT_FOUND, INVALID_FUNCTION_CONFIG
   * (also for a folder that is a symlink or lies outside the root, a function.json that is a symlink
   * or not a regular file, and an entry that is a symlink out of the function's folder),
   * FUNCTION_BUILD_FAILED (a node entry that does not parse, has no default export, or whose default
   * export is surely not a function).
   */
  get(name: string): FunctionInfo {
    assertFunctionName(name);
    const dir = join(this.root, name);
    const kind = lstatOrNull(dir);
    if (kind?.isSymbolicLink()) {
      throw invalid(dir, `is a symbolic link; a function's folder must be a folder of its own in the functions folder ${this.root}`);
    }
    const realDir = kind?.isDirectory() ? realPathOrNull(dir) : null;
    const realRoot = realPathOrNull(this.root);
    if (!realDir || !realRoot) throw new PidboxError('FUNCTION_NOT_FOUND', `no function named "${name}"`);
    // Never so for a folder that is not a symlink, but for a root that changes under us.
    if (!isInside(realDir, realRoot)) throw invalid(dir, `lies outside the functions folder ${this.root}`);
    const found = findEntry(dir, realDir);
    if (!found) {
      throw new PidboxError('FUNCTION_NOT_FOUND', `function "${name}" has neither an index.ts/index.js nor an executable handler`);
    }
    const config = this.readConfig(dir);
    if (found.runtime === 'node') this.checkDefaultExport(name, found.entry);
    return { name, dir, ...found, config };
  }

  /** Every function that loads, and the problems of those that do not. */
  list(): { functions: FunctionInfo[]; problems: Array<{ name: string; code: string; message: string }> } {
    const functions: FunctionInfo[] = [];
    const problems: Array<{ name: string; code: string; message: string }> = [];
    let names: string[] = [];
    try {
      names = readdirSync(this.root).sort();
    } catch {
      return { functions, problems };
    }
    for (const name of names) {
      if (!isDirectory(join(this.root, name)) || name.startsWith('.')) continue;
      try {
        functions.push(this.get(name));
      } catch (error) {
        const e = error as PidboxError;
        problems.push({ name, code: e.code ?? 'INTERNAL', message: e.message });
      }
    }
    return { functions, problems };
  }

  /**
   * A node function is broken before it is called when its entry has no default export, or one that
   * is surely not a function. Looked at once per change of the entry (its inode, size, mtime and
   * ctime), so a look-up costs one stat more; anything unsure passes, and the node host checks again.
   */
  private checkDefaultExport(name: string, entry: string): void {
    const found = this.defaultExportOf(entry);
    switch (found.kind) {
      case 'none':
        throw new PidboxError('FUNCTION_BUILD_FAILED', `${shown(entry)} has no default export; a node function's module must export its handler: ${HANDLER_SHAPE}`);
      case 'not-a-function':
        throw new PidboxError('FUNCTION_BUILD_FAILED', `${shown(entry)}: the default export is ${found.what}, not a function: ${HANDLER_SHAPE}`);
      case 'syntax-error':
        throw new PidboxError('FUNCTION_BUILD_FAILED', `function "${name}" does not build: ${found.message}`);
      case 'function':
      case 'unknown':
        return;
    }
  }

  private defaultExportOf(entry: string): DefaultExport {
    const real = realPathOrNull(entry);
    const stats = real ? statOrNull(real) : null;
    if (!real || !stats) return { kind: 'unknown' };
    const cached = this.inspected.get(real);
    if (cached && cached.print === fingerprint(stats)) return cached.found;
    // Read through one descriptor, checked to be a regular file, as function.json is: esbuild is
    // given the bytes, not the path.
    let fd: number;
    try {
      fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return { kind: 'unknown' };
    }
    let found: DefaultExport;
    let print: string;
    try {
      const opened = fstatSync(fd);
      if (!opened.isFile() || opened.size > MAX_ENTRY_BYTES) return { kind: 'unknown' };
      print = fingerprint(opened);
      found = this.inspect(readFileSync(fd), shown(entry));
    } catch {
      // What the build will say when the function is called; a look-up does not fail for it.
      return { kind: 'unknown' };
    } finally {
      closeSync(fd);
    }
    if (this.inspected.size >= MAX_INSPECTED_ENTRIES) this.inspected.delete(this.inspected.keys().next().value!);
    this.inspected.delete(real);
    this.inspected.set(real, { print, found });
    return found;
  }

  private readConfig(dir: string): FunctionConfig {
    const file = join(dir, 'function.json');
    const text = readConfigText(file);
    if (text === null) return { ...DEFAULT_FUNCTION_CONFIG, env: {} };
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      // V8's message quotes the text: say where it breaks, and nothing of what is there.
      const where = jsonErrorPosition(text);
      throw invalid(file, `not valid JSON${where ? ` at line ${where.line}, column ${where.column}` : ''}`);
    }
    return parseFunctionConfig(raw, shown(file));
  }
}

/**
 * function.json's text, or null when the function has none. Opened without following a symlink
 * (O_NOFOLLOW: ELOOP) and without waiting for the writer of a FIFO (O_NONBLOCK; libuv adds
 * O_CLOEXEC), then checked through the descriptor to be a regular file, so that nothing can be
 * swapped in between the check and the read; read up to MAX_CONFIG_BYTES, even if it grows.
 */
function readConfigText(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw invalid(file, 'is a symbolic link; it must be a file of the function\'s own');
    throw invalid(file, `cannot be read (${code ?? 'unknown error'})`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw invalid(file, 'is not a regular file');
    // Sized by what fstat says (a few hundred bytes, read at every look-up), grown if it grows.
    let buffer = Buffer.allocUnsafe(Math.min(MAX_CONFIG_BYTES, stats.size) + 1);
    let length = 0;
    try {
      for (;;) {
        if (length === buffer.length) {
          if (buffer.length > MAX_CONFIG_BYTES) break;
          const larger = Buffer.allocUnsafe(Math.min(MAX_CONFIG_BYTES + 1, buffer.length * 2));
          buffer.copy(larger, 0, 0, length);
          buffer = larger;
        }
        const n = readSync(fd, buffer, length, buffer.length - length, null);
        if (n === 0) break;
        length += n;
      }
    } catch (error) {
      throw invalid(file, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
    }
    if (length > MAX_CONFIG_BYTES) throw invalid(file, `is larger than ${MAX_CONFIG_BYTES} bytes`);
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

function findEntry(dir: string, realDir: string): { runtime: FunctionRuntime; entry: string } | null {
  for (const name of NODE_ENTRIES) {
    const entry = join(dir, name);
    if (isEntryFile(entry, realDir)) return { runtime: 'node', entry };
  }
  const handler = join(dir, 'handler');
  if (isEntryFile(handler, realDir)) {
    try {
      accessSync(handler, constants.X_OK);
    } catch {
      throw invalid(handler, 'the handler is not executable (chmod +x it)');
    }
    return { runtime: 'exec', entry: handler };
  }
  return null;
}

/**
 * Whether `path` is a regular file to run: itself, or through a symlink whose real path stays
 * inside the function's folder (`realDir`). A symlink that leads out of it is refused rather than
 * skipped, so that the function does not quietly run another entry. A dangling one is absent.
 */
function isEntryFile(path: string, realDir: string): boolean {
  const stats = lstatOrNull(path);
  if (!stats) return false;
  if (!stats.isSymbolicLink()) return stats.isFile();
  const real = realPathOrNull(path);
  if (!real) return false;
  if (!isInside(real, realDir)) throw invalid(path, 'is a symbolic link to a file outside the function\'s folder');
  return isFile(real);
}

/** Whether `path` lies strictly inside `dir` (both real paths). */
function isInside(path: string, dir: string): boolean {
  return path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

function realPathOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

function lstatOrNull(path: string): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** A path as errors show it: relative to the working directory when that is shorter to read. */
function shown(path: string): string {
  return relative(process.cwd(), path) || path;
}

/** INVALID_FUNCTION_CONFIG naming the file; `message` says what is wrong, never what the file holds. */
function invalid(path: string, message: string): PidboxError {
  return new PidboxError('INVALID_FUNCTION_CONFIG', `${shown(path)}: ${message}`);
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** What changes when a file is written, replaced or touched. */
function fingerprint(stats: { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
