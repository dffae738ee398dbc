// Span RED series: calls, a classic duration histogram with exemplars, and windowed HDR
// percentiles per (service, span name, kind, status code, extra dimensions), merged in place from
// the workers' SpanBatch records with no allocation per span.
//
// Kept apart from the metric Series (store.ts) because one span series feeds three families at
// once (traces_span_metrics_calls, _duration_seconds, _duration_seconds_percentiles) and carries
// exemplars and SLO slots that metric series do not have. The Store owns a SpanStore and shares its
// series limit, staleness sweep and registry generation with it.
//
// The SLO hook (for daemon/slo). When a span series is created, `spanSeriesHook(labels)` is called
// once with its identity; it returns the SLO slots that care about the series (an Int32Array the
// SLO engine interprets, e.g. indices of its per-minute rollups) or null. The store keeps the array
// on the series. For every span merged into a series with slots, `onSpan(slots, durationSeconds,
// isError, endTimeMs)` is called: same array every time, plain numbers, so nothing is allocated per
// span. `isError` is the worker's verdict (status ERROR, or HTTP ≥ 500 with
// spans.error_on_http_5xx); the status_code label stays the span's own status. Overflow series get
// no slots: spans beyond the series limit do not reach SLOs (vigil_spans_* still count them).

import { EXEMPLAR_ID_BYTES, SPAN_SLOTS, SpanFlag } from '../../collectors/worker/batch.js';
import type { SpanBatch, SpanSeriesDefinition } from '../../collectors/worker/batch.js';
import { HashMap53 } from '../../collectors/worker/hash-map.js';
import { labelText } from '../model/naming.js';
import type { PercentileSettings, WindowedPercentiles } from '../percentiles/types.js';
import { DEFAULT_NATIVE_HISTOGRAM, SpanNativeHistogram } from './native-histogram.js';
import type { NativeHistogramSettings } from './native-histogram.js';

/** The spanmetrics connector's default histogram bounds, in seconds (2ms … 15s). */
export const DEFAULT_SPAN_BUCKETS: readonly number[] = [0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15];

/** Percentile settings for span durations (seconds) when the daemon passes none. */
export const DEFAULT_SPAN_PERCENTILES: PercentileSettings = {
  significantDigits: 2,
  lowest: 1e-6,
  highest: 3600,
  windowsMs: [60_000, 300_000, 3_600_000],
  windowLabels: ['1m', '5m', '1h'],
  quantiles: [0.5, 0.9, 0.95, 0.99, 0.999],
};

/** The Prometheus families span series are exported as (reserved: OTLP metrics cannot use them). */
export const SPAN_FAMILIES = {
  calls: 'traces_span_metrics_calls',
  duration: 'traces_span_metrics_duration_seconds',
  percentiles: 'traces_span_metrics_duration_seconds_percentiles',
} as const;

/** What the SLO hook is told about a new span series. */
export interface SpanSeriesLabels {
  service: string;
  spanName: string;
  /** `SPAN_KIND_SERVER` etc. */
  spanKind: string;
  statusCode: string;
  /** The configured extra dimensions present on the series, by attribute key (e.g. `http.route`). */
  attributes: Record<string, string>;
}

/** Called once per new span series; the slots of the SLOs that select it, or null. */
export type SpanSeriesHook = (labels: SpanSeriesLabels) => Int32Array | null;

/** Called per span of a series that has slots; must not keep `slots` beyond the call's meaning. */
export type SpanObserver = (slots: Int32Array, durationSeconds: number, isError: boolean, endTimeMs: number) => void;

/** Settings of the span store. */
export interface SpanStoreOptions {
  /** Histogram upper bounds, seconds, ascending (the same list the workers bucket with). */
  buckets: readonly number[];
  percentiles: PercentileSettings;
  /** Creates one series' percentile windows; null = no percentile family. */
  newPercentiles: ((settings: PercentileSettings) => WindowedPercentiles) | null;
  /** Native (exponential) histograms of durations (protobuf, remote_write); defaults when absent. */
  native?: NativeHistogramSettings;
}

/** How the span store takes and returns places under the Store's series limit. */
export interface SeriesAllowance {
  /** Takes a place; `force` takes one even beyond the limit (overflow series). False when full. */
  reserve(force: boolean): boolean;
  release(): void;
}

const OVERFLOW_LABELS = ['otel_metric_overflow', 'true'];

