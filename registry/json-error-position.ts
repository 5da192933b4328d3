// Where a JSON text first breaks the grammar (RFC 8259), to say so without quoting the text: V8's
// JSON.parse messages quote it ("Unexpected token 'r', "root:*:1971"... is not valid JSON"), and
// some give no position at all. A scanner of its own, iterative (nesting depth costs no stack), that
// agrees with JSON.parse on what is valid: no comments, no trailing commas, no byte order mark.

export interface JsonErrorPosition {
  /** Offset of the character where the text stops being JSON, in UTF-16 code units; the text's length when it ends too early. */
  offset: number;
  /** 1-based line of `offset` (lines end at "\n"). */
  line: number;
  /** 1-based column of `offset` in its line, in UTF-16 code units. */
  column: number;
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX = /^[0-9A-Fa-f]$/;
const DIGIT = /^[0-9]$/;

/** Thrown inside the scanner only: the offset where the grammar broke. */
class BrokenAt {
  constructor(readonly offset: number) {}
}

/** The position of the first syntax error in `text`, or null when `text` is one valid JSON value. */
export function jsonErrorPosition(text: string): JsonErrorPosition | null {
  let offset: number;
  try {
    scan(text);
    return null;
  } catch (error) {
    if (!(error instanceof BrokenAt)) throw error;
    offset = error.offset;
  }
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { offset, line: before.split('\n').length, column: offset - lineStart + 1 };
}

function scan(text: string): void {
  /** The open arrays and objects, innermost last. */
  const open: Array<'[' | '{'> = [];
  let i = skipWhitespace(text, 0);
  for (;;) {
    // A value starts at i.
    const c = text[i];
    if (c === '[' || c === '{') {
      i = skipWhitespace(text, i + 1);
      if (text[i] === (c === '[' ? ']' : '}')) {
        i++;
      } else {
        open.push(c);
        if (c === '{') i = memberName(text, i);
        continue;
      }
    } else {
      i = scalar(text, i);
    }
    // After a value: a comma, the end of its container, or the end of the text.
    for (;;) {
      i = skipWhitespace(text, i);
      const container = open.at(-1);
      if (container === undefined) {
        if (i !== text.length) throw new BrokenAt(i);
        return;
      }
      if (text[i] === ',') {
        i = skipWhitespace(text, i + 1);
        if (container === '{') i = memberName(text, i);
        break;
      }
      if (text[i] !== (container === '[' ? ']' : '}')) throw new BrokenAt(i);
      open.pop();
      i++;
    }
  }
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && WHITESPACE.has(text[i]!)) i++;
  return i;
}

/** `"name" :` and the whitespace after it; returns where the member's value starts. */
function memberName(text: string, i: number): number {
  if (text[i] !== '"') throw new BrokenAt(i);
  i = skipWhitespace(text, string(text, i));
  if (text[i] !== ':') throw new BrokenAt(i);
  return skipWhitespace(text, i + 1);
}

/** A string, number, true, false or null starting at i; returns where it ends. */
function scalar(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return string(text, i);
  if (c === '-' || (c !== undefined && DIGIT.test(c))) return number(text, i);
  for (const word of ['true', 'false', 'null']) {
    if (c !== word[0]) continue;
    for (let k = 1; k < word.length; k++) if (text[i + k] !== word[k]) throw new BrokenAt(Math.min(i + k, text.length));
    return i + word.length;
  }
  throw new BrokenAt(i);
}

function string(text: string, i: number): number {
  for (i++; ; i++) {
    if (i >= text.length) throw new BrokenAt(text.length);
    const c = text[i]!;
    if (c === '"') return i + 1;
    if (c.charCodeAt(0) < 0x20) throw new BrokenAt(i);
    if (c !== '\\') continue;
    i++;
    if (i >= text.length) throw new BrokenAt(text.length);
    if (ESCAPES.has(text[i]!)) continue;
    if (text[i] !== 'u') throw new BrokenAt(i);
    for (let k = 1; k <= 4; k++) if (!HEX.test(text[i + k] ?? '')) throw new BrokenAt(Math.min(i + k, text.length));
    i += 4;
  }
}

function number(text: string, i: number): number {
  if (text[i] === '-') i++;
  if (text[i] === '0') i++;
  else i = digits(text, i);
  if (text[i] === '.') i = digits(text, i + 1);
  if (text[i] === 'e' || text[i] === 'E') {
    i++;
    if (text[i] === '+' || text[i] === '-') i++;
    i = digits(text, i);
  }
  return i;
}

/** One digit or more; returns where they end. */
function digits(text: string, i: number): number {
  if (!DIGIT.test(text[i] ?? '')) throw new BrokenAt(Math.min(i, text.length));
  while (DIGIT.test(text[i] ?? '')) i++;
  return i;
}
