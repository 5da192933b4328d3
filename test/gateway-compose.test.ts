// compose.yaml is checked by Debian's docker-compose (`docker-compose config` validates and
// normalizes it; there is no Docker engine here), then its normalized form is read back.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findExecutable } from '../dev/embedded-redis.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
/** What compose.yaml is run with: it refuses to start without REDIS_PASSWORD. */
const PASSWORD = 'b3c1d2e0f9a8'.repeat(4);

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  cap_add?: string[];
  security_opt?: string[];
  privileged?: boolean;
  deploy?: { replicas?: number };
  ports?: Array<{ published: number; target: number }>;
  depends_on?: Record<string, { condition: string }>;
}

let normalized: Promise<{ services: Record<string, Service> }> | null = null;

/** compose.yaml as docker-compose reads it with REDIS_PASSWORD set (read once for the file). */
function normalizedCompose(): Promise<{ services: Record<string, Service> }> {
  normalized ??= readCompose();
  return normalized;
}

function dockerCompose(): string {
  const compose = findExecutable('docker-compose');
  assert.ok(compose, "docker-compose is not installed (Debian's docker-compose package; .ci/run installs it)");
  return compose;
}

async function readCompose(): Promise<{ services: Record<string, Service> }> {
  const { stdout } = await run(dockerCompose(), ['-f', 'compose.yaml', 'config'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', REDIS_PASSWORD: PASSWORD } });
  // docker-compose is Python with PyYAML: the same YAML reader turns its output into JSON.
  const json = await new Promise<string>((resolve, reject) => {
    const child = execFile('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], (error, out) => (error ? reject(error) : resolve(out)));
    child.stdin!.end(stdout);
  });
  return JSON.parse(json) as { services: Record<string, Service> };
}

test('compose.yaml is valid for docker-compose and has Redis, the gateway, workers and Jaeger', async () => {
  const { services } = await normalizedCompose();
  assert.deepEqual(Object.keys(services).sort(), ['gateway', 'jaeger', 'redis', 'worker']);

  const redis = services.redis!;
  assert.deepEqual(redis.command?.slice(0, 3), ['redis-server', '--appendonly', 'yes']);

  const gateway = services.gateway!;
  assert.deepEqual(gateway.command, ['gateway']);
  assert.deepEqual(gateway.ports, [{ published: 8080, target: 8080 }]);
  assert.equal(gateway.depends_on?.redis?.condition, 'service_healthy');
});

test('compose.yaml makes Redis require REDIS_PASSWORD, gives it to gateway and workers, and will not start without it', async () => {
  const { services } = await normalizedCompose();
  const command = services.redis!.command ?? [];
  assert.equal(command[command.indexOf('--requirepass') + 1], PASSWORD);
  // The health check's redis-cli authenticates too, or Redis would never be healthy.
  assert.equal(services.redis!.environment?.REDISCLI_AUTH, PASSWORD);
  for (const name of ['gateway', 'worker']) assert.equal(services[name]!.environment?.REDIS_URL, `redis://:${PASSWORD}@redis:6379`, name);

  await assert.rejects(
    run(dockerCompose(), ['-f', 'compose.yaml', 'config'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '' } }),
    (error: Error & { stderr?: string }) => {
      assert.match(error.stderr ?? '', /set REDIS_PASSWORD/);
      return true;
    },
  );
});

test('compose.yaml gives workers exactly the capability sandboxes need (SYS_ADMIN, not NET_ADMIN), not privileged, and replicas', async () => {
  const worker = (await normalizedCompose()).services.worker!;
  assert.deepEqual(worker.command, ['worker']);
  assert.notEqual(worker.privileged, true);
  assert.deepEqual(worker.cap_add, ['SYS_ADMIN']);
  assert.deepEqual(worker.security_opt?.sort(), ['apparmor:unconfined', 'systempaths=unconfined']);
  assert.ok((worker.deploy?.replicas ?? 1) >= 2);
  assert.equal(worker.image, (await normalizedCompose()).services.gateway!.image);
});

test('compose.yaml sends both services OTLP to the Jaeger all-in-one', async () => {
  const { services } = await normalizedCompose();
  const jaeger = services.jaeger!;
  assert.match(jaeger.image ?? '', /^jaegertracing\/all-in-one:/);
  assert.equal(jaeger.environment?.COLLECTOR_OTLP_ENABLED, 'true');
  assert.ok(jaeger.ports?.some((p) => p.target === 4318));
  for (const name of ['gateway', 'worker']) {
    assert.equal(services[name]!.environment?.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://jaeger:4318', name);
    assert.equal(services[name]!.environment?.OTEL_SERVICE_NAME, `pidbox-${name}`);
  }
});
