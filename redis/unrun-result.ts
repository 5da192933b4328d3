// The result of an invocation that ends without a sandbox: cancelled while queued, its function gone,
// its worker lost for good. Same shape as a run's result (a failed invocation is data); the empty
// pid namespace says that nothing ran.
import type { FunctionResult } from '../contracts/invocation.js';
import { HTTP_STATUS_OF, errorBody } from '../contracts/http-status.js';
import type { ErrorCode } from '../contracts/pidbox-error.js';

export function unrunResult(status: FunctionResult['status'], code: ErrorCode, message: string): FunctionResult {
  return {
    status,
    response: {
      status: HTTP_STATUS_OF[code],
      headers: { 'content-type': 'application/json' },
      bodyBase64: Buffer.from(errorBody(code, message)).toString('base64'),
    },
    exit: { code: null, signal: null },
    timings: { startMs: 0, runMs: 0 },
    sandbox: { pidNamespace: '', hostPid: 0, zombiesReaped: 0, peakProcesses: 0, cpuMs: 0, memoryPeakBytes: null, prestarted: false },
    log: '',
    logTruncated: false,
    error: { code, message },
  };
}

/** True when the result comes from a sandbox that ran. */
export function didRun(result: FunctionResult): boolean {
  return result.sandbox.pidNamespace !== '';
}
