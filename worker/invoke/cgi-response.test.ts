import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CgiResponseError, parseCgiResponse } from './cgi-response.js';

const options = { defaultContentType: 'text/plain; charset=utf-8' };

function parse(text: string | Buffer, maxHeaderBytes?: number) {
  return parseCgiResponse(Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1'), { ...options, ...(maxHeaderBytes ? { maxHeaderBytes } : {}) });
}

function failure(text: string | Buffer, maxHeaderBytes?: number): string {
  try {
    parse(text, maxHeaderBytes);
  } catch (error) {
    assert.ok(error instanceof CgiResponseError, String(error));
    return error.message;
  }
  assert.fail('expected the response to be refused');
}

test('a document response gives its status, headers and body; lines may end with LF or CRLF', () => {
  const response = parse('Status: 201 Created\r\nContent-Type: application/json\nX-Order:  7 \n\r\n{"id":7}\n\nmore');
  assert.equal(response.status, 201);
  assert.deepEqual(response.headers, { 'content-type': 'application/json', 'x-order': '7' });
  assert.equal(response.body.toString(), '{"id":7}\n\nmore', 'the body is every byte after the blank line');
});

test('without Status the answer is 200, and without Content-Type it is function.json\'s', () => {
  const response = parse('X-A: 1\n\nbody');
  assert.equal(response.status, 200);
  assert.equal(response.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(parse('\nno headers at all').body.toString(), 'no headers at all');
});

test('a redirect to an absolute URL is 302 unless Status says otherwise; a local redirect is refused', () => {
  assert.equal(parse('Location: https://example.com/x\n\n').status, 302);
  assert.equal(parse('Status: 301\nLocation: https://example.com/x\n\n').status, 301);
  assert.match(failure('Location: /elsewhere\n\n'), /local redirect .* is not supported/);
  assert.match(failure('Location: elsewhere\n\n'), /Location must be an absolute URL/);
});

test('a header given twice is joined, but Status, Content-Type and Location must be given once', () => {
  assert.equal(parse('Vary: a\nVary: b\n\n').headers.vary, 'a, b');
  assert.match(failure('Status: 200\nstatus: 404\n\n'), /header status is given more than once/);
  assert.match(failure('Content-Type: a/b\nContent-Type: c/d\n\n'), /Content-Type is given more than once/);
});

test('a bad status is refused naming the problem', () => {
  for (const status of ['abc', '99', '600', '1000', '200OK', '']) assert.match(failure(`Status: ${status}\n\n`), /Status must be a status code from 200 to 599/, status);
});

test('header injection fails the run: a CR inside a value, a control character, a folded line, a line that is no header', () => {
  assert.match(failure('X-A: one\rSet-Cookie: stolen=1\n\n'), /header X-A \(line 1\) has a control character/);
  assert.match(failure('X-A: bell\x07\n\n'), /control character/);
  assert.match(failure('X-A: one\n two\n\n'), /line 2 continues the line before it/);
  assert.match(failure('just some output\n\n'), /line 1 is not a header line/);
  assert.match(failure(': no name\n\n'), /line 1 is not a header line/);
  assert.match(failure('Bad Name: x\n\n'), /line 1 is not a header line/);
});

test('a header section past its bound, or without its blank line, is refused without reading further', () => {
  assert.match(failure(`X-Big: ${'a'.repeat(100_000)}\n\nbody`), /header section is longer than 32768 bytes/);
  assert.match(failure('X-A: 1\n'.repeat(100), 256), /longer than 256 bytes/);
  assert.match(failure('X-A: 1\nX-B: 2\n'), /ends at line 3, before the blank line/);
  assert.match(failure('X-A: 1'), /ends at line 1/);
  assert.match(failure(''), /wrote nothing/);
  assert.match(failure(Array.from({ length: 300 }, (_, i) => `X-${i}: v`).join('\n') + '\n\n'), /more than 256 header lines/);
});

test('bytes of a value that are not ASCII pass through as HTTP carries them', () => {
  const response = parse(Buffer.concat([Buffer.from('X-Name: '), Buffer.from('café'), Buffer.from('\n\n')]));
  assert.equal(Buffer.from(response.headers['x-name']!, 'latin1').toString('utf8'), 'café');
});
