import type { FunctionResponse, FunctionResult, InvocationRequest } from '../../contracts/invocation.js';
import { statSync } from 'node:fs';
import { PidboxError, type ErrorCode } from '../../contracts/pidbox-error.js';
import type { FunctionConfig } from '../../contracts/functions/function-config.js';
import type { FunctionInfo } from '../../contracts/functions/function-registry.js';
import { ProtocolError, type RunSpec } from '../init/protocol.js';
import type { NodeBuilder } from '../runtimes/node-build.js';
import type { SandboxHost } from '../sandbox/sandbox-host.js';
import {
  DEFAULT_SANDBOX_CEILINGS, DEFAULT_SANDBOX_LIMITS, SANDBOX_PATH, SANDBOX_PATHS, spawnSandbox, type SandboxCeilings, type SandboxLimits,
  type SandboxOutcome,
} from '../sandbox/spawn-sandbox.js';
import { adoptSpans, parseNodeResult } from './node-result.js';
import { BoundedBuffer, TailBuffer, drained, throttle } from './output.js';
import { traceSandbox, type SandboxTrace } from './sandbox-spans.js';
import type { Tracing } from '../../contracts/telemetry/tracing.js';

const NODE_HOST = `${SANDBOX_PATHS.runtime}/node-host.cjs`;
const BUNDLE = `${SANDBOX_PATHS.bundle}/index.mjs`;

