// The sync invocations a gateway waits for: one pub/sub subscription per process, on the `finished`
// channel, feeding a map of pending requests keyed by invocation id — not one listener per request.
// A sweep reads the status of requests that have waited a while, so a message missed while the
// subscription reconnected delays an answer by a sweep, never loses it.
import type { RedisClient } from '../redis/redis-client.js';
import { parseBusMessage } from '../contracts/bus-message.js';
import { FINAL_STATUSES, type InvocationStatus } from '../contracts/invocation.js';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import { PidboxError } from '../contracts/pidbox-error.js';
import type { InvocationStore } from '../redis/invocation-store.js';

export interface SyncWaitersOptions {
  /** A connection of its own: a subscribed connection can do nothing else. */
  subscriber: RedisClient;
  channel: string;
  store: InvocationStore;
  /** How often waiters older than this are checked by reading their status. Default: 2000. */
  sweepIntervalMs?: number;
}

interface Waiter {
  resolve(record: InvocationRecord): void;
  reject(error: Error): void;
  since: number;
}

export class SyncWaiters {
  private readonly pending = new Map<string, Set<Waiter>>();
  private readonly options: SyncWaitersOptions;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private closed = false;

  constructor(options: SyncWaitersOptions) {
    this.options = options;
  }

  /** Subscribes; resolves once messages flow. */
  async start(): Promise<void> {
    this.options.subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.options.channel) return;
      const message = parseBusMessage(text);
      if (!message) return;
      switch (message.type) {
        case 'finished':
          if (this.pending.has(message.id)) void this.settle(message.id);
          break;
        case 'cancel':
          break; // for workers
      }
    });
    await this.options.subscriber.subscribe(this.options.channel);
    const interval = this.options.sweepIntervalMs ?? 2000;
    this.sweepTimer = setInterval(() => void this.sweep(interval), interval);
    this.sweepTimer.unref();
  }

  /**
   * Waits for the invocation to finish and resolves with its record. Registers at once (before the
   * job is even added, so no `finished` can come too early); `checkNow` also reads the status at once,
   * for an invocation that existed before (an Idempotency-Key's). Rejects with SYNC_TIMEOUT after
   * `timeoutMs`; `signal` (the client went away) stops waiting.
   */
  wait(id: string, options: { timeoutMs: number; signal?: AbortSignal; checkNow?: boolean }): Promise<InvocationRecord> {
    if (this.closed) return Promise.reject(new PidboxError('SHUTTING_DOWN', 'the gateway is shutting down'));
    return new Promise<InvocationRecord>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        const set = this.pending.get(id);
        set?.delete(waiter);
        if (set?.size === 0) this.pending.delete(id);
      };
      const waiter: Waiter = {
        since: Date.now(),
        resolve: (record) => {
          cleanup();
          resolve(record);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const timer = setTimeout(
        () => waiter.reject(new PidboxError('SYNC_TIMEOUT', `invocation ${id} did not finish within ${options.timeoutMs} ms; it goes on: GET /invocations/${id}`)),
        options.timeoutMs,
      );
      const onAbort = (): void => waiter.reject(new PidboxError('INVALID_REQUEST', 'the client went away'));
      // A signal aborted already (the client left during the body read) fires no event: check it.
      if (options.signal?.aborted) {
        clearTimeout(timer);
        reject(new PidboxError('INVALID_REQUEST', 'the client went away'));
        return;
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      let set = this.pending.get(id);
      if (!set) this.pending.set(id, (set = new Set()));
      set.add(waiter);
      if (options.checkNow) void this.settle(id);
    });
  }

  /** Pending waiters, for tests and the shutdown. */
  get size(): number {
    let n = 0;
    for (const set of this.pending.values()) n += set.size;
    return n;
  }

  /** Rejects every waiter with SHUTTING_DOWN; safe to call twice. */
  close(): void {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const set of [...this.pending.values()]) {
      for (const waiter of [...set]) waiter.reject(new PidboxError('SHUTTING_DOWN', 'the gateway is shutting down'));
    }
  }

  /** Reads the record and hands it to the invocation's waiters when it is final. */
  private async settle(id: string): Promise<void> {
    let record: InvocationRecord | null;
    try {
      record = await this.options.store.get(id);
    } catch {
      return; // Redis unreachable: the sweep tries again
    }
    const set = this.pending.get(id);
    if (!set) return;
    if (!record) {
      for (const waiter of [...set]) waiter.reject(new PidboxError('INVOCATION_NOT_FOUND', `invocation ${id} no longer exists`));
      return;
    }
    if (!isFinal(record.status)) return;
    for (const waiter of [...set]) waiter.resolve(record);
  }

  private async sweep(minAgeMs: number): Promise<void> {
    if (this.sweeping) return;
    const now = Date.now();
    const ids = [...this.pending.entries()].filter(([, set]) => [...set].some((w) => now - w.since >= minAgeMs)).map(([id]) => id);
    if (ids.length === 0) return;
    this.sweeping = true;
    try {
      const statuses = await this.options.store.statuses(ids);
      await Promise.all(ids.map((id, i) => (statuses[i] === null || isFinal(statuses[i]!) ? this.settle(id) : undefined)));
    } catch {
      // Redis unreachable: next sweep.
    } finally {
      this.sweeping = false;
    }
  }
}

function isFinal(status: InvocationStatus): boolean {
  return FINAL_STATUSES.includes(status);
}
