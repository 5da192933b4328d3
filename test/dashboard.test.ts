// The dashboard in a real headless Chromium, against a real gateway, worker and redis-server: pages,
// forms, a log followed live, batches, a trace link, escaping of what functions write, the login of a
// gateway with API keys, the recent list, a sandbox's processes, signals, retries, and Bull Board.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import type { InvocationRecord } from '../contracts/invocation-record.js';
import { createLogger } from '../telemetry/logger.js';
import { createMetrics } from '../telemetry/metrics.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { loadTracingConfig, startTracing } from '../telemetry/tracing.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp/otlp-receiver.js';
import { launchBrowser, withPage } from './support/browser.js';
import { startStack, type Stack } from './support/pidbox-stack.js';
import { waitFor } from './support/processes.js';

const TRACE_URL = 'http://jaeger.test:16686/trace/{traceId}';
const KEY = 'dashboard-test-key-0123456789';

let receiver: OtlpReceiver | undefined;
let telemetry: Telemetry | undefined;
let stack: Stack | undefined;
let keyed: Stack | undefined;
let browser: Browser | undefined;

before(async () => {
  receiver = await startOtlpReceiver();
  const tracing = await startTracing(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, 'pidbox-dashboard-test'));
  telemetry = { tracing, metrics: createMetrics(), log: createLogger({ service: 'test', level: 'error', write: () => {} }) };
  stack = await startStack({ telemetry, env: { PIDBOX_TRACE_URL: TRACE_URL, PIDBOX_WORKER_CONCURRENCY: '2' } });
  // No worker: its invocations stay queued, which is all its pages need.
  keyed = await startStack({ worker: false, redis: stack.redis, env: { PIDBOX_REDIS_PREFIX: 'keyed', PIDBOX_API_KEYS: KEY } });
  browser = await launchBrowser();
});

after(async () => {
  // Each step runs even when one before it failed.
  const steps = [() => browser?.close(), () => keyed?.stop(), () => stack?.stop(), () => telemetry?.tracing.shutdown(), () => receiver?.close()];
  for (const step of steps) await Promise.resolve().then(step).catch((error) => console.error(error));
});

function open(): Stack {
  assert.ok(stack, 'the stack started');
  return stack;
}

async function record(s: Stack, id: string, headers: Record<string, string> = {}): Promise<InvocationRecord> {
  const res = await s.fetch(`/invocations/${id}`, { headers });
  assert.equal(res.status, 200);
  return (await res.json()) as InvocationRecord;
}

async function invokeAsync(s: Stack, name: string, body = '', headers: Record<string, string> = {}): Promise<string> {
  const res = await s.fetch(`/functions/${name}/invocations`, { method: 'POST', body, headers });
  assert.equal(res.status, 202);
  return ((await res.json()) as { id: string }).id;
}

/** Fills the dashboard's invoke form on /ui. */
async function fillInvokeForm(page: Page, fn: string, mode: 'sync' | 'async' | 'batch', body: string, contentType = 'application/json'): Promise<Locator> {
  await page.goto(`${open().url}/ui`);
  const form = page.locator('form[action="/ui/invoke"]');
  await form.locator('select[name=function]').selectOption(fn);
  await form.locator(`input[name=mode][value=${mode}]`).check();
  await form.locator('input[name=contentType]').fill(contentType);
  await form.locator('textarea[name=body]').fill(body);
  return form.locator('button[type=submit]');
}

