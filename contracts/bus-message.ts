// Messages on Redis pub/sub between processes, one JSON object each. `finished` goes to every gateway
// (their sync waiters); `cancel`, `processes` and `signal` to every worker on the control channel
// (the one running the invocation acts; the others ignore it). `processes` and `signal` are
// requests: the worker that runs the invocation answers with a BusReply on the asking gateway's
// reply channel (`replyTo`), under the request's id. Each receiver takes them through one switch.
import { z } from 'zod';
import { FORWARDED_SIGNALS } from './forwarded-signals.js';
import { InvocationStatus } from './invocation.js';
import { SandboxProcessSchema } from './process-list.js';

export const BusMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('finished'), id: z.string(), status: InvocationStatus }),
  z.object({ type: z.literal('cancel'), id: z.string() }),
  z.object({ type: z.literal('processes'), id: z.string(), requestId: z.string(), replyTo: z.string() }),
  z.object({ type: z.literal('signal'), id: z.string(), signal: z.enum(FORWARDED_SIGNALS), requestId: z.string(), replyTo: z.string() }),
]);
export type BusMessage = z.infer<typeof BusMessage>;

/** A worker's answer to a request; `refused` when the invocation is not running there (or no longer). */
export const BusReply = z.discriminatedUnion('type', [
  z.object({ type: z.literal('processes'), requestId: z.string(), processes: z.array(SandboxProcessSchema), truncated: z.boolean() }),
  z.object({ type: z.literal('signalled'), requestId: z.string() }),
  z.object({ type: z.literal('refused'), requestId: z.string(), code: z.enum(['INVOCATION_NOT_RUNNING', 'INVALID_SIGNAL']), message: z.string() }),
]);
export type BusReply = z.infer<typeof BusReply>;

/** Parses one message; null for anything that is not a message of this version (it is ignored). */
export function parseBusMessage(text: string): BusMessage | null {
  const result = BusMessage.safeParse(parseJson(text));
  return result.success ? result.data : null;
}

/** Parses one reply; null for anything that is not a reply of this version (it is ignored). */
export function parseBusReply(text: string): BusReply | null {
  const result = BusReply.safeParse(parseJson(text));
  return result.success ? result.data : null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
