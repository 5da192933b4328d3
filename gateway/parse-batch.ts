// The body of POST /functions/{name}/batch: a JSON array, or NDJSON (one JSON value a line). Each item
// is the JSON body of one invocation. A malformed batch is refused whole, naming the item, line or
// character where it goes wrong.
import { PidboxError } from '../contracts/pidbox-error.js';

export function parseBatch(text: string, contentType: string, maxItems: number): unknown[] {
  const items = isNdjson(text, contentType) ? parseNdjson(text) : parseArray(text);
  if (items.length === 0) throw new PidboxError('INVALID_BATCH', 'the batch is empty');
  if (items.length > maxItems) throw new PidboxError('INVALID_BATCH', `the batch has ${items.length} items; at most ${maxItems} are allowed`);
  return items;
}

function isNdjson(text: string, contentType: string): boolean {
  if (/ndjson|jsonl|json-seq/i.test(contentType)) return true;
  if (/application\/json/i.test(contentType)) return false;
  return !text.trimStart().startsWith('[');
}

function parseArray(text: string): unknown[] {
  const items: unknown[] = [];
  for (const element of splitArray(text)) {
    try {
      items.push(JSON.parse(element.text));
    } catch (error) {
      throw new PidboxError(
        'INVALID_BATCH',
        `item ${element.index} of the batch (at character ${element.start}) is not valid JSON: ${(error as Error).message}`,
      );
    }
  }
  return items;
}

/**
 * The top-level elements of a JSON array, as text with their positions, so that a bad one is named:
 * JSON.parse alone does not always say where it failed. Strings (with escapes) and nesting are
 * followed; the elements themselves are checked by JSON.parse.
 */
function splitArray(text: string): Array<{ index: number; start: number; text: string }> {
  const fail = (at: number, message: string): never => {
    throw new PidboxError('INVALID_BATCH', `the batch is not a valid JSON array: ${message} at character ${at}`);
  };
  let i = skipSpace(text, 0);
  if (text[i] !== '[') fail(i, 'expected "["');
  i = skipSpace(text, i + 1);
  const elements: Array<{ index: number; start: number; text: string }> = [];
  if (text[i] === ']') {
    if (skipSpace(text, i + 1) < text.length) fail(skipSpace(text, i + 1), 'unexpected text after the array');
    return elements;
  }
  for (;;) {
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < text.length; i++) {
      const ch = text[i];
      if (inString) {
        if (ch === '\\') i++;
        else if (ch === '"') inString = false;
      } else if (ch === '"') inString = true;
      else if (ch === '[' || ch === '{') depth++;
      else if (ch === ']' || ch === '}') {
        if (depth === 0) break;
        depth--;
      } else if (ch === ',' && depth === 0) break;
    }
    if (i >= text.length) fail(i, 'the array is not closed');
    const element = text.slice(start, i).trim();
    if (element === '') fail(start, `item ${elements.length} is missing`);
    elements.push({ index: elements.length, start, text: element });
    if (text[i] === ']') break;
    i = skipSpace(text, i + 1);
  }
  if (skipSpace(text, i + 1) < text.length) fail(skipSpace(text, i + 1), 'unexpected text after the array');
  return elements;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && /\s/.test(text[i]!)) i++;
  return i;
}

function parseNdjson(text: string): unknown[] {
  const items: unknown[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      items.push(JSON.parse(line));
    } catch (error) {
      throw new PidboxError('INVALID_BATCH', `line ${i + 1} of the batch is not valid JSON: ${(error as Error).message}`);
    }
  }
  return items;
}
