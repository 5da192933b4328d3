// The cap on the queue's length: past PIDBOX_MAX_QUEUED waiting jobs, new invocations are answered
// 429. The count is read at most every quarter second, so a burst costs Redis one command.
import type { Queue } from 'bullmq';
import { PidboxError } from '../contracts/pidbox-error.js';

const FRESH_MS = 250;

export class QueueDepth {
  private count = 0;
  private readAt = 0;
  private reading: Promise<number> | null = null;

  constructor(
    private readonly queue: Queue,
    private readonly max: number,
  ) {}

  /** Throws TOO_MANY_REQUESTS when `adding` more jobs would pass the cap. */
  async check(adding: number): Promise<void> {
    const waiting = await this.current();
    if (waiting + adding > this.max) {
      throw new PidboxError('TOO_MANY_REQUESTS', `the queue holds ${waiting} waiting invocations (at most ${this.max}); try again shortly`);
    }
    this.count += adding;
  }

  private current(): Promise<number> {
    if (Date.now() - this.readAt < FRESH_MS) return Promise.resolve(this.count);
    this.reading ??= this.queue
      .getJobCountByTypes('wait', 'delayed', 'prioritized')
      .then((count) => {
        this.count = count;
        this.readAt = Date.now();
        return count;
      })
      .finally(() => (this.reading = null));
    return this.reading;
  }
}
