import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readEvents, type ServerSentEvent } from './event-stream.js';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function all(chunks: string[]): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  for await (const event of readEvents(streamOf(chunks))) events.push(event);
  return events;
}

test('events are read across chunk boundaries, multi-line data joined, comments and ids skipped', async () => {
  const events = await all(['event: log\ndata: line 1\ndata: line 2\ndat', 'a: \n\n: a comment\nid: 7\nevent: end\r\n', 'data: {"status":"succeeded"}\r\n\r\n']);
  assert.deepEqual(events, [
    { event: 'log', data: 'line 1\nline 2\n' },
    { event: 'end', data: '{"status":"succeeded"}' },
  ]);
});

test('a character split between chunks arrives whole, and an unfinished event at the end is dropped', async () => {
  const bytes = new TextEncoder().encode('data: é\n\ndata: half');
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.slice(0, 7));
      controller.enqueue(bytes.slice(7));
      controller.close();
    },
  });
  const events: ServerSentEvent[] = [];
  for await (const event of readEvents(stream)) events.push(event);
  assert.deepEqual(events, [{ event: 'message', data: 'é' }]);
});
