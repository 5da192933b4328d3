import { accessSync, constants, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PidboxError } from '../pidbox-error.js';
import { DEFAULT_FUNCTION_CONFIG, parseFunctionConfig, type FunctionConfig } from './function-config.js';

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

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const NODE_ENTRIES = ['index.ts', 'index.mts', 'index.js', 'index.mjs'];

export function isValidFunctionName(name: string): boolean {
  return NAME.test(name);
}

export function assertFunctionName(name: string): void {
  if (!isValidFunctionName(name)) {
    throw new PidboxError(
      'INVALID_FUNCTION_NAME',
      `"${name.slice(0, 80)}" is not a valid function name: lower-case letters, digits, "-" and "_", at most 63, starting with a letter or digit`,
    );
  }
}

/**
 * Functions are read from disk at each look-up, so a changed function.json or a new folder is
 * served at once (`pidbox dev`); the look-up costs a few stat calls.
 */
export class FunctionRegistry {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** The function, or a PidboxError: INVALID_FUNCTION_NAME, FUNCTION_NOT_FOUND, INVALID_FUNCTION_CONFIG. */
  get(name: string): FunctionInfo {
    assertFunctionName(name);
    const dir = join(this.root, name);
    if (!isDirectory(dir)) throw new PidboxError('FUNCTION_NOT_FOUND', `no function named "${name}"`);
    const found = findEntry(dir);
    if (!found) {
      throw new PidboxError('FUNCTION_NOT_FOUND', `function "${name}" has neither an index.ts/index.js nor an executable handler`);
    }
    return { name, dir, ...found, config: this.readConfig(dir) };
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

  private readConfig(dir: string): FunctionConfig {
    const file = join(dir, 'function.json');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return { ...DEFAULT_FUNCTION_CONFIG, env: {} };
    }
    const shown = relative(process.cwd(), file) || file;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new PidboxError('INVALID_FUNCTION_CONFIG', `${shown}: not valid JSON (${(error as Error).message})`);
    }
    return parseFunctionConfig(raw, shown);
  }
}

function findEntry(dir: string): { runtime: FunctionRuntime; entry: string } | null {
  for (const name of NODE_ENTRIES) {
    const entry = join(dir, name);
    if (isFile(entry)) return { runtime: 'node', entry };
  }
  const handler = join(dir, 'handler');
  if (isFile(handler)) {
    try {
      accessSync(handler, constants.X_OK);
    } catch {
      throw new PidboxError('INVALID_FUNCTION_CONFIG', `${relative(process.cwd(), handler)}: the handler is not executable (chmod +x it)`);
    }
    return { runtime: 'exec', entry: handler };
  }
  return null;
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
