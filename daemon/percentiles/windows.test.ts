import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import hdr from 'hdr-histogram-js';
import { createPercentiles, metricPercentileSettings, planSlots, spanPercentileSettings } from './index.js';
import type { PercentileSettings } from './index.js';
import { random } from '../../test-support/random.js';

const DEFAULTS = {
  significantDigits: 2,
  windowsMs: [60_000, 300_000, 3_600_000],
  windowLabels: ['1m', '5m', '1h'],
  quantiles: [0.5, 0.9, 0.95, 0.99, 0.999],
};
const SPANS: PercentileSettings = spanPercentileSettings(DEFAULTS);

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}
/** Exact nearest-rank quantile (the rank rule HDR uses). */
function exactQuantile(sortedValues: number[], q: number): number {
  return sortedValues[Math.max(1, Math.ceil(q * sortedValues.length)) - 1]!;
}

function clock(start = 0) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('slot plan', () => {
  it('gives the default windows 10 s, 50 s and 10 min slots, six each', () => {
    assert.deepEqual(planSlots([60_000, 300_000, 3_600_000]), { widthsMs: [10_000, 50_000, 600_000], slots: [6, 6, 6] });
  });
  it('nests every width in the next', () => {
    const plan = planSlots([10_000, 45_000, 90_000, 1_800_000, 86_400_000]);
    for (let l = 1; l < plan.widthsMs.length; l++) assert.equal(plan.widthsMs[l]! % plan.widthsMs[l - 1]!, 0);
    for (let l = 0; l < plan.slots.length; l++) assert.ok(plan.slots[l]! * plan.widthsMs[l]! >= [10_000, 45_000, 90_000, 1_800_000, 86_400_000][l]!);
  });
});

describe('windows, with an injectable clock', () => {
  it('a value leaves the 1m window 60–70 s after it was recorded, the 5m one after 300–350 s, the 1h one after 60–70 min', () => {
    const c = clock();
    const p = createPercentiles(SPANS, c.now);
    c.t = 1_000; // in the first 10 s slot; it leaves every window at a slot boundary
    p.record(0.25, 1);
    const counts = () => [0, 1, 2].map((w) => p.snapshot(w).count);
    c.t = 61_000;
    assert.deepEqual(counts(), [1, 1, 1], 'still in every window 60 s later');
    c.t = 69_999;
    assert.deepEqual(counts(), [1, 1, 1], 'in the 1m window until its slot is 6 slots old');
    c.t = 70_000;
    assert.deepEqual(counts(), [0, 1, 1], 'out of the 1m window after 69 s');
    c.t = 349_999;
    assert.deepEqual(counts(), [0, 1, 1]);
    c.t = 350_000;
    assert.deepEqual(counts(), [0, 0, 1], 'out of the 5m window after 349 s');
    c.t = 3_600_000 + 1_000;
    assert.deepEqual(counts(), [0, 0, 1], 'still in the 1h window an hour later');
    c.t = 4_199_999;
    assert.deepEqual(counts(), [0, 0, 1]);
    c.t = 4_200_000;
    assert.deepEqual(counts(), [0, 0, 0], 'out of the 1h window after 69 min 59 s');
    assert.equal(p.snapshot(2).values, null, 'an empty window has no quantiles');
  });

  it('a value recorded at the end of a slot leaves the 1m window just over 60 s later', () => {
    const c = clock(9_999);
    const p = createPercentiles(SPANS, c.now);
    p.record(1, 1);
    c.t = 9_999 + 60_000;
    assert.equal(p.snapshot(0).count, 1);
    c.t = 70_000;
    assert.equal(p.snapshot(0).count, 0);
  });

  it('keeps values recorded while idle gaps pass, and sums and counts per window', () => {
    const c = clock();
    const p = createPercentiles(SPANS, c.now);
    for (let minute = 0; minute < 90; minute++) {
      c.t = minute * 60_000 + 5_000;
      p.record(0.1, 2);
    }
    // Now 89 min 5 s: the points of 88:05 and 89:05 (60 s old: still in the 1m window, which reaches
    // 60–70 s back), 84:05 … 89:05 in the 5m window (300–350 s back), 60–70 min of points in the 1h one.
    assert.deepEqual([p.snapshot(0).count, p.snapshot(1).count], [4, 12]);
    const hour = p.snapshot(2);
    assert.ok(hour.count >= 120 && hour.count <= 140, `1h count ${hour.count}`);
    assert.ok(Math.abs(hour.sum - hour.count * 0.1) < 1e-9);
    c.t += 3 * 3_600_000;
    assert.equal(p.snapshot(2).count, 0);
    assert.ok(p.byteSize() < 300, `an idle series keeps almost nothing (${p.byteSize()} bytes)`);
  });

  it('costs nothing before its first value', () => {
    assert.equal(createPercentiles(SPANS, () => 0).byteSize(), 0);
  });

  it('counts values at or below a threshold (latency SLIs)', () => {
    const p = createPercentiles(SPANS, () => 1_000);
    for (let i = 1; i <= 100; i++) p.record(i / 1000, 1);
    assert.deepEqual(p.countAtOrBelow(0, 0.05), { atOrBelow: 50, total: 100 });
    assert.deepEqual(p.countAtOrBelow(2, 1), { atOrBelow: 100, total: 100 });
  });
});

