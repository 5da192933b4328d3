// Messages on Redis pub/sub between processes, one JSON object each. `finished` goes to every gateway
// (their sync waiters); `cancel`, `processes` and `signal` to every worker on the control channel
// (the one running the invocation acts; the others ignore it). `processes` and `signal` are
// requests: the worker that runs the invocation answers with a BusReply on the asking gateway's
// reply channel (`replyTo`), under the request's id. Each receiver takes them through one switch.
import { isForwardedSignal, type ForwardedSignal } from './forwarded-signals.js';
import type { InvocationStatus } from './invocation.js';
import { ProcessListSchema, type SandboxProcess } from './process-list.js';

export type BusMessage =
  | { type: 'finished'; id: string; status: InvocationStatus }
  | { type: 'cancel'; id: string }
  | { type: 'processes'; id: string; requestId: string; replyTo: string }
  | { type: 'signal'; id: string; signal: ForwardedSignal; requestId: string; replyTo: string };

/** A worker's answer to a request; `refused` when the invocation is not running there (or no longer). */
export type BusReply =
  | { type: 'processes'; requestId: string; processes: SandboxProcess[]; truncated: boolean }
  | { type: 'signalled'; requestId: string }
  | { type: 'refused'; requestId: string; code: 'INVOCATION_NOT_RUNNING' | 'INVALID_SIGNAL'; message: string };

/** Parses one message; null for anything that is not a message of this version (it is ignored). */
export function parseBusMessage(text: string): BusMessage | null {
  const message = parseObject(text);
  if (message === null || typeof message.id !== 'string') return null;
  switch (message.type) {
    case 'finished':
      return typeof message.status === 'string' ? { type: 'finished', id: message.id, status: message.status as InvocationStatus } : null;
    case 'cancel':
      return { type: 'cancel', id: message.id };
    case 'processes':
      if (typeof message.requestId !== 'string' || typeof message.replyTo !== 'string') return null;
      return { type: 'processes', id: message.id, requestId: message.requestId, replyTo: message.replyTo };
    case 'signal':
      if (typeof message.requestId !== 'string' || typeof message.replyTo !== 'string' || !isForwardedSignal(message.signal)) return null;
      return { type: 'signal', id: message.id, signal: message.signal, requestId: message.requestId, replyTo: message.replyTo };
    default:
      return null;
  }
}

/** Parses one reply; null for anything that is not a reply of this version (it is ignored). */
export function parseBusReply(text: string): BusReply | null {
  const reply = parseObject(text);
  if (reply === null || typeof reply.requestId !== 'string') return null;
  switch (reply.type) {
    case 'processes': {
      const list = ProcessListSchema.safeParse({ processes: reply.processes, truncated: reply.truncated });
      return list.success ? { type: 'processes', requestId: reply.requestId, ...list.data } : null;
    }
    case 'signalled':
      return { type: 'signalled', requestId: reply.requestId };
    case 'refused':
      if ((reply.code !== 'INVOCATION_NOT_RUNNING' && reply.code !== 'INVALID_SIGNAL') || typeof reply.message !== 'string') return null;
      return { type: 'refused', requestId: reply.requestId, code: reply.code, message: reply.message };
    default:
      return null;
  }
}

function parseObject(text: string): Record<string, unknown> | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
}
