// `GET /invocations/{id}/processes`: the live process tree of a running invocation, as its worker
// reads it from the host's /proc. pids are those seen inside the sandbox's PID namespace (its init
// is 1, and 1's parent is 0). Every field comes from the sandbox, whose function may be hostile: a
// command line is text of bounded length with control characters replaced, and the list itself is
// bounded (`truncated` says that processes were left out).
import { z } from 'zod';

export const SandboxProcessSchema = z
  .object({
    pid: z.number().int().meta({ description: 'pid inside the sandbox (its init is 1).' }),
    ppid: z.number().int().meta({ description: "Parent's pid inside the sandbox; 0 for the init." }),
    state: z.string().meta({ description: 'The /proc state letter: R running, S sleeping, D disk wait, Z zombie, T stopped, …' }),
    command: z.string().meta({ description: 'The command line, its arguments joined by spaces (bounded; `[name]` when it has none).' }),
    rssBytes: z.number().int().meta({ description: 'Resident memory, bytes.' }),
    cpuMs: z.number().meta({ description: 'CPU time so far, user + system, ms.' }),
  })
  .meta({ id: 'SandboxProcess' });

export type SandboxProcess = z.infer<typeof SandboxProcessSchema>;

export const ProcessListSchema = z
  .object({
    processes: z.array(SandboxProcessSchema),
    truncated: z.boolean().meta({ description: 'More processes ran than one answer lists (the first by pid are listed).' }),
  })
  .meta({ id: 'ProcessList' });

export type ProcessList = z.infer<typeof ProcessListSchema>;

/** Bounds of one answer: what a hostile function can make the worker read and send. */
export const PROCESS_LIST_LIMITS = {
  /** Most processes listed. */
  maxProcesses: 256,
  /** Most bytes of one command line read (the rest is cut). */
  maxCommandBytes: 1024,
} as const;
