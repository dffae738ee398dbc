// Regression: the scrape-time scratch is one per layout, but the range a merge touched was tracked
// once per process, so a merge into another layout's scratch (the probes' span-layout lateness
// beside histogram-metric percentiles in one scrape) left the first layout's scratch dirty, and the
// next series of that layout counted the previous series' values too (a p50 of 84 instead of 16 in
// the promtool test).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPercentiles, metricPercentileSettings, spanPercentileSettings } from './index.js';

const DEFAULTS = { significantDigits: 2, windowsMs: [60_000], windowLabels: ['1m'], quantiles: [0.5, 0.99] };

describe('percentile scratch across layouts', () => {
  it('a series reads only its own values when another layout merged in between', () => {
    const now = () => 1_000_000;
    const a = createPercentiles(metricPercentileSettings(DEFAULTS, 100), now);
    const b = createPercentiles(metricPercentileSettings(DEFAULTS, 100), now);
    const empty = createPercentiles(spanPercentileSettings(DEFAULTS), now);
    for (const v of [1000, 2000, 3000]) a.record(v, 10);
    for (const v of [1, 20, 200, 2000]) b.record(v, 1);
    const bAlone = b.snapshot(0).values;
    a.snapshot(0);
    // An empty series of another layout (the probes' lateness before any run) merges nothing.
    assert.equal(empty.snapshot(0).values, null);
    assert.deepEqual(b.snapshot(0).values, bAlone, 'b must not see a\'s values');
  });
});
