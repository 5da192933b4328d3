// The app as it is built, driven through app.request() without a port or Redis: what it routes and
// what its API description says must be the same.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { EmbeddedRedis } from '../dev/embedded-redis.js';
import { openQueues, type InvocationQueues } from '../redis/invocation-queues.js';
import { createRedisClient } from '../redis/redis-client.js';
import { redisKeys } from '../redis/redis-keys.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { quietTelemetry } from '../telemetry/telemetry.js';
import type { ApiDescription } from './api-description.js';
import { isOpenPath } from './auth.js';
import { createApp } from './create-app.js';
import { loadGatewayConfig } from './gateway-config.js';
import type { GatewayDeps } from './gateway-deps.js';

// Bull Board is built on the queues; no request below reads them.
let redis: EmbeddedRedis;
let client: ReturnType<typeof createRedisClient>;
let queues: InvocationQueues;
before(async () => {
  redis = await startTestRedis();
  client = createRedisClient(redis.url, { name: 'create-app-test', mode: 'request' });
  queues = openQueues(client, redisKeys('pidbox'));
});
after(async () => {
  await queues.close();
  client.disconnect();
  await redis.stop();
});

/** The app with what building it reads; no request below reaches the functions folder. */
async function app(env: Record<string, string> = {}): Promise<ReturnType<typeof createApp>> {
  const deps = { gatewayConfig: loadGatewayConfig(env), telemetry: await quietTelemetry('gateway'), state: { closing: false }, queues };
  return createApp(deps as unknown as GatewayDeps);
}

async function description(built: ReturnType<typeof createApp>): Promise<ApiDescription> {
  const res = await built.request('/openapi.json');
  assert.equal(res.status, 200);
  return (await res.json()) as ApiDescription;
}

/** `/invocations/:id`, `/function/:name/:path{.*}` → `/invocations/{id}`, `/function/{name}/{path}`. */
function asOpenApiPath(honoPath: string): string {
  return honoPath.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}');
}

test('the API description lists every method and path the app routes, and nothing else', async () => {
  const built = await app();
  // The dashboard's pages and Bull Board are for browsers, not part of the API.
  const isPage = (path: string) => path === '/ui' || path.startsWith('/ui/') || path.startsWith('/admin/queues');
  const routed = new Set(built.routes.filter((r) => r.method !== 'ALL' && !isPage(r.path)).map((r) => `${r.method} ${asOpenApiPath(r.path)}`));
  const described = new Set(
    Object.entries((await description(built)).paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)),
  );
  assert.deepEqual([...described].sort(), [...routed].sort());
  assert.ok(described.size >= 25, `${described.size} operations`);
});

test('the routes the description marks open (no security) are exactly those the API key leaves open', async () => {
  for (const [path, item] of Object.entries((await description(await app())).paths)) {
    const concrete = path.replace(/\{\w+\}/g, 'x');
    for (const [method, operation] of Object.entries(item)) {
      const open = Array.isArray(operation.security) && operation.security.length === 0;
      assert.equal(open, isOpenPath(concrete), `${method.toUpperCase()} ${path}`);
    }
  }
});

test('with API keys, the open routes answer without one and the others ask for it', async () => {
  const keyed = await app({ PIDBOX_API_KEYS: 'a-key-of-the-gateway-0123456789' });
  for (const path of ['/openapi.json', '/docs', '/docs/swagger-ui.css', '/schemas/function.json']) {
    assert.equal((await keyed.request(path)).status, 200, path);
  }
  const refused = await keyed.request('/functions/hello/invocations', { method: 'POST' });
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('www-authenticate'), 'Bearer realm="pidbox"');
  // A wrong method on an open path is 405, not 401: the key is not what is wrong.
  assert.equal((await keyed.request('/healthz', { method: 'POST' })).status, 405);
});
