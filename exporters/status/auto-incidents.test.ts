// Automatic incidents with an injected clock and a real SQLite status store: one incident per
// component, a manual open incident blocks, re-firing during monitoring, and a restart of vigild
// while an incident waits out resolve_after.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoIncidents, probeAlerts } from './auto-incidents.js';
import type { ComponentAlert } from './auto-incidents.js';
import { StatusStore } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-auto-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const MIN = 60_000;

describe('AutoIncidents', () => {
  it('opens one draft per component, respects open incidents, re-fires, and resolves after a restart from the monitoring time', () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    let store = StatusStore.open({ dataDir: dir, now: () => clock.now });
    const firing: ComponentAlert[] = [];
    const components = [{ id: 'api', name: 'API', group: null, description: null }, { id: 'db', name: 'Database', group: null, description: null }];
    const make = () => new AutoIncidents({ store, components, sources: [() => [...firing]], publish: false, resolveAfterMs: 10 * MIN, intervalMs: MIN, now: () => clock.now });
    let auto = make();
    const alert = (component: string, source: string): ComponentAlert => ({ component, source, title: `${source} fails`, detail: `${source} detail`, status: 'major_outage', sinceMs: clock.now });

    // A manual incident on db is open: no automatic one there.
    const manual = store.createIncident({ name: 'db maintenance gone wrong', impact: 'major', status: 'identified', message: 'by hand', components: { db: 'partial_outage' } });
    firing.push(alert('api', 'slo:a'), alert('api', 'heartbeat:b'), alert('db', 'slo:c'));
    auto.evaluate();
    auto.evaluate();
    assert.equal(store.drafts().length, 1, 'one draft, for api only');
    const draft = store.drafts()[0]!;
    assert.equal(draft.autoComponent, 'api');
    assert.equal(draft.name, 'API: slo:a fails (and 1 more)');
    assert.deepEqual(draft.components, { api: 'major_outage' });
    assert.equal(draft.impact, 'critical');
    assert.match(draft.updates[0]!.body, /slo:a detail\n\nheartbeat:b detail$/);
    assert.deepEqual(store.incidents().map((i) => i.id), [manual.id], 'the draft is not public');

    firing.length = 0;
    clock.now += MIN;
    auto.evaluate();
    assert.equal(store.incident(draft.id)!.status, 'monitoring');
    clock.now += 5 * MIN;
    firing.push(alert('api', 'slo:a'));
    auto.evaluate();
    assert.equal(store.incident(draft.id)!.status, 'investigating', 'fired again before resolve_after');
    firing.length = 0;
    clock.now += MIN;
    auto.evaluate();
    const monitoringAt = clock.now;
    assert.equal(store.incident(draft.id)!.status, 'monitoring');

    // vigild restarts 4 minutes later; resolve_after counts from the monitoring update, not the restart.
    auto.shutdown();
    store.close();
    clock.now += 4 * MIN;
    store = StatusStore.open({ dataDir: dir, now: () => clock.now });
    auto = make();
    clock.now = monitoringAt + 10 * MIN - 1;
    auto.evaluate();
    assert.equal(store.incident(draft.id)!.status, 'monitoring');
    clock.now = monitoringAt + 10 * MIN;
    auto.evaluate();
    const resolved = store.incident(draft.id)!;
    assert.equal(resolved.status, 'resolved');
    assert.equal(resolved.draft, true, 'still a draft: an operator may publish it as a record or discard it');
    assert.deepEqual(resolved.components, { api: 'operational' });
    assert.deepEqual(resolved.updates.map((u) => u.status), ['resolved', 'monitoring', 'investigating', 'monitoring', 'investigating']);
    assert.equal(store.incident(manual.id)!.status, 'identified', 'a manual incident is never touched');
    auto.shutdown();
    store.close();
  });
});

describe('probeAlerts', () => {
  it('turns probes confirmed down into alerts, since the first time one was seen down', () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const states = [{ id: 'api-health', component: 'api', confirmed: 'down' as 'up' | 'down' | null, lastError: 'connect ECONNREFUSED 127.0.0.1:9' }];
    const source = probeAlerts(() => states, () => [], () => clock.now);
    const first = source();
    assert.equal(first.length, 1);
    assert.equal(first[0]!.source, 'probe:api-health');
    assert.match(first[0]!.detail, /^Probe api-health is confirmed down since 2026-01-01T00:00:00Z: connect ECONNREFUSED/);
    clock.now += MIN;
    assert.equal(source()[0]!.sinceMs, Date.UTC(2026, 0, 1), 'since the first sighting');
    states[0]!.confirmed = 'up';
    assert.deepEqual(source(), []);
    states[0]!.confirmed = null;
    assert.deepEqual(source(), [], 'no result yet is not down');
  });
});
