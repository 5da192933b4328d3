import { fileURLToPath } from 'node:url';
import type { FunctionResponse, FunctionResult, InvocationRequest } from '../../contracts/invocation.js';
import type { ErrorCode } from '../../contracts/pidbox-error.js';
import type { FunctionInfo } from '../../contracts/functions/function-registry.js';
import type { RunSpec } from '../init/protocol.js';
import type { NodeBuilder } from '../runtimes/node-build.js';
import { SANDBOX_PATH, spawnSandbox, type SandboxOutcome } from '../sandbox/spawn-sandbox.js';
import { BoundedBuffer, TailBuffer, drained } from './output.js';
import { traceSandbox, type SandboxTrace } from './sandbox-spans.js';
import type { RecordedSpan } from '../../contracts/telemetry/recorded-span.js';
import type { Tracing } from '../../contracts/telemetry/tracing.js';

const NODE_HOST = fileURLToPath(new URL('../runtimes/node-host.js', import.meta.url));

export interface RunOptions {
  invocationId: string;
  /** Builds node functions (cached per change of source). */
  builder: NodeBuilder;
  /** Abort to cancel: the sandbox is killed at once and the result is `cancelled`. */
  signal?: AbortSignal;
  /** Largest response body kept; a larger one fails the run with FUNCTION_OUTPUT_TOO_LARGE. Default: 6 MiB. */
  maxResponseBytes?: number;
  /** How much of the end of the function's log is kept. Default: 256 KiB. */
  maxLogBytes?: number;
  /** Time between SIGTERM and SIGKILL when the function times out. Default: 1000. */
  killGraceMs?: number;
  /** Added to the function's environment (TRACEPARENT, …), after function.json's `env`. */
  extraEnv?: Record<string, string>;
  /** Every chunk of the function's log as it comes (for following logs live). */
  onLog?: (chunk: Buffer) => void;
  /** Called once the sandbox exists: its host pid and pid namespace. */
  onSandbox?: (info: { hostPid: number; pidNamespace: string }) => void;
  /** Sandbox spans go to this tracer, children of the active span; the function's own spans are exported through it. */
  tracing?: Tracing;
}

const DEFAULT_MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
const DEFAULT_MAX_LOG_BYTES = 256 * 1024;

/**
 * Runs one invocation of `fn` in a fresh sandbox. A function that fails, times out or is cancelled
 * is a result (status, exit, error code); only a failure of the runner itself throws.
 */
export async function runFunction(fn: FunctionInfo, request: InvocationRequest, options: RunOptions): Promise<FunctionResult> {
  const spans = traceSandbox(options.tracing, fn);
  try {
    const result = await runInSandbox(fn, request, options, spans);
    spans.finish(result);
    return result;
  } catch (error) {
    spans.fail(error);
    throw error;
  }
}

