// Invocations sent without pause (sync, async and batches, several at once) while a test breaks
// Redis, and the books kept on them: every invocation the gateway accepted, by id, and every
// answer that refused one. Once the load stops, settle() waits until each accepted invocation has
// finished, and counts.
import type { InvocationRecord } from '../../contracts/invocation-record.js';
import { waitFor } from './processes.js';

export interface Ledger {
  /** Invocation ids the gateway accepted (a sync answer with its status, a 202), and what each was. */
  readonly accepted: Map<string, 'sync' | 'async' | 'batch'>;
  /** Refusals with 503 QUEUE_UNAVAILABLE, and the longest time one took to come, ms. */
  refused: number;
  slowestRefusalMs: number;
  /** Sync answers whose body was not the body sent. */
  readonly wrongBodies: string[];
  /** Any other answer (status and body), or a request that failed: each one a bug. */
  readonly unexpected: string[];
}

export interface Load {
  readonly ledger: Ledger;
  /** Stops sending, waits for the requests under way, and gives the books. */
  stop(): Promise<Ledger>;
}

export interface LoadOptions {
  /** Requests at once. Default: 3. */
  parallel?: number;
  /** Invocations in one batch. Default: 4. */
  batchSize?: number;
  /** A function that answers its body. Default: `echoes-body`. */
  functionName?: string;
}

export function startLoad(baseUrl: string, options: LoadOptions = {}): Load {
  const fn = options.functionName ?? 'echoes-body';
  const batchSize = options.batchSize ?? 4;
  const ledger: Ledger = { accepted: new Map(), refused: 0, slowestRefusalMs: 0, wrongBodies: [], unexpected: [] };
  let stopped = false;
  let n = 0;
  const refusedOr = async (res: Response, started: number, what: string): Promise<void> => {
    const text = await res.text();
    if (res.status === 503 && /"code":"QUEUE_UNAVAILABLE"/.test(text)) {
      ledger.refused++;
      ledger.slowestRefusalMs = Math.max(ledger.slowestRefusalMs, Date.now() - started);
    } else {
      ledger.unexpected.push(`${what}: ${res.status} ${text.slice(0, 300)}`);
    }
  };
  const one = async (): Promise<void> => {
    const i = n++;
    const body = `call ${i}`;
    const started = Date.now();
    try {
      switch (i % 3) {
        case 0: {
          const res = await fetch(`${baseUrl}/functions/${fn}`, { method: 'POST', body });
          const id = res.headers.get('x-invocation-id');
          // A finished invocation's answer carries its status; the gateway's own errors do not.
          if (id && res.headers.get('x-invocation-status')) {
            ledger.accepted.set(id, 'sync');
            const answer = await res.text();
            if (res.status !== 200 || answer !== body) ledger.wrongBodies.push(`${id}: ${res.status} ${answer.slice(0, 100)}`);
          } else {
            await refusedOr(res, started, 'sync');
          }
          break;
        }
        case 1: {
          const res = await fetch(`${baseUrl}/functions/${fn}/invocations`, { method: 'POST', body });
          if (res.status === 202) ledger.accepted.set(((await res.json()) as { id: string }).id, 'async');
          else await refusedOr(res, started, 'async');
          break;
        }
        default: {
          const items = Array.from({ length: batchSize }, (_, k) => `${body}.${k}`);
          const res = await fetch(`${baseUrl}/functions/${fn}/batch`, { method: 'POST', body: JSON.stringify(items), headers: { 'content-type': 'application/json' } });
          if (res.status !== 202) {
            await refusedOr(res, started, 'batch');
            break;
          }
          const { batchId } = (await res.json()) as { batchId: string };
          // The members' ids, from the batch (the gateway may be unreachable from Redis a moment).
          const batch = await waitFor(`batch ${batchId}`, async () => {
            const page = await fetch(`${baseUrl}/batches/${batchId}`);
            return page.status === 200 ? ((await page.json()) as { results: Array<{ id: string }> }) : null;
          }, 60_000, 200);
          for (const result of batch.results) ledger.accepted.set(result.id, 'batch');
          if (batch.results.length !== batchSize) ledger.unexpected.push(`batch ${batchId}: ${batch.results.length} members`);
          break;
        }
      }
    } catch (error) {
      ledger.unexpected.push(`request ${i}: ${(error as Error).message}`);
    }
  };
  const loops = Array.from({ length: options.parallel ?? 3 }, async () => {
    while (!stopped) await one();
  });
  return {
    ledger,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return ledger;
    },
  };
}

export interface Settled {
  succeeded: number;
  failed: number;
  /** Accepted invocations not finished within the wait: lost. */
  lost: string[];
  /** Error codes of the failed ones. */
  failures: string[];
}

/** Waits until every accepted invocation is final (succeeded, failed, timed_out or cancelled), up to `timeoutMs`, and counts. */
export async function settle(baseUrl: string, ledger: Ledger, timeoutMs = 90_000): Promise<Settled> {
  const final = new Map<string, InvocationRecord>();
  const deadline = Date.now() + timeoutMs;
  while (final.size < ledger.accepted.size && Date.now() < deadline) {
    const pending = [...ledger.accepted.keys()].filter((id) => !final.has(id));
    for (let i = 0; i < pending.length; i += 20) {
      await Promise.all(pending.slice(i, i + 20).map(async (id) => {
        const res = await fetch(`${baseUrl}/invocations/${id}`).catch(() => null);
        if (res?.status !== 200) return;
        const record = (await res.json()) as InvocationRecord;
        if (record.status !== 'queued' && record.status !== 'running') final.set(id, record);
      }));
    }
    if (final.size < ledger.accepted.size) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const records = [...final.values()];
  return {
    succeeded: records.filter((r) => r.status === 'succeeded').length,
    failed: records.filter((r) => r.status !== 'succeeded').length,
    lost: [...ledger.accepted.keys()].filter((id) => !final.has(id)),
    failures: records.filter((r) => r.status !== 'succeeded').map((r) => `${r.id}: ${r.status} ${r.error?.code ?? ''} ${r.error?.message ?? ''}`),
  };
}
