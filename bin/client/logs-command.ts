// `pidbox logs ID [-f]`: an invocation's log (GET /invocations/{id}/logs); with -f, followed as it is
// written until the invocation ends (?follow=true: server-sent events, `log` then `end`).
import { CliError } from '../cli-error.js';
import { booleanValue, type Command } from '../command-line.js';
import { readEvents } from './event-stream.js';
import { errorOf, gatewayClient, segment } from './gateway-client.js';

export const logsCommand: Command = {
  name: 'logs',
  summary: "Prints an invocation's log; -f follows it until the invocation ends.",
  usage: 'ID [-f]',
  options: {
    follow: { type: 'boolean', short: 'f', help: 'keep printing as the function writes, until the invocation ends' },
  },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const path = `/invocations/${segment(args.positionals[0]!)}/logs`;
    const client = gatewayClient(io.env);
    if (!booleanValue(args, 'follow')) {
      const response = await client.request('GET', path);
      if (!response.ok) throw await errorOf(response);
      io.stdout.write(Buffer.from(await response.arrayBuffer()));
      return 0;
    }
    const response = await client.request('GET', `${path}?follow=true`, { headers: { accept: 'text/event-stream' } });
    if (!response.ok) throw await errorOf(response);
    for await (const event of readEvents(response.body!)) {
      switch (event.event) {
        case 'log':
          io.stdout.write(event.data);
          break;
        case 'end':
          return 0;
        case 'error':
          throw new CliError(`the log stream failed: ${event.data}`);
      }
    }
    throw new CliError('the log stream ended before the invocation did (the gateway stopped, or the record expired)');
  },
};
