// An X-Callback-Url, checked where it comes in (the gateway) and again where it is used (the
// worker): its form, then every address its host stands for (callback-address.ts). The worker also
// connects only to the addresses it checked (`checkedLookup`): a name can resolve to a public
// address at the gateway and to 127.0.0.1 a minute later (DNS rebinding).
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import { isIP, type BlockList, type LookupFunction } from 'node:net';
import { PidboxError } from '../contracts/pidbox-error.js';
import { refusalOf } from './callback-address.js';

export const CALLBACK_URL_MAX_LENGTH = 2048;

/** Resolves a host name to all its addresses, as `dns.lookup` with `all: true` does. */
export type ResolveAll = (hostname: string) => Promise<LookupAddress[]>;

const ONLY = 'callbacks may reach only public addresses and the networks in PIDBOX_CALLBACK_ALLOW_NETWORKS';

/** The URL, when its form is one a callback may have: http(s), no user or password, not too long. */
export function parseCallbackUrl(text: string): URL {
  if (text.length > CALLBACK_URL_MAX_LENGTH) throw invalid(`longer than ${CALLBACK_URL_MAX_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('only http:// and https:// URLs are allowed');
  // They would be sent to the receiver as Basic credentials by whoever delivers, chosen by the caller.
  if (url.username !== '' || url.password !== '') throw invalid('a user or password in the URL is not allowed');
  return url;
}

/**
 * For a URL whose host is an address (`127.0.0.1`, `[::1]`): INVALID_CALLBACK_URL when it is
 * refused. Returns whether the host was an address (node looks up only names, not addresses).
 */
export function checkLiteralHost(url: URL, allow: BlockList): boolean {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) === 0) return false;
  const why = refusalOf(host, allow);
  if (why !== null) throw invalid(`${host} is ${why}; ${ONLY}`);
  return true;
}

/**
 * Checks a callback URL at accept time: its form, and every address its host resolves to (any
 * refused one refuses it, since any of them may be the one connected to). Returns the URL as
 * normalized; a refusal is INVALID_CALLBACK_URL saying why.
 */
export async function checkCallbackUrl(text: string, allow: BlockList, resolveAll: ResolveAll = lookupAll): Promise<string> {
  const url = parseCallbackUrl(text);
  if (checkLiteralHost(url, allow)) return url.toString();
  let addresses: LookupAddress[];
  try {
    addresses = await resolveAll(url.hostname);
  } catch (error) {
    throw invalid(`${url.hostname} does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  checkResolved(url.hostname, addresses, allow);
  return url.toString();
}

/**
 * A `lookup` for http.request that resolves as dns.lookup does and fails with INVALID_CALLBACK_URL
 * when any address is refused: the connection is made to exactly the addresses checked here.
 * (A host that is an address is not looked up by node: check it with `checkLiteralHost` first.)
 */
export function checkedLookup(allow: BlockList): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...(options as LookupOptions), all: true } as LookupAllOptions, (error, addresses) => {
      if (error) return callback(error, '', 0);
      try {
        checkResolved(hostname, addresses, allow);
      } catch (refused) {
        return callback(refused as NodeJS.ErrnoException, '', 0);
      }
      // Node asks for all addresses when it tries them in turn (autoSelectFamily), else for one.
      if ((options as LookupOptions).all) return callback(null, addresses);
      const [first] = addresses;
      return callback(null, first!.address, first!.family);
    });
  };
}

function checkResolved(hostname: string, addresses: LookupAddress[], allow: BlockList): void {
  for (const { address } of addresses) {
    const why = refusalOf(address, allow);
    if (why !== null) throw invalid(`${hostname} resolves to ${address}, ${why}; ${ONLY}`);
  }
}

function lookupAll(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });
}

function invalid(message: string): PidboxError {
  return new PidboxError('INVALID_CALLBACK_URL', message);
}
