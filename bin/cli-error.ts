// The one error of the command line: what to print, and the exit code. Usage mistakes (an unknown
// command or flag, a missing argument, a value that cannot be read) exit 2, like getopt-based tools;
// everything else that fails exits 1.

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  readonly exitCode: number;
  /** The gateway's error code (`FUNCTION_NOT_FOUND`…), when the gateway answered with one. */
  readonly code: string | undefined;

  constructor(message: string, options: { exitCode?: number; code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
    this.code = options.code;
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, { exitCode: EXIT_USAGE });
}
