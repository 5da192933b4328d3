// Which addresses a callback may connect to. An X-Callback-Url is chosen by whoever calls the
// gateway, and the worker fetches it from inside the deployment: left open, it would reach Redis,
// the cloud's metadata service (169.254.169.254) and every internal service (server-side request
// forgery). So a callback reaches public addresses only, plus the networks an operator allows
// (PIDBOX_CALLBACK_ALLOW_NETWORKS). The ranges are IANA's special-purpose registries:
// https://www.iana.org/assignments/iana-ipv4-special-registry and …/iana-ipv6-special-registry
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** One network written as `address/prefix`, or a single address. */
export interface Network {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `::1/128`, or a single address (`/32`, `/128`); null when it is none of these. */
export function parseNetwork(text: string): Network | null {
  const [address = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) && !address.includes('%') ? 'ipv6' : null;
  if (family === null) return null;
  const bits = family === 'ipv4' ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: bits, family };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) return null;
  return { address, prefix: Number(prefixText), family };
}

/** `10.0.0.0/8`: as PIDBOX_CALLBACK_ALLOW_NETWORKS writes it. */
export function formatNetwork(network: Network): string {
  return `${network.address}/${network.prefix}`;
}

/** The networks as one BlockList, for `refusalOf`. */
export function networkList(networks: readonly Network[]): BlockList {
  const list = new BlockList();
  for (const n of networks) list.addSubnet(n.address, n.prefix, n.family);
  return list;
}

interface Rule {
  list: BlockList;
  /** How a refusal names the range, e.g. "a loopback address". */
  what: string;
}

function rule(family: 'ipv4' | 'ipv6', what: string, ...cidrs: string[]): Rule {
  return { list: networkList(cidrs.map((cidr) => parseNetwork(cidr)!).map((n) => ({ ...n, family }))), what };
}

// Checked in order: the first range that holds the address names the refusal. An IPv4 address is
// only ever checked against these IPv4 lists, an IPv6 one against the IPv6 lists: a BlockList
// matches an IPv4 address against an IPv6 rule for ::ffff:0:0/96, and the reverse.
const IPV4_REFUSED: Rule[] = [
  rule('ipv4', 'an unspecified ("this network") address', '0.0.0.0/8'),
  rule('ipv4', 'a loopback address', '127.0.0.0/8'),
  rule('ipv4', 'a private address', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'),
  rule('ipv4', 'a link-local address (where cloud metadata services answer)', '169.254.0.0/16'),
  rule('ipv4', 'a shared (carrier-grade NAT) address', '100.64.0.0/10'),
  rule('ipv4', 'a multicast address', '224.0.0.0/4'),
  rule('ipv4', 'the broadcast address', '255.255.255.255/32'),
  rule('ipv4', 'a reserved address', '240.0.0.0/4', '192.0.0.0/24', '192.88.99.0/24', '198.18.0.0/15'),
  rule('ipv4', 'a documentation address', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'),
];

/** IPv6 forms that carry an IPv4 address in their last 32 bits: that address decides. */
const IPV6_EMBEDDING: Rule[] = [
  rule('ipv6', 'an IPv4-mapped address', '::ffff:0:0/96'),
  rule('ipv6', 'a NAT64 address', '64:ff9b::/96'),
  // Deprecated (RFC 4291), yet still an IPv4 address in disguise; :: and ::1 are matched before.
  rule('ipv6', 'an IPv4-compatible address', '::/96'),
];

const IPV6_REFUSED_FIRST: Rule[] = [
  rule('ipv6', 'the unspecified address', '::/128'),
  rule('ipv6', 'a loopback address', '::1/128'),
];

const IPV6_REFUSED: Rule[] = [
  rule('ipv6', 'a private (unique local) address', 'fc00::/7'),
  rule('ipv6', 'a link-local address', 'fe80::/10'),
  rule('ipv6', 'a site-local address', 'fec0::/10'),
  rule('ipv6', 'a multicast address', 'ff00::/8'),
  rule('ipv6', 'a local-use NAT64 address', '64:ff9b:1::/48'),
  rule('ipv6', 'a discard-only address', '100::/64'),
  // Teredo and 6to4 tunnel to IPv4 addresses of their own choosing.
  rule('ipv6', 'a tunnel (6to4) address', '2002::/16'),
  rule('ipv6', 'a reserved address (IETF protocol assignments, Teredo)', '2001::/23'),
  rule('ipv6', 'a documentation address', '2001:db8::/32', '3fff::/20'),
];

/** Global unicast: every public IPv6 address is in it; what lies outside is not assigned for use. */
const IPV6_GLOBAL = rule('ipv6', 'a reserved address (not global unicast)', '2000::/3');

/**
 * Why a callback may not connect to `address` — e.g. "a loopback address", or for an IPv6 form of
 * an IPv4 address "an IPv4-mapped address of 127.0.0.1, a loopback address" — or null when it may:
 * the address is public, or in `allow`.
 */
export function refusalOf(address: string, allow: BlockList): string | null {
  if (isIPv4(address)) return allow.check(address, 'ipv4') ? null : ipv4Refusal(address);
  if (!isIPv6(address)) return 'not an IP address';
  if (allow.check(address, 'ipv6')) return null;
  const first = IPV6_REFUSED_FIRST.find((r) => r.list.check(address, 'ipv6'));
  if (first) return first.what;
  const embedding = IPV6_EMBEDDING.find((r) => r.list.check(address, 'ipv6'));
  if (embedding) {
    const inner = embeddedIPv4(address);
    const why = allow.check(inner, 'ipv4') ? null : ipv4Refusal(inner);
    return why === null ? null : `${embedding.what} of ${inner}, ${why}`;
  }
  const refused = IPV6_REFUSED.find((r) => r.list.check(address, 'ipv6'));
  if (refused) return refused.what;
  return IPV6_GLOBAL.list.check(address, 'ipv6') ? null : IPV6_GLOBAL.what;
}

function ipv4Refusal(address: string): string | null {
  return IPV4_REFUSED.find((r) => r.list.check(address, 'ipv4'))?.what ?? null;
}

/** The IPv4 address in the last 32 bits of an IPv6 address (`::ffff:7f00:1` → `127.0.0.1`). */
function embeddedIPv4(address: string): string {
  const text = address.replace(/%.*$/, '');
  // Written with a dotted tail already (`::ffff:127.0.0.1`): that is the address.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) return dotted[1]!;
  // Eight 16-bit words, "::" standing for as many zero words as are missing.
  const [head = '', tail] = text.split('::');
  const before = head === '' ? [] : head.split(':');
  const after = tail === undefined || tail === '' ? [] : tail.split(':');
  const words = tail === undefined ? before : [...before, ...Array<string>(8 - before.length - after.length).fill('0'), ...after];
  const [high = 0, low = 0] = words.slice(6).map((w) => parseInt(w, 16));
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}
