import type { FunctionResponse, FunctionResult, InvocationRequest } from '../../contracts/invocation.js';
import { statSync } from 'node:fs';
import type { ForwardedSignal } from '../../contracts/forwarded-signals.js';
import { HTTP_STATUS_OF, errorBody } from '../../contracts/http-status.js';
import { PidboxError, type ErrorCode } from '../../contracts/pidbox-error.js';
import type { FunctionConfig } from '../../contracts/function-config.js';
import type { FunctionInfo } from '../../registry/function-registry.js';
import { ProtocolError, type RunSpec } from '../init/protocol.js';
import type { NodeBuilder } from '../runtimes/node-build.js';
import type { SandboxHost } from '../sandbox/sandbox-host.js';
import {
  DEFAULT_SANDBOX_CEILINGS, DEFAULT_SANDBOX_LIMITS, SANDBOX_PATHS, type Sandbox, type SandboxCeilings, type SandboxLimits,
  type SandboxOutcome,
} from '../sandbox/spawn-sandbox.js';
import { LoadFailed } from './node-host-channel.js';
import { adoptSpans, parseNodeResult } from './node-result.js';
import { BoundedBuffer, TailBuffer, printableTail, throttle } from './output.js';
import { cgiEnv } from './cgi-env.js';
import { CgiResponseError, parseCgiResponse } from './cgi-response.js';
import { functionEnv } from './function-env.js';
import { prepareSandbox, type SandboxShape } from './prepared-sandbox.js';
import type { SandboxPool } from './sandbox-pool.js';
import { traceSandbox, type SandboxTrace } from './sandbox-spans.js';
import type { Tracing } from '../../telemetry/tracing.js';

/** A run's sandbox while it runs: what the worker's control listener reaches it by. */
export interface LiveSandbox {
  /** Host pid of its init. */
  readonly hostPid: number;
  /** `pid:[inode]` of its PID namespace. */
  readonly pidNamespace: string;
  /** Has the init forward a signal to the function's process group; false when no function runs (Sandbox.signal). */
  signal(signal: ForwardedSignal): boolean;
  /** Nothing of it runs any more. */
  ended(): boolean;
}

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
  /** Called once the sandbox exists: its host pid and pid namespace, and a way to signal its function. */
  onSandbox?: (sandbox: LiveSandbox) => void;
  /** Sandbox spans go to this tracer, children of the active span; the function's own spans are exported through it. */
  tracing?: Tracing;
  /** Pre-started sandboxes to take from; without one (or when it has none that fits), a cold start. */
  pool?: SandboxPool;
}

