// The admin API's token buckets on a fake clock: burst, refill, Retry-After, failed-auth lockout,
// the bound on tracked clients, and the client key.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AdminRateLimiter, clientKey } from './rate-limit.js';

const OPTIONS = { requestsPerSecond: 2, burst: 3, authFailuresPerMinute: 6, authFailureBurst: 2, maxClients: 3 };

function limiter(): { rl: AdminRateLimiter; advance: (ms: number) => void } {
  let now = 0;
  return { rl: new AdminRateLimiter(OPTIONS, () => now), advance: (ms) => (now += ms) };
}

describe('admin rate limiter', () => {
  it('admits the burst, then refuses with the seconds until the next token', () => {
    const { rl, advance } = limiter();
    for (let i = 0; i < 3; i++) assert.equal(rl.admit('a'), null);
    assert.deepEqual(rl.admit('a'), { reason: 'requests', limit: 'status.admin_rate_limit.requests_per_second', retryAfterSeconds: 1 });
    // Other clients have their own bucket.
    assert.equal(rl.admit('b'), null);
    advance(499);
    assert.notEqual(rl.admit('a'), null);
    advance(1);
    assert.equal(rl.admit('a'), null, 'one token after 500 ms at 2/s');
    assert.notEqual(rl.admit('a'), null);
  });

  it('locks a client out after its failed authentications, whatever it sends next', () => {
    const { rl, advance } = limiter();
    assert.equal(rl.admit('a'), null);
    rl.authFailed('a');
    assert.equal(rl.admit('a'), null);
    rl.authFailed('a');
    const refused = rl.admit('a');
    assert.equal(refused?.reason, 'auth_failures');
    assert.equal(refused?.limit, 'status.admin_rate_limit.auth_failures_per_minute');
    assert.equal(refused?.retryAfterSeconds, 10, 'one failure back after 10 s at 6/min');
    advance(9_000);
    assert.equal(rl.admit('a')?.reason, 'auth_failures');
    advance(1_000);
    assert.equal(rl.admit('a'), null);
  });

  it('tracks at most maxClients, forgetting the least recently seen', () => {
    const { rl } = limiter();
    for (const c of ['a', 'b', 'c']) for (let i = 0; i < 3; i++) rl.admit(c);
    assert.notEqual(rl.admit('a'), null, 'a is out of tokens (and now the most recent)');
    rl.admit('d');
    assert.equal(rl.trackedClients, 3);
    // b was the least recently seen: forgotten, so it starts with a full bucket; a was kept.
    assert.equal(rl.admit('b'), null);
    assert.notEqual(rl.admit('a'), null);
  });

  it('keys IPv4 by address and IPv6 by its /64', () => {
    assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('2001:db8:0:1:aaaa::1'), '2001:db8:0:1::/64');
    assert.equal(clientKey('2001:0db8:0000:0001:ffff:1:2:3'), '2001:db8:0:1::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
    assert.equal(clientKey('2001:db8::'), '2001:db8:0:0::/64');
  });
});
