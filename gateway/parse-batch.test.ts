import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PidboxError } from '../contracts/pidbox-error.js';
import { parseBatch } from './parse-batch.js';

function fault(text: string, type = 'application/json', max = 10): string {
  try {
    parseBatch(text, type, max);
  } catch (error) {
    assert.ok(error instanceof PidboxError);
    assert.equal(error.code, 'INVALID_BATCH');
    return error.message;
  }
  assert.fail(`${JSON.stringify(text)} was accepted`);
}

test('a JSON array gives one payload per item, strings and nesting followed', () => {
  assert.deepEqual(parseBatch(' [ "a,]b" , {"x": [1, {"y": "}"}]}, null, "\\"" ] ', 'application/json', 10), ['a,]b', { x: [1, { y: '}' }] }, null, '"']);
});

test('NDJSON gives one payload per non-empty line, by content type or by a body that is not an array', () => {
  assert.deepEqual(parseBatch('1\n\n{"a":2}\r\n"three"', 'application/x-ndjson', 10), [1, { a: 2 }, 'three']);
  assert.deepEqual(parseBatch('{"a":1}\n{"a":2}', '', 10), [{ a: 1 }, { a: 2 }]);
});

test('a bad item is named by its index and character, a bad line by its number', () => {
  assert.match(fault('[1, {"a": tru}, 3]'), /^item 1 of the batch \(at character 4\) is not valid JSON/);
  assert.match(fault('[1,,2]'), /item 1 is missing at character 3/);
  assert.match(fault('[1, 2'), /not closed at character 5/);
  assert.match(fault('[1] [2]'), /unexpected text after the array at character 4/);
  assert.match(fault('{"a":1}'), /expected "\["/);
  assert.match(fault('1\n2\n{oops}\n', 'application/x-ndjson'), /^line 3 of the batch is not valid JSON/);
});

test('an empty batch and one over the limit are refused', () => {
  assert.match(fault('[]'), /empty/);
  assert.match(fault('\n\n', 'application/x-ndjson'), /empty/);
  assert.match(fault('[1,2,3]', 'application/json', 2), /has 3 items; at most 2/);
});
