import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonErrorPosition } from './json-error-position.js';

/** Whether JSON.parse takes `text`, and the offset it names when it names one. */
function v8(text: string): { valid: boolean; offset: number | null } {
  try {
    JSON.parse(text);
    return { valid: true, offset: null };
  } catch (error) {
    const match = /at position (\d+)/.exec((error as Error).message);
    return { valid: false, offset: match ? Number(match[1]) : null };
  }
}

test('valid JSON has no error position, whatever its nesting', () => {
  for (const text of ['{}', ' [ ] ', '0', '-0.5e+10', '"a\\u00e9\\n"', 'true', 'null', '{"a": [1, {"b": false}], "c": ""}', `${'['.repeat(100_000)}${']'.repeat(100_000)}`]) {
    assert.equal(jsonErrorPosition(text), null, text.slice(0, 40));
  }
});

test('an error is placed by offset, line and column', () => {
  assert.deepEqual(jsonErrorPosition('{\n  "a": 1,\n  secret\n}'), { offset: 14, line: 3, column: 3 });
  assert.deepEqual(jsonErrorPosition('root:*:19000:0:99999:7:::'), { offset: 0, line: 1, column: 1 });
  assert.deepEqual(jsonErrorPosition('{"a": 1,}'), { offset: 8, line: 1, column: 9 });
  assert.deepEqual(jsonErrorPosition('{"a": nul}'), { offset: 9, line: 1, column: 10 });
});

test('a text that ends too early is placed at its end, an empty one included', () => {
  assert.deepEqual(jsonErrorPosition(''), { offset: 0, line: 1, column: 1 });
  assert.deepEqual(jsonErrorPosition('{"a": [1, 2'), { offset: 11, line: 1, column: 12 });
  assert.deepEqual(jsonErrorPosition('"abc'), { offset: 4, line: 1, column: 5 });
  assert.deepEqual(jsonErrorPosition('{"a": "\\u12'), { offset: 11, line: 1, column: 12 });
});

test('what JSON.parse refuses beyond the grammar\'s plain cases is refused too: a BOM, comments, leading zeros, control characters', () => {
  for (const text of ['\ufeff{}', '{} // note', '01', '"a\tb"', '[1,]', '{"a" 1}', '1.', '-', '.5', '{"a":1}}', 'NaN']) {
    assert.notEqual(jsonErrorPosition(text), null, JSON.stringify(text));
  }
});

test('agrees with JSON.parse on 20,000 random short texts: valid or not, and the offset wherever V8 names one', () => {
  const pieces = ['{', '}', '[', ']', ',', ':', '"', '\\', 'u', '0', '1', '-', '.', 'e', '+', ' ', '\n', 't', 'r', 'n', 'l', 'a', 'f', 's', 'x', 'E', '9'];
  // A fixed sequence (a linear congruential generator), so that a failure can be replayed.
  let seed = 12345;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let k = 0; k < 20_000; k++) {
    let text = '';
    for (let length = 1 + next(10); length > 0; length--) text += pieces[next(pieces.length)];
    const expected = v8(text);
    const found = jsonErrorPosition(text);
    assert.equal(found === null, expected.valid, JSON.stringify(text));
    if (expected.offset !== null) assert.equal(found?.offset, expected.offset, JSON.stringify(text));
  }
});
