import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatNetwork, networkList, parseNetwork, refusalOf } from './callback-address.js';

const NONE = networkList([]);
const allowing = (...cidrs: string[]) => networkList(cidrs.map((c) => parseNetwork(c)!));

test('public addresses, IPv4 and IPv6, are allowed with no networks allowed', () => {
  for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '2606:4700:4700::1111', '2a00:1450:4001:82b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808']) {
    assert.equal(refusalOf(address, NONE), null, address);
  }
});

test('every range that is not public is refused, and the refusal names it', () => {
  const cases: Array<[string, RegExp]> = [
    ['127.0.0.1', /^a loopback address$/],
    ['127.255.255.254', /loopback/],
    ['0.0.0.0', /unspecified/],
    ['10.0.0.1', /^a private address$/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['169.254.169.254', /link-local.*metadata/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['100.127.255.255', /carrier-grade NAT/],
    ['224.0.0.1', /multicast/],
    ['239.255.255.250', /multicast/],
    ['255.255.255.255', /^the broadcast address$/],
    ['240.0.0.1', /reserved/],
    ['198.18.0.1', /reserved/],
    ['192.0.2.1', /documentation/],
    ['::', /unspecified/],
    ['::1', /^a loopback address$/],
    ['fd00::1', /private \(unique local\)/],
    ['fc00::1', /private/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['ff02::1', /multicast/],
    ['2001:db8::1', /documentation/],
    ['64:ff9b:1::1', /local-use NAT64/],
    ['2002:7f00:1::1', /6to4/],
    ['2001::1', /Teredo/],
    ['4000::1', /not global unicast/],
  ];
  for (const [address, why] of cases) assert.match(refusalOf(address, NONE) ?? 'allowed', why, address);
});

test('IPv6 forms of an IPv4 address are judged by that address', () => {
  const cases: Array<[string, string]> = [
    ['::ffff:127.0.0.1', 'an IPv4-mapped address of 127.0.0.1, a loopback address'],
    ['::ffff:7f00:1', 'an IPv4-mapped address of 127.0.0.1, a loopback address'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'an IPv4-mapped address of 169.254.169.254, a link-local address (where cloud metadata services answer)'],
    ['::ffff:10.1.2.3', 'an IPv4-mapped address of 10.1.2.3, a private address'],
    ['64:ff9b::c0a8:101', 'a NAT64 address of 192.168.1.1, a private address'],
    ['64:ff9b:0:0:0:0:a00::', 'a NAT64 address of 10.0.0.0, a private address'],
    ['::7f00:1', 'an IPv4-compatible address of 127.0.0.1, a loopback address'],
    ['::10.0.0.1', 'an IPv4-compatible address of 10.0.0.1, a private address'],
  ];
  for (const [address, why] of cases) assert.equal(refusalOf(address, NONE), why, address);
});

test('allowed networks let their addresses through, in every form, and nothing else', () => {
  const loopback = allowing('127.0.0.0/8', '::1/128');
  for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1']) assert.equal(refusalOf(address, loopback), null, address);
  for (const address of ['10.0.0.1', '169.254.169.254', '::ffff:10.0.0.1', 'fd00::1', '0.0.0.0']) assert.notEqual(refusalOf(address, loopback), null, address);

  const lab = allowing('10.20.0.0/16', 'fd12:3456::/32');
  assert.equal(refusalOf('10.20.30.40', lab), null);
  assert.match(refusalOf('10.21.0.1', lab) ?? '', /private/);
  assert.equal(refusalOf('fd12:3456::9', lab), null);
  assert.match(refusalOf('fd12:3457::9', lab) ?? '', /private/);
  assert.equal(refusalOf('64:ff9b::a14:1e28', lab), null, 'NAT64 of 10.20.30.40');
});

test('networks are read as CIDRs or single addresses; anything else is not a network', () => {
  assert.deepEqual(parseNetwork('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  assert.deepEqual(parseNetwork(' ::1/128 '), { address: '::1', prefix: 128, family: 'ipv6' });
  assert.deepEqual(parseNetwork('192.168.1.10'), { address: '192.168.1.10', prefix: 32, family: 'ipv4' });
  assert.deepEqual(parseNetwork('fd00::'), { address: 'fd00::', prefix: 128, family: 'ipv6' });
  assert.equal(formatNetwork(parseNetwork('fd00::/8')!), 'fd00::/8');
  for (const text of ['', 'localhost', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '10.0.0.0/8/8', '10.0.0/8', '300.0.0.0/8', 'fe80::1%eth0/64', '10.0.0.0/0x8']) {
    assert.equal(parseNetwork(text), null, text);
  }
});
