// `pidbox new NAME`: a new function's folder, ready to call.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { FunctionRuntime } from '../../registry/function-registry.js';
import { CliError, usageError } from '../cli-error.js';
import { stringValue, type Command } from '../command-line.js';
import { functionTemplate } from './function-template.js';
import { DEFAULT_URL } from './gateway-client.js';

const RUNTIMES: readonly FunctionRuntime[] = ['node', 'exec'];

export const newCommand: Command = {
  name: 'new',
  summary: 'Creates a function folder: index.ts and package.json (node) or handler (exec), and function.json.',
  usage: 'NAME [--runtime node|exec] [--dir FUNCTIONS_DIR]',
  options: {
    runtime: { type: 'string', value: 'node|exec', help: 'the runtime (default: node)' },
    dir: { type: 'string', value: 'DIR', help: 'the functions folder (default: PIDBOX_FUNCTIONS_DIR, else ./functions); made if missing' },
  },
  positionals: { min: 1, max: 1 },
  details: `A name is lower-case letters, digits, "-" and "_", at most 63, starting with a letter or digit.
An existing folder is never touched. function.json's "$schema" is <PIDBOX_URL>/schemas/function.json.`,
  async run(args, io) {
    const name = args.positionals[0]!;
    // Loaded here: the registry brings function.json's schema (zod), which no other command needs.
    const { isValidFunctionName } = await import('../../registry/function-registry.js');
    if (!isValidFunctionName(name)) {
      throw usageError(`"${name.slice(0, 80)}" is not a valid function name: lower-case letters, digits, "-" and "_", at most 63, starting with a letter or digit`);
    }
    const runtime = stringValue(args, 'runtime') ?? 'node';
    if (!RUNTIMES.includes(runtime as FunctionRuntime)) throw usageError(`--runtime must be node or exec, got ${JSON.stringify(runtime)}`);
    const functionsDir = resolve(io.cwd, stringValue(args, 'dir') ?? (io.env.PIDBOX_FUNCTIONS_DIR?.trim() || './functions'));
    const dir = join(functionsDir, name);
    mkdirSync(functionsDir, { recursive: true, mode: 0o755 });
    try {
      // Not recursive: fails on anything already there, folder or file, so nothing is overwritten.
      mkdirSync(dir, { mode: 0o755 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${dir} already exists; nothing was changed`);
      throw new CliError(`cannot create ${dir}: ${(error as Error).message}`);
    }
    // The umask may have taken o+rx away: the sandbox's user must read the folder.
    chmodSync(dir, 0o755);
    const schemaUrl = `${(io.env.PIDBOX_URL?.trim() || DEFAULT_URL).replace(/\/+$/, '')}/schemas/function.json`;
    const files = functionTemplate(name, runtime as FunctionRuntime, schemaUrl);
    for (const file of files) {
      const path = join(dir, file.path);
      writeFileSync(path, file.content, { mode: file.mode, flag: 'wx' });
      chmodSync(path, file.mode);
    }
    const shown = relative(io.cwd, dir) || '.';
    const width = Math.max(...files.map((f) => f.path.length));
    io.stdout.write([
      `created ${shown.startsWith('..') ? dir : shown}/ (${runtime})`,
      ...files.map((f) => `  ${f.path.padEnd(width)}  ${f.about}`),
      `call it: pidbox invoke ${name} -d 'hello'`,
      '',
    ].join('\n'));
    return 0;
  },
};
