import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FORWARDED_SIGNALS } from '../../contracts/forwarded-signals.js';
import { ProtocolError, lineDecoder, parseInitMessage, parseWorkerMessage } from './protocol.js';

test('messages split across chunks, even inside a character, arrive whole', () => {
  const got: unknown[] = [];
  const decode = lineDecoder((line) => got.push(parseWorkerMessage(line)));
  const bytes = Buffer.from(`${JSON.stringify({ type: 'run', spec: { argv: ['café'], env: [] } })}\n`);
  const split = bytes.indexOf(Buffer.from('é')) + 1; // between the two bytes of é
  decode(bytes.subarray(0, split));
  assert.deepEqual(got, []);
  decode(bytes.subarray(split));
  assert.deepEqual(got, [{ type: 'run', spec: { argv: ['café'], env: [] } }]);
});

test('a line that never ends is refused once it passes the limit, before it grows further', () => {
  const decode = lineDecoder(() => assert.fail('no line expected'), 1000);
  decode(Buffer.alloc(600, 0x61));
  assert.throws(() => decode(Buffer.alloc(600, 0x61)), ProtocolError);
});

test('a complete line over the limit is refused even when it arrives in one chunk', () => {
  const decode = lineDecoder(() => assert.fail('no line expected'), 10);
  assert.throws(() => decode(Buffer.from(`${'x'.repeat(11)}\n`)), /longer than 10 bytes/);
});

test('init messages are read field by field', () => {
  assert.deepEqual(parseInitMessage('{"type":"ready"}'), { type: 'ready' });
  assert.deepEqual(parseInitMessage('{"type":"started","pid":2}'), { type: 'started', pid: 2 });
  assert.deepEqual(
    parseInitMessage('{"type":"exited","code":null,"signal":"SIGKILL","zombiesReaped":3,"peakProcesses":4}'),
    { type: 'exited', code: null, signal: 'SIGKILL', zombiesReaped: 3, peakProcesses: 4 },
  );
});

test('init messages that are not the protocol are refused with a ProtocolError', () => {
  for (const line of [
    'not json',
    '[]',
    'null',
    '{"type":"reboot"}',
    '{"type":"started","pid":1}',
    '{"type":"started","pid":"2"}',
    '{"type":"exited","code":300,"signal":null,"zombiesReaped":0,"peakProcesses":0}',
    '{"type":"exited","code":0,"signal":"SIGKILL","zombiesReaped":0,"peakProcesses":0}',
    '{"type":"exited","code":null,"signal":null,"zombiesReaped":0,"peakProcesses":0}',
    '{"type":"exited","code":0,"signal":null,"zombiesReaped":-1,"peakProcesses":0}',
    '{"type":"exited","code":0,"signal":null,"zombiesReaped":0}',
    '{"type":"exited","code":null,"signal":"rm -rf /","zombiesReaped":0,"peakProcesses":0}',
  ]) {
    assert.throws(() => parseInitMessage(line), ProtocolError, line);
  }
});

/** A small deterministic generator (mulberry32), so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID = [
  '{"type":"ready"}',
  '{"type":"started","pid":7}',
  '{"type":"exited","code":3,"signal":null,"zombiesReaped":1,"peakProcesses":2}',
];

/** Bytes a hostile sandbox might send: random bytes, cut and mutated valid messages, odd JSON. */
function hostileChunk(next: () => number): Buffer {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  switch (Math.floor(next() * 5)) {
    case 0:
      return Buffer.from(Array.from({ length: Math.floor(next() * 64) }, () => Math.floor(next() * 256)));
    case 1: {
      const line = pick(VALID);
      const at = Math.floor(next() * line.length);
      return Buffer.from(`${line.slice(0, at)}${String.fromCharCode(Math.floor(next() * 128))}${line.slice(at + 1)}\n`);
    }
    case 2:
      return Buffer.from(`${pick(VALID).slice(0, Math.floor(next() * 20))}`);
    case 3:
      return Buffer.from(`${pick(['{"type":"exited","code":1e308}', '{"__proto__":{"type":"ready"}}', '{"type":"started","pid":1.5}', '{}', '"ready"', '{"type":["ready"]}'])}\n`);
    default:
      return Buffer.from(`${pick(VALID)}\n`);
  }
}

