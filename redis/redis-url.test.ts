import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRedisUrl, redact } from './redis-url.js';

test('redis:// and rediss:// URLs give host, port, credentials, database and TLS', () => {
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379'), { host: '127.0.0.1', port: 6379 });
  assert.deepEqual(parseRedisUrl('redis://redis'), { host: 'redis', port: 6379 });
  assert.deepEqual(parseRedisUrl('redis://:s3cret@redis:6380/2'), { host: 'redis', port: 6380, password: 's3cret', db: 2 });
  assert.deepEqual(parseRedisUrl('redis://app:s3cret@redis:6379'), { host: 'redis', port: 6379, username: 'app', password: 's3cret' });
  // A password with "@", ":" or "/" is written %-escaped.
  assert.deepEqual(parseRedisUrl('redis://:p%40ss%3Aw%2Frd@redis:6379'), { host: 'redis', port: 6379, password: 'p@ss:w/rd' });
  assert.deepEqual(parseRedisUrl('rediss://app:pw@[::1]:6380/0'), { host: '::1', port: 6380, username: 'app', password: 'pw', db: 0, tls: {} });
});

test('unix socket URLs take password, username and db as query parameters', () => {
  assert.deepEqual(parseRedisUrl('unix:///run/redis/redis.sock'), { path: '/run/redis/redis.sock' });
  assert.deepEqual(parseRedisUrl('/run/redis/redis.sock'), { path: '/run/redis/redis.sock' });
  assert.deepEqual(parseRedisUrl('unix:///run/redis.sock?password=ab%26cd'), { path: '/run/redis.sock', password: 'ab&cd' });
  assert.deepEqual(parseRedisUrl('unix:///run/redis.sock?password=pw&username=app&db=3'), { path: '/run/redis.sock', password: 'pw', username: 'app', db: 3 });
  assert.deepEqual(parseRedisUrl('/run/redis.sock?password=pw'), { path: '/run/redis.sock', password: 'pw' });
});

test('a form REDIS_URL does not take is INVALID_CONFIG naming REDIS_URL, its password hidden', () => {
  const cases: Array<[string, RegExp]> = [
    ['http://redis:6379', /^REDIS_URL: "http:\/\/redis:6379" must start with redis:\/\/, rediss:\/\/ or unix:\/\//],
    ['redis://user:secret@[bad', /^REDIS_URL: "redis:\/\/user:\*\*\*@\[bad" is not a URL/],
    ['redis://:secret@redis:6379?db=2', /^REDIS_URL: "redis:\/\/:\*\*\*@redis:6379\?db=2": a redis:\/\/ URL carries its password as user:password@/],
    ['redis://redis:6379/zero', /^REDIS_URL: .*the database must be a whole number, got "zero"/],
    ['unix://run/redis.sock', /^REDIS_URL: "unix:\/\/run\/redis.sock": a unix socket URL names an absolute path/],
    ['unix:///run/redis.sock?pasword=secret', /^REDIS_URL: .*unknown parameter "pasword"/],
    ['unix:///run/redis.sock?password=secret&db=x', /^REDIS_URL: "unix:\/\/\/run\/redis.sock\?password=\*\*\*&db=x": the database must be a whole number/],
    ['unix:///run/redis.sock?password=', /^REDIS_URL: .*password is empty/],
  ];
  for (const [url, message] of cases) {
    assert.throws(() => parseRedisUrl(url), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'INVALID_CONFIG', url);
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
  }
});

test('redact hides the password in every form and leaves the rest', () => {
  const cases: Array<[string, string]> = [
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['redis://:s3cret@redis:6379', 'redis://:***@redis:6379'],
    ['redis://app:s3cret@redis:6379/1', 'redis://app:***@redis:6379/1'],
    ['rediss://app:s3cret@redis:6380', 'rediss://app:***@redis:6380'],
    // A bare user part may be a password written the old way.
    ['redis://s3cret@redis:6379', 'redis://***@redis:6379'],
    // Unescaped "@", "/" or "?" in the password: hidden whole, up to the last "@".
    ['redis://:s3@c/r?et@redis:6379', 'redis://:***@redis:6379'],
    ['unix:///run/redis.sock?password=s3cret', 'unix:///run/redis.sock?password=***'],
    ['unix:///run/redis.sock?db=1&password=s3cret&username=app', 'unix:///run/redis.sock?db=1&password=***&username=app'],
    ['/run/redis.sock?password=s3cret', '/run/redis.sock?password=***'],
    // A socket path may hold an "@": it is not taken for a user part.
    ['unix:///run/a@b/redis.sock', 'unix:///run/a@b/redis.sock'],
  ];
  for (const [url, shown] of cases) assert.equal(redact(url), shown);
});
