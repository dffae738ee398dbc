// The admin rate limiter against clock steps (issue 15). In the daemon it runs on performance.now,
// a monotonic clock that NTP never steps; this checks that even a clock that does step (injected)
// never refills the buckets backwards, grants more than the burst, or answers NaN or a negative
// Retry-After.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AdminRateLimiter } from './rate-limit.js';

const OPTIONS = { requestsPerSecond: 2, burst: 3, authFailuresPerMinute: 6, authFailureBurst: 2, maxClients: 10 };

describe('admin rate limiter, clock stepped', () => {
  it('back an hour: no tokens gained, a sane Retry-After; forward an hour: at most the burst', () => {
    let now = 10 * 3_600_000;
    const rl = new AdminRateLimiter(OPTIONS, () => now);
    for (let i = 0; i < 3; i++) assert.equal(rl.admit('a'), null);
    now -= 3_600_000;
    const refused = rl.admit('a');
    assert.equal(refused?.reason, 'requests', 'a step back refills nothing');
    assert.ok(Number.isFinite(refused.retryAfterSeconds) && refused.retryAfterSeconds >= 1 && refused.retryAfterSeconds <= 1, `Retry-After ${refused.retryAfterSeconds}`);
    now += 500;
    assert.equal(rl.admit('a'), null, 'refills again from the stepped time at the configured rate');
    now += 2 * 3_600_000;
    let admitted = 0;
    while (rl.admit('a') === null && admitted < 100) admitted++;
    assert.equal(admitted, 3, 'a step forward refills to the burst, not beyond');
  });
});
