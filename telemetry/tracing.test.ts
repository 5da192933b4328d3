import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadTracingConfig } from './tracing.js';

test('no endpoint means tracing is off', () => {
  assert.equal(loadTracingConfig({}, 'svc').enabled, false);
});

test('the traces URL is the base endpoint plus /v1/traces, or the traces endpoint as it is', () => {
  assert.equal(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' }, 's').tracesUrl, 'http://c:4318/v1/traces');
  const both = loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t/x' }, 's');
  assert.equal(both.tracesUrl, 'http://t/x');
  assert.equal(both.enabled, true);
});

test('protobuf is the default protocol, json is accepted and grpc is refused naming the variable', () => {
  assert.equal(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' }, 's').protocol, 'http/protobuf');
  assert.equal(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, 's').protocol, 'http/json');
  assert.throws(() => loadTracingConfig({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }, 's'), /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL/);
});

test('OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn tracing off', () => {
  assert.equal(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_SDK_DISABLED: 'true' }, 's').enabled, false);
  assert.equal(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_EXPORTER: 'none' }, 's').enabled, false);
});

test('batching comes from OTEL_BSP_* and a bad value is refused naming the variable', () => {
  const config = loadTracingConfig({ OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_BSP_MAX_QUEUE_SIZE: '100' }, 's');
  assert.deepEqual(config.batch, { scheduledDelayMillis: 50, maxQueueSize: 100 });
  assert.throws(() => loadTracingConfig({ OTEL_BSP_EXPORT_TIMEOUT: 'soon' }, 's'), /OTEL_BSP_EXPORT_TIMEOUT: must be/);
});

test('the service name comes from OTEL_SERVICE_NAME, else the default', () => {
  assert.equal(loadTracingConfig({}, 'pidbox-worker').serviceName, 'pidbox-worker');
  assert.equal(loadTracingConfig({ OTEL_SERVICE_NAME: 'mine' }, 'pidbox-worker').serviceName, 'mine');
});
