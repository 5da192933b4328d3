// The answers of the API routes the dashboard reads, as the API documents them (README, "HTTP API";
// the list and processes routes: notes/shared-api.md). Records and batches are the contracts' own.
import type { InvocationStatus } from '../../contracts/invocation.js';
import type { InvocationRecord } from '../../contracts/invocation-record.js';

export type { BatchRecord, InvocationRecord } from '../../contracts/invocation-record.js';

/** GET /functions. */
export interface FunctionList {
  functions: Array<{
    name: string;
    runtime: string;
    settings: { timeoutMs: number; retries: number; concurrency: number | null; network: string; contentType: string; env: string[] };
  }>;
  problems: Array<{ name: string; code: string; message: string }>;
}

/** One invocation of GET /invocations: the record's fields of these names. */
export type InvocationSummary = Pick<
  InvocationRecord,
  'id' | 'function' | 'status' | 'attempts' | 'maxAttempts' | 'createdAt' | 'startedAt' | 'finishedAt' | 'timings' | 'error' | 'batchId'
>;

/** GET /invocations, newest first. */
export interface InvocationList {
  invocations: InvocationSummary[];
  nextCursor: string | null;
}

/** One process of GET /invocations/{id}/processes; pids as seen in the sandbox (its init is 1). */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The /proc state letter. */
  state: string;
  command: string;
  rssBytes: number;
  cpuMs: number;
}

export const STATUSES: readonly InvocationStatus[] = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'];

/** What POST /invocations/{id}/signal forwards; the API has the last word (400 INVALID_SIGNAL). */
export const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
