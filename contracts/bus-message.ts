// Messages on Redis pub/sub between processes, one JSON object each. `finished` goes to every gateway
// (their sync waiters), `cancel` to every worker (the one running the invocation kills its sandbox).
// Each receiver takes them through one switch.
import type { InvocationStatus } from './invocation.js';

export type BusMessage =
  | { type: 'finished'; id: string; status: InvocationStatus }
  | { type: 'cancel'; id: string };

/** Parses one message; null for anything that is not a message of this version (it is ignored). */
export function parseBusMessage(text: string): BusMessage | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const message = raw as Record<string, unknown>;
  if (typeof message.id !== 'string') return null;
  switch (message.type) {
    case 'finished':
      return typeof message.status === 'string' ? { type: 'finished', id: message.id, status: message.status as InvocationStatus } : null;
    case 'cancel':
      return { type: 'cancel', id: message.id };
    default:
      return null;
  }
}
