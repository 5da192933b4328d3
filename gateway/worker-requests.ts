// A gateway's requests to the worker that runs an invocation, wherever it is: the request goes to
// every worker on the control channel, with this gateway's reply channel and an id of its own; the
// worker that runs the invocation answers there (worker/jobs/answer-requests.ts). A gateway has one
// subscription for all its replies, and waits a bounded time for each: no answer means no worker
// runs the invocation (it has just ended, or its worker was lost).
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { parseBusReply, type BusMessage, type BusReply } from '../contracts/bus-message.js';

/** A request as the routes make it; the id and reply channel are added here. */
export type WorkerRequestBody =
  | { type: 'processes'; id: string }
  | { type: 'signal'; id: string; signal: Extract<BusMessage, { type: 'signal' }>['signal'] };

export interface WorkerRequestsOptions {
  /** A connection of its own: a subscribed connection can do nothing else. */
  subscriber: Redis;
  /** Where requests are published: the gateway's command connection. */
  publisher: Redis;
  /** The workers' control channel (RedisKeys.controlChannel). */
  controlChannel: string;
  /** This gateway's reply channel (RedisKeys.replyChannel of an id of its own). */
  replyChannel: string;
}

export class WorkerRequests {
  private readonly pending = new Map<string, (reply: BusReply | null) => void>();
  private readonly onMessage = (channel: string, text: string): void => {
    if (channel !== this.options.replyChannel) return;
    const reply = parseBusReply(text);
    if (reply) this.pending.get(reply.requestId)?.(reply);
  };

  constructor(private readonly options: WorkerRequestsOptions) {}

  async start(): Promise<void> {
    this.options.subscriber.on('message', this.onMessage);
    await this.options.subscriber.subscribe(this.options.replyChannel);
  }

  /**
   * Sends `request` to the workers and resolves with the answer of the one that runs the
   * invocation, or null when none answers within `timeoutMs` (or no worker listens at all).
   */
  async ask(request: WorkerRequestBody, timeoutMs: number): Promise<BusReply | null> {
    const requestId = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<BusReply | null>((resolve) => {
      this.pending.set(requestId, resolve);
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    try {
      const message: BusMessage = { ...request, requestId, replyTo: this.options.replyChannel };
      const listeners = await this.options.publisher.publish(this.options.controlChannel, JSON.stringify(message));
      if (listeners === 0) return null; // no worker at all
      return await answered;
    } finally {
      clearTimeout(timer);
      this.pending.delete(requestId);
    }
  }

  /** Stops listening; requests still waiting end as unanswered. Safe to call twice. */
  close(): void {
    this.options.subscriber.off('message', this.onMessage);
    for (const resolve of this.pending.values()) resolve(null);
    this.pending.clear();
  }
}
