import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ROOT_CONTEXT, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createLogger, parseLogLevel } from './logger.js';

test('each line is one JSON object with level, service, message and fields', () => {
  const lines: string[] = [];
  const log = createLogger({ service: 'worker', write: (l) => lines.push(l) }).child({ invocation_id: 'abc' });
  log.info('job done', { ms: 12 });
  log.debug('hidden below info');
  assert.equal(lines.length, 1);
  const record = JSON.parse(lines[0]!);
  assert.equal(record.level, 'info');
  assert.equal(record.service, 'worker');
  assert.equal(record.msg, 'job done');
  assert.equal(record.invocation_id, 'abc');
  assert.equal(record.ms, 12);
  assert.equal(record.trace_id, undefined);
});

test('inside an active span the line carries its trace_id and span_id', () => {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  try {
    const lines: string[] = [];
    const log = createLogger({ service: 'gateway', write: (l) => lines.push(l) });
    const span = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 });
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => log.warn('inside'));
    const record = JSON.parse(lines[0]!);
    assert.equal(record.trace_id, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(record.span_id, 'b7ad6b7169203331');
  } finally {
    context.disable();
  }
});

test('a bad log level is refused naming the variable', () => {
  assert.equal(parseLogLevel('WARN', 'PIDBOX_LOG_LEVEL'), 'warn');
  assert.throws(() => parseLogLevel('loud', 'PIDBOX_LOG_LEVEL'), /PIDBOX_LOG_LEVEL: "loud"/);
});
