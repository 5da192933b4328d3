// `pidbox invoke NAME`: calls a function and prints its answer, like curl, but it knows pidbox's
// answers: the sync route sends the function's own status, headers and body, with X-Invocation-Id
// and X-Invocation-Status; a failed run answers with pidbox's error (`FUNCTION_FAILED`…) instead.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError, usageError } from '../cli-error.js';
import { booleanValue, listValue, stringValue, type Command, type Io } from '../command-line.js';
import { errorOf, gatewayClient, parseError, segment } from './gateway-client.js';

/** A header name: an HTTP token (RFC 9110, 5.6.2). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const invokeCommand: Command = {
  name: 'invoke',
  summary: 'Calls a function and prints its answer; exits 1 when the call failed.',
  usage: "NAME [-d DATA | -d @FILE | -d @-] [-H 'NAME: VALUE']... [-X METHOD] [--async [--json]] [-i]",
  options: {
    data: { type: 'string', short: 'd', value: 'DATA', help: 'the request body: text, @FILE for a file, @- for stdin (default: stdin when it is not a terminal)' },
    header: { type: 'string', short: 'H', multiple: true, value: "'NAME: VALUE'", help: 'a request header for the function' },
    request: { type: 'string', short: 'X', value: 'METHOD', help: 'the method (default: POST; another goes through /function/NAME, which takes any)' },
    async: { type: 'boolean', help: 'queue it and print its id at once (POST /functions/NAME/invocations)' },
    include: { type: 'boolean', short: 'i', help: 'print the status line and the headers first' },
    json: { type: 'boolean', help: 'with --async: print {"id","status"}' },
  },
  positionals: { min: 1, max: 1 },
  details: `Exits 1 when the call failed: an HTTP status of 400 or more, or an X-Invocation-Status other than
succeeded. Errors go to standard error as CODE: message, with the invocation's id; pidbox logs ID shows its log.
Exit codes: 0 success, 1 the call failed or the gateway said no, 2 a usage mistake.`,
  async run(args, io) {
    const name = args.positionals[0]!;
    const method = (stringValue(args, 'request') ?? 'POST').toUpperCase();
    if (!TOKEN.test(method)) throw usageError(`${JSON.stringify(method)} is not an HTTP method`);
    const isAsync = booleanValue(args, 'async');
    if (isAsync && method !== 'POST') throw usageError('--async calls take POST only (the async route queues a POST)');
    const headers = parseHeaders(listValue(args, 'header'));
    const body = await requestBody(stringValue(args, 'data'), method, io);
    const client = gatewayClient(io.env);
    const path = isAsync ? `/functions/${segment(name)}/invocations` : method === 'POST' ? `/functions/${segment(name)}` : `/function/${segment(name)}`;
    const response = await client.request(method, path, { headers, ...(body ? { body: new Uint8Array(body) } : {}) });
    if (isAsync) return printQueued(response, booleanValue(args, 'include'), booleanValue(args, 'json'), io);
    return printAnswer(name, response, booleanValue(args, 'include'), io);
  },
};

function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const headerName = colon === -1 ? '' : line.slice(0, colon).trim();
    if (!TOKEN.test(headerName)) throw usageError(`-H ${JSON.stringify(line)} is not a header: write 'Name: value'`);
    const value = line.slice(colon + 1).trim();
    headers[headerName] = headers[headerName] === undefined ? value : `${headers[headerName]}, ${value}`;
  }
  return headers;
}

/** -d DATA, -d @FILE, -d @-, or stdin when it is not a terminal; null for no body. */
async function requestBody(data: string | undefined, method: string, io: Io): Promise<Buffer | null> {
  const bodyless = method === 'GET' || method === 'HEAD';
  if (data === undefined) return bodyless || io.stdin.isTTY ? null : readAll(io.stdin);
  if (bodyless) throw usageError(`a ${method} request carries no body (-d)`);
  if (data === '@-') return readAll(io.stdin);
  if (data.startsWith('@')) {
    try {
      return readFileSync(resolve(io.cwd, data.slice(1)));
    } catch (error) {
      throw new CliError(`cannot read ${data.slice(1)}: ${(error as Error).message}`);
    }
  }
  return Buffer.from(data);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function printQueued(response: Response, include: boolean, json: boolean, io: Io): Promise<number> {
  if (!response.ok) throw await errorOf(response);
  const text = await response.text();
  if (include) {
    io.stdout.write(`${head(response)}\n${text}\n`);
    return 0;
  }
  const queued = JSON.parse(text) as { id: string; status: string };
  io.stdout.write(json ? `${JSON.stringify(queued)}\n` : `${queued.id}\n`);
  return 0;
}

async function printAnswer(name: string, response: Response, include: boolean, io: Io): Promise<number> {
  const body = Buffer.from(await response.arrayBuffer());
  const id = response.headers.get('x-invocation-id');
  const status = response.headers.get('x-invocation-status');
  const failed = response.status >= 400 || (status !== null && status !== 'succeeded');
  // pidbox's own error (the run failed, or the gateway refused the call), not the function's answer.
  const pidboxError = failed && status !== 'succeeded' ? parseError(body.toString('utf8')) : null;
  if (include) io.stdout.write(`${head(response)}\n`);
  if (include || !pidboxError) io.stdout.write(body);
  if (!failed) return 0;
  // No X-Invocation-Status: the gateway refused the call, and no invocation was made.
  const where = id && status ? ` (invocation ${id}, ${status}; pidbox logs ${id})` : '';
  io.stderr.write(pidboxError
    ? `pidbox invoke: ${pidboxError.code}: ${pidboxError.message}${where}\n`
    : `pidbox invoke: ${name} answered HTTP ${response.status}${where}\n`);
  return 1;
}

/** The status line and headers, as curl -i shows them. */
function head(response: Response): string {
  const lines = [`HTTP/1.1 ${response.status} ${response.statusText}`.trimEnd()];
  response.headers.forEach((value, headerName) => lines.push(`${headerName}: ${value}`));
  return `${lines.join('\n')}\n`;
}
