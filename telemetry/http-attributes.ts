// Attribute values of HTTP spans as the semantic conventions spell them
// (https://opentelemetry.io/docs/specs/semconv/http/http-spans/): the method, and URLs with what a
// trace must not keep (credentials, signatures in the query) replaced by REDACTED.
import {
  ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_REQUEST_METHOD_ORIGINAL, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT, ATTR_URL_FULL,
} from '../contracts/span-attributes.js';

/** Methods the conventions know; any other is `_OTHER`, with the method as it came beside it. */
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);
/** Query parameters whose values are credentials (the conventions' default list: presigned URLs). */
const SENSITIVE_PARAMETERS = new Set(['AWSAccessKeyId', 'Signature', 'sig', 'X-Goog-Signature']);

/** `http.request.method`, and `http.request.method_original` when the method is not a known one. */
export function methodAttributes(method: string): Record<string, string> {
  if (KNOWN_METHODS.has(method)) return { [ATTR_HTTP_REQUEST_METHOD]: method };
  return { [ATTR_HTTP_REQUEST_METHOD]: '_OTHER', [ATTR_HTTP_REQUEST_METHOD_ORIGINAL]: method };
}

/** A query string (without `?`) with the values of sensitive parameters replaced, the rest as it came. */
export function redactedQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      if (equals < 0) return pair;
      let name = pair.slice(0, equals);
      try {
        name = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // Left as it came: not a name on the list.
      }
      return SENSITIVE_PARAMETERS.has(name) ? `${pair.slice(0, equals)}=REDACTED` : pair;
    })
    .join('&');
}

/** `url.full`: the URL without its fragment, with a user and password and sensitive query values redacted. */
export function redactedUrl(url: URL): string {
  const copy = new URL(url);
  if (copy.username) copy.username = 'REDACTED';
  if (copy.password) copy.password = 'REDACTED';
  copy.hash = '';
  const query = copy.search.slice(1);
  return query ? `${copy.href.slice(0, copy.href.indexOf('?'))}?${redactedQuery(query)}` : copy.href;
}

/** The port a URL reaches: its own, or its scheme's. */
export function portOf(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** A host as the conventions want `server.address`: an IPv6 address without its brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * What a CLIENT span knows before it sends: the method, `url.full` (redacted) and the server it
 * addresses; the method alone for a URL that does not parse (the request will fail, the span stays).
 */
export function clientRequestAttributes(method: string, url: string): Record<string, string | number> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return methodAttributes(method);
  }
  return {
    ...methodAttributes(method),
    [ATTR_URL_FULL]: redactedUrl(parsed),
    [ATTR_SERVER_ADDRESS]: hostOf(parsed),
    [ATTR_SERVER_PORT]: portOf(parsed),
  };
}
