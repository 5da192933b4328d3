import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InvocationRequest } from '../../contracts/invocation.js';
import { cgiEnv } from './cgi-env.js';

function request(path: string, headers: Record<string, string>, method = 'POST'): InvocationRequest {
  return { method, path, headers, bodyBase64: '' };
}

test('the request line, body and server become the CGI meta-variables of RFC 3875', () => {
  const env = cgiEnv(request('/orders/a%20b?id=7&x=%2F', { host: 'api.example:8080', 'content-type': 'text/csv' }), 12, { functionName: 'shop' });
  assert.deepEqual(env, {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'pidbox',
    SERVER_NAME: 'api.example',
    SERVER_PORT: '8080',
    REQUEST_METHOD: 'POST',
    SCRIPT_NAME: '/functions/shop',
    PATH_INFO: '/orders/a b',
    QUERY_STRING: 'id=7&x=%2F',
    CONTENT_LENGTH: '12',
    CONTENT_TYPE: 'text/csv',
    HTTP_HOST: 'api.example:8080',
  });
});

test('no body, no query and no Host leave CONTENT_LENGTH unset, QUERY_STRING empty and the server as localhost:80', () => {
  const env = cgiEnv(request('/', {}, 'GET'), 0, { functionName: 'f' });
  assert.equal(env.CONTENT_LENGTH, undefined);
  assert.equal(env.CONTENT_TYPE, undefined);
  assert.equal(env.QUERY_STRING, '');
  assert.equal(env.PATH_INFO, '/');
  assert.equal(env.SERVER_NAME, 'localhost');
  assert.equal(env.SERVER_PORT, '80');
  assert.equal(cgiEnv(request('/', { host: '[::1]:9000' }), 0, { functionName: 'f' }).SERVER_NAME, '[::1]');
});

test('headers become HTTP_* upper-cased with _ for -, but never credentials, hop-by-hop headers, Proxy or ambiguous names', () => {
  const env = cgiEnv(request('/', {
    'x-request-id': 'r1',
    'user-agent': 'curl/8',
    accept: '*/*',
    authorization: 'Bearer secret',
    'proxy-authorization': 'Basic x',
    connection: 'keep-alive',
    'transfer-encoding': 'chunked',
    proxy: 'http://evil.example:3128',
    'content-length': '5',
    x_request_id: 'spoofed',
    'x.dot': 'no name for it',
  }), 5, { functionName: 'f' });
  const http = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('HTTP_')));
  assert.deepEqual(http, { HTTP_X_REQUEST_ID: 'r1', HTTP_USER_AGENT: 'curl/8', HTTP_ACCEPT: '*/*' });
  assert.equal(env.CONTENT_LENGTH, '5', 'the body length as it reached the function, not the header');
});

test('a value with CR, LF or NUL is left out, and a path that does not decode stays as it came', () => {
  const env = cgiEnv(request('/a%ff/%00', { 'x-a': 'one\r\nX-B: two', 'x-c': 'nul\0' }), 0, { functionName: 'f' });
  assert.equal(env.HTTP_X_A, undefined);
  assert.equal(env.HTTP_X_C, undefined);
  assert.equal(env.PATH_INFO, '/a%ff/%00');
  assert.equal(cgiEnv(request('/%00', {}), 0, { functionName: 'f' }).PATH_INFO, '/%00');
});

test('headers past the size bound are left out, whatever their number or size', () => {
  const headers: Record<string, string> = {};
  for (let i = 0; i < 2000; i++) headers[`x-h${i}`] = 'v'.repeat(100);
  headers['x-huge'] = 'v'.repeat(1_000_000);
  const env = cgiEnv(request('/', headers), 0, { functionName: 'f', maxHeaderBytes: 4096 });
  const size = Object.entries(env).filter(([k]) => k.startsWith('HTTP_')).reduce((n, [k, v]) => n + k.length + 1 + v.length, 0);
  assert.ok(size <= 4096, `${size} bytes of HTTP_* variables`);
  assert.ok(size > 3000, 'the bound is filled, not refused as a whole');
  assert.equal(env.HTTP_X_HUGE, undefined);
});
