import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import { FunctionConfigFile, LIMIT_BOUNDS } from '../contracts/function-config.js';
import { PUBLISHED_SCHEMAS, SCHEMAS_DIR } from './write-schemas.js';

test('every committed JSON Schema is what its zod schema generates (npm run schemas writes them)', () => {
  for (const { file, text } of PUBLISHED_SCHEMAS) {
    assert.equal(readFileSync(`${SCHEMAS_DIR}${file}`, 'utf8'), text(), `schemas/${file} is stale: run npm run schemas`);
  }
});

test("function.json's schema gives editors every field with its description, default and range, and allows $schema", () => {
  const schema = JSON.parse(readFileSync(`${SCHEMAS_DIR}function.schema.json`, 'utf8')) as {
    additionalProperties: boolean;
    properties: Record<string, { description?: string; default?: unknown; minimum?: number; maximum?: number; anyOf?: Array<{ minimum?: number; maximum?: number }> }>;
  };
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(FunctionConfigFile.shape).sort());
  for (const [field, property] of Object.entries(schema.properties)) assert.ok(property.description, `${field} has a description`);
  assert.deepEqual([schema.properties.timeoutMs!.default, schema.properties.timeoutMs!.minimum, schema.properties.timeoutMs!.maximum], [30_000, 1, 900_000]);
  assert.equal(schema.properties.network!.default, 'loopback');
  const memory = schema.properties.memoryMb!.anyOf!.find((branch) => branch.minimum !== undefined)!;
  assert.deepEqual([memory.minimum, memory.maximum], [LIMIT_BOUNDS.memoryMb.min, LIMIT_BOUNDS.memoryMb.max]);
  // The schema reads back as the same rules: a file it accepts, pidbox accepts, and the reverse.
  const roundTrip = z.fromJSONSchema(schema as z.core.JSONSchema.JSONSchema);
  assert.equal(roundTrip.safeParse({ $schema: 'http://x/schemas/function.json', timeoutMs: 500, network: 'host' }).success, true);
  assert.equal(roundTrip.safeParse({ timeoutMs: 0 }).success, false);
  assert.equal(roundTrip.safeParse({ timeout: 5 }).success, false);
});