async function runInSandbox(fn: FunctionInfo, request: InvocationRequest, options: RunOptions, spans: SandboxTrace): Promise<FunctionResult> {
  const spec = await runSpec(fn, request, options, spans.traceEnv());
  const sandbox = spawnSandbox({
    run: spec,
    namespaces: { uts: true, ipc: true, net: fn.config.network === 'loopback' },
    resultChannel: fn.runtime === 'node',
    timeoutMs: fn.config.timeoutMs,
    killGraceMs: options.killGraceMs ?? 1000,
  });
  options.onSandbox?.({ hostPid: sandbox.pid, pidNamespace: sandbox.pidNamespace });

  let cancelled = false;
  const onAbort = (): void => {
    cancelled = true;
    sandbox.kill('SIGKILL');
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  const maxResponse = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const log = new TailBuffer(options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES);
  const onLog = (chunk: Buffer): void => {
    log.push(chunk);
    options.onLog?.(chunk);
  };
  // exec: stdout is the response. node: stdout is log, the response comes on descriptor 3 (one
  // header line, then the body: the margin is for the header).
  const response = new BoundedBuffer(fn.runtime === 'exec' ? maxResponse : maxResponse + 64 * 1024);
  if (fn.runtime === 'exec') sandbox.stdout.on('data', (chunk: Buffer) => response.push(chunk));
  else sandbox.stdout.on('data', onLog);
  sandbox.stderr.on('data', onLog);
  sandbox.result?.on('data', (chunk: Buffer) => response.push(chunk));

  sandbox.stdin.end(Buffer.from(request.bodyBase64, 'base64'));

  let outcome: SandboxOutcome;
  try {
    outcome = await sandbox.outcome;
    await Promise.all([drained(sandbox.stdout), drained(sandbox.stderr), drained(sandbox.result)]);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  spans.sandboxEnded(outcome, sandbox.pid);

  const base = {
    exit: { code: outcome.code, signal: outcome.signal },
    timings: { startMs: outcome.startMs, runMs: outcome.runMs },
    sandbox: {
      pidNamespace: outcome.pidNamespace,
      hostPid: sandbox.pid,
      zombiesReaped: outcome.zombiesReaped,
      peakProcesses: outcome.peakProcesses,
    },
    log: log.toString(),
    logTruncated: log.truncated,
  };
  const failed = (status: FunctionResult['status'], httpStatus: number, code: ErrorCode, message: string): FunctionResult => ({
    ...base,
    status,
    response: errorResponse(httpStatus, code, message),
    error: { code, message },
  });

  if (cancelled) return failed('cancelled', 409, 'INVOCATION_CANCELLED', 'the invocation was cancelled');
  if (outcome.timedOut) {
    return failed('timed_out', 504, 'FUNCTION_TIMED_OUT', `the function ran longer than its timeout of ${fn.config.timeoutMs} ms`);
  }
  if (response.overflowed) {
    return failed('failed', 502, 'FUNCTION_OUTPUT_TOO_LARGE', `the function's response is larger than ${maxResponse} bytes`);
  }
  const output = response.toBuffer();
  if (fn.runtime === 'exec') {
    if (outcome.exitCode !== 0) return failed('failed', 500, 'FUNCTION_FAILED', describeExit(outcome));
    return { ...base, status: 'succeeded', response: { status: 200, headers: { 'content-type': fn.config.contentType }, bodyBase64: output.toString('base64') } };
  }
  const parsed = parseNodeResult(output);
  if (parsed?.spans.length) options.tracing?.exportRecordedSpans(parsed.spans);
  if (parsed && 'error' in parsed) return failed('failed', 500, 'FUNCTION_FAILED', `the handler threw ${parsed.error.name}: ${parsed.error.message}`);
  if (outcome.exitCode !== 0) return failed('failed', 500, 'FUNCTION_FAILED', describeExit(outcome));
  if (!parsed) return failed('failed', 500, 'FUNCTION_FAILED', 'the function exited without a response');
  if (parsed.body.length > maxResponse) {
    return failed('failed', 502, 'FUNCTION_OUTPUT_TOO_LARGE', `the function's response is larger than ${maxResponse} bytes`);
  }
  return { ...base, status: 'succeeded', response: { status: parsed.status, headers: parsed.headers, bodyBase64: parsed.body.toString('base64') } };
}

async function runSpec(
  fn: FunctionInfo,
  request: InvocationRequest,
  options: RunOptions,
  traceEnv: Record<string, string>,
): Promise<RunSpec> {
  const env: Record<string, string> = {
    PATH: SANDBOX_PATH,
    HOME: '/tmp',
    LANG: 'C.UTF-8',
    PIDBOX_FUNCTION: fn.name,
    PIDBOX_INVOCATION_ID: options.invocationId,
    ...fn.config.env,
    ...options.extraEnv,
    ...traceEnv,
  };
  const common = { env: [] as string[], cwd: fn.dir, hostname: fn.name };
  if (fn.runtime === 'exec') {
    env.PIDBOX_METHOD = request.method;
    env.PIDBOX_PATH = request.path;
    return { ...common, argv: [fn.entry], env: toEnvList(env) };
  }
  const bundle = await options.builder.bundle(fn);
  // Tracing inside the sandbox costs the function's start a few milliseconds: only for functions
  // that can make spans of their own.
  if (bundle.importsOpenTelemetry && traceEnv.TRACEPARENT) env.PIDBOX_FUNCTION_TRACING = '1';
  env.PIDBOX_REQUEST = JSON.stringify({
    method: request.method,
    path: request.path,
    headers: request.headers,
    invocationId: options.invocationId,
    functionName: fn.name,
  });
  return { ...common, argv: [process.execPath, NODE_HOST, bundle.path], env: toEnvList(env), resultChannel: true };
}

function toEnvList(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

type NodeResult = { spans: RecordedSpan[] } & (
  | { status: number; headers: Record<string, string>; body: Buffer }
  | { error: { name: string; message: string } }
);

function parseNodeResult(output: Buffer): NodeResult | null {
  const newline = output.indexOf(0x0a);
  if (newline < 0) return null;
  try {
    const header = JSON.parse(output.subarray(0, newline).toString('utf8')) as { spans?: RecordedSpan[] } & (
      | { status: number; headers: Record<string, string> }
      | { error: { name: string; message: string } }
    );
    const spans = Array.isArray(header.spans) ? header.spans : [];
    if ('error' in header) return { error: header.error, spans };
    return { status: header.status, headers: header.headers, body: output.subarray(newline + 1), spans };
  } catch {
    return null;
  }
}

function describeExit(outcome: SandboxOutcome): string {
  return outcome.signal ? `the function was killed by ${outcome.signal}` : `the function exited with code ${outcome.code}`;
}

function errorResponse(status: number, code: string, message: string): FunctionResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    bodyBase64: Buffer.from(JSON.stringify({ error: { code, message } })).toString('base64'),
  };
}