const DEFAULT_MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
const DEFAULT_MAX_LOG_BYTES = 256 * 1024;
/** The most of a function's log the worker reads a second; a function that writes faster waits. */
const LOG_BYTES_PER_SECOND = 16 * 1024 * 1024;
/** How much of the end of stderr a failed run's error message carries: enough for the last few lines. */
const STDERR_TAIL_BYTES = 1024;
const STDERR_TAIL_LINES = 5;

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
  const limits = resolveLimits(fn.config, options.defaultLimits, options.limitCeilings);
  const traceEnv = spans.traceEnv();
  const maxResponse = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const shape: SandboxShape = { runtime: fn.runtime, network: fn.config.network, tmpMb: limits.tmpMb };
  const body = Buffer.from(request.bodyBase64, 'base64');

  // A pre-started sandbox when the pool has one for this function (or one that fits any), else a
  // cold one made now, the same way.
  let prepared = options.pool ? await options.pool.take(fn, shape) : null;
  const prestarted = prepared !== null;
  if (!prepared) {
    const bundle = fn.runtime === 'node' ? await options.builder.load(fn) : null;
    try {
      prepared = prepareSandbox({
        host: options.host,
        shape,
        limits,
        maxResultBytes: maxResponse + 64 * 1024,
        killGraceMs: options.killGraceMs ?? 1000,
        assign: {
          fn,
          ...(bundle ? { bundle: { file: `/proc/self/fd/${bundle.fd}`, sha256: bundle.sha256 } } : {}),
          env: functionEnv(fn),
          tracing: (bundle?.importsOpenTelemetry ?? false) && options.tracing?.enabled === true,
        },
      });
      // The bundle is mounted through its descriptor before prepareSandbox returns (the first step
      // of assigning a function happens at once): the descriptor may close now.
    } finally {
      bundle?.close();
    }
  }
  const { sandbox, channel } = prepared;

  let cancelled = false;
  const onAbort = (): void => {
    cancelled = true;
    sandbox.cancel();
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  sandbox.spawned.then(() => options.onSandbox?.({
    hostPid: sandbox.pid,
    pidNamespace: sandbox.pidNamespace,
    signal: (signal) => sandbox.signal(signal),
    ended: () => sandbox.ended,
  }), () => {});

  const log = new TailBuffer(options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES);
  const onLog = (chunk: Buffer): void => {
    log.push(chunk);
    options.onLog?.(chunk);
  };
  // exec: stdout is the response (with `cgi`, its headers too). node: stdout is log, the response comes on the host's channel.
  // A response past its limit ends the run at once: nothing more of it would be kept, and reading
  // it costs the worker.
  const response = new BoundedBuffer(maxResponse);
  const logs = fn.runtime === 'exec' ? [sandbox.stderr] : [sandbox.stdout, sandbox.stderr];
  if (fn.runtime === 'exec') {
    sandbox.stdout.on('data', (chunk: Buffer) => {
      response.push(chunk);
      if (response.overflowed) sandbox.kill('SIGKILL');
    });
  }
  for (const stream of logs) stream.on('data', onLog);
  // stderr apart from stdout (a node function's log has both): its end says why a run failed.
  // One byte more than is shown, so that a tail that lost its start shows it did.
  const stderr = new TailBuffer(STDERR_TAIL_BYTES + 1);
  sandbox.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const stopThrottle = throttle(logs, LOG_BYTES_PER_SECOND);

  let outcome: SandboxOutcome;
  let answer: Promise<Buffer> | null = null;
  let failedToLoad: LoadFailed | null = null;
  try {
    try {
      await prepared.ready;
    } catch (error) {
      // Killed by a cancel while it started: not a failure of the runner nor of the function. The
      // outcome below says what the sandbox used until then, and the result is `cancelled`.
      if (!cancelled) {
        if (!(error instanceof LoadFailed)) throw await whyNotReady(sandbox, error);
        failedToLoad = error;
      }
    }
    if (!failedToLoad && !cancelled) {
      sandbox.limit(limits);
      sandbox.beginCall(fn.config.timeoutMs);
      if (channel) {
        const invoked = channel.invoke({
          type: 'invoke',
          request: { method: request.method, path: request.path, headers: request.headers },
          context: {
            invocationId: options.invocationId,
            functionName: fn.name,
            attempt: options.attempt ?? 1,
            deadline: Date.now() + fn.config.timeoutMs,
          },
          ...(traceEnv.TRACEPARENT ? { traceparent: traceEnv.TRACEPARENT } : {}),
          ...(traceEnv.TRACESTATE ? { tracestate: traceEnv.TRACESTATE } : {}),
        });
        // The answer complete, the call is over: no need to wait for the host to exit.
        invoked.then(() => sandbox.answered(), () => {});
        answer = invoked;
      } else {
        sandbox.run(execSpec(fn, request, body.length, options, traceEnv, limits));
      }
      sandbox.stdin.end(body);
    }
    outcome = await sandbox.outcome;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    stopThrottle();
  }
  spans.sandboxEnded(outcome, sandbox.pid);

  const base = {
    exit: { code: outcome.code, signal: outcome.signal },
    timings: { startMs: prestarted ? 0 : outcome.startMs, runMs: outcome.runMs },
    sandbox: {
      pidNamespace: outcome.pidNamespace,
      hostPid: sandbox.pid,
      zombiesReaped: outcome.zombiesReaped,
      peakProcesses: outcome.peakProcesses,
      cpuMs: outcome.cpuMs,
      memoryPeakBytes: outcome.memoryPeakBytes,
      prestarted,
    },
    log: log.toString(),
    logTruncated: log.truncated,
  };
  // The response's status is the code's row in the one table (contracts/http-status.ts).
  const failed = (status: FunctionResult['status'], code: ErrorCode, message: string): FunctionResult => ({
    ...base,
    status,
    response: errorResponse(code, message),
    error: { code, message },
  });

  if (cancelled) return failed('cancelled', 'INVOCATION_CANCELLED', 'the invocation was cancelled');
  if (outcome.timedOut) {
    return failed('timed_out', 'FUNCTION_TIMED_OUT', `the function ran longer than its timeout of ${fn.config.timeoutMs} ms`);
  }
  if (outcome.outOfMemory) {
    return failed('failed', 'FUNCTION_OUT_OF_MEMORY', `the function used more than its ${limits.memoryMb} MiB of memory and was killed`);
  }
  if (failedToLoad) return failed('failed', 'FUNCTION_FAILED', `the function's module failed to load: ${failedToLoad.message}`);
  if (response.overflowed) {
    return failed('failed', 'FUNCTION_OUTPUT_TOO_LARGE', `the function's response is larger than ${maxResponse} bytes`);
  }
  if (fn.runtime === 'exec') {
    if (outcome.exitCode !== 0) return failed('failed', 'FUNCTION_FAILED', describeExit(outcome, stderr));
    if (!fn.config.cgi) {
      return { ...base, status: 'succeeded', response: { status: 200, headers: { 'content-type': fn.config.contentType }, bodyBase64: response.toBuffer().toString('base64') } };
    }
    try {
      const cgi = parseCgiResponse(response.toBuffer(), { defaultContentType: fn.config.contentType });
      return { ...base, status: 'succeeded', response: { status: cgi.status, headers: cgi.headers, bodyBase64: cgi.body.toString('base64') } };
    } catch (error) {
      if (!(error instanceof CgiResponseError)) throw error;
      return failed('failed', 'FUNCTION_FAILED', `the function's CGI response is not valid: ${error.message}`);
    }
  }
  // Everything the host wrote has been read by now (the outcome waits for it): complete, or not at all.
  let parsed;
  try {
    const output = channel!.answered && answer ? await answer : channel!.partialResult();
    parsed = parseNodeResult(output);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return failed('failed', 'SANDBOX_PROTOCOL_ERROR', `the function's result is not valid: ${error.message}`);
  }
  const parent = parseTraceparent(traceEnv.TRACEPARENT);
  if (parsed?.spans.length && parent) options.tracing?.exportRecordedSpans(adoptSpans(parsed.spans, parent));
  if (parsed?.kind === 'error') {
    return failed('failed', 'FUNCTION_FAILED', parsed.name === 'UnserializableResult' ? parsed.message : `the handler threw ${parsed.name}: ${parsed.message}`);
  }
  if (outcome.exitCode !== 0) return failed('failed', 'FUNCTION_FAILED', describeExit(outcome, stderr));
  if (!parsed) return failed('failed', 'FUNCTION_FAILED', 'the function exited without a response');
  if (parsed.body.length > maxResponse) {
    return failed('failed', 'FUNCTION_OUTPUT_TOO_LARGE', `the function's response is larger than ${maxResponse} bytes`);
  }
  return { ...base, status: 'succeeded', response: { status: parsed.status, headers: parsed.headers, bodyBase64: parsed.body.toString('base64') } };
}

