// One command of `pidbox`: its flags and arguments read with node:util's parseArgs, its --help made
// from the same table, and the streams it works with passed in (so tests can give their own).
import { parseArgs } from 'node:util';
import { usageError } from './cli-error.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** One letter: `-d`. */
  short?: string;
  /** May be given more than once (`-H a -H b`): its value is then a list. Default: false. */
  multiple?: boolean;
  /** The value's name in the help: `--port N`. Default: `VALUE`. */
  value?: string;
  /** One line for the help. */
  help: string;
}

/** What a command reads and writes. */
export interface Io {
  env: NodeJS.ProcessEnv;
  /** Relative paths are read from here. */
  cwd: string;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
}

export type OptionValue = string | boolean | string[] | undefined;

export interface ParsedArgs {
  values: Record<string, OptionValue>;
  positionals: string[];
}

export interface Command {
  name: string;
  /** One line for `pidbox --help`. */
  summary: string;
  /** What follows the name in the usage line: `NAME [-d DATA] [--async]`. */
  usage: string;
  options: Record<string, OptionSpec>;
  /** How many arguments besides the flags it takes. */
  positionals: { min: number; max: number };
  /** Paragraphs after the options in `--help`. */
  details?: string;
  /** Returns the exit code; throws a CliError to fail with a message. */
  run(args: ParsedArgs, io: Io): Promise<number>;
}

const HELP: OptionSpec = { type: 'boolean', short: 'h', help: 'this help' };

/** The command's arguments, or 'help' when --help/-h was given (before a `--`). Throws a usage error naming what is wrong. */
export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs | 'help' {
  const end = argv.indexOf('--');
  const flags = end === -1 ? argv : argv.slice(0, end);
  if (flags.includes('--help') || flags.includes('-h')) return 'help';
  const options = Object.fromEntries(
    Object.entries(command.options).map(([name, spec]) => [
      name,
      { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) },
    ]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(`${describeParseError(error as Error & { code?: string })} (pidbox ${command.name} --help lists what it takes)`);
  }
  const { positionals } = parsed;
  if (positionals.length < command.positionals.min) {
    throw usageError(`missing arguments: usage: pidbox ${command.name} ${command.usage}`);
  }
  if (positionals.length > command.positionals.max) {
    throw usageError(`unexpected argument ${JSON.stringify(positionals[command.positionals.max])}: usage: pidbox ${command.name} ${command.usage}`);
  }
  return { values: parsed.values as Record<string, OptionValue>, positionals };
}

/** parseArgs' messages, made short and naming the flag. */
function describeParseError(error: Error & { code?: string }): string {
  // `Unknown option '--port'`, `Option '-d, --data <value>' argument missing`: the flag as given.
  const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? '';
  const named = /--[\w-]+/.exec(quoted)?.[0] ?? /^-[^,\s]+/.exec(quoted)?.[0];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${named ?? error.message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(error.message)) return `${named} takes no value`;
      if (/ambiguous/.test(error.message)) return `${named}'s value starts with "-": write it as ${named}=VALUE`;
      return `${named ?? error.message} needs a value`;
    default:
      return error.message;
  }
}

export function helpText(command: Command): string {
  const rows = Object.entries({ ...command.options, help: HELP }).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
    return [flag, spec.help + (spec.multiple ? ' (repeatable)' : '')] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return [
    `usage: pidbox ${command.name} ${command.usage}`.trimEnd(),
    '',
    command.summary,
    '',
    'options:',
    ...rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`),
    ...(command.details ? ['', command.details] : []),
  ].join('\n');
}

/** A string flag's value (the last, if it was given more than once). */
export function stringValue(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  if (Array.isArray(value)) return value[value.length - 1];
  return typeof value === 'string' ? value : undefined;
}

export function booleanValue(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

export function listValue(args: ParsedArgs, name: string): string[] {
  const value = args.values[name];
  if (Array.isArray(value)) return value;
  return typeof value === 'string' ? [value] : [];
}

/** A whole number flag from `min` to `max`, or undefined when not given. */
export function integerValue(args: ParsedArgs, name: string, min: number, max: number): number | undefined {
  const text = stringValue(args, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw usageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return value;
}
