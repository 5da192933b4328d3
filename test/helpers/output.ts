import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';

/** Everything a stream has delivered so far, and a way to wait for some text in it. */
export interface Output {
  bytes(): Buffer;
  text(): string;
  /** Resolves once the output contains `needle`; rejects if the stream ends first or after `timeoutMs`. */
  waitFor(needle: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves when the stream has ended. */
  readonly ended: Promise<void>;
}

export function collectOutput(stream: Readable): Output {
  const chunks: Buffer[] = [];
  let cached: Buffer | null = null;
  let isEnded = false;
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of [...listeners]) listener();
  };
  const bytes = (): Buffer => (cached ??= Buffer.concat(chunks));
  const text = (): string => bytes().toString('latin1');
  const ended = new Promise<void>((resolve) => {
    const end = (): void => {
      isEnded = true;
      notify();
      resolve();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  });
  stream.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    cached = null;
    notify();
  });
  const contains = (needle: string | RegExp): boolean =>
    typeof needle === 'string' ? text().includes(needle) : needle.test(text());
  return {
    bytes,
    text,
    ended,
    waitFor(needle, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (contains(needle)) done(null);
          else if (isEnded) done(new Error(`output ended without ${String(needle)}; it was: ${JSON.stringify(text())}`));
        };
        const timer = setTimeout(
          () => done(new Error(`timed out waiting for ${String(needle)}; output so far: ${JSON.stringify(text())}`)),
          timeoutMs,
        );
        const done = (error: Error | null): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** The numbers after `word` on the line that starts with it: "adopted 200 0" gives [200, 0]. */
export function numbersAfter(output: Output, word: string): number[] {
  const match = new RegExp(`^${word} (.*)$`, 'm').exec(output.text());
  assert.ok(match, `no line "${word} …" in ${JSON.stringify(output.text())}`);
  return match[1]!.split(' ').map(Number);
}
