// Windowed HDR percentiles: one factory for every source (span durations, histogram metrics).

import type { PercentileSettings, WindowedPercentiles } from './types.js';
import { HdrWindows } from './windows.js';

/** The defaults of DESIGN.md: 2 digits, windows 1m/5m/1h, quantiles 0.5 … 0.999. */
export const DEFAULT_QUANTILES: readonly number[] = [0.5, 0.9, 0.95, 0.99, 0.999];
export const DEFAULT_WINDOWS_MS: readonly number[] = [60_000, 300_000, 3_600_000];
export const DEFAULT_WINDOW_LABELS: readonly string[] = ['1m', '5m', '1h'];
export const DEFAULT_SIGNIFICANT_DIGITS = 2;

/** Span durations in seconds: 1 µs … 1 h. */
export const SPAN_LOWEST_SECONDS = 1e-6;
export const SPAN_HIGHEST_SECONDS = 3600;

/**
 * highest/lowest of histogram metrics, whose unit is unknown: the span range's 3.6·10^9 (about 31
 * octaves), centred on the first point's buckets. Values outside are clamped to the range.
 */
export const METRIC_RANGE_RATIO = SPAN_HIGHEST_SECONDS / SPAN_LOWEST_SECONDS;

/** What the `percentiles` config section gives every source. */
export interface PercentileDefaults {
  significantDigits: number;
  windowsMs: number[];
  windowLabels: string[];
  quantiles: number[];
}

/** Creates the windows of one series. `now` is the clock (ms), injectable for tests. */
export function createPercentiles(settings: PercentileSettings, now: () => number): WindowedPercentiles {
  return new HdrWindows(settings, now);
}

/** Settings for span durations (seconds, 1 µs … 1 h). */
export function spanPercentileSettings(defaults: PercentileDefaults): PercentileSettings {
  return { ...defaults, lowest: SPAN_LOWEST_SECONDS, highest: SPAN_HIGHEST_SECONDS };
}

/** Settings for a histogram metric whose values are around `center` (METRIC_RANGE_RATIO wide). */
export function metricPercentileSettings(defaults: PercentileDefaults, center: number): PercentileSettings {
  const half = Math.sqrt(METRIC_RANGE_RATIO);
  const c = Number.isFinite(center) && center > 0 ? center : 1;
  return { ...defaults, lowest: c / half, highest: c * half };
}

/** `60000` → `1m`, `90000` → `1m30s`: the window label of a duration. */
export function windowLabel(ms: number): string {
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];
  let out = '';
  let rest = ms;
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out === '' ? '0s' : out;
}

export { HdrWindows, planSlots, scratchBytes, SLOTS_PER_WINDOW } from './windows.js';
export type { SlotPlan } from './windows.js';
export {
  bucketQuantileErrorBound,
  explicitBucketValue,
  exponentialBucketValue,
  recordExplicitBuckets,
  recordExponentialBuckets,
} from './convert.js';
export type { CountRun } from './convert.js';
export type { PercentileSettings, WindowSnapshot, WindowedPercentiles } from './types.js';
