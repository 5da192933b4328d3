// The gateway's HTTP API as an OpenAPI 3.1 document (GET /openapi.json), generated from the routes'
// own definitions (createRoute): the zod schemas that validate a request are the ones it describes.
import { readFileSync } from 'node:fs';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { API_KEY_SCHEME } from './auth.js';
import type { GatewayEnv } from './gateway-deps.js';

/** The document's `paths` and what else a test reads of it; the rest is OpenAPI 3.1 as it is. */
export interface ApiDescription {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { security?: unknown[]; parameters?: Array<{ name: string; in: string; required?: boolean }> }>>;
  [key: string]: unknown;
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Registers the API key's security scheme on `app` and returns a function that builds the document
 * (once: the routes do not change after start).
 */
export function describeApi(app: OpenAPIHono<GatewayEnv>): () => ApiDescription {
  app.openAPIRegistry.registerComponent('securitySchemes', API_KEY_SCHEME, {
    type: 'http',
    scheme: 'bearer',
    description:
      'One of PIDBOX_API_KEYS, when the gateway has any: `Authorization: Bearer <key>`. Health, metrics and the API\'s description are open.',
  });
  let document: ApiDescription | null = null;
  return () => {
    document ??= withOpenApiPaths(
      app.getOpenAPI31Document({
        openapi: '3.1.0',
        info: {
          title: 'pidbox',
          version: VERSION,
          description:
            'A serverless-style function runner: every call of a function runs in a fresh sandbox. Errors are `{"error":{"code","message"}}` with a stable code; a wrong method on a known path is 405 with `Allow`.',
        },
        security: [{ [API_KEY_SCHEME]: [] }],
      }) as unknown as ApiDescription,
    );
    return document;
  };
}

/**
 * hono's "rest of the path" parameter, `{path{.*}}` in a route's path, as OpenAPI writes a path
 * parameter: `{path}`.
 */
function withOpenApiPaths(document: ApiDescription): ApiDescription {
  const paths: ApiDescription['paths'] = {};
  for (const [path, item] of Object.entries(document.paths)) paths[path.replace(/\{(\w+)\{[^}]*\}\}/g, '{$1}')] = item;
  return { ...document, paths };
}
