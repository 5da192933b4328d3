// The dashboard's two static files, its script and its style sheet: read once at start from
// gateway/ui/static/ (beside the sources, which the image carries), served under /ui/static/ with
// their digest in the URL, so a browser keeps them until they change.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';

const STATIC_DIR = new URL('../../../gateway/ui/static/', import.meta.url);
const TYPES = { 'dashboard.js': 'text/javascript; charset=utf-8', 'dashboard.css': 'text/css; charset=utf-8' } as const;
export type AssetName = keyof typeof TYPES;

export interface StaticAssets {
  /** `/ui/static/<name>?v=<digest>`. */
  url(name: AssetName): string;
  routes: Hono;
}

export function loadStaticAssets(): StaticAssets {
  const files = new Map<string, { body: Buffer; digest: string }>();
  for (const name of Object.keys(TYPES) as AssetName[]) {
    const body = readFileSync(new URL(name, STATIC_DIR));
    files.set(name, { body, digest: createHash('sha256').update(body).digest('hex').slice(0, 16) });
  }
  const routes = new Hono();
  routes.get('/ui/static/:name', (c) => {
    const name = c.req.param('name');
    const file = files.get(name);
    if (!file) return c.notFound();
    const etag = `"${file.digest}"`;
    // With the digest asked for, the file never changes under this URL; without, check each time.
    const cacheControl = c.req.query('v') === file.digest ? 'public, max-age=31536000, immutable' : 'no-cache';
    const headers = { 'content-type': TYPES[name as AssetName], 'cache-control': cacheControl, etag, 'x-content-type-options': 'nosniff' };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
    return c.body(new Uint8Array(file.body), 200, headers);
  });
  return {
    url: (name) => `/ui/static/${name}?v=${files.get(name)!.digest}`,
    routes,
  };
}
