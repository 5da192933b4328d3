// `GET /invocations`: the recent invocations, newest first, one page at a time. A summary is the
// record's fields of the same names (contracts/invocation-record.ts) without its response and log,
// so that a page of a hundred stays small whatever the functions answered.
import { z } from 'zod';
import type { InvocationStatus } from './invocation.js';

export const INVOCATION_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'] as const satisfies readonly InvocationStatus[];

export const InvocationStatusSchema = z.enum(INVOCATION_STATUSES).meta({ id: 'InvocationStatus' });

export const InvocationSummarySchema = z
  .object({
    id: z.string(),
    function: z.string(),
    status: InvocationStatusSchema,
    attempts: z.number().int().meta({ description: 'Runs started so far.' }),
    maxAttempts: z.number().int().meta({ description: "1 + the function's retries." }),
    createdAt: z.string().meta({ description: 'ISO 8601.' }),
    startedAt: z.string().nullable().meta({ description: 'Start of the latest run, ISO 8601.' }),
    finishedAt: z.string().nullable(),
    timings: z.object({
      queuedMs: z.number().nullable().meta({ description: 'Enqueued → first run started.' }),
      startMs: z.number().nullable().meta({ description: 'Sandbox spawn → function started (latest run).' }),
      runMs: z.number().nullable().meta({ description: 'Function started → exited (latest run).' }),
    }),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    batchId: z.string().nullable(),
  })
  .meta({ id: 'InvocationSummary', description: "An invocation record's fields of the same names, without its response and log." });

export type InvocationSummary = z.infer<typeof InvocationSummarySchema>;

export const InvocationListSchema = z
  .object({
    invocations: z.array(InvocationSummarySchema),
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last.' }),
  })
  .meta({ id: 'InvocationList' });

export type InvocationList = z.infer<typeof InvocationListSchema>;

/** Most summaries on one page, and how many when `limit` is not given. */
export const LIST_LIMITS = { max: 100, default: 20 } as const;

export const InvocationListQuerySchema = z.object({
  function: z.string().optional().meta({ description: 'Only invocations of this function.' }),
  status: InvocationStatusSchema.optional().meta({ description: 'Only invocations in this status now.' }),
  limit: z.string().optional().meta({ description: `Summaries on the page, 1 to ${LIST_LIMITS.max}. Default: ${LIST_LIMITS.default}.` }),
  cursor: z.string().optional().meta({ description: "The previous page's nextCursor." }),
});
