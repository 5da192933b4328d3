// Server-sent events (text/event-stream, as the WHATWG HTML standard defines them) read from a
// response body: `pidbox logs -f` follows GET /invocations/{id}/logs?follow=true with it.

export interface ServerSentEvent {
  /** `message` when the event names none. */
  event: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
}

export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      // A line ends with CRLF, LF or CR; a CR at the very end may be the first half of a CRLF.
      const lines = buffer.split(/\r\n|\n|\r(?!$)/);
      buffer = done ? '' : lines.pop()!;
      for (const line of lines) {
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n') };
          event = '';
          data = [];
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        // `id`, `retry` and comments (a line starting with ":") are not needed here.
      }
      if (done) return;
    }
  } finally {
    // Stopped early (or done): let go of the connection.
    await reader.cancel().catch(() => {});
  }
}