export interface RunOptions {
  /** The worker's sandbox host (its mounts, cgroups, seccomp filter). */
  host: SandboxHost;
  invocationId: string;
  /** Which run of the invocation this is, from 1 (retries and runs after a lost worker count up). Default: 1. */
  attempt?: number;
  /** Limits for what function.json leaves unset. Default: DEFAULT_SANDBOX_LIMITS (256 MiB, 128 tasks, 1 CPU, 64 MiB /tmp, 1024 files). */
  defaultLimits?: SandboxLimits;
  /** The most function.json may ask for; more fails the run (INVALID_FUNCTION_CONFIG). Default: DEFAULT_SANDBOX_CEILINGS. */
  limitCeilings?: SandboxCeilings;
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
/** The most of a function's log the worker reads a second; a function that writes faster waits. */
const LOG_BYTES_PER_SECOND = 16 * 1024 * 1024;

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

/** What function.json asks for, within the worker's ceilings; the worker's defaults for the rest. */
export function resolveLimits(
  config: FunctionConfig,
  defaults: SandboxLimits = DEFAULT_SANDBOX_LIMITS,
  ceilings: SandboxCeilings = DEFAULT_SANDBOX_CEILINGS,
): SandboxLimits {
  const settings = { memoryMb: 'PIDBOX_SANDBOX_CEILING_MEMORY_MB', maxProcesses: 'PIDBOX_SANDBOX_CEILING_MAX_PROCESSES', cpus: 'PIDBOX_SANDBOX_CEILING_CPUS', tmpMb: 'PIDBOX_SANDBOX_CEILING_TMP_MB' } as const;
  for (const field of Object.keys(settings) as Array<keyof typeof settings>) {
    const asked = config[field];
    if (asked !== null && asked > ceilings[field]) {
      throw new PidboxError('INVALID_FUNCTION_CONFIG', `function.json: "${field}" ${asked} is more than this worker allows (${settings[field]}: ${ceilings[field]})`);
    }
  }
  return {
    memoryMb: config.memoryMb ?? defaults.memoryMb,
    maxProcesses: config.maxProcesses ?? defaults.maxProcesses,
    cpus: config.cpus ?? defaults.cpus,
    tmpMb: config.tmpMb ?? defaults.tmpMb,
    maxOpenFiles: defaults.maxOpenFiles,
  };
}

async function runInSandbox(fn: FunctionInfo, request: InvocationRequest, options: RunOptions, spans: SandboxTrace): Promise<FunctionResult> {
  assertReadableInSandbox(fn);
  const traceEnv = spans.traceEnv();
  const bundle = fn.runtime === 'node' ? await options.builder.load(fn) : null;
  const spec = runSpec(fn, request, options, traceEnv, bundle?.importsOpenTelemetry ?? false);
  const limits = resolveLimits(fn.config, options.defaultLimits, options.limitCeilings);
  let sandbox;
  try {
    sandbox = spawnSandbox(options.host, {
      run: spec,
      taskDir: fn.dir,
      ...(bundle ? { bundle: `/proc/self/fd/${bundle.fd}` } : {}),
      network: fn.config.network,
      limits,
      resultChannel: fn.runtime === 'node',
      timeoutMs: fn.config.timeoutMs,
      killGraceMs: options.killGraceMs ?? 1000,
    });
  } finally {
    bundle?.close();
  }

  let cancelled = false;
  const onAbort = (): void => {
    cancelled = true;
    sandbox.kill('SIGKILL');
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  sandbox.ready.then(() => options.onSandbox?.({ hostPid: sandbox.pid, pidNamespace: sandbox.pidNamespace }), () => {});

  const maxResponse = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const log = new TailBuffer(options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES);
  const onLog = (chunk: Buffer): void => {
    log.push(chunk);
    options.onLog?.(chunk);
  };
  // exec: stdout is the response. node: stdout is log, the response comes on descriptor 3 (one
  // header line, then the body: the margin is for the header). A response past its limit ends the
  // run at once: nothing more of it would be kept, and reading it costs the worker.
  const response = new BoundedBuffer(fn.runtime === 'exec' ? maxResponse : maxResponse + 64 * 1024);
  const onResponse = (chunk: Buffer): void => {
    response.push(chunk);
    if (response.overflowed) sandbox.kill('SIGKILL');
  };
  const logs = fn.runtime === 'exec' ? [sandbox.stderr] : [sandbox.stdout, sandbox.stderr];
  if (fn.runtime === 'exec') sandbox.stdout.on('data', onResponse);
  for (const stream of logs) stream.on('data', onLog);
  sandbox.result?.on('data', onResponse);
  const stopThrottle = throttle(logs, LOG_BYTES_PER_SECOND);

  sandbox.stdin.end(Buffer.from(request.bodyBase64, 'base64'));

  let outcome: SandboxOutcome;
  try {
    outcome = await sandbox.outcome;
    await Promise.all([drained(sandbox.stdout), drained(sandbox.stderr), drained(sandbox.result)]);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    stopThrottle();
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
      cpuMs: outcome.cpuMs,
      memoryPeakBytes: outcome.memoryPeakBytes,
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
  if (outcome.outOfMemory) {
    return failed('failed', 500, 'FUNCTION_OUT_OF_MEMORY', `the function used more than its ${limits.memoryMb} MiB of memory and was killed`);
  }
  if (response.overflowed) {
    return failed('failed', 502, 'FUNCTION_OUTPUT_TOO_LARGE', `the function's response is larger than ${maxResponse} bytes`);
  }
  const output = response.toBuffer();
  if (fn.runtime === 'exec') {
    if (outcome.exitCode !== 0) return failed('failed', 500, 'FUNCTION_FAILED', describeExit(outcome));
    return { ...base, status: 'succeeded', response: { status: 200, headers: { 'content-type': fn.config.contentType }, bodyBase64: output.toString('base64') } };
  }
  let parsed;
  try {
    parsed = parseNodeResult(output);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return failed('failed', 502, 'SANDBOX_PROTOCOL_ERROR', `the function's result is not valid: ${error.message}`);
  }
  const parent = parseTraceparent(traceEnv.TRACEPARENT);
  if (parsed?.spans.length && parent) options.tracing?.exportRecordedSpans(adoptSpans(parsed.spans, parent));
  if (parsed?.kind === 'error') return failed('failed', 500, 'FUNCTION_FAILED', `the handler threw ${parsed.name}: ${parsed.message}`);
  if (outcome.exitCode !== 0) return failed('failed', 500, 'FUNCTION_FAILED', describeExit(outcome));
  if (!parsed) return failed('failed', 500, 'FUNCTION_FAILED', 'the function exited without a response');
  if (parsed.body.length > maxResponse) {
    return failed('failed', 502, 'FUNCTION_OUTPUT_TOO_LARGE', `the function's response is larger than ${maxResponse} bytes`);
  }
  return { ...base, status: 'succeeded', response: { status: parsed.status, headers: parsed.headers, bodyBase64: parsed.body.toString('base64') } };
}

function runSpec(
  fn: FunctionInfo,
  request: InvocationRequest,
  options: RunOptions,
  traceEnv: Record<string, string>,
  importsOpenTelemetry: boolean,
): RunSpec {
  const env: Record<string, string> = {
    PATH: SANDBOX_PATH,
    HOME: SANDBOX_PATHS.tmp,
    TMPDIR: SANDBOX_PATHS.tmp,
    LANG: 'C.UTF-8',
    PIDBOX_FUNCTION: fn.name,
    PIDBOX_INVOCATION_ID: options.invocationId,
    PIDBOX_ATTEMPT: String(options.attempt ?? 1),
    ...fn.config.env,
    ...options.extraEnv,
    ...traceEnv,
  };
  const common = { env: [] as string[], cwd: SANDBOX_PATHS.task };
  if (fn.runtime === 'exec') {
    env.PIDBOX_METHOD = request.method;
    env.PIDBOX_PATH = request.path;
    return { ...common, argv: [`${SANDBOX_PATHS.task}/${fn.entry.slice(fn.dir.length + 1)}`], env: toEnvList(env) };
  }
  // Tracing inside the sandbox costs the function's start a few milliseconds: only for functions
  // that can make spans of their own.
  if (importsOpenTelemetry && traceEnv.TRACEPARENT) env.PIDBOX_FUNCTION_TRACING = '1';
  env.PIDBOX_REQUEST = JSON.stringify({
    method: request.method,
    path: request.path,
    headers: request.headers,
    invocationId: options.invocationId,
    functionName: fn.name,
    attempt: options.attempt ?? 1,
  });
  return { ...common, argv: [SANDBOX_PATHS.node, NODE_HOST, BUNDLE], env: toEnvList(env), resultChannel: true };
}

/**
 * The function's folder (and an exec function's handler) must be usable by the sandbox's uid, which
 * owns none of the host's files and is in none of its groups: readable and searchable by others.
 */
function assertReadableInSandbox(fn: FunctionInfo): void {
  const check = (path: string, bits: number, what: string): void => {
    if ((statSync(path).mode & bits) !== bits) {
      throw new PidboxError(
        'INVALID_FUNCTION_CONFIG',
        `${path}: a sandbox's user cannot ${what} it (it owns none of the host's files); make it so for others (chmod o+${bits & 1 ? 'rx' : 'r'})`,
      );
    }
  };
  check(fn.dir, 5, 'read');
  if (fn.runtime === 'exec') check(fn.entry, 5, 'run');
}

/** trace id, span id and flags of a W3C traceparent, or null. */
function parseTraceparent(traceparent: string | undefined): { traceId: string; spanId: string; traceFlags: number } | null {
  const match = traceparent ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent) : null;
  return match ? { traceId: match[1]!, spanId: match[2]!, traceFlags: Number.parseInt(match[3]!, 16) } : null;
}

function toEnvList(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
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
