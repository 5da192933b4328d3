// What crosses from gateway to worker and back: the request a function gets, and the result of one
// invocation. One result shape for success and failure: a failed function is data.
import { z } from 'zod';

/** The HTTP request handed to a function. `body` travels base64-encoded inside job data. */
export const InvocationRequest = z.object({
  method: z.string(),
  /** Path below the function's route, `/` when none; with the query string. */
  path: z.string(),
  headers: z.record(z.string(), z.string()),
  /** Raw body, base64. */
  bodyBase64: z.string(),
});
export type InvocationRequest = z.infer<typeof InvocationRequest>;

export const InvocationStatus = z
  .enum(['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'])
  .meta({ id: 'InvocationStatus', description: 'Where an invocation is: `queued`, `running`, then one of the final four.' });
export type InvocationStatus = z.infer<typeof InvocationStatus>;

export const FINAL_STATUSES: readonly InvocationStatus[] = ['succeeded', 'failed', 'timed_out', 'cancelled'];

export interface FunctionResponse {
  status: number;
  headers: Record<string, string>;
  /** Raw body, base64. */
  bodyBase64: string;
}

export interface SandboxReport {
  /** `pid:[inode]` of the sandbox's pid namespace. */
  pidNamespace: string;
  /** Host pid of the sandbox's init. */
  hostPid: number;
  zombiesReaped: number;
  /** Most processes and threads of the function at once (the pids cgroup's peak). */
  peakProcesses: number;
  /** CPU time of the function's processes, user + system, ms. */
  cpuMs: number;
  /** Most memory the function's processes used at once, its /tmp included, bytes; null where the kernel keeps no peak. */
  memoryPeakBytes: number | null;
  /** The sandbox was started before the call came (a warm start); still fresh, and used for this call alone. */
  prestarted: boolean;
}

/** The outcome of running a function once in a sandbox. */
export interface FunctionResult {
  status: Exclude<InvocationStatus, 'queued' | 'running'>;
  response: FunctionResponse;
  exit: { code: number | null; signal: string | null };
  timings: {
    /** Sandbox spawn → function started. */
    startMs: number;
    /** Function started → exited. */
    runMs: number;
  };
  sandbox: SandboxReport;
  /** The tail of the function's log (stderr, and stdout for node functions), at most maxLogBytes. */
  log: string;
  logTruncated: boolean;
  /** Why it did not succeed, with a stable code. */
  error?: { code: string; message: string };
}
