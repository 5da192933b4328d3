// Messages on Redis pub/sub between processes, one JSON object each. `finished` goes to every gateway
// (their sync waiters), `cancel` to every worker (the one running the invocation kills its sandbox).
// Each receiver takes them through one switch.
import { z } from 'zod';
import { InvocationStatus } from './invocation.js';

export const BusMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('finished'), id: z.string(), status: InvocationStatus }),
  z.object({ type: z.literal('cancel'), id: z.string() }),
]);
export type BusMessage = z.infer<typeof BusMessage>;

/** Parses one message; null for anything that is not a message of this version (it is ignored). */
export function parseBusMessage(text: string): BusMessage | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  const result = BusMessage.safeParse(raw);
  return result.success ? result.data : null;
}