/** Submits the invoke form and waits for the page of the invocation or batch it made. */
async function invokeFromForm(page: Page, fn: string, mode: 'sync' | 'async' | 'batch', body: string, contentType = 'application/json'): Promise<void> {
  const submit = await fillInvokeForm(page, fn, mode, body, contentType);
  await Promise.all([page.waitForURL(mode === 'batch' ? /\/ui\/batches\// : /\/ui\/invocations\//), submit.click()]);
}

function idFromUrl(page: Page): string {
  const match = /\/ui\/(?:invocations|batches)\/([0-9a-f-]{36})/.exec(page.url());
  assert.ok(match, `an id in ${page.url()}`);
  return match[1]!;
}

describe('dashboard', { timeout: 180_000 }, () => {
  test('serves /ui with the functions, one script and one style sheet of its own, and a strict CSP', async () => {
    await withPage(browser!, async ({ page, problems }) => {
      const response = await page.goto(`${open().url}/ui`);
      assert.equal(response?.status(), 200);
      const csp = response!.headers()['content-security-policy'] ?? '';
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /require-trusted-types-for 'script'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(response!.headers()['cache-control'], 'no-store');

      const row = page.locator('tr[data-function="returns-value"]');
      await row.waitFor();
      assert.match(await row.innerText(), /node/);
      assert.match(await page.locator('tr[data-function="prints-lines-slowly"]').innerText(), /exec/);
      // A function whose function.json is invalid is shown with its problem.
      assert.match(await page.locator('.error', { hasText: 'bad-config' }).innerText(), /INVALID_FUNCTION_CONFIG/);

      const scripts = await page.$$eval('script', (list) => list.map((s) => s.getAttribute('src')));
      assert.equal(scripts.length, 1);
      assert.match(scripts[0] ?? '', /^\/ui\/static\/dashboard\.js\?v=[0-9a-f]{16}$/);
      assert.equal(await page.locator('[style]').count(), 0, 'no inline style');
      const js = await page.request.get(`${open().url}${scripts[0]}`);
      assert.equal(js.headers()['cache-control'], 'public, max-age=31536000, immutable');
      assert.match(js.headers()['content-type'] ?? '', /^text\/javascript/);
      assert.deepEqual(problems, []);
    });
  });

  test('an async invocation from the form opens its page, which follows it until it succeeds', async () => {
    await withPage(browser!, async ({ page, problems }) => {
      await invokeFromForm(page, 'returns-value', 'async', '{"n":1}');
      const id = idFromUrl(page);
      await page.locator('#record[data-status="succeeded"]').waitFor();
      assert.match(await page.locator('#response-body').innerText(), /"length":7/);
      assert.match(await page.locator('#log').innerText(), /log line/);
      assert.equal(await page.locator('[data-while-running]').count(), 0, 'no cancel or signal once it has finished');
      assert.equal((await record(open(), id)).status, 'succeeded');
      assert.deepEqual(problems, []);
    });
  });

  test('a sync invocation from the form waits for the result and shows the response', async () => {
    await withPage(browser!, async ({ page }) => {
      await invokeFromForm(page, 'echoes-body', 'sync', 'echo this back', 'text/plain');
      assert.equal(await page.locator('#record').getAttribute('data-status'), 'succeeded');
      assert.equal(await page.locator('#response-body').innerText(), 'echo this back');
      // Refused before any invocation existed: the API's error, shown as it is.
      await (await fillInvokeForm(page, 'echoes-body', 'batch', '{"not":"an array"}')).click();
      await page.locator('.error', { hasText: 'INVALID_BATCH' }).waitFor();
    });
  });

  test('an invocation made from the page appears in the recent list and succeeds', async () => {
    await withPage(browser!, async ({ page }) => {
      await invokeFromForm(page, 'slow-echo', 'async', 'listed');
      const id = idFromUrl(page);
      await page.goto(`${open().url}/ui`);
      await page.locator('#invocations table, #invocations .notice').first().waitFor();
      assert.equal(await page.locator('#invocations table').count(), 1, await page.locator('#invocations').innerText());
      const row = page.locator(`#invocations tr[data-id="${id}"]`);
      await row.waitFor();
      assert.match(await row.innerText(), /slow-echo/);
      // The list refreshes itself: the same row turns succeeded without a reload.
      await page.locator(`#invocations tr[data-id="${id}"] .status-succeeded`).waitFor();
      // Filtered by another function, it is not there.
      await page.goto(`${open().url}/ui?function=returns-value`);
      await page.locator('#invocations table').waitFor();
      assert.equal(await page.locator(`#invocations tr[data-id="${id}"]`).count(), 0);
    });
  });

  test("an invocation's log is followed live, line by line, until its end", async () => {
    await withPage(browser!, async ({ page, problems }) => {
      const id = await invokeAsync(open(), 'prints-lines-slowly');
      await page.goto(`${open().url}/ui/invocations/${id}`);
      const log = page.locator('#log');
      await log.filter({ hasText: 'line 1 of 6' }).waitFor();
      // Seen before the function had written the rest, while it still ran.
      const early = await log.innerText();
      assert.doesNotMatch(early, /line 6 of 6/, `the first line came before the last: ${early}`);
      assert.ok(['queued', 'running'].includes((await page.locator('#record').getAttribute('data-status')) ?? ''));

      await page.locator('#log[data-ended="succeeded"]').waitFor();
      const text = await log.innerText();
      for (let i = 1; i <= 6; i++) assert.equal(text.split(`line ${i} of 6`).length - 1, 1, `line ${i} once in: ${text}`);
      // The record fragment was refreshed to its final state without a reload.
      await page.locator('#record[data-status="succeeded"][data-final]').waitFor();
      assert.deepEqual(problems, []);
    });
  });

  test("a running invocation's page shows its process tree", async () => {
    const id = await invokeAsync(open(), 'sleeps');
    try {
      await withPage(browser!, async ({ page }) => {
        await page.goto(`${open().url}/ui/invocations/${id}`);
        await page.locator('#processes, #record .notice').first().waitFor();
        const tree = page.locator('#processes');
        assert.equal(await tree.count(), 1, await page.locator('#record').innerText());
        // The init is pid 1, the handler's shell under it, its two sleeps under the shell.
        await tree.locator('li[data-pid="1"]').waitFor();
        await waitFor('two sleeps in the tree', async () => (await tree.locator('li li .command', { hasText: 'sleep 60' }).count()) === 2);
      });
    } finally {
      await open().fetch(`/invocations/${id}`, { method: 'DELETE' });
    }
  });

  test('a running invocation is cancelled from its page', async () => {
    const id = await invokeAsync(open(), 'sleeps');
    try {
      await withPage(browser!, async ({ page }) => {
        await page.goto(`${open().url}/ui/invocations/${id}`);
        await page.locator('#record[data-status="running"]').waitFor();
        await Promise.all([page.waitForURL(/cancelled=1/), page.locator('form[action$="/cancel"] button').click()]);
        await page.locator('#record[data-status="cancelled"]').waitFor();
        await page.locator('.notice', { hasText: 'cancelled' }).waitFor();
        assert.equal(await page.locator('[data-while-running]').count(), 0);
      });
    } finally {
      await open().fetch(`/invocations/${id}`, { method: 'DELETE' });
    }
  });

  test('a failed invocation is retried from its page: the new one opens, linked both ways', async () => {
    const id = await invokeAsync(open(), 'fails-with-its-request', 'again');
    await waitFor('it to fail', async () => (await record(open(), id)).status === 'failed', 20_000);
    await withPage(browser!, async ({ page, problems }) => {
      await page.goto(`${open().url}/ui/invocations/${id}`);
      await page.locator('#record[data-status="failed"]').waitFor();
      await Promise.all([page.waitForURL((url) => !url.pathname.endsWith(id)), page.locator('form[action$="/retry"] button').click()]);
      const retry = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
      assert.notEqual(retry, id);
      assert.equal((await record(open(), retry)).retryOf, id);
      await page.locator(`a[href="/ui/invocations/${id}"]`, { hasText: id }).waitFor();
      await page.locator('#record[data-status="failed"]').waitFor();
      // The old one's page links the new one, and a succeeded one offers no retry.
      await page.goto(`${open().url}/ui/invocations/${id}`);
      await page.locator(`a[href="/ui/invocations/${retry}"]`, { hasText: retry }).waitFor();
      assert.deepEqual(problems, []);
    });
    const succeeded = await invokeAsync(open(), 'returns-value');
    await waitFor('it to succeed', async () => (await record(open(), succeeded)).status === 'succeeded', 20_000);
    await withPage(browser!, async ({ page }) => {
      await page.goto(`${open().url}/ui/invocations/${succeeded}`);
      await page.locator('#record[data-status="succeeded"]').waitFor();
      assert.equal(await page.locator('form[action$="/retry"]').count(), 0);
    });
  });

  test('a signal sent from the page reaches the function', async () => {
    const id = await invokeAsync(open(), 'waits-for-a-signal');
    try {
      await withPage(browser!, async ({ page }) => {
        await page.goto(`${open().url}/ui/invocations/${id}`);
        await page.locator('#log', { hasText: 'waiting for SIGUSR1' }).waitFor();
        await page.locator('select[name=signal]').selectOption('SIGUSR1');
        await Promise.all([page.waitForLoadState(), page.locator('form[action$="/signal"] button').click()]);
        const outcome = page.locator('.notice, .error').first();
        await outcome.waitFor();
        assert.match(await outcome.innerText(), /SIGUSR1 was sent/);
        await page.locator('#log', { hasText: 'got SIGUSR1' }).waitFor();
        await page.locator('#record[data-status="succeeded"]').waitFor();
      });
    } finally {
      await open().fetch(`/invocations/${id}`, { method: 'DELETE' });
    }
  });

  test('a batch from the form shows its progress until every invocation has finished', async () => {
    await withPage(browser!, async ({ page, problems }) => {
      await invokeFromForm(page, 'echoes-body', 'batch', '[{"n":1},{"n":2},{"n":3}]');
      const batchId = idFromUrl(page);
      await page.locator('#batch[data-final]').waitFor();
      assert.match(await page.locator('#batch .progress-text').innerText(), /3 of 3 finished/);
      assert.equal(await page.locator('#batch progress').getAttribute('value'), '1');
      assert.equal(await page.locator('#batch tbody tr .status-succeeded').count(), 3);
      // A member's page links back to its batch.
      await Promise.all([page.waitForURL(/\/ui\/invocations\//), page.locator('#batch tbody tr a').first().click()]);
      assert.equal(await page.locator(`#record a[href="/ui/batches/${batchId}"]`).count(), 1);
      assert.match(await page.locator('#response-body').innerText(), /\{"n":1\}/);
      assert.deepEqual(problems, []);
    });
  });

  test('what a function writes — body, header, log — is shown as text and never runs', async () => {
    const res = await open().fetch('/functions/answers-with-markup', { method: 'POST' });
    assert.equal(res.status, 200);
    const id = res.headers.get('x-invocation-id')!;
    await withPage(browser!, async ({ page, problems }) => {
      await page.goto(`${open().url}/ui/invocations/${id}`);
      await page.locator('#record[data-status="succeeded"]').waitFor();
      assert.match(await page.locator('#response-body').innerText(), /<script>window\.__pwned = "body"<\/script><img src=x/);
      assert.match(await page.locator('table.headers').innerText(), /"><script>window\.__pwned = "header"<\/script>/);
      assert.match(await page.locator('#log').innerText(), /<script>window\.__pwned = "log"<\/script>/);
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned), undefined);
      assert.equal(await page.locator('script').count(), 1, 'only the dashboard\'s own script');
      assert.equal(await page.locator('img, b').count(), 0, 'no element made from the output');
      assert.deepEqual(problems, []);
    });
  });

  test("an invocation's page links its trace with PIDBOX_TRACE_URL", async () => {
    const res = await open().fetch('/functions/returns-value', { method: 'POST', body: 'traced' });
    assert.equal(res.status, 200);
    const traceId = /^00-([0-9a-f]{32})-/.exec(res.headers.get('traceparent') ?? '')?.[1];
    assert.ok(traceId, 'the response names its trace');
    const id = res.headers.get('x-invocation-id')!;
    assert.equal((await record(open(), id)).traceId, traceId);
    await withPage(browser!, async ({ page }) => {
      await page.goto(`${open().url}/ui/invocations/${id}`);
      const link = page.locator('#record a.trace');
      assert.equal(await link.getAttribute('href'), TRACE_URL.replace('{traceId}', traceId));
      assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
    });
  });

  test('reading the dashboard makes no spans; an invocation from its form is traced from the form on', async () => {
    await withPage(browser!, async ({ page }) => {
      await invokeFromForm(page, 'returns-value', 'async', '{}');
      await page.locator('#record[data-status="succeeded"]').waitFor();
      const traceId = (await record(open(), idFromUrl(page))).traceId;
      assert.ok(traceId);
      assert.equal(await page.locator('#record a.trace').getAttribute('href'), TRACE_URL.replace('{traceId}', traceId));
      const spans = await receiver!.waitFor((all) => all.some((s) => s.traceId === traceId && s.name === 'process invocations'), 15_000);
      assert.ok(spans.some((s) => s.traceId === traceId && s.name === 'POST /ui/invoke'), 'the form\'s request is the root');
      // The pages read before (GET /ui and the GET /functions behind it) were exported before it, if at all.
      const reads = spans.filter((s) => /^GET \/(ui|admin|functions$)/.test(s.name)).map((s) => s.name);
      assert.deepEqual(reads, []);
    });
  });

  test('with API keys, the dashboard asks for a key, refuses a wrong one, opens with the right one; the API still wants the header', async () => {
    const k = keyed!;
    const bearer = { authorization: `Bearer ${KEY}` };
    const id = await invokeAsync(k, 'returns-value', 'queued', bearer);

    // Without the key, pages, fragments, the log, Bull Board and the API are refused (a browser's
    // navigation to a page is led to the login form instead: below).
    for (const path of ['/ui', `/ui/invocations/${id}`, `/ui/fragments/invocations/${id}`, `/ui/invocations/${id}/log`, '/admin/queues/api/queues', `/invocations/${id}`, '/functions']) {
      assert.equal((await k.fetch(path)).status, 401, path);
    }
    // The API never takes the cookie for the header.
    assert.equal((await k.fetch(`/invocations/${id}`, { headers: { cookie: `pidbox_key=${KEY}` } })).status, 401);
    assert.equal((await k.fetch(`/invocations/${id}`, { headers: bearer })).status, 200);
    // A form from another site is refused even with the key.
    const crossSite = await k.fetch('/ui/invoke', { method: 'POST', headers: { ...bearer, 'sec-fetch-site': 'cross-site' }, body: new URLSearchParams({ function: 'returns-value', mode: 'async' }) });
    assert.equal(crossSite.status, 401);

    await withPage(browser!, async ({ page, context, problems }) => {
      await page.goto(`${k.url}/ui/invocations/${id}`);
      await page.waitForURL(/\/ui\/login\?next=/);
      await page.locator('input[name=key]').fill('not-the-key-0123456789');
      await page.locator('form[action="/ui/login"] button').click();
      await page.locator('.error', { hasText: 'not valid' }).waitFor();
      assert.deepEqual(await context.cookies(), []);

      await page.locator('input[name=key]').fill(KEY);
      await Promise.all([page.waitForURL(new RegExp(`/ui/invocations/${id}$`)), page.locator('form[action="/ui/login"] button').click()]);
      await page.locator('#record[data-status="queued"]').waitFor();
      const cookies = await context.cookies();
      assert.deepEqual(cookies.map((c) => c.path).sort(), ['/admin/queues', '/ui']);
      for (const cookie of cookies) {
        assert.equal(cookie.name, 'pidbox_key');
        assert.equal(cookie.httpOnly, true);
        assert.equal(cookie.sameSite, 'Strict');
        assert.equal(cookie.expires, -1, 'a session cookie');
      }
      assert.equal(await page.evaluate(() => document.cookie), '', 'no script can read the key');
      // Logged in, the page's own fetches of the API are still refused: the key is not theirs to use.
      assert.equal(await page.evaluate(async (p) => (await fetch(p)).status, `/invocations/${id}`), 401);

      await page.goto(`${k.url}/ui`);
      await page.locator('tr[data-function="returns-value"]').waitFor();
      // The one console error: that fetch's 401.
      assert.deepEqual(problems.filter((p) => !p.includes('401')), []);
      // Bull Board's page and its API calls take the key from the cookie too: its queues come from that API.
      await page.goto(`${k.url}/admin/queues`);
      await page.getByText('callbacks').first().waitFor();

      await page.goto(`${k.url}/ui`);
      await Promise.all([page.waitForURL(/\/ui\/login/), page.locator('form[action="/ui/logout"] button').click()]);
      assert.deepEqual(await context.cookies(), []);
      await page.goto(`${k.url}/ui`);
      await page.waitForURL(/\/ui\/login\?next=%2Fui$/);
    });
  });

  test("Bull Board shows pidbox's queues, read-only", async () => {
    const id = await invokeAsync(open(), 'sleeps');
    try {
      await waitFor('the invocation to run', async () => (await record(open(), id)).status === 'running', 20_000);
      await withPage(browser!, async ({ page }) => {
        const failed: string[] = [];
        page.on('response', (r) => {
          if (r.url().startsWith(open().url) && r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
        });
        const response = await page.goto(`${open().url}/admin/queues/queue/invocations?status=active`);
        assert.equal(response?.status(), 200);
        assert.equal(await page.title(), 'pidbox queues');
        assert.equal(response!.headers()['x-frame-options'], 'DENY');
        assert.match(response!.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);
        // Its running job, read from Redis by Bull Board's own API, with its data.
        await page.getByText(id).first().waitFor();
        await page.getByText('functionName:"sleeps"').first().waitFor();
        assert.deepEqual(failed, [], 'its script, styles and API calls all answered');
      });
      const queues = (await (await open().fetch('/admin/queues/api/queues?activeQueue=invocations&status=active')).json()) as {
        queues: Array<{ name: string; readOnlyMode: boolean; jobs: Array<{ id: string }> }>;
      };
      assert.deepEqual(queues.queues.map((q) => [q.name, q.readOnlyMode]).sort(), [['callbacks', true], ['invocations', true]]);
      assert.ok(queues.queues.find((q) => q.name === 'invocations')?.jobs.some((j) => j.id === id), 'the running job is listed');
      // No action reaches it: a retry, a removal, a pause are refused as methods the board does not
      // take (405, Allow: GET, HEAD); the job and its record stay as they were.
      const actions = [['PUT', `/admin/queues/api/queues/invocations/${id}/retry`], ['PUT', `/admin/queues/api/queues/invocations/${id}/clean`], ['PUT', '/admin/queues/api/queues/pause']];
      for (const [method, path] of actions) {
        const refused = await open().fetch(path!, { method });
        assert.equal(refused.status, 405, `${method} ${path}`);
        assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'METHOD_NOT_ALLOWED');
      }
      assert.equal((await record(open(), id)).status, 'running');
    } finally {
      await open().fetch(`/invocations/${id}`, { method: 'DELETE' });
    }
  });
});
