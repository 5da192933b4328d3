// `pidbox retry ID` (POST /invocations/{id}/retry): runs an invocation that failed, timed out or was
// cancelled again, as a new invocation with the same request, and prints the new one's id.
import { booleanValue, type Command } from '../command-line.js';
import { gatewayClient, segment } from './gateway-client.js';

export const retryCommand: Command = {
  name: 'retry',
  summary: 'Runs an invocation that did not succeed again, as a new one with the same request.',
  usage: 'ID [--json]',
  options: {
    json: { type: 'boolean', help: 'print the gateway\'s answer ({"id","status","retryOf"})' },
  },
  positionals: { min: 1, max: 1 },
  details: 'Prints the new invocation\'s id (follow it with pidbox logs -f). Exits 1 when the invocation has not ended or succeeded (INVOCATION_NOT_RETRYABLE).',
  async run(args, io) {
    const id = args.positionals[0]!;
    const { body } = await gatewayClient(io.env).json<{ id: string; status: string; retryOf: string }>('POST', `/invocations/${segment(id)}/retry`);
    io.stdout.write(booleanValue(args, 'json') ? `${JSON.stringify(body, null, 2)}\n` : `${body.id}\n`);
    return 0;
  },
};
