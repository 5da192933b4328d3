import { StringDecoder } from 'node:string_decoder';

// Messages between a worker and the init of one of its sandboxes, one JSON object per line on the
// init's descriptor 3 (a socket pair: it is also the init's lifeline — when the worker's end closes,
// the init ends its namespace).

/** What to run. Sent by the worker, once, either with the start or later (a warm sandbox). */
export interface RunSpec {
  /** argv of the function's process; argv[0] is the program (absolute, or looked up in the init's PATH). */
  argv: string[];
  /** The whole environment of the function, `NAME=value`. Nothing else is inherited. */
  env: string[];
  /** Working directory of the function. */
  cwd?: string;
  /** Hostname inside the sandbox (needs a UTS namespace). */
  hostname?: string;
  /** Give the function the init's descriptor 4 as its descriptor 3 (the node runtime's result channel). */
  resultChannel?: boolean;
}

export type WorkerToInit = { type: 'run'; spec: RunSpec };

export type InitToWorker =
  | { type: 'ready'; pidNamespace: string }
  | { type: 'started'; pid: number }
  | {
      type: 'exited';
      code: number | null;
      signal: NodeJS.Signals | null;
      zombiesReaped: number;
      peakProcesses: number;
    };

/**
 * Splits a byte stream into JSON lines, calling `onMessage` for each complete one. A character split
 * between two chunks is kept whole (StringDecoder).
 */
export function lineDecoder<T>(onMessage: (message: T) => void): (chunk: Buffer) => void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  return (chunk) => {
    pending += decoder.write(chunk);
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.trim() !== '') onMessage(JSON.parse(line) as T);
    }
  };
}
