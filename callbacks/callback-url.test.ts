import assert from 'node:assert/strict';
import { lookup } from 'node:dns';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PidboxError } from '../contracts/pidbox-error.js';
import { networkList, parseNetwork } from './callback-address.js';
import { checkCallbackUrl, checkedLookup, type ResolveAll } from './callback-url.js';

const NONE = networkList([]);
const LOOPBACK = networkList(['127.0.0.0/8', '::1/128'].map((c) => parseNetwork(c)!));

/** A resolver that answers from a table, for names the machine's DNS does not have. */
function resolver(table: Record<string, string[]>): ResolveAll {
  return async (hostname) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

async function refusal(url: string, allow = NONE, resolve?: ResolveAll): Promise<string> {
  try {
    await checkCallbackUrl(url, allow, resolve);
  } catch (error) {
    assert.ok(error instanceof PidboxError);
    assert.equal(error.code, 'INVALID_CALLBACK_URL');
    return error.message;
  }
  return assert.fail(`${url} was accepted`);
}

test('a public URL is accepted as normalized', async () => {
  assert.equal(await checkCallbackUrl('https://8.8.8.8/hook', NONE), 'https://8.8.8.8/hook');
  assert.equal(await checkCallbackUrl('http://hooks.example.com:8080/a?b=1', NONE, resolver({ 'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'] })), 'http://hooks.example.com:8080/a?b=1');
});

test('URLs that are not http(s), carry credentials or are too long are refused', async () => {
  assert.match(await refusal('not a url'), /^not a URL$/);
  assert.match(await refusal('file:///etc/passwd'), /only http:\/\/ and https:\/\//);
  assert.match(await refusal('gopher://8.8.8.8:70/'), /only http:\/\/ and https:\/\//);
  assert.match(await refusal('http://user:pass@8.8.8.8/'), /user or password/);
  assert.match(await refusal('http://token@8.8.8.8/'), /user or password/);
  assert.match(await refusal(`https://8.8.8.8/${'a'.repeat(2048)}`), /longer than 2048 characters/);
});

test('literal addresses, in every spelling, are judged by the address they name', async () => {
  const cases: Array<[string, RegExp]> = [
    ['http://127.0.0.1:8080/', /^127\.0\.0\.1 is a loopback address; .*PIDBOX_CALLBACK_ALLOW_NETWORKS/],
    ['http://2130706433/', /^127\.0\.0\.1 is a loopback address/],
    ['http://0x7f.1/', /^127\.0\.0\.1 is a loopback address/],
    ['http://0/', /^0\.0\.0\.0 is an unspecified/],
    ['http://10.0.0.5/', /private/],
    ['http://169.254.169.254/latest/meta-data/', /link-local/],
    ['http://[::1]:8080/', /^::1 is a loopback address/],
    ['http://[::ffff:127.0.0.1]/', /^::ffff:7f00:1 is an IPv4-mapped address of 127\.0\.0\.1, a loopback address/],
    ['http://[::ffff:a9fe:a9fe]/', /of 169\.254\.169\.254, a link-local/],
    ['http://[fd00::1]/', /private \(unique local\)/],
    ['http://[fe80::1]/', /link-local/],
  ];
  for (const [url, why] of cases) assert.match(await refusal(url), why, url);
});

test('a host name is refused when any address it resolves to is, localhost with the real resolver', async () => {
  assert.match(await refusal('http://localhost:8080/hook'), /^localhost resolves to (127\.0\.0\.1|::1), a loopback address; callbacks may reach only public addresses and the networks in PIDBOX_CALLBACK_ALLOW_NETWORKS$/);
  const resolve = resolver({ 'mixed.example': ['93.184.215.14', '10.0.0.7'], 'metadata.example': ['169.254.169.254'] });
  assert.match(await refusal('http://mixed.example/', NONE, resolve), /^mixed\.example resolves to 10\.0\.0\.7, a private address/);
  assert.match(await refusal('http://metadata.example/', NONE, resolve), /link-local/);
  assert.match(await refusal('http://nowhere.example/', NONE, resolve), /^nowhere\.example does not resolve \(ENOTFOUND\)$/);
});

test('allowed networks are reached by address and by name', async () => {
  assert.equal(await checkCallbackUrl('http://127.0.0.1:9000/hook', LOOPBACK), 'http://127.0.0.1:9000/hook');
  assert.equal(await checkCallbackUrl('http://[::1]:9000/hook', LOOPBACK), 'http://[::1]:9000/hook');
  assert.equal(await checkCallbackUrl('http://localhost:9000/hook', LOOPBACK), 'http://localhost:9000/hook');
  assert.match(await refusal('http://10.0.0.1/', LOOPBACK), /private/);
});

test('the lookup a delivery connects with refuses what the check refuses, and answers as dns.lookup does', async () => {
  const refused = checkedLookup(NONE);
  const error = await new Promise<Error | null>((resolve) => refused('localhost', {}, (e) => resolve(e)));
  assert.ok(error instanceof PidboxError);
  assert.equal(error.code, 'INVALID_CALLBACK_URL');
  assert.match(error.message, /^localhost resolves to .*, a loopback address/);

  const allowed = checkedLookup(LOOPBACK);
  const expected = await promisify(lookup)('localhost', { all: true });
  const all = await new Promise((resolve, reject) => allowed('localhost', { all: true }, (e, addresses) => (e ? reject(e) : resolve(addresses))));
  assert.deepEqual(all, expected);
  const one = await new Promise((resolve, reject) => allowed('localhost', {}, (e, address, family) => (e ? reject(e) : resolve({ address, family }))));
  assert.deepEqual(one, expected[0]);
});
