// `pidbox get ID`: one invocation's record (GET /invocations/{id}), readable, or as it is with --json.
import type { InvocationRecord } from '../../contracts/invocation-record.js';
import { booleanValue, type Command } from '../command-line.js';
import { gatewayClient, segment } from './gateway-client.js';
import { formatBytes, formatDuration } from './units.js';

/** Lines of the log's end shown. */
const LOG_LINES = 10;

export const getCommand: Command = {
  name: 'get',
  summary: 'Shows an invocation: status, times, exit, sandbox, error, the end of its log.',
  usage: 'ID [--json]',
  options: {
    json: { type: 'boolean', help: 'print the record as the gateway sends it (README, "HTTP API")' },
  },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const { body: record } = await gatewayClient(io.env).json<InvocationRecord>('GET', `/invocations/${segment(args.positionals[0]!)}`);
    io.stdout.write(booleanValue(args, 'json') ? `${JSON.stringify(record, null, 2)}\n` : describeRecord(record));
    return 0;
  },
};

/** The record as labelled lines; what is not known yet (a queued invocation's exit…) is left out. */
export function describeRecord(record: InvocationRecord): string {
  const rows: Array<[string, string]> = [
    ['id', record.id],
    ['function', record.function],
    ['status', `${record.status} (attempt ${record.attempts} of ${record.maxAttempts})`],
    ['created', `${record.createdAt}${record.timings.queuedMs !== null ? `, queued ${formatDuration(record.timings.queuedMs)}` : ''}`],
  ];
  if (record.startedAt) rows.push(['started', `${record.startedAt}${record.timings.startMs !== null ? `, sandbox ready in ${formatDuration(record.timings.startMs)}` : ''}`]);
  if (record.finishedAt) rows.push(['finished', `${record.finishedAt}${record.timings.runMs !== null ? `, ran ${formatDuration(record.timings.runMs)}` : ''}`]);
  if (record.exit) rows.push(['exit', record.exit.signal ? `signal ${record.exit.signal}` : `code ${record.exit.code ?? '-'}`]);
  if (record.sandbox) {
    const s = record.sandbox;
    const facts = [`init host pid ${s.hostPid}`, s.pidNamespace];
    if (s.peakProcesses !== null) facts.push(`at most ${s.peakProcesses} ${s.peakProcesses === 1 ? 'process' : 'processes'}`);
    if (s.cpuMs !== null) facts.push(`${formatDuration(s.cpuMs)} CPU`);
    if (s.memoryPeakBytes !== null) facts.push(`at most ${formatBytes(s.memoryPeakBytes)} of memory`);
    if (s.prestarted !== null) facts.push(s.prestarted ? 'pre-started' : 'started for the call');
    rows.push(['sandbox', facts.join(', ')]);
  }
  if (record.worker) rows.push(['worker', record.worker]);
  if (record.batchId) rows.push(['batch', record.batchId]);
  if (record.error) rows.push(['error', `${record.error.code}: ${record.error.message}`]);
  if (record.response) {
    const type = record.response.headers['content-type'] ?? Object.entries(record.response.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
    const size = record.response.bodyEncoding === 'base64' ? Buffer.from(record.response.body, 'base64').length : Buffer.byteLength(record.response.body);
    rows.push(['response', `HTTP ${record.response.status}${type ? `, ${type}` : ''}, ${formatBytes(size)}`]);
  }
  if (record.callback) rows.push(['callback', `${record.callback.status} after ${record.callback.attempts} attempts: ${record.callback.url}${record.callback.lastError ? ` (${record.callback.lastError})` : ''}`]);
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
  if (record.log) {
    // The record keeps the log's last bytes (its first line may be the end of a longer one): its last lines.
    const all = record.log.replace(/\n$/, '').split('\n');
    const shown = all.slice(-LOG_LINES);
    lines.push(shown.length < all.length ? `log (its last ${shown.length} lines; pidbox logs ${record.id} prints it all):` : 'log:');
    lines.push(...shown.map((line) => `  ${line}`));
  }
  return `${lines.join('\n')}\n`;
}
