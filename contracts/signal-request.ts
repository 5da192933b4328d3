// `POST /invocations/{id}/signal`: a signal for the function's process group, delivered by the
// sandbox's init. Only the signals the init forwards are accepted (contracts/forwarded-signals.ts).
import { z } from 'zod';
import { FORWARDED_SIGNALS } from './forwarded-signals.js';

export const SignalRequestSchema = z
  .object({
    signal: z.enum(FORWARDED_SIGNALS).meta({ description: 'A signal the init forwards; SIGKILL and SIGSTOP are not.' }),
  })
  .meta({ id: 'SignalRequest' });

export type SignalRequest = z.infer<typeof SignalRequestSchema>;

export const SignalAcceptedSchema = z
  .object({ id: z.string(), signal: z.enum(FORWARDED_SIGNALS) })
  .meta({ id: 'SignalAccepted', description: "The worker running the invocation has handed the signal to the sandbox's init." });

export type SignalAccepted = z.infer<typeof SignalAcceptedSchema>;