/** Why a sandbox never became ready: its own failure (it says why), or the error as it came. */
async function whyNotReady(sandbox: Sandbox, error: unknown): Promise<unknown> {
  sandbox.kill('SIGKILL');
  try {
    await sandbox.outcome;
  } catch (failure) {
    return failure;
  }
  return error;
}

/**
 * An exec function's process: its handler, with the call's facts in its environment. The request's
 * CGI variables come first: the caller chooses their values, so they never replace the function's own
 * environment (function.json's `env` included) or pidbox's variables.
 */
function execSpec(fn: FunctionInfo, request: InvocationRequest, bodyBytes: number, options: RunOptions, traceEnv: Record<string, string>, limits: SandboxLimits): RunSpec {
  const env: Record<string, string> = {
    ...cgiEnv(request, bodyBytes, { functionName: fn.name }),
    ...functionEnv(fn),
    PIDBOX_INVOCATION_ID: options.invocationId,
    PIDBOX_ATTEMPT: String(options.attempt ?? 1),
    PIDBOX_METHOD: request.method,
    PIDBOX_PATH: request.path,
    ...options.extraEnv,
    ...traceEnv,
  };
  return {
    argv: [`${SANDBOX_PATHS.task}/${fn.entry.slice(fn.dir.length + 1)}`],
    env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    cwd: SANDBOX_PATHS.task,
    maxOpenFiles: limits.maxOpenFiles,
  };
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

/** `the function exited with code 3: <the end of its stderr>`: the reason is usually in its last lines. */
function describeExit(outcome: SandboxOutcome, stderr: TailBuffer): string {
  const how = outcome.signal ? `the function was killed by ${outcome.signal}` : `the function exited with code ${outcome.code}`;
  const tail = printableTail(stderr.toBuffer(), STDERR_TAIL_BYTES, STDERR_TAIL_LINES);
  return tail ? `${how}: ${tail}` : how;
}

function errorResponse(code: ErrorCode, message: string): FunctionResponse {
  return {
    status: HTTP_STATUS_OF[code],
    headers: { 'content-type': 'application/json' },
    bodyBase64: Buffer.from(errorBody(code, message)).toString('base64'),
  };
}
