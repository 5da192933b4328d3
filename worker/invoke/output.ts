import type { Readable } from 'node:stream';

/** Keeps the first `limitBytes` of a stream and drains the rest, so the writer never blocks. */
export class BoundedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  overflowed = false;

  constructor(private readonly limitBytes: number) {}

  push(chunk: Buffer): void {
    if (this.overflowed) return;
    if (this.size + chunk.length > this.limitBytes) {
      this.overflowed = true;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

/** Keeps the last `limitBytes` of everything pushed: the end of a log tells most. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Every byte pushed, kept or not. */
  seenBytes = 0;
  truncated = false;

  constructor(private readonly limitBytes: number) {}

  get keptBytes(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    this.seenBytes += chunk.length;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limitBytes && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.size - this.limitBytes;
      this.truncated = true;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

/** Resolves when the stream has ended or closed (or at once when there is none). */
export function drained(stream: Readable | null): Promise<void> {
  if (!stream || stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
}

/**
 * Holds what the worker reads from a sandbox's log streams to `bytesPerSecond`: past it, the
 * streams are paused for the rest of the second, the pipe fills, and the function waits on its
 * writes. The function's CPU is its cgroup's; the worker's, reading for it, would be no one's, and
 * a function writing as fast as it can would keep a core of the worker busy. Returns a stop function.
 */
export function throttle(streams: Readable[], bytesPerSecond: number): () => void {
  const windowMs = 100;
  const budget = (bytesPerSecond * windowMs) / 1000;
  let windowStart = performance.now();
  let used = 0;
  let timer: NodeJS.Timeout | null = null;
  const onData = (chunk: Buffer): void => {
    const now = performance.now();
    if (now - windowStart >= windowMs) {
      windowStart = now;
      used = 0;
    }
    used += chunk.length;
    if (used < budget || timer) return;
    for (const stream of streams) stream.pause();
    timer = setTimeout(() => {
      timer = null;
      windowStart = performance.now();
      used = 0;
      for (const stream of streams) stream.resume();
    }, windowMs - (now - windowStart));
  };
  for (const stream of streams) stream.on('data', onData);
  return () => {
    if (timer) clearTimeout(timer);
    timer = null;
    for (const stream of streams) {
      stream.off('data', onData);
      stream.resume();
    }
  };
}

/**
 * The end of some output as one printable string for an error message: at most `maxLines` lines of
 * the last `maxBytes` bytes, cut at a character boundary, valid UTF-8, with control characters
 * (an escape sequence for the reader's terminal, a bare CR that would overwrite the line) shown as
 * U+FFFD; `…` in front when something was left out. Empty when the output holds nothing but space.
 */
export function printableTail(output: Buffer, maxBytes: number, maxLines: number): string {
  let start = Math.max(0, output.length - maxBytes);
  // Not in the middle of a character: skip continuation bytes (10xxxxxx), at most three.
  for (let i = 0; i < 3 && start > 0 && start < output.length && (output[start]! & 0xc0) === 0x80; i++) start++;
  let cut = start > 0;
  const text = output.toString('utf8', start).replace(/\r\n/g, '\n').replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '\ufffd').trimEnd();
  let lines = text.split('\n');
  if (lines.length > maxLines) {
    lines = lines.slice(-maxLines);
    cut = true;
  }
  const tail = lines.join('\n').trimStart();
  return tail === '' ? '' : `${cut ? '…' : ''}${tail}`;
}
