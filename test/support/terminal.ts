// A command on a real pseudo-terminal, as a person runs it: util-linux's `script` makes the pty, starts
// the command as the leader of a new session with the pty as its controlling terminal (so the
// command's process group is the terminal's foreground group), and copies what we write to the pty's
// master: "\x03" there is Ctrl-C, which the line discipline turns into SIGINT for the whole
// foreground process group (termios(3), ISIG).
import { spawn, type ChildProcess } from 'node:child_process';
import { findExecutable } from '../../dev/embedded-redis.js';

export interface Terminal {
  readonly child: ChildProcess;
  /** Everything the command wrote to the terminal so far (with the terminal's \r\n). */
  output(): string;
  /** Types on the terminal's keyboard. */
  type(text: string): void;
  /** Presses Ctrl-C. */
  interrupt(): void;
  /** The command's exit code (`script -e` passes it on). */
  readonly exited: Promise<number | null>;
  /** SIGKILLs `script` if it still runs (its session's processes get SIGHUP). For `after` hooks. */
  kill(): void;
}

export function runInTerminal(command: string, options: { cwd: string; env: Record<string, string> }): Terminal {
  const script = findExecutable('script');
  if (!script) throw new Error('script (util-linux, Debian package bsdutils) is not installed');
  // -q: no "Script started" lines; -e: exit with the command's code; -c: the command; /dev/null: no typescript file.
  const child = spawn(script, ['-q', '-e', '-c', command, '/dev/null'], { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdin!.on('error', () => {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    type: (text) => child.stdin!.write(text),
    interrupt: () => child.stdin!.write('\x03'),
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
