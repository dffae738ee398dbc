// Issue 15: SLO event counts are integers on every path. A latency SLO on a histogram whose
// threshold falls inside a bucket estimates `good` by splitting that bucket linearly; the estimate
// has fractions (7 × 1/3), which reached storage and the monthly report as non-integer counts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Family, Series, SeriesData } from '../store/series.js';
import { SloEngine } from './engine.js';
import type { SloConfig } from '../config/types.js';

const T0 = Date.UTC(2025, 0, 10);

test('histogram latency SLI: whole events per tick, within half an event of the linear estimate', () => {
  const f = new Family('rpc_duration_seconds', 'histogram', '', 'seconds');
  const s = new Series(f, '', false);
  s.data = SeriesData.Histogram;
  s.hasValue = true;
  s.bounds = new Float64Array([0.1, 0.4, 1]);
  s.counts = new Float64Array([0, 0, 0, 0]);
  s.count = 0;
  s.startMs = T0 - 86_400_000;
  f.series.add(s);
  const slo = {
    id: 'lat', name: 'lat', component: 'api', objective: 0.99, window: { kind: 'rolling', minutes: 30 * 1440, label: '30d', timezone: 'UTC' },
    indicator: { type: 'metric_latency', histogram: { name: 'rpc_duration_seconds', matchers: [] }, thresholdSeconds: 0.2 },
  } as unknown as SloConfig;
  let now = T0;
  const engine = new SloEngine({ components: [{ id: 'api', name: 'API', group: null, description: null }] as never, slos: [slo], openStorage: null, flushIntervalMs: 1000, families: () => [f], now: () => now });
  engine.sampleMetrics();
  // Each tick: 10 fast (≤ 0.1 s) and 7 in (0.1, 0.4], a third of which is under 0.2 s by the linear split.
  let exactGood = 0;
  for (let tick = 1; tick <= 9; tick++) {
    now += 1000;
    s.counts[0] = s.counts[0]! + 10;
    s.counts[1] = s.counts[1]! + 7;
    s.count += 17;
    exactGood += 10 + 7 / 3;
    engine.sampleMetrics();
    const w = engine.sloReport('lat')!.windows.find((x) => x.window === '5m')!;
    assert.ok(Number.isInteger(w.good) && Number.isInteger(w.total), `tick ${tick}: ${w.good}/${w.total}`);
    assert.equal(w.total, 17 * tick);
    assert.ok(Math.abs(w.good - exactGood) <= 0.5, `tick ${tick}: ${w.good} vs ${exactGood}`);
  }
});