describe('quantiles recorded directly are within HDR precision of the exact ones', () => {
  const distributions: [string, (r: () => number) => number][] = [
    ['uniform 1 ms – 1 s', (r) => 0.001 + r() * 0.999],
    ['exponential, mean 50 ms', (r) => -0.05 * Math.log(1 - r())],
    ['lognormal, median 40 ms, σ 0.8', (r) => 0.04 * Math.exp(0.8 * normal(r))],
    ['bimodal: 80% around 5 ms, 20% around 300 ms', (r) => (r() < 0.8 ? 0.005 * Math.exp(0.2 * normal(r)) : 0.3 * Math.exp(0.3 * normal(r)))],
  ];
  for (const [name, draw] of distributions) {
    it(name, () => {
      const rand = random(name.length);
      const c = clock();
      const p = createPercentiles(SPANS, c.now);
      const oracle = new hdr.Float64Histogram(1, Math.ceil(3600 / 1e-9), 2);
      const values: number[] = [];
      for (let i = 0; i < 20_000; i++) {
        c.t = i * 2; // 40 s: several slots, all in the 1m window
        const v = Math.max(1e-6, draw(rand));
        values.push(v);
        p.record(v, 1);
        oracle.recordValue(Math.round(v / 1e-9));
      }
      values.sort((a, b) => a - b);
      for (const w of [0, 1, 2]) {
        const snap = p.snapshot(w);
        assert.equal(snap.count, values.length);
        DEFAULTS.quantiles.forEach((q, i) => {
          const exact = exactQuantile(values, q);
          const got = snap.values![i]!;
          assert.ok(Math.abs(got / exact - 1) <= 0.01, `q${q}: ${got} vs exact ${exact}`);
          // And the same as hdr-histogram-js given the same values (its bucket's highest value).
          assert.ok(Math.abs(got / (oracle.getValueAtPercentile(q * 100) * 1e-9) - 1) < 1e-9, `q${q}: ${got} vs library`);
        });
      }
    });
  }
});

describe('memory', () => {
  /** 70 minutes of lognormal latencies (median 40 ms, σ 0.5: p99 ≈ 130 ms) at `perSecond`. */
  function feed(perSecond: number): number {
    const rand = random(perSecond);
    const c = clock();
    const p = createPercentiles(SPANS, c.now);
    for (let i = 0; i < 70 * 60 * perSecond; i++) {
      c.t = (i * 1000) / perSecond;
      p.record(0.04 * Math.exp(0.5 * normal(rand)), 1);
    }
    for (let w = 0; w < 3; w++) assert.ok(p.snapshot(w).count > 0);
    return p.byteSize();
  }

  it('a series fed a realistic latency distribution in all windows costs at most 8 KiB at the default precision', () => {
    const bytes = feed(5);
    assert.ok(bytes <= 8 * 1024, `${bytes} bytes`);
  });

  it('grows with the spread of values held, not with their count', () => {
    const low = feed(1);
    const high = feed(50);
    assert.ok(high < 3 * low, `1/s: ${low} bytes, 50/s: ${high} bytes`);
  });
});

describe('quantiles listed out of order', () => {
  // The snapshot walks the counts once for all quantiles, smallest first, whatever the list order.
  it('report the same value per quantile as the sorted list', () => {
    const sorted = createPercentiles({ ...SPANS, quantiles: [0.1, 0.5, 0.9, 0.99] }, clock(1000).now);
    const shuffled = createPercentiles({ ...SPANS, quantiles: [0.99, 0.1, 0.9, 0.5] }, clock(1000).now);
    const rand = random(7);
    for (let i = 0; i < 5000; i++) {
      const v = Math.exp(normal(rand)) / 100;
      sorted.record(v, 1);
      shuffled.record(v, 1);
    }
    const a = sorted.snapshot(0).values!;
    const b = shuffled.snapshot(0).values!;
    assert.deepEqual([b[1], b[3], b[2], b[0]], [a[0], a[1], a[2], a[3]]);
    assert.ok(a[0]! < a[1]! && a[1]! < a[2]! && a[2]! < a[3]!);
  });
});

describe('percentiles of series with different layouts, read in turn', () => {
  // Regression: the merge scratch of one layout was zeroed over the range another layout's last merge
  // touched, so a scrape that read probe durations (seconds) between two histograms in milliseconds
  // gave the second one the first one's counts (p50 84.3 in one scrape, 15.8 in the next).
  it('gives each series its own quantiles whatever was read before', () => {
    const c = clock(1_000_000);
    const settings = metricPercentileSettings({ ...DEFAULTS, significantDigits: 3 }, 30);
    const seconds = createPercentiles(SPANS, c.now);
    const a = createPercentiles(settings, c.now);
    const b = createPercentiles(settings, c.now);
    seconds.record(0.5, 10);
    // b's values straddle a's, so a's stale counts would fall inside the range b's merge reads.
    a.record(90, 5);
    b.record(15, 3);
    b.record(200, 1);
    const aAlone = [...a.snapshot(0).values!];
    const bAlone = [...b.snapshot(0).values!];
    assert.notDeepEqual(aAlone, bAlone);
    for (let round = 0; round < 3; round++) {
      a.snapshot(0);
      seconds.snapshot(0);
      assert.deepEqual([...b.snapshot(0).values!], bAlone, `round ${round}: b after a, then another layout`);
      seconds.snapshot(0);
      assert.deepEqual([...a.snapshot(0).values!], aAlone, `round ${round}: a after b, then another layout`);
    }
  });
});