test('fuzzed input never escapes the decoder as anything but a ProtocolError or a valid message', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const next = random(seed);
    const decode = lineDecoder((line) => {
      const message = parseInitMessage(line);
      assert.ok(['ready', 'started', 'exited'].includes(message.type), `seed ${seed}: ${JSON.stringify(message)}`);
      if (message.type === 'started') assert.ok(Number.isSafeInteger(message.pid) && message.pid > 1);
      if (message.type === 'exited') assert.ok((message.code === null) !== (message.signal === null));
    }, 4096);
    for (let i = 0; i < 50; i++) {
      try {
        decode(hostileChunk(next));
      } catch (error) {
        assert.ok(error instanceof ProtocolError, `seed ${seed}, chunk ${i}: ${(error as Error)?.stack}`);
        break; // the worker ends a sandbox at its first protocol error
      }
    }
  }
});

test('a signal message carries a signal the init forwards, and nothing else', () => {
  assert.deepEqual(parseWorkerMessage('{"type":"signal","signal":"SIGUSR1"}'), { type: 'signal', signal: 'SIGUSR1' });
  assert.deepEqual(parseWorkerMessage('{"type":"signal","signal":"SIGTERM","extra":1}'), { type: 'signal', signal: 'SIGTERM' });
  for (const line of [
    '{"type":"signal","signal":"SIGKILL"}',
    '{"type":"signal","signal":"SIGSTOP"}',
    '{"type":"signal","signal":"SIGCHLD"}',
    '{"type":"signal","signal":"SIGSEGV"}',
    '{"type":"signal","signal":"sigusr1"}',
    '{"type":"signal","signal":10}',
    '{"type":"signal","signal":["SIGUSR1"]}',
    '{"type":"signal"}',
    '{"type":"signal","signal":"toString"}',
    '{"type":"signal","signal":"__proto__"}',
    '{"type":"kill","signal":"SIGUSR1"}',
  ]) {
    assert.throws(() => parseWorkerMessage(line), ProtocolError, line);
  }
});

const VALID_WORKER = [
  '{"type":"run","spec":{"argv":["/bin/true"],"env":[]}}',
  '{"type":"signal","signal":"SIGUSR1"}',
  '{"type":"signal","signal":"SIGHUP"}',
  '{"type":"end"}',
];

test('fuzzed worker messages are read as a run, a forwarded signal, an end, or refused with a ProtocolError', () => {
  const forwarded: readonly string[] = FORWARDED_SIGNALS;
  for (let seed = 1; seed <= 300; seed++) {
    const next = random(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const decode = lineDecoder((line) => {
      const message = parseWorkerMessage(line);
      if (message.type === 'signal') assert.ok(forwarded.includes(message.signal), `seed ${seed}: ${message.signal}`);
      else if (message.type === 'end') assert.deepEqual(message, { type: 'end' });
      else assert.ok(message.type === 'run' && message.spec.argv.length > 0, `seed ${seed}: ${JSON.stringify(message)}`);
    }, 4096);
    for (let i = 0; i < 50; i++) {
      const line = pick(VALID_WORKER);
      const at = Math.floor(next() * line.length);
      const chunk = Math.floor(next() * 3) === 0
        ? `{"type":"signal","signal":${JSON.stringify(pick(['SIGKILL', 'SIGSTOP', 'SIGUSR1', 'SIG', 'SIGUSR1\u0000', 'constructor', '']))}}\n`
        : `${line.slice(0, at)}${String.fromCharCode(Math.floor(next() * 128))}${line.slice(at + 1)}\n`;
      try {
        decode(Buffer.from(chunk));
      } catch (error) {
        assert.ok(error instanceof ProtocolError, `seed ${seed}, chunk ${i}: ${(error as Error)?.stack}`);
      }
    }
  }
});

test('an end message has nothing to it but its type', () => {
  assert.deepEqual(parseWorkerMessage('{"type":"end"}'), { type: 'end' });
  assert.deepEqual(parseWorkerMessage('{"type":"end","signal":"SIGKILL"}'), { type: 'end' });
});
