// The request as an exec function gets it in its environment, the CGI way (RFC 3875, section 4.1):
// REQUEST_METHOD, PATH_INFO, QUERY_STRING, CONTENT_TYPE, CONTENT_LENGTH, one HTTP_* variable per
// request header, and the server's facts. The body comes on stdin, as CGI has it.
//
// The headers are the caller's, so what they become is an allow-list, not the caller's choice: a
// header whose name does not map to a variable of its own is left out (`X_Id` and `X-Id` would both be
// HTTP_X_ID, so names with '_' are left out, as nginx does by default), and so are the credentials
// meant for the gateway (Authorization), the headers of one connection (Connection, TE, …), Proxy
// (HTTP_PROXY is the proxy setting of most HTTP clients: "httpoxy", CVE-2016-5385), and any header
// past a total size, so that no request can fill the function's environment.
import type { InvocationRequest } from '../../contracts/invocation.js';

export interface CgiEnvOptions {
  /** The function's name: SCRIPT_NAME is its route, `/functions/<name>`. */
  functionName: string;
  /** Most bytes of HTTP_* variables (`NAME=value` each); a header past it is left out. Default: 32 KiB. */
  maxHeaderBytes?: number;
}

export const DEFAULT_MAX_CGI_HEADER_BYTES = 32 * 1024;

/** Headers that never become an HTTP_* variable (names lower-case). */
const LEFT_OUT = new Set([
  // For the gateway, not the function (RFC 3875, 4.1.18: the server need not pass them on).
  'authorization', 'proxy-authorization',
  // One connection's (RFC 9110, 7.6.1).
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  // CONTENT_TYPE and CONTENT_LENGTH already.
  'content-type', 'content-length',
  // HTTP_PROXY would set the proxy of the function's own HTTP clients.
  'proxy',
]);
/** Header names that map one to one to a variable name. */
const MAPPABLE = /^[a-z0-9-]+$/;

/** The CGI meta-variables of `request` whose body is `bodyBytes` long. */
export function cgiEnv(request: InvocationRequest, bodyBytes: number, options: CgiEnvOptions): Record<string, string> {
  const queryAt = request.path.indexOf('?');
  const path = queryAt < 0 ? request.path : request.path.slice(0, queryAt);
  const { name: serverName, port: serverPort } = serverOf(request.headers.host);
  const contentType = request.headers['content-type'];
  const env: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'pidbox',
    SERVER_NAME: serverName,
    SERVER_PORT: serverPort,
    REQUEST_METHOD: request.method,
    SCRIPT_NAME: `/functions/${options.functionName}`,
    PATH_INFO: decodePath(path),
    QUERY_STRING: queryAt < 0 ? '' : request.path.slice(queryAt + 1),
    ...(bodyBytes > 0 ? { CONTENT_LENGTH: String(bodyBytes) } : {}),
    ...(contentType !== undefined && fitsEnv(contentType) ? { CONTENT_TYPE: contentType } : {}),
  };
  let budget = options.maxHeaderBytes ?? DEFAULT_MAX_CGI_HEADER_BYTES;
  for (const [rawName, value] of Object.entries(request.headers)) {
    const name = rawName.toLowerCase();
    if (LEFT_OUT.has(name) || !MAPPABLE.test(name) || !fitsEnv(value)) continue;
    const variable = `HTTP_${name.toUpperCase().replaceAll('-', '_')}`;
    const size = Buffer.byteLength(variable) + 1 + Buffer.byteLength(value);
    if (size > budget || variable in env) continue;
    budget -= size;
    env[variable] = value;
  }
  return env;
}

/**
 * PATH_INFO is not URL-encoded (RFC 3875, 4.1.5): `/a%20b` is `/a b`. A path that does not decode to
 * text (an escape of a lone byte that is not UTF-8, or of NUL, which no environment can hold) stays
 * as it came, still encoded: PIDBOX_PATH always has it as it came.
 */
function decodePath(path: string): string {
  try {
    const decoded = decodeURIComponent(path);
    return decoded.includes('\0') ? path : decoded;
  } catch {
    return path;
  }
}

/** SERVER_NAME and SERVER_PORT from the Host header (`name`, `name:port`, `[v6]:port`). */
function serverOf(host: string | undefined): { name: string; port: string } {
  const match = host === undefined ? null : /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+)(?::(\d{1,5}))?$/.exec(host);
  if (!match) return { name: 'localhost', port: '80' };
  return { name: match[1]!, port: match[2] ?? '80' };
}

/** A value an environment variable can hold, that no reader splits into two lines: no NUL, CR or LF. */
function fitsEnv(value: string): boolean {
  return !/[\0\r\n]/.test(value);
}
