// Rate limits of the admin API in a real daemon: 429 with Retry-After and a JSON error naming the
// limit, failed authentications locking a client out (even its right token), public routes not
// limited, and vigil_admin_rate_limited_total counting each refusal.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sampleValue, scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { TEST_TOKEN, admin, applyStatusConfig } from './testing.js';

async function startWith(limits: Record<string, number>): Promise<TestDaemon> {
  return startTestDaemon((config) => {
    applyStatusConfig(config);
    config.status.adminRateLimit = { ...config.status.adminRateLimit, ...limits };
  });
}

describe('admin API rate limits', () => {
  let d: TestDaemon;
  before(async () => {
    // Slow refill, so the refusals below do not depend on how fast the test runs.
    d = await startWith({ requestsPerSecond: 0.2, burst: 4, authFailuresPerMinute: 1, authFailureBurst: 3, maxClients: 100 });
  });
  after(async () => {
    await d.stop();
  });

  it('answers 429 with Retry-After and the limit once a client spends its burst; public routes are not limited', async () => {
    for (let i = 0; i < 4; i++) assert.equal((await admin(d.statusBase, 'PUT', '/api/admin/components/api/override', { status: 'operational' })).status, 200);
    const limited = await admin(d.statusBase, 'PUT', '/api/admin/components/api/override', { status: 'major_outage' });
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 5, `Retry-After ${limited.headers.get('retry-after')}`);
    assert.equal(limited.json['limit'], 'status.admin_rate_limit.requests_per_second');
    assert.equal(limited.json['retry_after_seconds'], retryAfter);
    assert.match(String(limited.json['error']), /rate limited by status\.admin_rate_limit\.requests_per_second/);
    assert.equal(limited.headers.get('cache-control'), 'no-store');
    // The refused request did nothing.
    const components = (await (await fetch(`${d.statusBase}/api/v2/components.json`)).json()) as { components: Array<{ id: string; status: string }> };
    assert.equal(components.components.find((c) => c.id === 'api')?.status, 'operational');
    for (let i = 0; i < 30; i++) assert.equal((await fetch(`${d.statusBase}/api/v2/status.json`)).status, 200);
    assert.equal(sampleValue(await scrape(d.metricsBase), 'vigil_admin_rate_limited_total{reason="requests"}'), 1);
  });
});

describe('admin API brute-force protection', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startWith({ requestsPerSecond: 1000, burst: 1000, authFailuresPerMinute: 1, authFailureBurst: 3, maxClients: 100 });
  });
  after(async () => {
    await d.stop();
  });

  it('refuses every admin request of a client after its failed authentications, the right token included', async () => {
    assert.equal((await admin(d.statusBase, 'DELETE', '/api/admin/components/api/override', undefined, 'wrong-token-000000000001')).status, 403);
    assert.equal((await admin(d.statusBase, 'DELETE', '/api/admin/components/api/override', undefined, null)).status, 401);
    assert.equal((await admin(d.statusBase, 'DELETE', '/api/admin/components/api/override', undefined, 'wrong-token-000000000002')).status, 403);
    for (const token of ['wrong-token-000000000003', TEST_TOKEN]) {
      const locked = await admin(d.statusBase, 'DELETE', '/api/admin/components/api/override', undefined, token);
      assert.equal(locked.status, 429, `token ${token}`);
      assert.equal(locked.json['limit'], 'status.admin_rate_limit.auth_failures_per_minute');
      const retryAfter = Number(locked.headers.get('retry-after'));
      assert.ok(retryAfter > 50 && retryAfter <= 60, `Retry-After ${retryAfter} (one failure back per minute)`);
    }
    assert.equal(sampleValue(await scrape(d.metricsBase), 'vigil_admin_rate_limited_total{reason="auth_failures"}'), 2);
  });
});
