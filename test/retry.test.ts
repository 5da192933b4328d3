// Re-driving invocations that did not succeed: POST /invocations/{id}/retry, end to end on a real
// stack — the failed one listed, a new invocation made with the same request (the function says what
// it was asked), both records linked, and what cannot be retried refused with a stable code.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { InvocationSummary } from '../contracts/invocation-list.js';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import { startStack, type Stack } from './support/pidbox-stack.js';
import { waitFor } from './support/processes.js';

let stack: Stack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

async function record(id: string): Promise<InvocationRecord> {
  const res = await stack.fetch(`/invocations/${id}`);
  assert.equal(res.status, 200, `GET /invocations/${id}`);
  return (await res.json()) as InvocationRecord;
}

async function invokeAsync(name: string, body: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await stack.fetch(`/functions/${name}/invocations`, { method: 'POST', body, headers });
  assert.equal(res.status, 202);
  return ((await res.json()) as { id: string }).id;
}

async function ended(id: string): Promise<InvocationRecord> {
  return waitFor(`${id} to end`, async () => {
    const r = await record(id);
    return r.finishedAt ? r : null;
  }, 30_000);
}

async function retry(id: string): Promise<Response> {
  return stack.fetch(`/invocations/${id}/retry`, { method: 'POST' });
}

async function errorCodeOf(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

test('a failed invocation is listed, and its retry runs the same request as a new invocation linked to it', async () => {
  const first = await invokeAsync('fails-with-its-request', 'payload-1', { 'x-try': 'one' });
  const failed = await ended(first);
  assert.equal(failed.status, 'failed');
  assert.match(failed.error!.message, /exited with code 4: asked POST \/ with x-try=one and body payload-1/);

  const listed = (await (await stack.fetch('/invocations?function=fails-with-its-request&status=failed')).json()) as { invocations: InvocationSummary[] };
  assert.deepEqual(listed.invocations.map((i) => i.id), [first]);

  const res = await retry(first);
  assert.equal(res.status, 202);
  const accepted = (await res.json()) as { id: string; status: string; retryOf: string };
  assert.notEqual(accepted.id, first);
  assert.deepEqual(accepted, { id: accepted.id, status: 'queued', retryOf: first });
  assert.equal(res.headers.get('location'), `/invocations/${accepted.id}`);
  assert.equal(res.headers.get('x-invocation-id'), accepted.id);

  const second = await ended(accepted.id);
  assert.equal(second.status, 'failed');
  assert.equal(second.error!.message, failed.error!.message, 'the function was asked the same');
  assert.equal(second.retryOf, first);
  assert.equal(second.attempts, 1);
  const old = await record(first);
  assert.equal(old.retriedBy, accepted.id);
  assert.equal(old.status, 'failed', 'the old record stays as it ended');

  // Both are listed now, the retry first (newest first).
  const both = (await (await stack.fetch('/invocations?function=fails-with-its-request&status=failed')).json()) as { invocations: InvocationSummary[] };
  assert.deepEqual(both.invocations.map((i) => i.id), [accepted.id, first]);
});

test('a cancelled invocation can be retried; a running, a succeeded or an unknown one cannot', async () => {
  const running = await invokeAsync('sleeps', '');
  await waitFor('it to run', async () => (await record(running)).status === 'running', 20_000);
  const refused = await retry(running);
  assert.equal(refused.status, 409);
  assert.equal(await errorCodeOf(refused), 'INVOCATION_NOT_RETRYABLE');

  assert.equal((await stack.fetch(`/invocations/${running}`, { method: 'DELETE' })).status, 200);
  assert.equal((await ended(running)).status, 'cancelled');
  const again = await retry(running);
  assert.equal(again.status, 202);
  const retried = ((await again.json()) as { id: string }).id;
  await waitFor('the retry to run', async () => (await record(retried)).status === 'running', 20_000);
  assert.equal((await record(retried)).retryOf, running);
  assert.equal((await stack.fetch(`/invocations/${retried}`, { method: 'DELETE' })).status, 200);

  const succeeded = await invokeAsync('echoes-body', 'hi');
  assert.equal((await ended(succeeded)).status, 'succeeded');
  const notAgain = await retry(succeeded);
  assert.equal(notAgain.status, 409);
  assert.equal(await errorCodeOf(notAgain), 'INVOCATION_NOT_RETRYABLE');

  const unknown = await retry('00000000-0000-4000-8000-000000000000');
  assert.equal(unknown.status, 404);
  assert.equal(await errorCodeOf(unknown), 'INVOCATION_NOT_FOUND');
});
