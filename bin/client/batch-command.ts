// `pidbox batch NAME FILE.jsonl`: one invocation per line of FILE (POST /functions/{name}/batch takes
// NDJSON: each line is one invocation's JSON body), then its progress until every invocation has
// finished (GET /batches/{id}: counts by status), then every result, one JSON record a line.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BatchRecord } from '../../contracts/invocation-record.js';
import { CliError } from '../cli-error.js';
import { stringValue, type Command, type Io } from '../command-line.js';
import { describeCounts, progressBar, progressLine } from './batch-progress.js';
import { errorOf, gatewayClient, segment, type GatewayClient } from './gateway-client.js';
import { formatDuration } from './units.js';

/** How often the batch's counts are read. */
const POLL_MS = 250;
/** Most often a plain progress line is printed when stdout is not a terminal. */
const PLAIN_EVERY_MS = 2000;
/** Results read a page at a time (the route's most). */
const PAGE = 1000;

export const batchCommand: Command = {
  name: 'batch',
  summary: 'Runs a function once per line of a JSON Lines file, with live progress.',
  usage: 'NAME FILE.jsonl [--out RESULTS.jsonl]',
  options: {
    out: { type: 'string', short: 'o', value: 'FILE', help: 'write every result there, one JSON record a line, in the order of the input: {index, id, status, response, error}' },
  },
  positionals: { min: 2, max: 2 },
  details: `Writes every result with --out; exits 1 if any invocation did not succeed.
Each line of FILE is one invocation's JSON body ("-" reads standard input). On a terminal the progress
is one line redrawn in place; otherwise a plain line every ${PLAIN_EVERY_MS / 1000} s.`,
  async run(args, io) {
    const [name, file] = args.positionals as [string, string];
    const input = readInput(file, io);
    const outPath = stringValue(args, 'out');
    // Opened first: a place that cannot be written stops the command before anything runs.
    const out = outPath === undefined ? null : openOut(resolve(io.cwd, outPath));
    try {
      const client = gatewayClient(io.env);
      const startedAt = performance.now();
      const response = await client.request('POST', `/functions/${segment(name)}/batch`, { body: new Uint8Array(input), headers: { 'content-type': 'application/x-ndjson' } });
      if (!response.ok) throw await errorOf(response);
      const accepted = (await response.json()) as { batchId: string; count: number };
      io.stdout.write(`batch ${accepted.batchId}: ${accepted.count} invocations of ${name}\n`);
      const finished = await followProgress(client, accepted.batchId, accepted.count, startedAt, io);
      const elapsedMs = performance.now() - startedAt;
      if (out !== null) await writeResults(client, accepted.batchId, out);
      const failed = finished.count - (finished.counts.succeeded ?? 0);
      io.stdout.write(`batch ${accepted.batchId}: ${finished.count} invocations in ${formatDuration(elapsedMs)}: ${describeCounts(finished.counts)}${outPath !== undefined ? `; results in ${outPath}` : ''}\n`);
      if (failed > 0) io.stderr.write(`pidbox batch: ${failed} of ${finished.count} invocations did not succeed${outPath !== undefined ? ` (their errors are in ${outPath})` : ' (--out writes every result)'}\n`);
      return failed > 0 ? 1 : 0;
    } finally {
      if (out !== null) closeSync(out);
    }
  },
};

function readInput(file: string, io: Io): Buffer {
  try {
    return readFileSync(file === '-' ? 0 : resolve(io.cwd, file));
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

function openOut(path: string): number {
  try {
    return openSync(path, 'w', 0o644);
  } catch (error) {
    throw new CliError(`cannot write ${path}: ${(error as Error).message}`);
  }
}

/** Polls the batch until all of it has finished, drawing its progress; returns its last counts. */
async function followProgress(client: GatewayClient, batchId: string, count: number, startedAt: number, io: Io): Promise<BatchRecord> {
  const tty = io.stdout.isTTY === true;
  let lastLineAt = performance.now();
  let lastLine = '';
  for (;;) {
    const { body: batch } = await client.json<BatchRecord>('GET', `/batches/${segment(batchId)}?limit=1`);
    const figures = { total: count, counts: batch.counts, elapsedMs: performance.now() - startedAt };
    const done = batch.finishedAt !== null;
    if (tty) {
      // \r and "erase to the end of the line" (ECMA-48 EL): the line is drawn again where it was.
      io.stdout.write(`\r${progressBar(figures, io.stdout.columns || 80)}\x1b[K${done ? '\n' : ''}`);
    } else {
      const line = progressLine(figures);
      if (done || (line !== lastLine && performance.now() - lastLineAt >= PLAIN_EVERY_MS)) {
        io.stdout.write(`${line}\n`);
        lastLine = line;
        lastLineAt = performance.now();
      }
    }
    if (done) return batch;
    await new Promise((resolveDelay) => setTimeout(resolveDelay, POLL_MS));
  }
}

/** Every result, a page at a time, one JSON line each. */
async function writeResults(client: GatewayClient, batchId: string, fd: number): Promise<void> {
  let offset: number | null = 0;
  while (offset !== null) {
    const { body: page }: { body: BatchRecord } = await client.json<BatchRecord>('GET', `/batches/${segment(batchId)}?offset=${offset}&limit=${PAGE}`);
    writeSync(fd, page.results.map((result) => `${JSON.stringify(result)}\n`).join(''));
    offset = page.nextOffset;
  }
}
