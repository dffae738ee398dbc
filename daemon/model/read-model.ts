// The read model: what every exporter reads (text and OpenMetrics, protobuf, remote_write).
// The store, the span store, the SLO engine, the webhook dispatcher and the self-metrics each
// offer their data as FamilyView/SeriesView objects; a Gatherer collects them in exposition
// order (client_golang's Gatherer feeding every format). Writers never reach into a source's
// private state, and sources never import exporters/.
//
// Conventions (docs/architecture.md "Scale-out" has the long form):
// - Family names are Prometheus names without a counter's `_total` (writers add it where their
//   format wants it); `info` families are gauges named `<x>_info` outside OpenMetrics.
// - Labels are carried as label text, `{a="b",c="d"}` ('' for none), escaped as in the text
//   format; parseLabelText (labels.ts) gives the flat [name, value, …] list. Not necessarily
//   sorted by name (the SLO families keep `slo` before `component`).
// - Exponential buckets follow OTLP: index i at scale s covers (base^i, base^(i+1)] with
//   base = 2^(2^-s). Prometheus' native-histogram index for the same bucket is i + 1.

import type { FamilyType } from '../../collectors/worker/batch.js';
import { parseLabelText, renderLabelText } from './labels.js';

export type { FamilyType };

/** A sparse run of exponential-histogram buckets: counts[i] belongs to bucket offset + i. */
export interface BucketRun {
  offset: number;
  counts: Float64Array;
}

/** What a series holds (the values of SeriesData in daemon/store/series.ts). */
export const SeriesKind = {
  Unknown: 0,
  /** `value`: a counter, gauge or info value. */
  Number: 1,
  /** `bounds`, `counts`, `count`, `sum`: a classic histogram. */
  Histogram: 2,
  /** `scale`, `zeroCount`, `positive`, `negative`, `count`, `sum`: an exponential histogram. */
  ExpHistogram: 3,
  /** `bounds` (quantiles), `counts` (their values), `count`, `sum`. */
  Summary: 4,
} as const;
export type SeriesKind = (typeof SeriesKind)[keyof typeof SeriesKind];

/** An exponential histogram's buckets (OTLP index convention, see the file comment). */
export interface NativeHistogramView {
  readonly scale: number;
  readonly zeroCount: number;
  /** Values at or under this magnitude are in the zero bucket (0 = exact zeros only). */
  readonly zeroThreshold: number;
  readonly positive: BucketRun | null;
  readonly negative: BucketRun | null;
  readonly count: number;
  readonly sum: number;
}

/** One exemplar: labels as a flat [name, value, …] list (`trace_id`, `span_id`), the observed value, when (ms). */
export interface ExemplarView {
  readonly labels: readonly string[];
  readonly value: number;
  readonly timeMs: number;
}

/** One series of a family. Read it during the gather that produced it; it may change after. */
export interface SeriesView {
  /** `{a="b",c="d"}` or '' — the series' labels (see the file comment). */
  readonly labelText: string;
  /** Where a writer inserts `le`/`quantile`: line labels are labelOpen + `le="0.5"` + labelClose. */
  readonly labelOpen: string;
  /** `}`, or the labels that follow `le`/`quantile` then `}` (`,window="5m"}` for percentile windows). */
  readonly labelClose: string;
  /** False until the first point, and after an OTLP "no recorded value" marker: nothing to export. */
  readonly hasValue: boolean;
  readonly data: SeriesKind;
  /** Time of the newest point merged (ms since the epoch); 0 = no own time, use the time of the read. */
  readonly timeMs: number;
  /** Start of a cumulative series (ms; 0 = unknown). */
  readonly startMs: number;
  readonly value: number;
  readonly count: number;
  /** NaN when the source sent none (histograms without sum). */
  readonly sum: number;
  /** Classic histogram: upper bounds (no +Inf); summary: quantiles. */
  readonly bounds: Float64Array | null;
  /** Classic histogram: per-bucket (not cumulative) counts, bounds.length + 1 of them; summary: values. */
  readonly counts: Float64Array | null;
  readonly scale: number;
  readonly zeroCount: number;
  readonly positive: BucketRun | null;
  readonly negative: BucketRun | null;
  /**
   * The series as a native (exponential) histogram: itself for exponential histograms, the span
   * store's own sparse histogram for span durations (kept beside the classic buckets), else null.
   */
  readonly native: NativeHistogramView | null;
  /** The exemplar of classic bucket `index` (the last is +Inf); for a counter, index 0. Null: none. */
  exemplar(index: number): ExemplarView | null;
}

/** One metric family: every series sharing a name. */
export interface FamilyView {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  /** OpenMetrics unit word (`seconds`), '' when none. */
  readonly unit: string;
  readonly series: Iterable<SeriesView>;
  /** Shown (HELP and TYPE) even without a series to show: Vigil's own families, present from start. */
  readonly announced?: boolean;
}

/** Something that offers families to the read model. */
export interface MetricsSource {
  /** The source's families now, in the order they are exposed. */
  collect(): Iterable<FamilyView> | Promise<Iterable<FamilyView>>;
}

/** Collects every source's families, in source order: what every exporter reads. */
export interface Gatherer {
  gather(): Promise<FamilyView[]>;
}

/** A Gatherer over `sources` (tried in order; a failing source fails the gather). */
export function createGatherer(sources: readonly MetricsSource[]): Gatherer {
  return {
    async gather(): Promise<FamilyView[]> {
      const out: FamilyView[] = [];
      for (const source of sources) for (const family of await source.collect()) out.push(family);
      return out;
    },
  };
}

