// Writes one run's log to Redis as the function writes it. Bounded: the first half of
// `maxBytes` goes out live; past it, only the last half is kept, written when the run ends after a
// `gap` entry that says how much was dropped — the start and the end of a log tell most.
// Chunks are gathered for a few milliseconds so a chatty function costs few Redis commands.
import type { Logger } from '../../telemetry/logger.js';
import type { LogStore } from '../../redis/log-store.js';
import { TailBuffer } from '../invoke/output.js';

export interface LogSinkOptions {
  /** Most bytes kept of this run's log. */
  maxBytes: number;
  /** TTL of the log stream while the invocation is not finished (the finish sets the final one). */
  ttlSeconds: number;
  /** How long chunks are gathered before they are written. Default: 25. */
  flushDelayMs?: number;
  /** Where a failure to write the log is reported. Default: a plain line on standard error. */
  log?: Pick<Logger, 'error'>;
}

export class LogSink {
  private headLeft: number;
  private readonly tail: TailBuffer;
  private pendingChunks: Buffer[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(
    private readonly logs: LogStore,
    private readonly id: string,
    private readonly options: LogSinkOptions,
  ) {
    this.headLeft = Math.ceil(options.maxBytes / 2);
    this.tail = new TailBuffer(Math.floor(options.maxBytes / 2));
  }

  /** Marks the start of a run after the first. */
  attempt(attempt: number): void {
    this.enqueue(() => this.logs.append(this.id, { type: 'attempt', attempt }, this.options.ttlSeconds));
  }

  write(chunk: Buffer): void {
    if (this.headLeft > 0) {
      const head = chunk.subarray(0, this.headLeft);
      this.headLeft -= head.length;
      this.pendingChunks.push(head);
      this.timer ??= setTimeout(() => this.flush(), this.options.flushDelayMs ?? 25);
      chunk = chunk.subarray(head.length);
    }
    if (chunk.length > 0) this.tail.push(chunk);
  }

  /** Writes what is left (the kept tail after its gap) and waits for every write. Never throws. */
  async close(): Promise<void> {
    this.flush();
    if (this.tail.seenBytes > 0) {
      const dropped = this.tail.seenBytes - this.tail.keptBytes;
      const tail = this.tail.toBuffer();
      if (dropped > 0) this.enqueue(() => this.logs.append(this.id, { type: 'gap', droppedBytes: dropped }, this.options.ttlSeconds));
      this.enqueue(() => this.logs.append(this.id, { type: 'data', bytes: tail }, this.options.ttlSeconds));
    }
    await this.writing;
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pendingChunks.length === 0) return;
    const bytes = Buffer.concat(this.pendingChunks);
    this.pendingChunks = [];
    this.enqueue(() => this.logs.append(this.id, { type: 'data', bytes }, this.options.ttlSeconds));
  }

  // Writes go out one after another, in order. A log that cannot be written does not fail the
  // invocation: it is said once, and the record still gets the end of the log.
  private enqueue(write: () => Promise<void>): void {
    this.writing = this.writing.then(write).catch((error: Error) => {
      if (this.failed) return;
      this.failed = true;
      if (this.options.log) this.options.log.error('the log of an invocation could not be written', { invocation_id: this.id, error: error.message });
      else console.error(`pidbox worker: the log of invocation ${this.id} could not be written: ${error.message}`);
    });
  }
}
