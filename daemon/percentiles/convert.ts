// OTLP histogram buckets → HDR values. A bucket only says how many values fell in (lo, hi], so each
// bucket's count is recorded at one representative value (README.md, "Placing bucket counts"):
//   (lo, hi] with 0 < lo        → the geometric midpoint √(lo·hi)
//   (lo, hi] with lo ≤ 0 < hi   → the arithmetic midpoint (lo+hi)/2
//   the first bucket (−∞, b0]   → b0        the +Inf bucket (b_last, +∞) → b_last
//   exponential bucket i        → base^(i+½), base = 2^(2^−scale); zero and negative buckets → 0
// A quantile that falls in (lo, hi] is then reported within a factor √(hi/lo)·(1+ε) of the exact
// one (ε: HDR precision). Values ≤ 0 are recorded at the series' `lowest`.

import type { WindowedPercentiles } from './types.js';

/** Where the counts of explicit bucket `i` of `n + 1` (bounds at `bounds[at … at+n)`) are recorded. */
export function explicitBucketValue(bounds: ArrayLike<number>, at: number, n: number, i: number): number {
  if (i === 0) return bounds[at]!;
  if (i === n) return bounds[at + n - 1]!;
  const lo = bounds[at + i - 1]!;
  const hi = bounds[at + i]!;
  return lo > 0 ? Math.sqrt(lo * hi) : (lo + hi) / 2;
}

/** Where the counts of positive exponential bucket `index` at `scale` are recorded. */
export function exponentialBucketValue(index: number, scale: number): number {
  return Math.pow(2, (index + 0.5) * Math.pow(2, -scale));
}

/**
 * Worst-case relative error of a quantile read from bucket (lo, hi] with lo > 0, given HDR's own
 * relative precision `hdrError`: the reported value lies in [√(lo·hi), √(lo·hi)·(1+hdrError)], the
 * exact one anywhere in (lo, hi].
 */
export function bucketQuantileErrorBound(lo: number, hi: number, hdrError: number): number {
  return Math.sqrt(hi / lo) * (1 + hdrError) - 1;
}

/**
 * Records the increments of one explicit-bucket point: `counts[countsAt + i]` minus `previous[i]`
 * (previous = null: the point as is). `sumDelta` (NaN if unknown) becomes the window's `_sum`
 * increment; unknown, the placed values stand in.
 */
export function recordExplicitBuckets(
  p: WindowedPercentiles,
  bounds: ArrayLike<number>,
  boundsAt: number,
  nBounds: number,
  counts: ArrayLike<number>,
  countsAt: number,
  previous: ArrayLike<number> | null,
  sumDelta: number,
): void {
  let sumPending = Number.isFinite(sumDelta);
  if (nBounds === 0) {
    // Only the +Inf bucket: the mean is all there is.
    const c = counts[countsAt]! - (previous === null ? 0 : previous[0]!);
    if (c > 0 && sumPending) p.record(sumDelta / c, c, sumDelta);
    return;
  }
  for (let i = 0; i <= nBounds; i++) {
    const c = counts[countsAt + i]! - (previous === null ? 0 : previous[i]!);
    if (!(c > 0)) continue;
    sumPending = recordOne(p, explicitBucketValue(bounds, boundsAt, nBounds, i), c, sumDelta, sumPending);
  }
}

/** Records one bucket; the exact sum rides on the first bucket recorded. Returns the new sumPending. */
function recordOne(p: WindowedPercentiles, value: number, c: number, sumDelta: number, sumPending: boolean): boolean {
  if (sumPending) p.record(value, c, sumDelta);
  else p.record(value, c, Number.isFinite(sumDelta) ? 0 : value * c);
  return false;
}

/** A run of exponential-histogram bucket counts: counts[i] belongs to bucket offset + i. */
export interface CountRun {
  offset: number;
  counts: ArrayLike<number>;
}

/**
 * Records the increments of one exponential-histogram point at `scale`: positive buckets minus
 * `previous` (same scale; null: the point as is); `lowDelta` (zero and negative buckets) at 0.
 */
export function recordExponentialBuckets(
  p: WindowedPercentiles,
  scale: number,
  positive: CountRun | null,
  previous: CountRun | null,
  lowDelta: number,
  sumDelta: number,
): void {
  let sumPending = Number.isFinite(sumDelta);
  if (lowDelta > 0) sumPending = recordOne(p, 0, lowDelta, sumDelta, sumPending);
  if (positive === null) return;
  for (let i = 0; i < positive.counts.length; i++) {
    let c = positive.counts[i]!;
    if (previous !== null) {
      const j = positive.offset + i - previous.offset;
      if (j >= 0 && j < previous.counts.length) c -= previous.counts[j]!;
    }
    if (c > 0) sumPending = recordOne(p, exponentialBucketValue(positive.offset + i, scale), c, sumDelta, sumPending);
  }
}
