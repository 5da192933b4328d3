// The answers of the API routes the dashboard reads, as the API documents them (README, "HTTP API").
// Records, batches, lists and process lists are the contracts' own.
import type { InvocationStatus } from '../../contracts/invocation.js';

export type { BatchRecord, InvocationRecord } from '../../contracts/invocation-record.js';

/** GET /functions. */
export type { FunctionList } from '../../contracts/function-list.js';

export type { InvocationList, InvocationSummary } from '../../contracts/invocation-list.js';
/** One process of GET /invocations/{id}/processes; pids as seen in the sandbox (its init is 1). */
export type { SandboxProcess as ProcessInfo } from '../../contracts/process-list.js';

export const STATUSES: readonly InvocationStatus[] = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'];

/** What POST /invocations/{id}/signal forwards; the API has the last word (400 INVALID_SIGNAL). */
export const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
