// Metric-based SLIs: counters (good/total) and histograms (latency) selected by name and label
// matchers, read from the store's series on each tick as increases since the previous tick.
// Nothing is added to the store's hot path: this runs once per flush interval.

import type { LabelMatcher, MetricSelector } from '../config/types.js';
import { bucketLowerBound, bucketUpperBound } from '../store/exp-histogram.js';
import type { Family, Series } from '../store/series.js';
import { SeriesData } from '../store/series.js';

/** One sampled reading of a series: cumulative good and total, and its start time. */
interface Reading {
  good: number;
  total: number;
  startMs: number;
}

/** Compiled matchers of one selector. */
class Selector {
  readonly familyName: string;
  readonly #matchers: { label: string; op: LabelMatcher['op']; value: string; re: RegExp | null }[];
  readonly #matches = new WeakMap<Series, boolean>();

  constructor(selector: MetricSelector, kind: 'counter' | 'histogram') {
    // Users write the exported sample name; counters are stored under the family name without _total.
    this.familyName = kind === 'counter' && selector.name.endsWith('_total') ? selector.name.slice(0, -'_total'.length) : selector.name;
    this.#matchers = selector.matchers.map((m) => ({ ...m, re: m.op === '=~' || m.op === '!~' ? new RegExp(`^(?:${m.value})$`) : null }));
  }

  matches(series: Series): boolean {
    let known = this.#matches.get(series);
    if (known === undefined) {
      const labels = series.labels; // parsed from the label text: once per series, then cached below
      known = this.#matchers.every((m) => {
        let value = '';
        for (let i = 0; i < labels.length; i += 2) if (labels[i] === m.label) value = labels[i + 1]!;
        switch (m.op) {
          case '=':
            return value === m.value;
          case '!=':
            return value !== m.value;
          case '=~':
            return m.re!.test(value);
          case '!~':
            return !m.re!.test(value);
        }
      });
      this.#matches.set(series, known);
    }
    return known;
  }
}

/** Increases of matching series since the previous sample. */
class IncreaseTracker {
  readonly #last = new WeakMap<Series, Reading>();

  /**
   * The increase of one series: the difference from its previous reading; after a reset (new start
   * time, or a lower value) the new value; for a series seen first, its value if it started after
   * the previous tick (new since then), else nothing (its history is not in the window).
   */
  increase(series: Series, reading: Reading, previousTickMs: number, out: Float64Array): void {
    const last = this.#last.get(series);
    this.#last.set(series, reading);
    let good = 0;
    let total = 0;
    if (last === undefined) {
      if (reading.startMs > previousTickMs) {
        good = reading.good;
        total = reading.total;
      }
    } else if (reading.startMs !== last.startMs || reading.total < last.total || reading.good < last.good) {
      good = reading.good;
      total = reading.total;
    } else {
      good = reading.good - last.good;
      total = reading.total - last.total;
    }
    out[0] += good;
    out[1] += total;
  }
}

/** Reads good/total increases for a metric SLI from the store's families. */
export interface MetricSli {
  /** Adds this tick's increases into out[0] (good) and out[1] (total). */
  sample(families: ReadonlyMap<string, Family>, previousTickMs: number, out: Float64Array): void;
}

/** Availability from two counters: increases of `good` and of `total`. */
export function counterSli(good: MetricSelector, total: MetricSelector): MetricSli {
  const goodSel = new Selector(good, 'counter');
  const totalSel = new Selector(total, 'counter');
  const goodTracker = new IncreaseTracker();
  const totalTracker = new IncreaseTracker();
  const scratch = new Float64Array(2);
  const sumOf = (sel: Selector, tracker: IncreaseTracker, families: ReadonlyMap<string, Family>, previousTickMs: number): number => {
    const family = families.get(sel.familyName);
    scratch[0] = 0;
    scratch[1] = 0;
    if (family === undefined || family.type !== 'counter') return 0;
    for (const series of family.series) {
      if (!series.hasValue || series.data !== SeriesData.Number || !sel.matches(series)) continue;
      // Events are whole: the rounded cumulative value, so increases are integers (reports and
      // storage hold exact counts) and the rounding never accumulates past half an event.
      const value = Math.round(series.value);
      tracker.increase(series, { good: value, total: value, startMs: series.startMs }, previousTickMs, scratch);
    }
    return scratch[1]!;
  };
  return {
    sample(families, previousTickMs, out) {
      const g = sumOf(goodSel, goodTracker, families, previousTickMs);
      const t = sumOf(totalSel, totalTracker, families, previousTickMs);
      // Counters scraped at different moments can briefly disagree; never report more good than total.
      out[0] += Math.min(g, t);
      out[1] += t;
    },
  };
}

/** Seconds per unit of a histogram family's unit suffix; unknown units are taken as seconds. */
const UNIT_SECONDS: Record<string, number> = { seconds: 1, milliseconds: 1e-3, microseconds: 1e-6, nanoseconds: 1e-9, minutes: 60, hours: 3600 };

/**
 * Latency from a histogram: total = count, good = observations at or below the threshold. Exact
 * when the threshold is a bucket bound; otherwise the bucket holding it is split linearly.
 */
export function histogramSli(histogram: MetricSelector, thresholdSeconds: number): MetricSli {
  const sel = new Selector(histogram, 'histogram');
  const tracker = new IncreaseTracker();
  return {
    sample(families, previousTickMs, out) {
      const family = families.get(sel.familyName);
      if (family === undefined || family.type !== 'histogram') return;
      const threshold = thresholdSeconds / (UNIT_SECONDS[family.unit] ?? 1);
      for (const series of family.series) {
        if (!series.hasValue || !sel.matches(series)) continue;
        let good: number;
        if (series.data === SeriesData.Histogram) good = classicAtOrBelow(series, threshold);
        else if (series.data === SeriesData.ExpHistogram) good = exponentialAtOrBelow(series, threshold);
        else continue;
        // The split bucket makes `good` an estimate with a fraction: round the cumulative estimate,
        // so every increase is a whole number of events and the error stays under half an event.
        tracker.increase(series, { good: Math.round(good), total: Math.round(series.count), startMs: series.startMs }, previousTickMs, out);
      }
    },
  };
}

function classicAtOrBelow(s: Series, threshold: number): number {
  const bounds = s.bounds!;
  const counts = s.counts!;
  let good = 0;
  let lower = 0;
  for (let i = 0; i < bounds.length; i++) {
    const upper = bounds[i]!;
    if (upper <= threshold) good += counts[i]!;
    else {
      if (threshold > lower) good += (counts[i]! * (threshold - lower)) / (upper - lower);
      return good;
    }
    lower = upper;
  }
  return good;
}

function exponentialAtOrBelow(s: Series, threshold: number): number {
  let good = s.zeroCount;
  if (s.negative !== null) for (const c of s.negative.counts) good += c;
  const run = s.positive;
  if (run === null) return good;
  for (let k = 0; k < run.counts.length; k++) {
    const lower = bucketLowerBound(run.offset + k, s.scale);
    const upper = bucketUpperBound(run.offset + k, s.scale);
    if (upper <= threshold) good += run.counts[k]!;
    else {
      if (threshold > lower) good += (run.counts[k]! * (threshold - lower)) / (upper - lower);
      break;
    }
  }
  return good;
}
