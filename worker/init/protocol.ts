import { StringDecoder } from 'node:string_decoder';
import { isForwardedSignal, type ForwardedSignal } from '../../contracts/forwarded-signals.js';

// Messages between a worker and the init of one of its sandboxes, one JSON object per line on the
// init's descriptor 3 (a socket pair: it is also the init's lifeline — when the worker's end closes,
// the init ends its namespace). The worker trusts nothing that comes out of a sandbox: every line is
// length-bounded and every message checked field by field (parseInitMessage), so garbage from a
// hostile sandbox ends that sandbox, never the worker.

/** What to run. Sent by the worker, once, either with the start or later (a warm sandbox). */
export interface RunSpec {
  /** argv of the function's process; argv[0] is the program (absolute, or looked up in the init's PATH). */
  argv: string[];
  /** The whole environment of the function, `NAME=value`. Nothing else is inherited. */
  env: string[];
  /** Working directory of the function. */
  cwd?: string;
  /** Give the function the init's descriptor 4 as its descriptor 3 (the node runtime's result channel). */
  resultChannel?: boolean;
  /** Most open files of the function (RLIMIT_NOFILE, soft and hard). Core dumps are always off in a sandbox. */
  maxOpenFiles?: number;
}

export type WorkerToInit =
  | { type: 'run'; spec: RunSpec }
  /**
   * A signal for the function's process group, as if the init had received it: only the signals the
   * init forwards (contracts/forwarded-signals.ts). Sent on the control socket rather than with
   * kill(2) on the init's host pid, so that it can only reach this sandbox's init, never a process
   * that took a recycled pid.
   */
  | { type: 'signal'; signal: ForwardedSignal }
  /**
   * End the call now (a cancel): the init kills every process of its namespace and reports the
   * function's exit as usual, with what it counted until then (the worker would lose those figures
   * if it killed the init itself).
   */
  | { type: 'end' };

export type InitToWorker =
  | { type: 'ready' }
  | { type: 'started'; pid: number }
  | {
      type: 'exited';
      code: number | null;
      signal: NodeJS.Signals | null;
      zombiesReaped: number;
      peakProcesses: number;
    };

/** Longest line either side accepts. A run spec carries the function's environment; 1 MiB is ample. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** A message that breaks the protocol: too long, not JSON, not a known message, or out of order. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/**
 * Splits a byte stream into lines and calls `onLine` with each complete one, as text. A character
 * split between two chunks is kept whole (StringDecoder). A line longer than `maxBytes` throws a
 * ProtocolError before it is buffered further, so a peer that never sends a newline cannot grow
 * the receiver's memory.
 */
export function lineDecoder(onLine: (line: string) => void, maxBytes = MAX_MESSAGE_BYTES): (chunk: Buffer) => void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  return (chunk) => {
    pending += decoder.write(chunk);
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.length > maxBytes) throw new ProtocolError(`a message is longer than ${maxBytes} bytes`);
      if (line.trim() !== '') onLine(line);
    }
    // Characters, not bytes: a UTF-8 character is at most 4 bytes, and never fewer characters than 1/4 of its bytes.
    if (pending.length > maxBytes) throw new ProtocolError(`a message is longer than ${maxBytes} bytes`);
  };
}

function parseObject(line: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new ProtocolError(`not JSON: ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ProtocolError('a message is not a JSON object');
  return raw as Record<string, unknown>;
}

const SIGNAL_NAME = /^SIG[A-Z0-9]{2,10}$/;

function count(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new ProtocolError(`"${field}" is not a count: ${JSON.stringify(value)}`);
  return value as number;
}

/** One message from an init, checked field by field; anything else throws a ProtocolError. */
export function parseInitMessage(line: string): InitToWorker {
  const message = parseObject(line);
  switch (message.type) {
    case 'ready':
      return { type: 'ready' };
    case 'started': {
      const pid = count(message.pid, 'pid');
      if (pid < 2) throw new ProtocolError(`"pid" ${pid} cannot be the function's`);
      return { type: 'started', pid };
    }
    case 'exited': {
      const code = message.code === null ? null : count(message.code, 'code');
      if (code !== null && code > 255) throw new ProtocolError(`"code" ${code} is not an exit code`);
      const signal = message.signal;
      if (signal !== null && (typeof signal !== 'string' || !SIGNAL_NAME.test(signal))) throw new ProtocolError(`"signal" is not a signal name`);
      if ((code === null) === (signal === null)) throw new ProtocolError('an exit has either a code or a signal');
      return {
        type: 'exited',
        code,
        signal: signal as NodeJS.Signals | null,
        zombiesReaped: count(message.zombiesReaped, 'zombiesReaped'),
        peakProcesses: count(message.peakProcesses, 'peakProcesses'),
      };
    }
    default:
      throw new ProtocolError(`unknown message type ${JSON.stringify(message.type)?.slice(0, 40)}`);
  }
}

/** The worker's message, as the init reads it (the init trusts its worker, but not blindly its bytes). */
export function parseWorkerMessage(line: string): WorkerToInit {
  const message = parseObject(line);
  switch (message.type) {
    case 'run': {
      const spec = message.spec as RunSpec | undefined;
      const strings = (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === 'string');
      if (!spec || !strings(spec.argv) || spec.argv.length === 0 || !strings(spec.env)) throw new ProtocolError('a run message needs argv and env');
      return { type: 'run', spec };
    }
    case 'signal':
      // SIGKILL and SIGSTOP would bypass the init (its timeout, its exit report): never forwarded.
      if (!isForwardedSignal(message.signal)) throw new ProtocolError(`"signal" is not a signal the init forwards: ${JSON.stringify(message.signal)?.slice(0, 40)}`);
      return { type: 'signal', signal: message.signal };
    case 'end':
      return { type: 'end' };
    default:
      throw new ProtocolError(`unknown message type ${JSON.stringify(message.type)?.slice(0, 40)}`);
  }
}
