// Incidents, maintenances and overrides survive a restart: stop the daemon, start a new one on the
// same data directory, and the public API shows everything again.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testConfig } from '../../test-support/daemon.js';
import type { Config } from '../../daemon/config/types.js';
import { startDaemon } from '../../daemon/vigild.js';
import { admin, applyStatusConfig } from './testing.js';

function config(dataDir: string): Config {
  const c = testConfig(dataDir);
  applyStatusConfig(c);
  return c;
}

describe('status persistence', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-status-restart-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps incidents with their updates, maintenances and overrides across a restart', { timeout: 30_000 }, async () => {
    const first = await startDaemon(config(dataDir));
    let base = `http://127.0.0.1:${first.addresses.status.port}`;
    const incident = await admin(base, 'POST', '/api/admin/incidents', { name: 'Outage', message: 'Down', components: { api: 'major_outage' } });
    const id = incident.json['id'] as string;
    await admin(base, 'POST', `/api/admin/incidents/${id}/updates`, { status: 'monitoring', message: 'Fix deployed' });
    const from = new Date(Date.now() + 3_600_000).toISOString();
    const until = new Date(Date.now() + 7_200_000).toISOString();
    const m = await admin(base, 'POST', '/api/admin/maintenances', { name: 'Upgrade', scheduled_for: from, scheduled_until: until, components: ['db'] });
    await admin(base, 'PUT', '/api/admin/components/web/override', { status: 'degraded_performance' });
    const before = (await (await fetch(`${base}/api/v2/summary.json`)).json()) as Record<string, unknown>;
    await first.shutdown('restart test');

    const second = await startDaemon(config(dataDir));
    try {
      base = `http://127.0.0.1:${second.addresses.status.port}`;
      const after = (await (await fetch(`${base}/api/v2/summary.json`)).json()) as Record<string, unknown>;
      // Component times and the page URL belong to the process; everything else must match.
      const strip = (doc: Record<string, unknown>) =>
        JSON.parse(
          JSON.stringify(doc, function (this: Record<string, unknown>, k, v: unknown) {
            return k === 'page' || k === 'shortlink' || ((k === 'created_at' || k === 'updated_at') && 'position' in this) ? undefined : v;
          }),
        ) as unknown;
      assert.deepEqual(strip(after), strip(before));
      const incidents = (after['incidents'] as { id: string; status: string; monitoring_at: string | null; incident_updates: { body: string }[] }[])!;
      assert.equal(incidents[0]!.id, id);
      assert.equal(incidents[0]!.status, 'monitoring');
      assert.notEqual(incidents[0]!.monitoring_at, null);
      assert.deepEqual(incidents[0]!.incident_updates.map((u) => u.body), ['Fix deployed', 'Down']);
      assert.deepEqual((after['scheduled_maintenances'] as { id: string; scheduled_for: string }[]).map((x) => [x.id, x.scheduled_for]), [[m.json['id'], new Date(from).toISOString()]]);
      const web = (after['components'] as { id: string; status: string }[]).find((c) => c.id === 'web')!;
      assert.equal(web.status, 'degraded_performance');
      // And the admin API keeps working on the reloaded state.
      const resolved = await admin(base, 'POST', `/api/admin/incidents/${id}/updates`, { status: 'resolved', message: 'All good' });
      assert.equal(resolved.status, 201);
      assert.notEqual(resolved.json['resolved_at'], null);
    } finally {
      await second.shutdown('test done');
    }
  });
});
