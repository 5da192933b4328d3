import { SpanStatusCode, context, trace, type Context, type Span } from '@opentelemetry/api';
import type { FunctionResult } from '../../contracts/invocation.js';
import {
  ATTR_FAAS_NAME, ATTR_PIDBOX_CPU_MS, ATTR_PIDBOX_EXIT_SIGNAL, ATTR_PIDBOX_MEMORY_PEAK_BYTES, ATTR_PIDBOX_PEAK_PROCESSES, ATTR_PIDBOX_PID_NAMESPACE,
  ATTR_PIDBOX_RUNTIME, ATTR_PIDBOX_ZOMBIES_REAPED, ATTR_PROCESS_EXIT_CODE, ATTR_PROCESS_PID, ATTR_PROCESS_VPID,
} from '../../contracts/span-attributes.js';
import { injectContext, markError, type Tracing } from '../../telemetry/tracing.js';
import type { FunctionInfo } from '../../registry/function-registry.js';
import type { SandboxOutcome } from '../sandbox/spawn-sandbox.js';

// The spans of one sandbox: `sandbox` (live, the whole life of the sandbox) and, made after the
// fact from the timestamps the spawner recorded, its steps: `sandbox.setup` (spawn → init ready),
// `function.run` (function started → exited) and `sandbox.teardown` (exited → its output read to
// the last byte; the namespaces go after, off the call's path). The function gets the `sandbox` span's context as TRACEPARENT / TRACESTATE.

export interface SandboxTrace {
  /** TRACEPARENT (and TRACESTATE) for the function's environment; empty when not traced. */
  traceEnv(): Record<string, string>;
  /** Records the steps of the sandbox; `hostPid` is the init's pid on the host. */
  sandboxEnded(outcome: SandboxOutcome, hostPid: number): void;
  finish(result: FunctionResult): void;
  fail(error: unknown): void;
}

const untraced: SandboxTrace = { traceEnv: () => ({}), sandboxEnded: () => {}, finish: () => {}, fail: () => {} };

export function traceSandbox(tracing: Tracing | undefined, fn: FunctionInfo): SandboxTrace {
  if (!tracing?.enabled) return untraced;
  const tracer = tracing.tracer;
  const sandbox = tracer.startSpan('sandbox', { attributes: { [ATTR_FAAS_NAME]: fn.name, [ATTR_PIDBOX_RUNTIME]: fn.runtime } });
  const inside: Context = trace.setSpan(context.active(), sandbox);
  let run: Span | null = null;
  let runEnd = 0;
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    sandbox.end();
  };
  return {
    traceEnv() {
      const carrier = injectContext(inside);
      return {
        ...(carrier.traceparent ? { TRACEPARENT: carrier.traceparent } : {}),
        ...(carrier.tracestate ? { TRACESTATE: carrier.tracestate } : {}),
      };
    },
    sandboxEnded(outcome, hostPid) {
      const { marks } = outcome;
      sandbox.setAttributes({
        [ATTR_PROCESS_PID]: hostPid,
        [ATTR_PIDBOX_PID_NAMESPACE]: outcome.pidNamespace,
        [ATTR_PIDBOX_ZOMBIES_REAPED]: outcome.zombiesReaped,
        [ATTR_PIDBOX_PEAK_PROCESSES]: outcome.peakProcesses,
        [ATTR_PIDBOX_CPU_MS]: outcome.cpuMs,
        ...(outcome.memoryPeakBytes !== null ? { [ATTR_PIDBOX_MEMORY_PEAK_BYTES]: outcome.memoryPeakBytes } : {}),
      });
      if (marks.readyAt) {
        sandbox.addEvent('init ready', marks.readyAt);
        tracer.startSpan('sandbox.setup', { startTime: marks.spawnedAt }, inside).end(marks.readyAt);
      }
      if (marks.startedAt) {
        run = tracer.startSpan('function.run', {
          startTime: marks.startedAt,
          attributes: {
            [ATTR_PROCESS_VPID]: outcome.functionPid,
            [ATTR_PIDBOX_PID_NAMESPACE]: outcome.pidNamespace,
            ...(outcome.code !== null ? { [ATTR_PROCESS_EXIT_CODE]: outcome.code } : {}),
            ...(outcome.signal ? { [ATTR_PIDBOX_EXIT_SIGNAL]: outcome.signal } : {}),
          },
        }, inside);
      }
      const teardownFrom = marks.exitedAt || marks.startedAt || marks.spawnedAt;
      tracer.startSpan('sandbox.teardown', { startTime: teardownFrom }, inside).end(marks.settledAt);
      // function.run ends when the function did; its status is known only with the result.
      runEnd = marks.exitedAt || marks.settledAt;
    },
    finish(result) {
      if (result.exit.code !== null) sandbox.setAttribute(ATTR_PROCESS_EXIT_CODE, result.exit.code);
      if (result.error) {
        markError(sandbox, result.error.code, result.error.message);
        if (run) markError(run, result.error.code, result.error.message);
      } else {
        sandbox.setStatus({ code: SpanStatusCode.OK });
      }
      run?.end(runEnd);
      end();
    },
    fail(error) {
      const e = error as { code?: string; message?: string };
      markError(sandbox, e.code ?? 'RUNNER_FAILED', e.message);
      run?.end(runEnd);
      end();
    },
  };
}
