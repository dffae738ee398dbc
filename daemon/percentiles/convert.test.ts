// The bucket → HDR conversion and its documented error bound: a quantile read from the converted
// histogram is within √(hi/lo)·(1+10^-digits) − 1 of the exact one when it falls in bucket (lo, hi].

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bucketQuantileErrorBound, createPercentiles, exponentialBucketValue, recordExplicitBuckets, recordExponentialBuckets, spanPercentileSettings } from './index.js';

const SETTINGS = spanPercentileSettings({
  significantDigits: 2,
  windowsMs: [60_000, 300_000, 3_600_000],
  windowLabels: ['1m', '5m', '1h'],
  quantiles: [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999],
});
const HDR_ERROR = 0.01;
/** The OTel SDK's default explicit bounds, read as seconds. */
const OTEL_BOUNDS = [0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

function lognormals(n: number, median: number, sigma: number, seed: number): number[] {
  let a = seed;
  const rand = () => {
    a = (a * 16807) % 2147483647;
    return a / 2147483647;
  };
  return Array.from({ length: n }, () => median * Math.exp(sigma * Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand())));
}

function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

describe('explicit buckets → HDR', () => {
  for (const [median, sigma] of [[0.04, 0.8], [0.3, 1.2], [2, 0.5]] as const) {
    it(`quantiles of lognormal(median ${median} s, σ ${sigma}) stay within the bucket bound`, () => {
      const values = lognormals(50_000, median, sigma, Math.round(median * 1000 + sigma * 10));
      const counts = new Array<number>(OTEL_BOUNDS.length + 1).fill(0);
      for (const v of values) {
        let i = OTEL_BOUNDS.findIndex((b) => v <= b);
        if (i < 0) i = OTEL_BOUNDS.length;
        counts[i]!++;
      }
      const p = createPercentiles(SETTINGS, () => 0);
      const sum = values.reduce((a, b) => a + b, 0);
      recordExplicitBuckets(p, OTEL_BOUNDS, 0, OTEL_BOUNDS.length, counts, 0, null, sum);
      const snap = p.snapshot(0);
      assert.equal(snap.count, values.length);
      assert.ok(Math.abs(snap.sum - sum) < 1e-6, 'the exact sum, not the placed values');
      values.sort((a, b) => a - b);
      SETTINGS.quantiles.forEach((q, k) => {
        const exact = exactQuantile(values, q);
        const got = snap.values![k]!;
        const i = OTEL_BOUNDS.findIndex((b) => exact <= b);
        if (i <= 0 || i === -1) {
          // First or +Inf bucket: reported at b0 or the last bound.
          const edge = i === 0 ? OTEL_BOUNDS[0]! : OTEL_BOUNDS[OTEL_BOUNDS.length - 1]!;
          if (edge > 0) assert.ok(Math.abs(got / edge - 1) <= HDR_ERROR);
          return;
        }
        const lo = OTEL_BOUNDS[i - 1]!;
        const hi = OTEL_BOUNDS[i]!;
        if (lo <= 0) return; // (0, b]: no relative bound (documented)
        const bound = bucketQuantileErrorBound(lo, hi, HDR_ERROR);
        const error = Math.abs(got / exact - 1);
        assert.ok(error <= bound, `q${q}: got ${got}, exact ${exact} in (${lo}, ${hi}]: error ${error} > ${bound}`);
      });
    });
  }

  it('records only the increment of a cumulative point', () => {
    const p = createPercentiles(SETTINGS, () => 0);
    recordExplicitBuckets(p, [0.1, 1], 0, 2, [1, 4, 3], 0, [1, 2, 3], 2);
    const snap = p.snapshot(0);
    assert.deepEqual([snap.count, snap.sum], [2, 2]);
    assert.ok(Math.abs(snap.values![0]! / Math.sqrt(0.1) - 1) <= HDR_ERROR, 'placed at the geometric midpoint of (0.1, 1]');
  });
});

describe('exponential buckets → HDR', () => {
  for (const scale of [0, 3]) {
    it(`quantiles at scale ${scale} are within √base·(1+ε) − 1 of the exact ones`, () => {
      const values = lognormals(50_000, 0.05, 1, 7 + scale);
      const factor = 2 ** scale;
      const indices = values.map((v) => Math.ceil(Math.log2(v) * factor) - 1);
      const offset = Math.min(...indices);
      const counts = new Array<number>(Math.max(...indices) - offset + 1).fill(0);
      for (const i of indices) counts[i - offset]!++;
      const p = createPercentiles(SETTINGS, () => 0);
      recordExponentialBuckets(p, scale, { offset, counts }, null, 0, Number.NaN);
      const snap = p.snapshot(0);
      const base = 2 ** (2 ** -scale);
      const bound = bucketQuantileErrorBound(1, base, HDR_ERROR);
      values.sort((a, b) => a - b);
      SETTINGS.quantiles.forEach((q, k) => {
        const exact = exactQuantile(values, q);
        const error = Math.abs(snap.values![k]! / exact - 1);
        assert.ok(error <= bound, `q${q}: ${snap.values![k]} vs ${exact}: ${error} > ${bound}`);
      });
      assert.ok(bound < (scale === 3 ? 0.055 : 0.43));
    });
  }

  it('places bucket i at base^(i + ½)', () => {
    assert.equal(exponentialBucketValue(0, 0), Math.SQRT2);
    assert.ok(Math.abs(exponentialBucketValue(-1, 1) - 2 ** -0.25) < 1e-15);
  });
});