/** One span series. Fields are public for the merge loop and the renderer; only SpanStore writes them. */
export class SpanSeries {
  readonly labels: string[];
  readonly labelText: string;
  /** `{a="b",` or `{`, for appending `le=`/`quantile=`. */
  readonly labelOpen: string;
  readonly hashes: number[] = [];
  readonly isOverflow: boolean;
  calls = 0;
  sum = 0;
  /** Per-bucket (non-cumulative) counts; the last is +Inf. */
  readonly counts: Float64Array;
  readonly percentiles: WindowedPercentiles | null;
  /** The durations as a native histogram (null when spans.native_histogram_max_buckets is 0). */
  readonly native: SpanNativeHistogram | null;
  /** One exemplar per bucket: ids (EXEMPLAR_ID_BYTES each), value (s), time (ms; NaN = none). */
  readonly exemplarIds: Uint8Array;
  readonly exemplarValue: Float64Array;
  readonly exemplarTimeMs: Float64Array;
  /** Bucket holding the newest exemplar (the calls counter's), or -1. */
  latestExemplar = -1;
  /** The SLO hook's slots for this series, or null. */
  sloSlots: Int32Array | null = null;
  seenMs = 0;

  /** Whether the series has a span to show (the read model skips series with none). */
  get hasValue(): boolean {
    return this.calls > 0;
  }

  constructor(labels: string[], buckets: number, percentiles: WindowedPercentiles | null, isOverflow: boolean, native: NativeHistogramSettings | null = null) {
    this.labels = labels;
    this.labelText = labelText(labels);
    this.labelOpen = this.labelText === '' ? '{' : this.labelText.slice(0, -1) + ',';
    this.isOverflow = isOverflow;
    this.counts = new Float64Array(buckets + 1);
    this.percentiles = percentiles;
    this.native = native === null || native.maxBuckets === 0 ? null : new SpanNativeHistogram(native);
    this.exemplarIds = new Uint8Array((buckets + 1) * EXEMPLAR_ID_BYTES);
    this.exemplarValue = new Float64Array(buckets + 1);
    this.exemplarTimeMs = new Float64Array(buckets + 1).fill(Number.NaN);
  }
}

/** Spans merged and refused by one batch. */
export interface SpanMergeResult {
  accepted: number;
  rejected: Record<string, number>;
  rejectedTotal: number;
}

/** The span series registry. */
export class SpanStore {
  readonly buckets: Float64Array;
  readonly percentileSettings: PercentileSettings;
  readonly nativeSettings: NativeHistogramSettings;
  /** Set by the daemon for SLOs (see the file comment). */
  spanSeriesHook: SpanSeriesHook | null = null;
  onSpan: SpanObserver | null = null;
  /** Live series in creation order, the overflow series included. */
  readonly series = new Set<SpanSeries>();
  /** No span series was last seen before this (as Store's #oldestSeenMs: a sweep with a later cutoff has nothing to do). */
  oldestSeenMs = Number.NEGATIVE_INFINITY;
  readonly #newPercentiles: SpanStoreOptions['newPercentiles'];
  readonly #allowance: SeriesAllowance;
  readonly #byHash = new HashMap53<SpanSeries>();
  readonly #byKey = new Map<string, SpanSeries>();
  #overflow: SpanSeries | null = null;

  constructor(options: SpanStoreOptions, allowance: SeriesAllowance) {
    this.buckets = Float64Array.from(options.buckets);
    this.percentileSettings = options.percentiles;
    this.nativeSettings = options.native ?? DEFAULT_NATIVE_HISTOGRAM;
    this.#newPercentiles = options.newPercentiles;
    this.#allowance = allowance;
  }

