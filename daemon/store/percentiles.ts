// Feeds OTLP Histogram and ExponentialHistogram points into their series' HDR windows, as
// per-interval increments: a delta point as is; a cumulative point minus the previous one (per
// bucket). A cumulative point that does not continue the previous one (first point, new start time,
// count going down, changed bounds or a finer scale) is recorded as is when its start time lies
// within the longest window, and otherwise only becomes the baseline: a first point from a service
// that has run for days must not land in the 1m window.

import type { WindowedPercentiles } from '../percentiles/index.js';
import { createPercentiles, metricPercentileSettings, recordExplicitBuckets, recordExponentialBuckets } from '../percentiles/index.js';
import type { PercentileDefaults } from '../percentiles/index.js';
import { downscaleRun } from './exp-histogram.js';
import type { BucketRun, Series } from './series.js';
import { SeriesData } from './series.js';

/** Percentiles of histogram metrics (from the `percentiles` config section). */
export interface HistogramPercentileOptions extends PercentileDefaults {
  enabled: boolean;
}

/** What the store's merge loop needs to feed percentiles. */
export class HistogramPercentiles {
  readonly defaults: PercentileDefaults;
  readonly now: () => number;
  readonly longestWindowMs: number;

  constructor(options: HistogramPercentileOptions, now: () => number) {
    this.defaults = {
      significantDigits: options.significantDigits,
      windowsMs: options.windowsMs,
      windowLabels: options.windowLabels,
      quantiles: options.quantiles,
    };
    this.now = now;
    this.longestWindowMs = options.windowsMs[options.windowsMs.length - 1] ?? 0;
  }

  create(center: number): WindowedPercentiles {
    return createPercentiles(metricPercentileSettings(this.defaults, center), this.now);
  }

  /** True when a point that does not continue the previous one is recorded as is. */
  recordsFresh(timeMs: number, startMs: number, hadValue: boolean): boolean {
    return startMs > 0 ? timeMs - startMs <= this.longestWindowMs : hadValue;
  }
}

/** Call before the store merges histogram record `at` into `s` (s still holds the previous point). */
export function feedHistogram(s: Series, r: Float64Array, at: number, delta: boolean, hp: HistogramPercentiles): void {
  const timeMs = r[at + 2]!;
  const startMs = r[at + 3]!;
  const count = r[at + 5]!;
  const sum = r[at + 6]!;
  const nBounds = r[at + 7]!;
  const boundsAt = at + 8;
  const countsAt = boundsAt + nBounds;
  if (s.percentiles === null) s.percentiles = hp.create(explicitCenter(r, boundsAt, nBounds));
  if (delta) {
    recordExplicitBuckets(s.percentiles, r, boundsAt, nBounds, r, countsAt, null, sum);
    return;
  }
  let sameBounds = s.data === SeriesData.Histogram && s.bounds !== null && s.bounds.length === nBounds;
  for (let i = 0; sameBounds && i < nBounds; i++) if (s.bounds![i] !== r[boundsAt + i]) sameBounds = false;
  if (s.hasValue && sameBounds && s.startMs === startMs && count >= s.count) {
    recordExplicitBuckets(s.percentiles, r, boundsAt, nBounds, r, countsAt, s.counts, sum - s.sum);
  } else if (hp.recordsFresh(timeMs, startMs, s.hasValue)) {
    recordExplicitBuckets(s.percentiles, r, boundsAt, nBounds, r, countsAt, null, sum);
  }
}

/** Call before the store merges exponential-histogram record `at` into `s`. */
export function feedExpHistogram(s: Series, r: Float64Array, at: number, delta: boolean, positive: BucketRun, negative: BucketRun, hp: HistogramPercentiles): void {
  const timeMs = r[at + 2]!;
  const startMs = r[at + 3]!;
  const count = r[at + 5]!;
  const sum = r[at + 6]!;
  const scale = r[at + 7]!;
  const zeroCount = r[at + 8]!;
  if (s.percentiles === null) {
    const n = positive.counts.length;
    s.percentiles = hp.create(n === 0 ? 1 : Math.pow(2, (positive.offset + n / 2) * Math.pow(2, -scale)));
  }
  const low = zeroCount + total(negative);
  if (delta) {
    recordExponentialBuckets(s.percentiles, scale, positive, null, low, sum);
    return;
  }
  const continues = s.hasValue && s.data === SeriesData.ExpHistogram && s.startMs === startMs && count >= s.count && scale <= s.scale;
  if (continues) {
    let previous = s.positive;
    if (previous !== null && scale < s.scale) previous = downscaleRun(previous, s.scale - scale);
    const previousLow = s.zeroCount + (s.negative === null ? 0 : total(s.negative));
    recordExponentialBuckets(s.percentiles, scale, positive, previous, low - previousLow, sum - s.sum);
  } else if (hp.recordsFresh(timeMs, startMs, s.hasValue)) {
    recordExponentialBuckets(s.percentiles, scale, positive, null, low, sum);
  }
}

function total(run: BucketRun): number {
  let n = 0;
  for (let i = 0; i < run.counts.length; i++) n += run.counts[i]!;
  return n;
}

/** The geometric middle of the positive bounds: where the series' HDR range is centred. */
function explicitCenter(r: Float64Array, boundsAt: number, nBounds: number): number {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < nBounds; i++) {
    const b = r[boundsAt + i]!;
    if (b > 0) {
      if (lo === 0) lo = b;
      hi = b;
    }
  }
  return lo === 0 ? 1 : Math.sqrt(lo * hi);
}