/** A series with fixed values: for the small families (SLOs, webhooks, self-metrics). */
export class StaticSeries implements SeriesView {
  readonly labelText: string;
  labelOpen: string;
  labelClose = '}';
  hasValue = true;
  data: SeriesKind = SeriesKind.Number;
  timeMs = 0;
  startMs = 0;
  value = 0;
  count = 0;
  sum = Number.NaN;
  bounds: Float64Array | null = null;
  counts: Float64Array | null = null;
  scale = 0;
  zeroCount = 0;
  positive: BucketRun | null = null;
  negative: BucketRun | null = null;
  native: NativeHistogramView | null = null;

  /** `labels`: flat [name, value, …] in the order to show them. */
  constructor(labels: readonly string[], value = 0) {
    this.labelText = renderLabelText(labels);
    this.labelOpen = openOf(this.labelText);
    this.value = value;
  }

  exemplar(_index: number): ExemplarView | null {
    return null;
  }
}

/** A family of StaticSeries. */
export class StaticFamily implements FamilyView {
  readonly series: StaticSeries[] = [];
  readonly announced: boolean;

  constructor(
    readonly name: string,
    readonly type: FamilyType,
    readonly help: string,
    readonly unit = '',
    announced = true,
  ) {
    this.announced = announced;
  }

  /** Adds a number series (counter, gauge); returns it. */
  add(labels: readonly string[], value: number): StaticSeries {
    const s = new StaticSeries(labels, value);
    this.series.push(s);
    return s;
  }
}

/** `{a="b",` for `{a="b"}`, `{` for '': label text opened for one more label. */
export function openOf(labelText: string): string {
  return labelText === '' ? '{' : labelText.slice(0, -1) + ',';
}

/** The flat [name, value, …] labels of a series (parsed from its label text; allocates). */
export function labelsOf(s: SeriesView): string[] {
  return parseLabelText(s.labelText);
}

/**
 * One Prometheus float sample of a series: the name suffix (`_total`, `_bucket`, `_sum`, `_count`,
 * or ''), the extra label it carries (`le`, `quantile`) or null, that label's value, the sample
 * value, and for buckets and counters the exemplar index to pass to `series.exemplar()` (-1: none).
 */
export type SampleVisitor = (suffix: string, extraLabel: string | null, extraValue: number, value: number, exemplarIndex: number) => void;

/**
 * Visits every float sample the text format shows for `s` (classic buckets of exponential
 * histograms included); native histograms are read from `s.native`. This is how remote_write
 * (or any writer of flat samples) reads a series.
 */
export function forEachSample(family: FamilyView, s: SeriesView, visit: SampleVisitor): void {
  if (!s.hasValue) return;
  switch (s.data) {
    case SeriesKind.Number:
      if (family.type === 'counter') visit('_total', null, 0, s.value, 0);
      else visit('', null, 0, s.value, -1);
      return;
    case SeriesKind.Histogram: {
      const bounds = s.bounds!;
      const counts = s.counts!;
      let cumulative = 0;
      for (let i = 0; i < bounds.length; i++) {
        cumulative += counts[i]!;
        visit('_bucket', 'le', bounds[i]!, cumulative, i);
      }
      visit('_bucket', 'le', Infinity, s.count, bounds.length);
      break;
    }
    case SeriesKind.ExpHistogram: {
      const b = expClassicBuckets(s);
      for (let i = 0; i < b.bounds.length; i++) visit('_bucket', 'le', b.bounds[i]!, b.cumulative[i]!, -1);
      visit('_bucket', 'le', Infinity, s.count, -1);
      break;
    }
    case SeriesKind.Summary: {
      const q = s.bounds!;
      const v = s.counts!;
      for (let i = 0; i < q.length; i++) visit('', 'quantile', q[i]!, v[i]!, -1);
      break;
    }
    default:
      return;
  }
  if (!Number.isNaN(s.sum)) visit('_sum', null, 0, s.sum, -1);
  visit('_count', null, 0, s.count, -1);
}

/**
 * An exponential histogram as classic buckets (what the text format shows): one bucket per
 * exponential bucket between the lowest and highest populated ones, negative buckets first with
 * upper bound -base^i, the zero bucket as `le="0"`; cumulative counts, +Inf not included.
 */
export function expClassicBuckets(s: Pick<SeriesView, 'scale' | 'zeroCount' | 'positive' | 'negative'>): { bounds: number[]; cumulative: number[] } {
  const bounds: number[] = [];
  const cumulative: number[] = [];
  let total = 0;
  const negative = s.negative;
  if (negative !== null) {
    for (let i = negative.counts.length - 1; i >= 0; i--) {
      total += negative.counts[i]!;
      bounds.push(-bucketLowerBound(negative.offset + i, s.scale));
      cumulative.push(total);
    }
  }
  total += s.zeroCount;
  if (s.zeroCount > 0 || (negative !== null && negative.counts.length > 0)) {
    bounds.push(0);
    cumulative.push(total);
  }
  const positive = s.positive;
  if (positive !== null) {
    for (let i = 0; i < positive.counts.length; i++) {
      total += positive.counts[i]!;
      bounds.push(bucketUpperBound(positive.offset + i, s.scale));
      cumulative.push(total);
    }
  }
  return { bounds, cumulative };
}

/** Upper bound of exponential bucket `index` at `scale` (OTLP convention). */
export function bucketUpperBound(index: number, scale: number): number {
  return Math.pow(2, (index + 1) * Math.pow(2, -scale));
}

/** Lower bound of exponential bucket `index` at `scale` (OTLP convention). */
export function bucketLowerBound(index: number, scale: number): number {
  return Math.pow(2, index * Math.pow(2, -scale));
}
