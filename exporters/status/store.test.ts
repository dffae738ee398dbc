// Units of the status exporter: the store's maintenance windows, the status rules, escaping, auth.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminAuth, impactOf } from './admin.js';
import { escapeHtml, escapeXml } from './escape.js';
import { overallIndicator, shownStatus, uptimeTone } from './model.js';
import { StatusStore, maintenanceStatus } from './store.js';
import type { StatusChange } from './store.js';

const T0 = Date.UTC(2026, 9, 3, 22, 0, 0);
const MIN = 60_000;

describe('StatusStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-status-store-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let now = T0;
  const store = StatusStore.open({ dataDir: dir, now: () => now });
  after(() => store.close());

  it('announces committed changes and keeps maintenance windows for uptime exclusion', () => {
    const seen: StatusChange['kind'][] = [];
    const off = store.onChange((c) => seen.push(c.kind));
    const m = store.createMaintenance({ name: 'Upgrade', scheduledForMs: T0 + 10 * MIN, scheduledUntilMs: T0 + 70 * MIN, components: ['db'], message: '' });
    assert.equal(maintenanceStatus(m, now), 'scheduled');
    assert.deepEqual(store.maintenanceWindows(T0, T0 + 120 * MIN), [], 'not begun: no window yet');
    now = T0 + 40 * MIN;
    assert.equal(maintenanceStatus(store.maintenance(m.id)!, now), 'in_progress');
    assert.equal(store.underMaintenance('db'), true);
    assert.equal(store.underMaintenance('api'), false);
    assert.deepEqual(store.maintenanceWindows(T0, T0 + 120 * MIN, 'db').map((w) => [w.startMs, w.endMs]), [[T0 + 10 * MIN, T0 + 40 * MIN]], 'so far');
    // Completed early at +50 min: the window ends there.
    now = T0 + 50 * MIN;
    store.updateMaintenance(m.id, { status: 'completed', message: 'Done early' });
    now = T0 + 200 * MIN;
    assert.deepEqual(store.maintenanceWindows(T0, now, 'db').map((w) => [w.startMs, w.endMs]), [[T0 + 10 * MIN, T0 + 50 * MIN]]);
    assert.equal(store.maintenanceMinutes('db', T0, now).size, 40);
    assert.deepEqual(store.maintenanceWindows(T0 + 20 * MIN, T0 + 30 * MIN, 'db').map((w) => [w.startMs, w.endMs]), [[T0 + 20 * MIN, T0 + 30 * MIN]], 'clipped');
    const i = store.createIncident({ name: 'x', impact: 'minor', status: 'investigating', message: 'm', components: { api: 'degraded_performance' } });
    store.addIncidentUpdate(i.id, { status: 'resolved', message: 'ok' });
    store.setOverride('api', 'major_outage');
    store.setOverride('api', null);
    off();
    store.setOverride('api', null);
    assert.deepEqual(seen, ['maintenance.created', 'maintenance.updated', 'incident.created', 'incident.updated', 'component.override_set', 'component.override_cleared']);
    assert.equal(store.incident(i.id)!.resolvedMs, now);
    assert.deepEqual(store.incident(i.id)!.updates.map((u) => u.status), ['resolved', 'investigating']);
  });

  it('a listener that throws does not undo the change', () => {
    const errors: unknown[] = [];
    store.onListenerError = (err) => errors.push(err);
    const off = store.onChange(() => {
      throw new Error('boom');
    });
    store.setOverride('web', 'operational');
    off();
    assert.equal(errors.length, 1);
    assert.equal(store.overrides().get('web')?.status, 'operational');
  });
});

describe('status rules', () => {
  it('override, then incidents and SLOs (worst), then maintenance, then SLO or no data', () => {
    assert.deepEqual(shownStatus({ override: 'operational', incidentStatuses: ['major_outage'], sloStatus: 'partial_outage', inMaintenance: true }), { status: 'operational', source: 'override' });
    assert.deepEqual(shownStatus({ override: null, incidentStatuses: ['degraded_performance'], sloStatus: 'partial_outage', inMaintenance: false }), { status: 'partial_outage', source: 'slo' });
    assert.deepEqual(shownStatus({ override: null, incidentStatuses: ['operational'], sloStatus: 'operational', inMaintenance: true }), { status: 'operational', source: 'incident' });
    assert.deepEqual(shownStatus({ override: null, incidentStatuses: [], sloStatus: 'operational', inMaintenance: true }), { status: 'under_maintenance', source: 'maintenance' });
    assert.deepEqual(shownStatus({ override: null, incidentStatuses: [], sloStatus: 'partial_outage', inMaintenance: true }), { status: 'partial_outage', source: 'slo' });
    assert.deepEqual(shownStatus({ override: null, incidentStatuses: [], sloStatus: 'no_data', inMaintenance: false }), { status: 'no_data', source: 'none' });
  });

  it('overall indicator from components and unresolved incidents; impact from components; uptime bands', () => {
    assert.equal(overallIndicator([{ status: 'operational' }, { status: 'no_data' }], []), 'none');
    assert.equal(overallIndicator([{ status: 'degraded_performance' }], []), 'minor');
    assert.equal(overallIndicator([{ status: 'partial_outage' }], [{ impact: 'critical' }]), 'critical');
    assert.equal(impactOf({ a: 'degraded_performance', b: 'partial_outage' }), 'major');
    assert.equal(impactOf({}), 'none');
    assert.deepEqual([0.9995, 0.999, 0.995, 0.95, 0.9, null].map(uptimeTone), ['good', 'good', 'fair', 'poor', 'bad', 'none']);
  });

  it('escapes markup, and drops what XML cannot carry', () => {
    assert.equal(escapeHtml(`<a href="x" onclick='y'>&</a>`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    assert.equal(escapeXml('a\u0000b\u0007c\ud800d<'), 'abcd&lt;');
    assert.equal(escapeXml('emoji 😀 ok'), 'emoji 😀 ok');
  });

  it('checks bearer tokens: 401 without one, 403 for a wrong one', () => {
    const auth = new AdminAuth(['a-long-admin-token-1', 'another-admin-token-2']);
    assert.equal(auth.check(''), 'missing');
    assert.equal(auth.check('Basic a-long-admin-token-1'), 'missing');
    assert.equal(auth.check('Bearer a-long-admin-token-1'), 'ok');
    assert.equal(auth.check('bearer another-admin-token-2'), 'ok');
    assert.equal(auth.check('Bearer a-long-admin-token-'), 'wrong');
    assert.equal(new AdminAuth([]).check('Bearer anything-at-all-here'), 'wrong');
  });
});
