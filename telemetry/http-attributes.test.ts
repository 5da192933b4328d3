import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientRequestAttributes, hostOf, methodAttributes, portOf, redactedQuery, redactedUrl } from './http-attributes.js';

test('a known method is as it came, any other is _OTHER with the original beside it', () => {
  assert.deepEqual(methodAttributes('POST'), { 'http.request.method': 'POST' });
  assert.deepEqual(methodAttributes('PURGE'), { 'http.request.method': '_OTHER', 'http.request.method_original': 'PURGE' });
  assert.deepEqual(methodAttributes('get'), { 'http.request.method': '_OTHER', 'http.request.method_original': 'get' });
});

test('signatures in a query are redacted and everything else is kept as it came', () => {
  assert.equal(redactedQuery('id=7&sig=abc&Signature=x%2By&AWSAccessKeyId=AK&X-Goog-Signature=g&flag'), 'id=7&sig=REDACTED&Signature=REDACTED&AWSAccessKeyId=REDACTED&X-Goog-Signature=REDACTED&flag');
  assert.equal(redactedQuery('%73ig=encoded-name&q=a%20b'), '%73ig=REDACTED&q=a%20b');
});

test('url.full drops the fragment and redacts credentials and signatures; the port and host are the ones reached', () => {
  assert.equal(redactedUrl(new URL('https://u:p@hooks.example/in?sig=s&a=1#frag')), 'https://REDACTED:REDACTED@hooks.example/in?sig=REDACTED&a=1');
  assert.equal(redactedUrl(new URL('http://hooks.example:8080/in')), 'http://hooks.example:8080/in');
  assert.equal(portOf(new URL('https://hooks.example/')), 443);
  assert.equal(portOf(new URL('http://hooks.example/')), 80);
  assert.equal(portOf(new URL('http://hooks.example:9000/')), 9000);
  assert.equal(hostOf(new URL('http://[::1]:9000/')), '::1');
});

test('a CLIENT span starts with the method, the redacted url.full and the server it addresses', () => {
  assert.deepEqual(clientRequestAttributes('POST', 'https://hooks.example/in?sig=s'), {
    'http.request.method': 'POST',
    'url.full': 'https://hooks.example/in?sig=REDACTED',
    'server.address': 'hooks.example',
    'server.port': 443,
  });
  assert.deepEqual(clientRequestAttributes('POST', 'not a url'), { 'http.request.method': 'POST' });
});
