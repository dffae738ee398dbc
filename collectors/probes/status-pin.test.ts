// The engine hook probes use to show a component down only after `confirm` failures: a pinned
// status replaces the burn-rate status, and never changes a count, a budget or an alert.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SloEngine } from '../../daemon/slo/engine.js';
import type { SloConfig } from '../../daemon/config/types.js';

const START = Date.parse('2026-12-01T00:00:00Z');

function engine(): { engine: SloEngine; clock: { now: number } } {
  const clock = { now: START };
  const slo: SloConfig = {
    id: 'probe-up', name: 'probe-up', component: 'web', objectivePercent: 99, objective: 0.99,
    window: { kind: 'rolling', label: '30d', minutes: 30 * 1440, timezone: 'UTC' },
    indicator: { type: 'probe_availability', probe: 'home' },
  };
  return { engine: new SloEngine({ components: [{ id: 'web', name: 'Web', group: null, description: null }], slos: [slo], openStorage: null, flushIntervalMs: 1000, now: () => clock.now }), clock };
}

describe('SloEngine.overrideStatus (probe confirmation)', () => {
  it('a probe availability SLO is an availability SLO', () => {
    const { engine: e } = engine();
    assert.equal(e.sloReport('probe-up')!.kind, 'availability');
  });

  it('pins the shown status without touching counts, budget or alerts; null hands it back to the math', () => {
    const { engine: e, clock } = engine();
    for (let i = 0; i < 10; i++) {
      e.record('probe-up', 0, 1, clock.now);
      clock.now += 6000;
    }
    const math = e.sloReport('probe-up')!;
    assert.equal(math.status, 'major_outage');
    assert.equal(math.alerts.page, true);
    e.overrideStatus('probe-up', 'operational');
    const pinned = e.sloReport('probe-up')!;
    assert.equal(pinned.status, 'operational');
    assert.deepEqual(pinned.windows, math.windows);
    assert.equal(pinned.budgetRemaining, math.budgetRemaining);
    assert.deepEqual(pinned.alerts, math.alerts);
    assert.equal(e.report()[0]!.status, 'operational', 'the component follows its SLOs');
    e.overrideStatus('probe-up', null);
    assert.equal(e.sloReport('probe-up')!.status, 'major_outage');
    assert.throws(() => e.overrideStatus('nope', 'operational'), /unknown SLO nope/);
  });
});
