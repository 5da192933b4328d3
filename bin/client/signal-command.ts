// `pidbox signal ID SIG` (POST /invocations/{id}/signal): the sandbox's init forwards the signal to
// the function's process group. Which signals it forwards is the gateway's to say (INVALID_SIGNAL
// names them); here a name is only written the one way the route takes: `SIGUSR1`.
import { constants } from 'node:os';
import { usageError } from '../cli-error.js';
import { booleanValue, type Command } from '../command-line.js';
import { gatewayClient, segment } from './gateway-client.js';

export const signalCommand: Command = {
  name: 'signal',
  summary: "Sends a signal to a running invocation's function (its process group).",
  usage: 'ID SIGNAL [--json]',
  options: {
    json: { type: 'boolean', help: 'print the gateway\'s answer, {"id","signal"}' },
  },
  positionals: { min: 2, max: 2 },
  details: 'SIGNAL is a name (USR1, SIGUSR1, usr1) or a number (10). Exits 1 when the invocation is not running (INVOCATION_NOT_RUNNING).',
  async run(args, io) {
    const id = args.positionals[0]!;
    const signal = signalName(args.positionals[1]!);
    const { body } = await gatewayClient(io.env).json<{ id: string; signal: string }>('POST', `/invocations/${segment(id)}/signal`, { signal });
    io.stdout.write(booleanValue(args, 'json') ? `${JSON.stringify(body)}\n` : `sent ${body.signal} to ${body.id}\n`);
    return 0;
  },
};

/** `usr1`, `USR1`, `SIGUSR1` and `10` → `SIGUSR1`. */
export function signalName(text: string): string {
  if (/^\d+$/.test(text)) {
    const found = Object.entries(constants.signals).find(([, number]) => number === Number(text));
    if (!found) throw usageError(`no signal has the number ${text}`);
    return found[0];
  }
  const upper = text.toUpperCase();
  if (!/^[A-Z0-9+-]+$/.test(upper)) throw usageError(`${JSON.stringify(text)} is not a signal name`);
  return upper.startsWith('SIG') ? upper : `SIG${upper}`;
}
