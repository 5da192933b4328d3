import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJobData } from './job.js';
import { parseBusMessage, parseBusReply } from './bus-message.js';

const request = { method: 'POST', path: '/', headers: {}, bodyBase64: '' };

test('job data of both kinds is received as it was sent', () => {
  const invocation = { type: 'invocation', invocationId: 'i', functionName: 'f', request, traceContext: { traceparent: 'x' } };
  assert.deepEqual(parseJobData(invocation), invocation);
  const callback = { type: 'callback', invocationId: 'i', url: 'http://example.test/', format: 'openfaas' };
  assert.deepEqual(parseJobData(callback), callback);
});

test('job data this version cannot read fails with INVALID_JOB and says why', () => {
  assert.throws(() => parseJobData({ type: 'invocation', invocationId: 'i', functionName: 'f' }), { code: 'INVALID_JOB', message: /no valid request/ });
  assert.throws(() => parseJobData({ type: 'something-else', invocationId: 'i' }), { code: 'INVALID_JOB', message: /unknown type "something-else"/ });
  assert.throws(() => parseJobData({ type: 'callback', invocationId: 'i', url: 'u', format: 'xml' }), { code: 'INVALID_JOB' });
  assert.throws(() => parseJobData(null), { code: 'INVALID_JOB' });
  assert.throws(() => parseJobData({ type: 'callback', invocationId: '', url: 'u', format: 'record' }), { code: 'INVALID_JOB', message: /no valid invocationId/ });
});

test('bus messages are parsed by type, and anything else is ignored', () => {
  assert.deepEqual(parseBusMessage('{"type":"finished","id":"a","status":"succeeded"}'), { type: 'finished', id: 'a', status: 'succeeded' });
  assert.deepEqual(parseBusMessage('{"type":"cancel","id":"a"}'), { type: 'cancel', id: 'a' });
  assert.equal(parseBusMessage('{"type":"reboot","id":"a"}'), null);
  assert.equal(parseBusMessage('{"type":"finished","id":"a","status":"exploded"}'), null);
  assert.equal(parseBusMessage('{"type":"cancel"}'), null);
  assert.equal(parseBusMessage('not json'), null);
});

test('requests to a worker carry their id and reply channel, and a signal only one the init forwards', () => {
  assert.deepEqual(
    parseBusMessage('{"type":"processes","id":"a","requestId":"r","replyTo":"p:replies:g"}'),
    { type: 'processes', id: 'a', requestId: 'r', replyTo: 'p:replies:g' },
  );
  assert.deepEqual(
    parseBusMessage('{"type":"signal","id":"a","signal":"SIGUSR1","requestId":"r","replyTo":"p:replies:g"}'),
    { type: 'signal', id: 'a', signal: 'SIGUSR1', requestId: 'r', replyTo: 'p:replies:g' },
  );
  assert.equal(parseBusMessage('{"type":"signal","id":"a","signal":"SIGKILL","requestId":"r","replyTo":"x"}'), null);
  assert.equal(parseBusMessage('{"type":"processes","id":"a","requestId":"r"}'), null);
});

test('replies are parsed by type, and a process list that is not one is ignored', () => {
  const process = { pid: 1, ppid: 0, state: 'S', command: 'init', rssBytes: 1024, cpuMs: 3 };
  assert.deepEqual(
    parseBusReply(JSON.stringify({ type: 'processes', requestId: 'r', processes: [process], truncated: false })),
    { type: 'processes', requestId: 'r', processes: [process], truncated: false },
  );
  assert.equal(parseBusReply(JSON.stringify({ type: 'processes', requestId: 'r', processes: [{ ...process, pid: '1' }], truncated: false })), null);
  assert.deepEqual(parseBusReply('{"type":"signalled","requestId":"r"}'), { type: 'signalled', requestId: 'r' });
  assert.deepEqual(
    parseBusReply('{"type":"refused","requestId":"r","code":"INVOCATION_NOT_RUNNING","message":"ended"}'),
    { type: 'refused', requestId: 'r', code: 'INVOCATION_NOT_RUNNING', message: 'ended' },
  );
  assert.equal(parseBusReply('{"type":"refused","requestId":"r","code":"INTERNAL","message":"x"}'), null);
  assert.equal(parseBusReply('[]'), null);
});
