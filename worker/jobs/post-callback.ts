// One POST to a callback URL, connecting only to addresses a callback may reach
// (callbacks/): node:http rather than fetch, because only a request of its own takes a
// `lookup`, and that is how the address checked is the address connected to. Redirects are not
// followed (a 3xx is an answer like any other that is not 2xx).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { BlockList } from 'node:net';
import { checkedLookup, checkLiteralHost, parseCallbackUrl } from '../../callbacks/callback-url.js';

export interface PostCallbackOptions {
  body: Buffer;
  headers: Record<string, string>;
  /** Networks beyond the public ones the callback may reach (PIDBOX_CALLBACK_ALLOW_NETWORKS). */
  allow: BlockList;
  /** Longest wait, from connecting to the end of the answer. */
  timeoutMs: number;
}

export interface PostCallbackAnswer {
  status: number;
  /** The address connected to (the one the checks passed), for `network.peer.address`. */
  peerAddress?: string;
}

/**
 * POSTs and reads the answer to its end (discarding the body); resolves with its status. A URL or
 * address that is refused rejects with INVALID_CALLBACK_URL before anything is sent.
 */
export async function postCallback(url: string, options: PostCallbackOptions): Promise<PostCallbackAnswer> {
  const target = parseCallbackUrl(url);
  checkLiteralHost(target, options.allow);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(target, {
      method: 'POST',
      headers: { ...options.headers, 'content-length': String(options.body.length) },
      lookup: checkedLookup(options.allow),
      // A connection of its own: none kept alive, none shared with other requests of this process.
      agent: false,
    });
    // ETIMEDOUT, as a socket's own timeout says it: the code is what a span's error.type shows.
    const timeout = (): Error => Object.assign(new Error(`no answer within ${options.timeoutMs} ms`), { code: 'ETIMEDOUT' });
    const timer = setTimeout(() => request.destroy(timeout()), options.timeoutMs);
    const settle = (error: Error | null, answer?: PostCallbackAnswer): void => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(answer!);
    };
    request.on('response', (response: IncomingMessage) => {
      const peerAddress = response.socket?.remoteAddress;
      response.on('error', settle);
      response.on('end', () => settle(null, { status: response.statusCode!, ...(peerAddress ? { peerAddress } : {}) }));
      response.resume();
    });
    request.on('error', settle);
    request.end(options.body);
  });
}
