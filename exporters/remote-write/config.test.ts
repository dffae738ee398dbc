// `remote_write:` validation: defaults, every error at once with its key path, unknown keys refused.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../daemon/config/index.js';

function errors(remoteWrite: unknown): string[] {
  const result = validateConfig({ remote_write: remoteWrite });
  return 'errors' in result ? result.errors : [];
}

describe('remote_write config', () => {
  it('fills every default', () => {
    const result = validateConfig({ remote_write: [{ url: 'http://mimir:9009/api/v1/push' }] });
    assert.ok('config' in result);
    assert.deepEqual(result.config.remoteWrite, [{
      url: 'http://mimir:9009/api/v1/push',
      intervalMs: 15_000,
      headers: {},
      bearerToken: null,
      basicAuth: null,
      tls: null,
      queue: { shards: 4, maxSamplesPerSend: 2000, timeoutMs: 30_000, minBackoffMs: 30, maxBackoffMs: 5000 },
      wal: { maxBytes: 1024 ** 3, segmentBytes: 32 * 1024 ** 2, fsync: 'always' },
      metadata: { send: true, intervalMs: 60_000, maxPerSend: 2000 },
    }]);
  });

  it('absent or null is no endpoint', () => {
    for (const v of [undefined, null]) {
      const result = validateConfig(v === undefined ? {} : { remote_write: v });
      assert.ok('config' in result);
      assert.deepEqual(result.config.remoteWrite, []);
    }
  });

  it('reads every key', () => {
    const result = validateConfig({ remote_write: [{
      url: 'http://a:1/push', interval: '30s', headers: { 'X-Scope-OrgID': 'team-a' }, basic_auth: { username: 'u', password: 'p' },
      queue: { shards: 8, max_samples_per_send: 500, timeout: '10s', min_backoff: '100ms', max_backoff: '1m' },
      wal: { max_size: '100MiB', segment_size: '8MiB', fsync: 'never' },
      metadata: { send: false, send_interval: '30s', max_samples_per_send: 100 },
    }] });
    assert.ok('config' in result, JSON.stringify(result));
    const rw = result.config.remoteWrite[0]!;
    assert.equal(rw.intervalMs, 30_000);
    assert.deepEqual(rw.headers, { 'X-Scope-OrgID': 'team-a' });
    assert.deepEqual(rw.basicAuth, { username: 'u', password: 'p' });
    assert.deepEqual(rw.queue, { shards: 8, maxSamplesPerSend: 500, timeoutMs: 10_000, minBackoffMs: 100, maxBackoffMs: 60_000 });
    assert.deepEqual(rw.wal, { maxBytes: 100 * 1024 ** 2, segmentBytes: 8 * 1024 ** 2, fsync: 'never' });
    assert.deepEqual(rw.metadata, { send: false, intervalMs: 30_000, maxPerSend: 100 });
  });

  it('reports every problem at once, each with its key path', () => {
    const got = errors([
      { url: 'ftp://x', interval: 'soon', queue: { shards: 0, max_samples_per_send: 'many', min_backoff: '10s', max_backoff: '1s', shard: 3 }, wal: { max_size: '1KiB', fsync: 'sometimes' }, colour: 'red' },
      { url: 'http://ok:1/w', headers: { 'Content-Type': 'text/plain', 'X-Ok': 5 }, bearer_token: 'abc', basic_auth: { username: 'u', password: 'p' }, tls: { ca_file: '/nonexistent/ca.pem' } },
      { url: 'http://ok:1/w' },
      'not a mapping',
      { url: 'http://meta:1/w', metadata: { send: 'yes', send_interval: '10ms', max_samples_per_send: 0, every: '1m' } },
      { url: 'http://meta:2/w', metadata: true },
    ]);
    const expected = [
      /^remote_write\[0\]\.url: must be an http:\/\/ or https:\/\/ URL/,
      /^remote_write\[0\]\.interval: must be a positive duration/,
      /^remote_write\[0\]\.queue\.shards: must be an integer from 1 to 64 \(got 0\)/,
      /^remote_write\[0\]\.queue\.max_samples_per_send: must be an integer/,
      /^remote_write\[0\]\.queue\.min_backoff: must not exceed queue\.max_backoff/,
      /^'remote_write\[0\]\.queue' has invalid key: shard/,
      /^remote_write\[0\]\.wal\.max_size: must be a size of at least 65536 bytes/,
      /^remote_write\[0\]\.wal\.fsync: must be always or never/,
      /^'remote_write\[0\]' has invalid key: colour/,
      /^remote_write\[1\]\.headers\.Content-Type: is set by the remote-write protocol itself/,
      /^remote_write\[1\]\.headers\.X-Ok: must be a string/,
      /^remote_write\[1\]\.bearer_token: bearer_token, basic_auth and an Authorization header exclude each other/,
      /^remote_write\[1\]\.tls\.ca_file: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/,
      /^remote_write\[1\]\.tls: is only used with an https:\/\/ url/,
      /^remote_write\[2\]\.url: is also remote_write\[1\]\.url/,
      /^remote_write\[3\]: must be a mapping with url/,
      /^remote_write\[4\]\.metadata\.send: must be true or false/,
      /^remote_write\[4\]\.metadata\.send_interval: must be at least 100ms/,
      /^remote_write\[4\]\.metadata\.max_samples_per_send: must be an integer from 1 to 100000 \(got 0\)/,
      /^'remote_write\[4\]\.metadata' has invalid key: every/,
      /^remote_write\[5\]\.metadata: must be a mapping with send, send_interval, max_samples_per_send/,
    ];
    for (const pattern of expected) assert.ok(got.some((e) => pattern.test(e)), `missing ${pattern}\n${got.join('\n')}`);
  });

  it('is not a list', () => {
    assert.deepEqual(errors({ url: 'http://x' }), ['remote_write: must be a list of { url, ... } (got a mapping)']);
  });
});
