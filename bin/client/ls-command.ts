// `pidbox ls` (GET /functions): the functions the gateway serves, a row each; the folders that fail to
// load (an invalid function.json…) are said on standard error.
import type { FunctionList } from '../../contracts/function-list.js';
import { booleanValue, type Command } from '../command-line.js';
import { gatewayClient } from './gateway-client.js';
import { formatTable } from './text-table.js';
import { formatDuration } from './units.js';

export const lsCommand: Command = {
  name: 'ls',
  summary: 'Lists the functions and their settings.',
  usage: '[--json]',
  options: {
    json: { type: 'boolean', help: 'print the list as the gateway sends it' },
  },
  positionals: { min: 0, max: 0 },
  async run(args, io) {
    const { body } = await gatewayClient(io.env).json<FunctionList>('GET', '/functions');
    if (booleanValue(args, 'json')) {
      io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      return 0;
    }
    const rows = body.functions.map((fn) => [
      fn.name,
      fn.runtime,
      formatDuration(fn.settings.timeoutMs),
      String(fn.settings.retries),
      fn.settings.concurrency === null ? '-' : String(fn.settings.concurrency),
      fn.settings.network,
      fn.settings.env.join(',') || '-',
    ]);
    if (rows.length > 0) io.stdout.write(`${formatTable(['NAME', 'RUNTIME', 'TIMEOUT', 'RETRIES', 'CONCURRENCY', 'NETWORK', 'ENV'], rows)}\n`);
    else if (body.problems.length === 0) io.stdout.write('no functions yet: pidbox new NAME\n');
    for (const problem of body.problems) io.stderr.write(`pidbox ls: ${problem.name}: ${problem.code}: ${problem.message}\n`);
    return 0;
  },
};
