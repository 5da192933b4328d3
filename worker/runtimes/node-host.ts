// Runs inside the sandbox as the function's process for node functions:
//   node /var/runtime/node-host.cjs
// It may start before anyone knows which function it will run (a pre-started sandbox). It loads
// Node's Request and Response (undici: tens of milliseconds at their first use), says `ready` on
// descriptor 3, and waits there (host-protocol.ts): `load` sets the function's environment and
// imports its bundle — the module's top level runs then, before any request, as in Lambda's init
// phase — and `invoke` hands it one request, whose body comes on stdin. The answer goes back on
// descriptor 3 (a header line with the status, headers, recorded spans and the body's length, then
// the body) and the host exits: every call gets a host of its own. stdout and stderr are the
// function's log. It waits with blocking reads: between `load` and `invoke` the function's module
// is frozen, as a Lambda execution environment is between calls.
//
// When the invocation is traced and the function imports @opentelemetry/api, the host registers a
// recording tracer (function-tracer.ts) before the module loads, makes the invocation's context the
// active one around the handler, and returns the finished spans with the response.

import { readFileSync, readSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { HostToWorker, InvocationContext, WorkerToHost } from './host-protocol.js';

const CHANNEL_FD = 3;
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

interface FunctionTracing {
  run<T>(parent: string | undefined, fn: () => T): T;
  spans(): unknown[];
}

// ---- the channel --------------------------------------------------------------------------------

let pending = Buffer.alloc(0);
const chunk = Buffer.alloc(64 * 1024);

/** The next message from the worker; blocks until it comes. The worker gone, the host ends. */
function receive(): WorkerToHost {
  for (;;) {
    const newline = pending.indexOf(0x0a);
    if (newline >= 0) {
      const line = pending.subarray(0, newline).toString('utf8');
      pending = pending.subarray(newline + 1);
      return JSON.parse(line) as WorkerToHost;
    }
    if (pending.length > MAX_MESSAGE_BYTES) throw new Error('node-host: a message from the worker is too long');
    let n = 0;
    try {
      n = readSync(CHANNEL_FD, chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw error;
    }
    if (n === 0) process.exit(0);
    pending = Buffer.concat([pending, chunk.subarray(0, n)]);
  }
}

function writeAll(data: Buffer): void {
  let offset = 0;
  while (offset < data.length) offset += writeSync(CHANNEL_FD, data, offset);
}

function say(message: HostToWorker): void {
  writeAll(Buffer.from(`${JSON.stringify(message)}\n`));
}

function answer(header: object, body: Buffer = Buffer.alloc(0)): void {
  writeAll(Buffer.from(`${JSON.stringify({ ...header, bodyLength: body.length })}\n`));
  writeAll(body);
}

// ---- requests and responses ---------------------------------------------------------------------

function toRequest(request: Extract<WorkerToHost, { type: 'invoke' }>['request'], body: Buffer): Request {
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
  const host = request.headers.host ?? 'localhost';
  return new Request(new URL(request.path, `http://${host}`), {
    method: request.method,
    headers: request.headers,
    ...(hasBody ? { body: body as unknown as BodyInit } : {}),
  });
}

/** What the worker hears when a handler's value cannot be sent: not a throw of the handler's own. */
class UnserializableResult extends Error {
  override name = 'UnserializableResult';
}

/**
 * A Response as it is; bytes (any ArrayBuffer view, an ArrayBuffer, a ReadableStream of them) as
 * application/octet-stream; any other value as JSON with status 200 (undefined: 204, no body). A
 * value that cannot be sent that way is an UnserializableResult saying why.
 */
async function toResult(value: unknown): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  if (value instanceof Response) {
    const headers: Record<string, string> = {};
    value.headers.forEach((v, k) => (headers[k] = v));
    return { status: value.status, headers, body: value.body ? await readStream(value.body, "the handler's Response body") : Buffer.alloc(0) };
  }
  if (value === undefined) return { status: 204, headers: {}, body: Buffer.alloc(0) };
  const octets = { 'content-type': 'application/octet-stream' };
  const bytes = asBytes(value);
  if (bytes) return { status: 200, headers: octets, body: bytes };
  if (value instanceof ReadableStream) return { status: 200, headers: octets, body: await readStream(value, "the handler's ReadableStream") };
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new UnserializableResult(`the handler's value cannot be sent as JSON: ${(error as Error).message}`);
  }
  if (json === undefined) throw new UnserializableResult(`the handler's value cannot be sent as JSON: a ${typeof value}`);
  return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(json) };
}

