// How a cancel reaches the worker that runs the invocation, on whichever host: every worker
// subscribes to the control channel, and the one running it aborts its sandbox. A message missed
// while the subscription reconnects is caught by a sweep of the records' cancel marks. The gateways'
// requests about a running invocation (its processes, a signal) come on the same channel, and go
// to `answer` (worker/jobs/answer-requests.ts).
import type { Redis } from 'ioredis';
import { parseBusMessage } from '../../contracts/bus-message.js';
import type { InvocationStore } from '../../redis/invocation-store.js';
import type { WorkerRequest } from './answer-requests.js';
import type { RunningInvocations } from './running-invocations.js';

export interface CancelListenerOptions {
  /** A connection of its own: a subscribed connection can do nothing else. */
  subscriber: Redis;
  channel: string;
  running: RunningInvocations;
  store: InvocationStore;
  /** Answers a request about an invocation, when it runs here. */
  answer: (request: WorkerRequest) => void;
  /** How often running invocations' records are checked for a cancel mark. Default: 2000. */
  sweepIntervalMs?: number;
}

export interface CancelListener {
  close(): Promise<void>;
}

export async function listenForCancels(options: CancelListenerOptions): Promise<CancelListener> {
  const { subscriber, running, store } = options;
  subscriber.on('message', (channel: string, text: string) => {
    if (channel !== options.channel) return;
    const message = parseBusMessage(text);
    if (!message) return;
    switch (message.type) {
      case 'cancel':
        running.abort(message.id, 'cancel');
        break;
      case 'processes':
      case 'signal':
        try {
          options.answer(message);
        } catch {
          // One request that could not be answered: the gateway's wait ends it.
        }
        break;
      case 'finished':
        break; // for gateways
    }
  });
  await subscriber.subscribe(options.channel);
  let sweeping = false;
  const sweep = setInterval(() => {
    const ids = running.ids();
    if (ids.length === 0 || sweeping) return;
    sweeping = true;
    store
      .cancelRequests(ids)
      .then((marks) => marks.forEach((marked, i) => marked && running.abort(ids[i]!, 'cancel')))
      .catch(() => {})
      .finally(() => (sweeping = false));
  }, options.sweepIntervalMs ?? 2000);
  sweep.unref();
  return {
    async close() {
      clearInterval(sweep);
    },
  };
}
