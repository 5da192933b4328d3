// PIDBOX_REDIS_CLUSTER, read once into what ioredis's Cluster client gets: the seed nodes it asks
// for the cluster's layout (it finds the other nodes itself), and the credentials of every node.
// Credentials are written as in REDIS_URL (redis/redis-url.ts): `user:password@` before the nodes,
// %-escaped, or `?password=…&username=…` after them, as a unix socket URL takes them.
import { invalidConfig } from '../config/config-values.js';
import { redact } from './redis-url.js';

/** Where the cluster is and how to log in to its nodes. */
export interface ClusterSeeds {
  /** At least one; more, so that one node down at start does not stop the process. */
  seeds: Array<{ host: string; port: number }>;
  /** ACL user of every node; unset: `default`. */
  username?: string;
  /** Sent with AUTH to every node (the cluster's nodes share it); unset: no AUTH. */
  password?: string;
  /** Set for `rediss://`: TLS to every node. */
  tls?: Record<string, never>;
}

const NAME = 'PIDBOX_REDIS_CLUSTER';
const FORMS = 'write host:port,host:port,… with [redis://|rediss://][user:password@] before them or ?password=…&username=… after them';
const QUERY_PARAMETERS = new Set(['password', 'username']);
/** A host name or IPv4 address, or an IPv6 address in brackets; then a port. */
const SEED = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;

/** The seeds and credentials of a PIDBOX_REDIS_CLUSTER value; a form it does not take is INVALID_CONFIG naming the variable. */
export function parseClusterSeeds(value: string): ClusterSeeds {
  const shown = redact(value);
  let rest = value;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(rest);
  let tls = false;
  if (scheme) {
    if (scheme[1] !== 'redis' && scheme[1] !== 'rediss') throw invalidConfig(NAME, `"${shown}" must start with redis://, rediss:// or the first node; ${FORMS}`);
    tls = scheme[1] === 'rediss';
    rest = rest.slice(scheme[0].length);
  }
  const result: ClusterSeeds = { seeds: [] };
  const question = rest.indexOf('?');
  const query = question === -1 ? '' : rest.slice(question + 1);
  if (question !== -1) rest = rest.slice(0, question);
  const at = rest.lastIndexOf('@');
  if (at !== -1) {
    const userinfo = rest.slice(0, at);
    if (userinfo.includes(',')) throw invalidConfig(NAME, `"${shown}": the credentials go before the first node (a "," in a password is written %2C)`);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    const username = decode(shown, colon === -1 ? userinfo : userinfo.slice(0, colon));
    const password = colon === -1 ? '' : decode(shown, userinfo.slice(colon + 1));
    // `password@` alone is read as a password, as redis-py and ioredis read `redis://password@host`.
    if (colon === -1) {
      if (username !== '') result.password = username;
    } else {
      if (username !== '') result.username = username;
      if (password !== '') result.password = password;
    }
  }
  for (const [name, text] of new URLSearchParams(query)) {
    // The value is left out: a misspelt "password" would be shown otherwise.
    if (!QUERY_PARAMETERS.has(name)) throw invalidConfig(NAME, `unknown parameter "${name}" (the nodes take password and username; a cluster has database 0 only)`);
    if (text === '') throw invalidConfig(NAME, `"${shown}": ${name} is empty`);
    if (result[name as 'password' | 'username'] !== undefined) throw invalidConfig(NAME, `"${shown}": the ${name} is given twice`);
    result[name as 'password' | 'username'] = text;
  }
  for (const seed of rest.split(',').map((s) => s.trim())) {
    const match = SEED.exec(seed);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      throw invalidConfig(NAME, `"${seed === '' ? '(empty)' : seed}" is not a node host:port (a port from 1 to 65535); ${FORMS}`);
    }
    result.seeds.push({ host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port });
  }
  if (tls) result.tls = {};
  return result;
}

function decode(shown: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalidConfig(NAME, `"${shown}" has a malformed %-escape`);
  }
}
