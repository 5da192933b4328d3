// Runs inside the sandbox as the function's process for node functions:
//   node node-host.js BUNDLE
// The request's method, path and headers come in PIDBOX_REQUEST (removed before the function
// loads), its body on stdin. The response goes to descriptor 3 as one JSON line (status, headers)
// followed by the raw body; stdout and stderr are the function's log. Imports only Node built-ins:
// it starts once per invocation. When the invocation is traced and the function imports
// @opentelemetry/api (PIDBOX_FUNCTION_TRACING=1 with TRACEPARENT), it also loads the API with a
// recording tracer (function-tracer.ts), makes the invocation's
// context the active one around the handler, and returns the finished spans with the response.

import { closeSync, readFileSync, writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const RESULT_FD = 3;

interface RequestMeta {
  method: string;
  path: string;
  headers: Record<string, string>;
  invocationId: string;
  functionName: string;
  attempt: number;
}

export interface FunctionContext {
  invocationId: string;
  functionName: string;
  /** Which run of the invocation this is, from 1: retries and runs after a lost worker count up. */
  attempt: number;
}

function readRequestMeta(): RequestMeta {
  const raw = process.env.PIDBOX_REQUEST ?? '{}';
  delete process.env.PIDBOX_REQUEST;
  const meta = JSON.parse(raw) as Partial<RequestMeta>;
  return {
    method: meta.method ?? 'POST',
    path: meta.path ?? '/',
    headers: meta.headers ?? {},
    invocationId: meta.invocationId ?? '',
    functionName: meta.functionName ?? '',
    attempt: meta.attempt ?? 1,
  };
}

function toRequest(meta: RequestMeta, body: Buffer): Request {
  const hasBody = meta.method !== 'GET' && meta.method !== 'HEAD';
  const host = meta.headers.host ?? 'localhost';
  return new Request(new URL(meta.path, `http://${host}`), {
    method: meta.method,
    headers: meta.headers,
    ...(hasBody ? { body: body as unknown as BodyInit } : {}),
  });
}

/** A Response as it is; any other value as JSON with status 200 (undefined: 204, no body). */
async function toResult(value: unknown): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  if (value instanceof Response) {
    const headers: Record<string, string> = {};
    value.headers.forEach((v, k) => (headers[k] = v));
    return { status: value.status, headers, body: Buffer.from(await value.arrayBuffer()) };
  }
  if (value === undefined) return { status: 204, headers: {}, body: Buffer.alloc(0) };
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(value)),
  };
}

function writeAll(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset);
}

interface FunctionTracing {
  run<T>(fn: () => T): T;
  spans(): unknown[];
}

async function startFunctionTracing(traceparent: string): Promise<FunctionTracing> {
  const [api, hooks, recorder] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/context-async-hooks'),
    import('./function-tracer.js'),
  ]);
  const provider = new recorder.RecordingTracerProvider();
  api.context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
  api.trace.setGlobalTracerProvider(provider);
  const parent = recorder.contextFromTraceparent(traceparent);
  return {
    run: (fn) => api.context.with(parent, fn),
    spans: () => provider.recorder.finished,
  };
}

let tracing: FunctionTracing | null = null;

function writeResult(header: object, body: Buffer = Buffer.alloc(0)): void {
  writeAll(RESULT_FD, Buffer.from(`${JSON.stringify(header)}\n`));
  writeAll(RESULT_FD, body);
  closeSync(RESULT_FD);
}

async function main(): Promise<void> {
  const bundle = process.argv[2];
  if (!bundle) throw new Error('node-host: no bundle given');
  const meta = readRequestMeta();
  const body = readFileSync(0);
  if (process.env.PIDBOX_FUNCTION_TRACING === '1' && process.env.TRACEPARENT) tracing = await startFunctionTracing(process.env.TRACEPARENT);
  delete process.env.PIDBOX_FUNCTION_TRACING;
  const module = (await import(pathToFileURL(bundle).href)) as { default?: unknown };
  const handler = module.default;
  if (typeof handler !== 'function') {
    throw new TypeError('the function module must export default a handler: (request, context) => Response | value');
  }
  const context: FunctionContext = { invocationId: meta.invocationId, functionName: meta.functionName, attempt: meta.attempt };
  const request = toRequest(meta, body);
  const call = async (): Promise<unknown> => handler(request, context);
  const result = await toResult(await (tracing ? tracing.run(call) : call()));
  writeResult({ status: result.status, headers: result.headers, spans: tracing?.spans() ?? [] }, result.body);
  process.exit(0);
}

main().catch((error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  process.stderr.write(`${e.stack ?? e.message}\n`);
  try {
    writeResult({ error: { name: e.name, message: e.message }, spans: tracing?.spans() ?? [] });
  } catch {
    // The result channel is gone; the exit code still tells.
  }
  process.exit(1);
});
