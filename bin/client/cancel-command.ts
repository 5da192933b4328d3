// `pidbox cancel ID` (DELETE /invocations/{id}): a queued invocation never runs; a running one has its
// sandbox killed by its worker, wherever that is.
import type { InvocationRecord } from '../../contracts/invocation-record.js';
import { booleanValue, type Command } from '../command-line.js';
import { gatewayClient, segment } from './gateway-client.js';

export const cancelCommand: Command = {
  name: 'cancel',
  summary: 'Cancels an invocation: a queued one never runs, a running one is killed.',
  usage: 'ID [--json]',
  options: {
    json: { type: 'boolean', help: 'print the record the gateway answers with' },
  },
  positionals: { min: 1, max: 1 },
  details: 'Exits 1 when the invocation had already finished (INVOCATION_FINISHED).',
  async run(args, io) {
    const id = args.positionals[0]!;
    const { status, body: record } = await gatewayClient(io.env).json<InvocationRecord>('DELETE', `/invocations/${segment(id)}`);
    if (booleanValue(args, 'json')) io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
    // 202: its worker has not reported within the gateway's wait; it will.
    else io.stdout.write(status === 202 ? `cancelling ${id}: its worker has not confirmed yet (pidbox get ${id})\n` : `cancelled ${id}\n`);
    return 0;
  },
};
