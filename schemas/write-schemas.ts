// `npm run schemas`: writes the JSON Schemas pidbox publishes, generated from their zod schemas, into
// this folder. schemas/function-schema.test.ts fails when a committed file differs from what its
// schema generates, so a changed schema is committed with its file.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { functionConfigJsonSchema } from '../contracts/function-config.js';

/** Each published file (relative to this folder) and its text. */
export const PUBLISHED_SCHEMAS: ReadonlyArray<{ file: string; text: () => string }> = [
  { file: 'function.schema.json', text: () => `${JSON.stringify(functionConfigJsonSchema(), null, 2)}\n` },
];

/** The source folder `schemas/` (this file runs from dist/schemas/). */
export const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const { file, text } of PUBLISHED_SCHEMAS) {
    writeFileSync(`${SCHEMAS_DIR}${file}`, text());
    console.log(`wrote schemas/${file}`);
  }
}
