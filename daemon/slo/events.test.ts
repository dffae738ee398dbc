// vigil_slo_events_total: present at 0 from start for every SLO, then exactly the events the engine
// counted: per span (availability and latency), per metric-SLI increase, per record().

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ComponentConfig, SloConfig, SloIndicator } from '../config/types.js';
import { labelText } from '../model/naming.js';
import type { FamilyView } from '../model/read-model.js';
import { Family, Series, SeriesData } from '../store/series.js';
import { SloEngine } from './engine.js';

const T0 = Date.UTC(2026, 2, 1, 12, 0);
const SPANS = { service: 'checkout', spanKind: 'SERVER' as const, spanName: null };
const API: ComponentConfig = { id: 'api', name: 'API', group: null, description: null };

function slo(id: string, indicator: SloIndicator): SloConfig {
  return { id, name: id, component: 'api', objectivePercent: 99, objective: 0.99, window: { kind: 'rolling', label: '30d', minutes: 30 * 1440, timezone: 'UTC' }, indicator };
}

/** { "slo/outcome": value } of the vigil_slo_events family. */
function events(families: FamilyView[]): Record<string, number> {
  const family = families.find((f) => f.name === 'vigil_slo_events');
  assert.ok(family !== undefined, 'vigil_slo_events is a family');
  assert.equal(family.type, 'counter');
  const out: Record<string, number> = {};
  for (const s of family.series) {
    const m = /slo="([^"]+)",component="api",outcome="(good|bad)"/.exec(s.labelText);
    assert.ok(m !== null, s.labelText);
    out[`${m[1]}/${m[2]}`] = s.value;
  }
  return out;
}

describe('vigil_slo_events_total', () => {
  test('is 0 for both outcomes of every SLO before any event', () => {
    const engine = new SloEngine({ components: [API], slos: [slo('a', { type: 'span_availability', spans: SPANS }), slo('b', { type: 'span_latency', spans: SPANS, thresholdSeconds: 0.3 })], openStorage: null, flushIntervalMs: 1000, now: () => T0 });
    assert.deepEqual(events(engine.collect()), { 'a/good': 0, 'a/bad': 0, 'b/good': 0, 'b/bad': 0 });
  });

  test('counts spans exactly: availability by error, latency at or under the threshold', () => {
    const engine = new SloEngine({
      components: [API],
      slos: [slo('avail', { type: 'span_availability', spans: SPANS }), slo('fast', { type: 'span_latency', spans: SPANS, thresholdSeconds: 0.3 }), slo('other', { type: 'span_availability', spans: { ...SPANS, service: 'billing' } })],
      openStorage: null,
      flushIntervalMs: 1000,
      now: () => T0,
    });
    const slots = engine.spanSeriesHook({ service: 'checkout', spanName: 'POST /pay', spanKind: 'SPAN_KIND_SERVER', statusCode: 'STATUS_CODE_UNSET', attributes: {} });
    assert.ok(slots !== null);
    const durations = [0.1, 0.3, 0.30000001, 2, 0.05];
    const errors = [false, true, false, true, true];
    durations.forEach((d, i) => engine.onSpan(slots, d, errors[i]!, T0 - 1000));
    assert.deepEqual(events(engine.collect()), { 'avail/good': 2, 'avail/bad': 3, 'fast/good': 3, 'fast/bad': 2, 'other/good': 0, 'other/bad': 0 });
  });

  test('counts record() and metric-SLI increases', () => {
    const clock = { now: T0 };
    const family = new Family('http_requests', 'counter', '', '');
    const add = (code: string, value: number): Series => {
      const s = new Series(family, labelText(['code', code]), false);
      s.data = SeriesData.Number;
      s.hasValue = true;
      s.value = value;
      s.startMs = T0 - 86_400_000;
      family.series.add(s);
      return s;
    };
    const ok = add('200', 100);
    const failed = add('500', 1);
    const engine = new SloEngine({
      components: [API],
      slos: [
        slo('metric', { type: 'metric_availability', good: { name: 'http_requests_total', matchers: [{ label: 'code', op: '!~', value: '5..' }] }, total: { name: 'http_requests_total', matchers: [] } }),
        slo('direct', { type: 'span_availability', spans: SPANS }),
      ],
      openStorage: null,
      flushIntervalMs: 1000,
      now: () => clock.now,
      families: () => [family],
    });
    engine.sampleMetrics();
    clock.now += 10_000;
    ok.value += 40;
    failed.value += 10;
    engine.sampleMetrics();
    engine.record('direct', 7, 9);
    engine.record('direct', 1, 1, T0 - 3_600_000);
    assert.deepEqual(events(engine.collect()), { 'metric/good': 40, 'metric/bad': 10, 'direct/good': 8, 'direct/bad': 2 });
  });
});
