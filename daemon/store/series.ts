// In-memory state of one series and one metric family. Updated in place by the store's
// merge loop; read by the Prometheus renderer.

import type { FamilyType } from '../../collectors/worker/batch.js';
import type { WindowedPercentiles } from '../percentiles/index.js';

/** What kind of data a series holds (fixed at creation; a record of another kind is rejected). */
export const SeriesData = {
  Unknown: 0,
  Number: 1,
  Histogram: 2,
  ExpHistogram: 3,
  Summary: 4,
} as const;
export type SeriesData = (typeof SeriesData)[keyof typeof SeriesData];

/** One metric family: every series sharing a Prometheus name. */
export class Family {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  readonly unit: string;
  /** Live series, in creation order. */
  readonly series = new Set<Series>();
  /** The `otel_metric_overflow="true"` series, created when the series limit is first hit. */
  overflow: Series | null = null;

  constructor(name: string, type: FamilyType, help: string, unit: string) {
    this.name = name;
    this.type = type;
    this.help = help;
    this.unit = unit;
  }
}

/** A sparse run of exponential-histogram buckets: counts[i] belongs to bucket offset + i. */
export interface BucketRun {
  offset: number;
  counts: Float64Array;
}

/** One series. Fields are public for the hot merge loop; only the store writes them. */
export class Series {
  readonly family: Family;
  /** Flat sorted [name, value, …] labels. */
  readonly labels: string[];
  /** `{a="b",c="d"}` or '' — rendered once. */
  readonly labelText: string;
  /** `{a="b",c="d",` or `{` — for appending `le=`/`quantile=`. */
  readonly labelOpen: string;
  /** Set by the first record merged; a record of another kind resets the series to that kind. */
  data: SeriesData = SeriesData.Unknown;
  /** Hashes that resolve to this series (more than one when two encodings of one label set arrive). */
  readonly hashes: number[] = [];
  /** Overflow series aggregate the delta points of series beyond the limit. */
  readonly isOverflow: boolean;

  /** True once a point has been merged; false again after a NoRecordedValue marker. */
  hasValue = false;
  value = 0;
  startMs = 0;
  timeMs = 0;
  /** Wall-clock ms of the last point merged (for staleness). */
  seenMs = 0;

  // Histogram, exponential histogram and summary state.
  count = 0;
  sum = Number.NaN;
  /** Classic histogram: upper bounds; summary: quantiles. */
  bounds: Float64Array | null = null;
  /** Classic histogram: per-bucket (non-cumulative) counts, bounds.length + 1 of them; summary: values. */
  counts: Float64Array | null = null;
  scale = 0;
  zeroCount = 0;
  positive: BucketRun | null = null;
  negative: BucketRun | null = null;
  /** HDR windows of a histogram series (`<name>_percentiles`); created with its first point. */
  percentiles: WindowedPercentiles | null = null;

  constructor(family: Family, labels: string[], labelText: string, isOverflow: boolean) {
    this.family = family;
    this.labels = labels;
    this.labelText = labelText;
    this.labelOpen = labelText === '' ? '{' : labelText.slice(0, -1) + ',';
    this.isOverflow = isOverflow;
  }
}