  /** Whether every record of `batch` names a known series or comes with its definition. */
  canMerge(batch: SpanBatch): boolean {
    const defined = new Set<number>();
    for (const def of batch.definitions) defined.add(def.hash);
    const r = batch.records;
    for (let at = 0; at < batch.length; at += SPAN_SLOTS) {
      const hash = r[at]!;
      if (!this.#byHash.has(hash) && !defined.has(hash)) return false;
    }
    return true;
  }

  /** Registers the batch's definitions, then merges its span records. */
  merge(batch: SpanBatch, now: number): SpanMergeResult {
    if (now < this.oldestSeenMs) this.oldestSeenMs = now;
    for (const def of batch.definitions) this.#define(def);
    const result: SpanMergeResult = { accepted: 0, rejected: { ...batch.rejected }, rejectedTotal: 0 };
    for (const reason in batch.rejected) result.rejectedTotal += batch.rejected[reason]!;
    const r = batch.records;
    const ids = batch.exemplarIds;
    const onSpan = this.onSpan;
    const lastBucket = this.buckets.length;
    let lastHash = Number.NaN;
    let s: SpanSeries | undefined;
    let unknown = 0;
    for (let at = 0; at < batch.length; at += SPAN_SLOTS) {
      const hash = r[at]!;
      // Spans of one series tend to come together: look the series up once per run.
      if (hash !== lastHash) {
        s = this.#byHash.get(hash);
        lastHash = hash;
      }
      if (s === undefined) {
        unknown++;
        continue;
      }
      const duration = r[at + 1]!;
      const endMs = r[at + 2]!;
      let bucket = r[at + 3]!;
      if (!(bucket <= lastBucket)) bucket = lastBucket;
      s.calls++;
      s.sum += duration;
      s.counts[bucket] = s.counts[bucket]! + 1;
      s.seenMs = now;
      if (s.percentiles !== null) s.percentiles.record(duration, 1);
      if (s.native !== null) s.native.record(duration);
      const exemplar = r[at + 5]!;
      // Never replace a bucket's exemplar with an older one: Prometheus refuses out-of-order exemplars.
      if (exemplar >= 0 && !(endMs < s.exemplarTimeMs[bucket]!)) {
        const from = exemplar * EXEMPLAR_ID_BYTES;
        s.exemplarIds.set(ids.subarray(from, from + EXEMPLAR_ID_BYTES), bucket * EXEMPLAR_ID_BYTES);
        s.exemplarValue[bucket] = duration;
        s.exemplarTimeMs[bucket] = endMs;
        if (s.latestExemplar < 0 || !(endMs < s.exemplarTimeMs[s.latestExemplar]!)) s.latestExemplar = bucket;
      }
      if (onSpan !== null && s.sloSlots !== null) onSpan(s.sloSlots, duration, (r[at + 4]! & SpanFlag.Error) !== 0, endMs);
      result.accepted++;
    }
    if (unknown > 0) {
      result.rejected['unknown_series'] = (result.rejected['unknown_series'] ?? 0) + unknown;
      result.rejectedTotal += unknown;
    }
    return result;
  }

  /** Removes series not updated since `cutoff` (ms); calls `release` per series removed. */
  evictStale(cutoff: number): number {
    if (this.oldestSeenMs >= cutoff) return 0;
    let evicted = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (const s of this.series) {
      if (s.seenMs >= cutoff) {
        if (s.seenMs < oldest) oldest = s.seenMs;
        continue;
      }
      this.series.delete(s);
      for (const hash of s.hashes) this.#byHash.delete(hash);
      if (s === this.#overflow) this.#overflow = null;
      else this.#byKey.delete(s.labels.join('\u0000'));
      this.#allowance.release();
      evicted++;
    }
    this.oldestSeenMs = oldest;
    return evicted;
  }

  /** Bytes held by the span series' HDR windows, and how many series hold them (vigil_hdr_bytes / vigil_hdr_series). */
  hdrUsage(): { bytes: number; series: number } {
    let bytes = 0;
    let series = 0;
    for (const s of this.series) {
      if (s.percentiles === null) continue;
      bytes += s.percentiles.byteSize();
      series++;
    }
    return { bytes, series };
  }

  /** Bytes held by the span series' native histograms, and how many series hold one (bench:memory). */
  nativeUsage(): { bytes: number; series: number } {
    let bytes = 0;
    let series = 0;
    for (const s of this.series) {
      if (s.native === null) continue;
      bytes += s.native.byteSize();
      series++;
    }
    return { bytes, series };
  }

  /** Forgets which hashes were routed to the overflow series, so they get room freed by a sweep. */
  forgetOverflowRouting(): void {
    const forget: number[] = [];
    this.#byHash.forEach((s, hash) => {
      if (s.isOverflow) forget.push(hash);
    });
    for (const hash of forget) this.#byHash.delete(hash);
  }

  #define(def: SpanSeriesDefinition): void {
    if (this.#byHash.has(def.hash)) return;
    const key = def.labels.join('\u0000');
    const existing = this.#byKey.get(key);
    if (existing !== undefined) {
      existing.hashes.push(def.hash);
      this.#byHash.set(def.hash, existing);
      return;
    }
    if (!this.#allowance.reserve(false)) {
      this.#byHash.set(def.hash, this.#overflowSeries());
      return;
    }
    const s = new SpanSeries(def.labels, this.buckets.length, this.#newPercentiles?.(this.percentileSettings) ?? null, false, this.nativeSettings);
    this.oldestSeenMs = Number.NEGATIVE_INFINITY;
    s.hashes.push(def.hash);
    if (this.spanSeriesHook !== null) {
      s.sloSlots = this.spanSeriesHook({
        service: def.service,
        spanName: def.spanName,
        spanKind: def.spanKind,
        statusCode: def.statusCode,
        attributes: def.attributes,
      });
    }
    this.series.add(s);
    this.#byHash.set(def.hash, s);
    this.#byKey.set(key, s);
  }

  #overflowSeries(): SpanSeries {
    if (this.#overflow === null) {
      this.#allowance.reserve(true);
      this.#overflow = new SpanSeries(OVERFLOW_LABELS, this.buckets.length, this.#newPercentiles?.(this.percentileSettings) ?? null, true, this.nativeSettings);
      this.oldestSeenMs = Number.NEGATIVE_INFINITY;
      this.series.add(this.#overflow);
    }
    return this.#overflow;
  }
}
