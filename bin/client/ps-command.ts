// `pidbox ps`: recent invocations, newest first (GET /invocations); `pidbox ps ID`: the processes of
// a running invocation, as its sandbox sees them (GET /invocations/{id}/processes: the init is pid 1).
import type { InvocationSummary } from '../../contracts/invocation-list.js';
import type { SandboxProcess } from '../../contracts/process-list.js';
import { booleanValue, integerValue, stringValue, type Command } from '../command-line.js';
import { gatewayClient, segment } from './gateway-client.js';
import { formatTable } from './text-table.js';
import { formatAge, formatBytes, formatDuration } from './units.js';

export const psCommand: Command = {
  name: 'ps',
  summary: 'Lists recent invocations; with an ID, the processes of its sandbox.',
  usage: '[ID] [--function NAME] [--status STATUS] [--limit N] [--json]',
  options: {
    function: { type: 'string', value: 'NAME', help: "only this function's invocations" },
    status: { type: 'string', value: 'STATUS', help: 'only those in this status: queued, running, succeeded, failed, timed_out, cancelled' },
    limit: { type: 'string', value: 'N', help: 'at most N, from 1 to 100 (default: 20)' },
    json: { type: 'boolean', help: 'print what the gateway sends' },
  },
  positionals: { min: 0, max: 1 },
  details: 'With an ID, pids are those of the sandbox\'s PID namespace: its init is 1. Exits 1 when it is not running (INVOCATION_NOT_RUNNING).',
  async run(args, io) {
    const client = gatewayClient(io.env);
    const json = booleanValue(args, 'json');
    const id = args.positionals[0];
    if (id !== undefined) {
      const { body } = await client.json<{ processes: SandboxProcess[]; truncated: boolean }>('GET', `/invocations/${segment(id)}/processes`);
      io.stdout.write(json ? `${JSON.stringify(body, null, 2)}\n` : `${formatTable(
        ['PID', 'PPID', 'STATE', 'RSS', 'CPU', 'COMMAND'],
        body.processes.map((p) => [String(p.pid), String(p.ppid), p.state, formatBytes(p.rssBytes), formatDuration(p.cpuMs), p.command]),
      )}\n`);
      // The gateway bounds one answer: a fork bomb's thousands of processes are not all listed.
      if (!json && body.truncated) io.stderr.write(`pidbox ps: more processes run than the gateway lists: these are the first ${body.processes.length} by pid\n`);
      return 0;
    }
    const query = new URLSearchParams();
    const fn = stringValue(args, 'function');
    const status = stringValue(args, 'status');
    const limit = integerValue(args, 'limit', 1, 100);
    if (fn !== undefined) query.set('function', fn);
    if (status !== undefined) query.set('status', status);
    if (limit !== undefined) query.set('limit', String(limit));
    const { body } = await client.json<{ invocations: InvocationSummary[]; nextCursor: string | null }>('GET', `/invocations${query.size > 0 ? `?${query}` : ''}`);
    if (json) {
      io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      return 0;
    }
    if (body.invocations.length === 0) {
      io.stdout.write('no invocations\n');
      return 0;
    }
    const now = Date.now();
    io.stdout.write(`${formatTable(
      ['ID', 'FUNCTION', 'STATUS', 'ATTEMPTS', 'CREATED', 'RAN', 'ERROR'],
      body.invocations.map((i) => [
        i.id,
        i.function,
        i.status,
        `${i.attempts}/${i.maxAttempts}`,
        formatAge(i.createdAt, now),
        formatDuration(i.timings.runMs),
        i.error?.code ?? '',
      ]),
    )}\n`);
    return 0;
  },
};
