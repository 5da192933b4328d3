// REDIS_URL, read once into the connection options ioredis gets. Built here field by field rather
// than left to ioredis's own parser, which would take any query parameter of a socket path as an
// option, and which does not read `unix://` URLs at all.
import { invalidConfig } from '../config/config-values.js';

/** Where and how to connect: the part of ioredis's options that REDIS_URL decides. */
export interface RedisConnection {
  /** Host name or address (IPv6 without brackets); unset for a unix socket. */
  host?: string;
  /** Default: 6379. */
  port?: number;
  /** Path of a unix socket. */
  path?: string;
  /** ACL user; unset: `default`. */
  username?: string;
  /** Sent with AUTH when the connection opens; unset: no AUTH. */
  password?: string;
  /** Database number. Default: 0. */
  db?: number;
  /** Set for `rediss://`: TLS, with the host as the server name. */
  tls?: Record<string, never>;
}

const FORMS = 'use redis://[user:password@]host:port[/db], rediss://… or unix:///path/redis.sock[?password=…&username=…&db=N]';
/** Query parameters of a unix socket URL, as redis-py reads them. */
const SOCKET_PARAMETERS = new Set(['password', 'username', 'db']);

/** The connection options of a REDIS_URL; a form it does not take is INVALID_CONFIG naming REDIS_URL. */
export function parseRedisUrl(url: string): RedisConnection {
  if (url.startsWith('unix://')) return parseSocketUrl(url, url.slice('unix://'.length));
  if (url.startsWith('/')) return parseSocketUrl(url, url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidConfig('REDIS_URL', `"${redact(url)}" is not a URL; ${FORMS}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw invalidConfig('REDIS_URL', `"${redact(url)}" must start with redis://, rediss:// or unix://`);
  }
  if (parsed.hostname === '') throw invalidConfig('REDIS_URL', `"${redact(url)}" has no host; ${FORMS}`);
  if (parsed.search !== '' || parsed.hash !== '') {
    throw invalidConfig('REDIS_URL', `"${redact(url)}": a redis:// URL carries its password as user:password@ and its database as /N, not in a query`);
  }
  const connection: RedisConnection = {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? 6379 : Number(parsed.port),
  };
  // WHATWG URL keeps user and password percent-encoded, as they must be written when they hold
  // characters such as "@", ":" or "/".
  if (parsed.username !== '') connection.username = decode(url, parsed.username);
  if (parsed.password !== '') connection.password = decode(url, parsed.password);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '') connection.db = readDb(url, db);
  if (parsed.protocol === 'rediss:') connection.tls = {};
  return connection;
}

function parseSocketUrl(url: string, rest: string): RedisConnection {
  const question = rest.indexOf('?');
  const path = decode(url, question === -1 ? rest : rest.slice(0, question));
  if (!path.startsWith('/') || path.length === 1) {
    throw invalidConfig('REDIS_URL', `"${redact(url)}": a unix socket URL names an absolute path, unix:///path/redis.sock`);
  }
  const connection: RedisConnection = { path };
  if (question === -1) return connection;
  for (const [name, value] of new URLSearchParams(rest.slice(question + 1))) {
    if (!SOCKET_PARAMETERS.has(name)) {
      // Its value is left out: a misspelt "password" would be shown otherwise.
      throw invalidConfig('REDIS_URL', `"${url.slice(0, url.indexOf('?'))}?…": unknown parameter "${name}" (a unix socket URL takes password, username and db)`);
    }
    if (value === '') throw invalidConfig('REDIS_URL', `"${redact(url)}": ${name} is empty`);
    if (name === 'db') connection.db = readDb(url, value);
    else connection[name as 'password' | 'username'] = value;
  }
  return connection;
}

function readDb(url: string, text: string): number {
  if (!/^\d{1,9}$/.test(text)) throw invalidConfig('REDIS_URL', `"${redact(url)}": the database must be a whole number, got "${text}"`);
  return Number(text);
}

function decode(url: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalidConfig('REDIS_URL', `"${redact(url)}" has a malformed %-escape`);
  }
}

/**
 * The URL without its password, for messages and logs: `//user:***@` (all of the user part when it
 * has no ":", which some write for a bare password) and `password=***` in a query. Up to the last
 * "@", so that a password holding an unescaped "@", "/" or "?" is hidden whole; not in a unix
 * socket URL, whose path may hold an "@". Also PIDBOX_REDIS_CLUSTER's nodes, whose scheme is optional.
 */
export function redact(url: string): string {
  return url
    .replace(/^((?!unix:)(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?)(?!\/)(.*)@/, (_, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return `${scheme}${colon === -1 ? '***' : `${userinfo.slice(0, colon)}:***`}@`;
    })
    .replace(/([?&]password=)[^&#]*/gi, '$1***');
}
