// HDR percentile windows under wall-clock steps (issue 15): the windows run on Date.now, so an NTP
// step back or forward must not give NaN, a negative count, values that never expire, or a value
// counted in a window twice.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPercentiles, spanPercentileSettings } from './index.js';

const SPANS = spanPercentileSettings({ significantDigits: 2, windowsMs: [60_000, 300_000, 3_600_000], windowLabels: ['1m', '5m', '1h'], quantiles: [0.5, 0.9, 0.95, 0.99, 0.999] });

function sane(p: ReturnType<typeof createPercentiles>, what: string): number[] {
  return [0, 1, 2].map((w) => {
    const s = p.snapshot(w);
    assert.ok(Number.isInteger(s.count) && s.count >= 0, `${what}: window ${w} count ${s.count}`);
    assert.ok(Number.isFinite(s.sum), `${what}: window ${w} sum ${s.sum}`);
    if (s.values !== null) for (const v of s.values) assert.ok(Number.isFinite(v) && v > 0, `${what}: window ${w} quantile ${v}`);
    else assert.equal(s.count, 0);
    return s.count;
  });
}

describe('percentile windows across wall-clock steps', () => {
  for (const step of [-30_000, -10 * 60_000, -2 * 3_600_000, 30_000, 10 * 60_000, 2 * 3_600_000]) {
    it(`a step of ${step / 1000} s: counts stay whole and bounded, quantiles finite, everything expires`, () => {
      const c = { t: Date.UTC(2026, 10, 20, 12, 0, 5) };
      const p = createPercentiles(SPANS, () => c.t);
      for (let i = 0; i < 100; i++) {
        p.record(0.01 * (1 + (i % 10)), 1);
        c.t += 300;
      }
      c.t += step;
      const after = sane(p, 'after the step');
      // Nothing is counted twice: no window holds more than was recorded.
      for (const n of after) assert.ok(n <= 100, `at most the 100 values recorded: ${after}`);
      for (let i = 0; i < 100; i++) {
        p.record(0.02, 1);
        c.t += 300;
      }
      const more = sane(p, 'after more values');
      for (const n of more) assert.ok(n <= 200, `at most the 200 values recorded: ${more}`);
      // Long enough after both the old and the new times, every window is empty again.
      c.t += Math.abs(step) + 2 * 3_600_000;
      assert.deepEqual(sane(p, 'hours later'), [0, 0, 0]);
    });
  }
});