/** The bytes of an ArrayBuffer view (Uint8Array, Buffer, DataView, …) or of an (Shared)ArrayBuffer, else null. */
function asBytes(value: unknown): Buffer | null {
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return Buffer.from(value);
  return null;
}

/**
 * Reads a stream to its end. Its chunks must be bytes; anything else is an UnserializableResult.
 * The stream's own failure (its source threw) is the handler's, and goes on as it is.
 */
async function readStream(stream: ReadableStream<unknown>, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    const bytes = asBytes(value);
    if (!bytes) {
      await reader.cancel().catch(() => {});
      const got = value === null ? 'null' : typeof value === 'object' ? `a ${value.constructor?.name ?? 'object'}` : `a ${typeof value}`;
      throw new UnserializableResult(`${what} cannot be sent: its chunks must be bytes (Uint8Array), got ${got}`);
    }
    chunks.push(bytes);
  }
}

async function startFunctionTracing(): Promise<FunctionTracing> {
  const [api, hooks, recorder] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/context-async-hooks'),
    import('./function-tracer.js'),
  ]);
  const provider = new recorder.RecordingTracerProvider();
  api.context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
  api.trace.setGlobalTracerProvider(provider);
  return {
    run: (parent, fn) => api.context.with(recorder.contextFromTraceparent(parent), fn),
    spans: () => provider.recorder.finished,
  };
}

// ---- main ---------------------------------------------------------------------------------------

let tracing: FunctionTracing | null = null;

function asError(error: unknown): { name: string; message: string; stack?: string } {
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
}

async function load(message: Extract<WorkerToHost, { type: 'load' }>): Promise<(request: Request, context: InvocationContext) => unknown> {
  for (const [name, value] of Object.entries(message.env)) process.env[name] = value;
  if (message.tracing) tracing = await startFunctionTracing();
  const module = (await import(pathToFileURL(message.bundle).href)) as { default?: unknown };
  const handler = module.default;
  if (typeof handler !== 'function') {
    throw new TypeError('the function module must export default a handler: (request, context) => Response | value');
  }
  return handler as (request: Request, context: InvocationContext) => unknown;
}

async function main(): Promise<void> {
  // Request and Response load undici, and reading a body loads web streams, at their first use:
  // done now, before any call, so that a call pays for none of it.
  await new Request('http://localhost/', { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } }).text();
  await new Response('x', { headers: { 'content-type': 'application/json' } }).arrayBuffer();
  say({ type: 'ready' });
  // A caller may send the function SIGUSR1 (POST /invocations/{id}/signal). Without a listener Node
  // would open its inspector on it, a debugger port — on the host's loopback for a function with
  // `network: host`. A listener of the host's own keeps it shut; the function may add its own.
  process.on('SIGUSR1', () => {});

  let handler: ((request: Request, context: InvocationContext) => unknown) | null = null;
  for (;;) {
    const message = receive();
    switch (message.type) {
      case 'load':
        try {
          handler = await load(message);
        } catch (error) {
          const e = asError(error);
          process.stderr.write(`${e.stack ?? e.message}\n`);
          say({ type: 'load-failed', error: { name: e.name, message: e.message } });
          process.exit(1);
        }
        say({ type: 'loaded' });
        break;
      case 'invoke': {
        if (!handler) throw new Error('node-host: invoked before a function was loaded');
        const body = readFileSync(0);
        const request = toRequest(message.request, body);
        const call = async (): Promise<unknown> => handler!(request, message.context);
        try {
          const result = await toResult(await (tracing ? tracing.run(message.traceparent, call) : call()));
          answer({ status: result.status, headers: result.headers, spans: tracing?.spans() ?? [] }, result.body);
        } catch (error) {
          const e = asError(error);
          process.stderr.write(`${e.stack ?? e.message}\n`);
          answer({ error: { name: e.name, message: e.message }, spans: tracing?.spans() ?? [] });
          process.exit(1);
        }
        process.exit(0);
      }
    }
  }
}

main().catch((error: unknown) => {
  const e = asError(error);
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
