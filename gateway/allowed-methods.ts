// Which methods a path takes, read from the app's own routing table, so that a request with another
// method on a known path is answered 405 with `Allow` (RFC 9110, 15.5.6) rather than 404.
import { TrieRouter } from 'hono/router/trie-router';

export interface RouteEntry {
  method: string;
  /** A hono path: `/invocations/:id`, `/function/:name/:path{.*}`. */
  path: string;
}

/**
 * A lookup built once from `routes` (hono's `app.routes`). Middleware (`app.use`) is registered for
 * every method (`ALL`) and says nothing about what a path takes, so it is left out. HEAD is allowed
 * wherever GET is: hono answers it with the GET handler.
 */
export function allowedMethods(routes: readonly RouteEntry[]): (path: string) => string[] {
  const router = new TrieRouter<string>();
  const methods = new Set<string>();
  for (const { method, path } of routes) {
    if (method === 'ALL') continue;
    router.add(method, path, method);
    methods.add(method);
  }
  return (path) => {
    const allowed = [...methods].filter((method) => router.match(method, path)[0].length > 0);
    if (allowed.includes('GET')) allowed.push('HEAD');
    return allowed.sort();
  };
}
