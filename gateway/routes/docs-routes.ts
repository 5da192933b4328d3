// The API's description, open like the health routes: GET /openapi.json (OpenAPI 3.1, generated from
// the routes), GET /docs (Swagger UI rendering it, served from this gateway's own swagger-ui-dist, so
// it works offline), and GET /schemas/function.json (function.json's JSON Schema, for editors).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { functionConfigJsonSchema } from '../../contracts/function-config.js';
import { PidboxError } from '../../contracts/pidbox-error.js';
import type { ApiDescription } from '../api-description.js';
import { errorResponses } from '../api-schemas.js';
import type { GatewayEnv } from '../gateway-deps.js';
import { rejectInvalid, rejectInvalidRequest } from '../request-validation.js';

/** Swagger UI's files the page loads, from the swagger-ui-dist package, and the page's own script. */
const ASSETS = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'docs.js': 'text/javascript; charset=utf-8',
} as const;
type Asset = keyof typeof ASSETS;

const SWAGGER_UI_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

// Relative addresses, so the page also works behind a proxy that serves the gateway under a prefix.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pidbox API</title>
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/docs.js"></script>
</body>
</html>
`;

// No validator badge: Swagger UI would fetch it from validator.swagger.io.
const SCRIPT = `window.ui = SwaggerUIBundle({
  url: new URL('openapi.json', document.baseURI).href,
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

/** Only what the page needs, from this gateway alone (Swagger UI styles elements inline). */
const PAGE_POLICY = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

const openapiJson = createRoute({
  method: 'get',
  path: '/openapi.json',
  tags: ['description'],
  summary: 'This API, as an OpenAPI 3.1 document',
  security: [],
  responses: {
    200: { description: 'Generated from the routes\' own definitions.', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } },
  },
});

const docsPage = createRoute({
  method: 'get',
  path: '/docs',
  tags: ['description'],
  summary: 'The API reference: Swagger UI over /openapi.json',
  security: [],
  responses: { 200: { description: 'An HTML page; its scripts and styles come from this gateway.', content: { 'text/html': { schema: z.string() } } } },
});

const docsAsset = createRoute({
  method: 'get',
  path: '/docs/{file}',
  tags: ['description'],
  summary: 'A file of the API reference page',
  security: [],
  request: { params: z.object({ file: z.enum(Object.keys(ASSETS) as [Asset, ...Asset[]]) }) },
  responses: {
    200: { description: "Swagger UI's files (swagger-ui-dist) and the page's script." },
    ...errorResponses('NOT_FOUND'),
  },
});

const functionSchema = createRoute({
  method: 'get',
  path: '/schemas/function.json',
  tags: ['description'],
  summary: "function.json's JSON Schema",
  description:
    'JSON Schema (draft 2020-12) of a function\'s function.json, with every field\'s description, default and range; point `"$schema"` at it for completion in editors. The same as schemas/function.schema.json.',
  security: [],
  responses: { 200: { description: 'The schema.', content: { 'application/schema+json': { schema: z.record(z.string(), z.unknown()) } } } },
});

export function docsRoutes(describe: () => ApiDescription): OpenAPIHono<GatewayEnv> {
  const app = new OpenAPIHono<GatewayEnv>({ defaultHook: rejectInvalidRequest });
  const files = new Map<Asset, Buffer>();
  const read = (file: Asset): Buffer => {
    let content = files.get(file);
    if (!content) files.set(file, (content = file === 'docs.js' ? Buffer.from(SCRIPT) : readFileSync(join(SWAGGER_UI_DIR, file))));
    return content;
  };

  app.openapi(openapiJson, (c) => c.json(describe(), 200));
  app.openapi(docsPage, (c) => c.html(PAGE, 200, { 'content-security-policy': PAGE_POLICY }));
  app.openapi(
    docsAsset,
    (c) => {
      const { file } = c.req.valid('param');
      return c.body(new Uint8Array(read(file)), 200, { 'content-type': ASSETS[file], 'cache-control': 'public, max-age=3600' });
    },
    rejectInvalid({ file: (file) => new PidboxError('NOT_FOUND', `no file ${JSON.stringify(file.slice(0, 100))} in /docs`) }),
  );
  app.openapi(functionSchema, (c) => c.json(functionConfigJsonSchema(), 200, { 'content-type': 'application/schema+json' }));
  return app;
}
