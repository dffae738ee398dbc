// The series registry: series interned by hash, merged in place from worker batches.
//
// Rules (docs/architecture.md has the long form):
// - delta sums and histograms are accumulated into cumulative series; cumulative points replace;
// - gauges keep the latest point by timestamp;
// - a series not updated for `stalenessMs` is evicted, and the registry generation changes so
//   that workers describe evicted series again when they come back;
// - beyond `limit` series, delta points of new series go to their family's overflow series
//   (`otel_metric_overflow="true"`) and other points are rejected with reason `series_limit`.

import { HEADER_SLOTS, RecordFlag, RecordKind } from '../../collectors/worker/batch.js';
import { HashMap53 } from '../../collectors/worker/hash-map.js';
import type { MetricBatch, SeriesDefinition, SpanBatch } from '../../collectors/worker/batch.js';
import { addRuns, downscaleRun } from './exp-histogram.js';
import { Family, Series, SeriesData } from './series.js';
import { renderLabelText } from '../model/labels.js';
import type { BucketRun } from './series.js';
import { HistogramPercentiles, feedExpHistogram, feedHistogram } from './percentiles.js';
import type { HistogramPercentileOptions } from './percentiles.js';
import { DEFAULT_SPAN_BUCKETS, DEFAULT_SPAN_PERCENTILES, SPAN_FAMILIES, SpanStore } from './spans.js';
import type { SpanMergeResult, SpanStoreOptions } from './spans.js';
import { storeFamilies } from './families.js';
import type { FamilyView, MetricsSource } from '../model/read-model.js';

/** Store settings (from the `series` config section). */
export interface StoreOptions {
  limit: number;
  stalenessMs: number;
  /** Wall clock; injectable for tests. */
  now?: () => number;
  /** HDR percentiles of histogram metrics (`percentiles` config section); none when absent or disabled. */
  percentiles?: HistogramPercentileOptions;
  /** Span series settings (spans.ts); the connector's buckets and no percentiles when absent. */
  spans?: SpanStoreOptions;
}

/** What merging one batch did. */
export interface MergeResult {
  accepted: number;
  /** Points rejected here or by the worker, by reason. */
  rejected: Record<string, number>;
  rejectedTotal: number;
}

/** Counters the store keeps for self-metrics. */
export interface StoreStats {
  evicted: number;
  hashCollisions: number;
  typeConflicts: number;
}

const OVERFLOW_LABEL_TEXT = renderLabelText(['otel_metric_overflow', 'true']);
const RESERVED_FAMILIES: ReadonlySet<string> = new Set(Object.values(SPAN_FAMILIES));

/** Rejected-series marker: hashes mapped here have every point rejected with `reason`. */
class Refusal {
  constructor(readonly reason: string) {}
}

/** The main-thread series store. */
export class Store implements MetricsSource {
  #limit: number;
  #stalenessMs: number;
  readonly #now: () => number;
  readonly #byHash = new HashMap53<Series | Refusal>();
  /** Hashes beyond a series' own that resolve to it (another encoding of its label set); rare. */
  readonly #moreHashes = new Map<Series, number[]>();
  readonly #families = new Map<string, Family>();
  #sortedFamilies: Family[] = [];
  #familiesDirty = false;
  #seriesCount = 0;
  #generation = 1;
  /**
   * No series was last seen before this: the oldest seenMs among the series kept by the last
   * sweep, lowered by every merge (to its time) and by every series created (to 0: a series
   * without a point yet). While it is at or after a sweep's cutoff nothing can be stale, and the
   * sweep does not walk the series (a daemon holding 100k series walked them all every 30 s).
   */
  #oldestSeenMs = Number.NEGATIVE_INFINITY;
  readonly stats: StoreStats = { evicted: 0, hashCollisions: 0, typeConflicts: 0 };
  readonly #percentiles: HistogramPercentiles | null;
  /** Span RED series; they count against the same series limit and are swept with the rest. */
  readonly spans: SpanStore;

  constructor(options: StoreOptions) {
    this.#limit = options.limit;
    this.#stalenessMs = options.stalenessMs;
    this.#now = options.now ?? Date.now;
    this.#percentiles = options.percentiles?.enabled ? new HistogramPercentiles(options.percentiles, this.#now) : null;
    const spanOptions = options.spans ?? { buckets: DEFAULT_SPAN_BUCKETS, percentiles: DEFAULT_SPAN_PERCENTILES, newPercentiles: null };
    this.spans = new SpanStore(spanOptions, {
      reserve: (force) => {
        if (!force && this.#seriesCount >= this.#limit) return false;
        this.#seriesCount++;
        return true;
      },
      release: () => {
        this.#seriesCount--;
      },
    });
  }

  /** canMerge for a span batch. */
  canMergeSpans(batch: SpanBatch): boolean {
    return batch.generation === this.#generation || this.spans.canMerge(batch);
  }

  /** Merges a span batch into the span series (spans.ts). */
  mergeSpans(batch: SpanBatch): SpanMergeResult {
    return this.spans.merge(batch, this.#now());
  }

  /**
   * New series limit and staleness (SIGHUP). Series already held stay, even beyond a lower
   * limit; new series then go to overflow until eviction brings the count under it.
   */
  setLimits(limit: number, stalenessMs: number): void {
    const raised = limit > this.#limit;
    this.#limit = limit;
    this.#stalenessMs = stalenessMs;
    if (raised) this.#forgetOverflowRouting();
  }

  /** Hashes routed to overflow or refused get a fresh chance; workers describe series again. */
  #forgetOverflowRouting(): void {
    const forget: number[] = [];
    this.#byHash.forEach((target, hash) => {
      if (target instanceof Refusal || target.isOverflow) forget.push(hash);
    });
    for (const hash of forget) this.#byHash.delete(hash);
    this.spans.forgetOverflowRouting();
    this.#generation++;
  }

  /** Changes whenever series are evicted (see MetricTask.generation). */
  get generation(): number {
    return this.#generation;
  }

  /** Live series, overflow series included. */
  get seriesCount(): number {
    return this.#seriesCount;
  }

  /** HDR windows of histogram metrics and span series: series holding them and their bytes (vigil_hdr_*). */
  hdrStats(): { series: number; bytes: number } {
    const spans = this.spans.hdrUsage();
    let series = spans.series;
    let bytes = spans.bytes;
    for (const family of this.#families.values()) {
      if (family.type !== 'histogram') continue;
      for (const s of family.series) {
        if (s.percentiles === null) continue;
        series++;
        bytes += s.percentiles.byteSize();
      }
    }
    return { series, bytes };
  }

  /** Families sorted by name, for rendering. */
  families(): readonly Family[] {
    if (this.#familiesDirty) {
      this.#sortedFamilies = [...this.#families.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      this.#familiesDirty = false;
    }
    return this.#sortedFamilies;
  }

  /** The read model's view of everything held: pushed families, their percentiles, span families (families.ts). */
  collect(): FamilyView[] {
    return storeFamilies(this.families(), this.spans);
  }

  /**
   * True when every record of `batch` names a known series or comes with its definition.
   * Only needed when series were evicted after the batch's task was dispatched.
   */
  canMerge(batch: MetricBatch): boolean {
    if (batch.generation === this.#generation) return true;
    const defined = new Set<number>();
    for (const def of batch.definitions) defined.add(def.hash);
    const r = batch.records;
    for (let at = 0; at < batch.length; at = nextRecord(r, at)) {
      const hash = r[at + 1]!;
      if (!this.#byHash.has(hash) && !defined.has(hash)) return false;
    }
    return true;
  }

  /** Registers the batch's definitions, then merges its records. */
  merge(batch: MetricBatch): MergeResult {
    const now = this.#now();
    if (now < this.#oldestSeenMs) this.#oldestSeenMs = now;
    for (const def of batch.definitions) this.#define(def);
    const result: MergeResult = { accepted: 0, rejected: { ...batch.rejected }, rejectedTotal: 0 };
    for (const reason in batch.rejected) result.rejectedTotal += batch.rejected[reason]!;

    const r = batch.records;
    for (let at = 0; at < batch.length; at = nextRecord(r, at)) {
      const target = this.#byHash.get(r[at + 1]!);
      let refusal: string | null = null;
      if (target === undefined) refusal = 'unknown_series';
      else if (target instanceof Refusal) refusal = target.reason;
      else if (target.isOverflow && (r[at + 4]! & RecordFlag.Delta) === 0) refusal = 'series_limit';
      else {
        mergeRecord(target, r, at, this.#percentiles);
        target.seenMs = now;
        if (target.family.name !== 'target_info') result.accepted++;
        continue;
      }
      result.rejected[refusal] = (result.rejected[refusal] ?? 0) + 1;
      result.rejectedTotal++;
    }
    return result;
  }

  /** Removes series not updated within the staleness period; returns how many. */
  evictStale(): number {
    const cutoff = this.#now() - this.#stalenessMs;
    if (this.#oldestSeenMs >= cutoff && this.spans.oldestSeenMs >= cutoff) return 0;
    let evicted = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (const family of this.#families.values()) {
      for (const series of family.series) {
        const seen = series.seenMs;
        if (seen >= cutoff) {
          if (seen < oldest) oldest = seen;
          continue;
        }
        family.series.delete(series);
        if (family.overflow === series) family.overflow = null;
        if (!series.isOverflow) this.#byHash.delete(series.hash);
        const more = this.#moreHashes.get(series);
        if (more !== undefined) {
          for (const hash of more) this.#byHash.delete(hash);
          this.#moreHashes.delete(series);
        }
        series.release();
        this.#seriesCount--;
        evicted++;
      }
      if (family.series.size === 0) {
        this.#families.delete(family.name);
        this.#familiesDirty = true;
      }
    }
    this.#oldestSeenMs = oldest;
    evicted += this.spans.evictStale(cutoff);
    if (evicted > 0) {
      // Hashes routed to overflow or refused get a fresh chance with the room just freed.
      this.#forgetOverflowRouting();
      this.stats.evicted += evicted;
    }
    return evicted;
  }

  #define(def: SeriesDefinition): void {
    const known = this.#byHash.get(def.hash);
    if (known !== undefined) {
      if (known instanceof Series && !known.isOverflow && known.family.name === def.name && known.labelText !== renderLabelText(def.labels)) {
        this.stats.hashCollisions++;
      }
      return;
    }
    if (RESERVED_FAMILIES.has(def.name)) {
      // The span RED families are the span store's; an OTLP metric of that name is refused.
      this.#byHash.set(def.hash, new Refusal('reserved_name'));
      return;
    }
    let family = this.#families.get(def.name);
    if (family !== undefined && family.type !== def.type) {
      this.stats.typeConflicts++;
      this.#byHash.set(def.hash, new Refusal('type_conflict'));
      return;
    }
    const text = renderLabelText(def.labels);
    const existing = family?.series.byLabelText(text);
    if (existing !== undefined) {
      // Another encoding of a label set we already hold (attribute order, field order).
      const more = this.#moreHashes.get(existing);
      if (more === undefined) this.#moreHashes.set(existing, [def.hash]);
      else more.push(def.hash);
      this.#byHash.set(def.hash, existing);
      return;
    }
    if (family === undefined) {
      family = new Family(def.name, def.type, def.help, def.unit);
      this.#families.set(def.name, family);
      this.#familiesDirty = true;
    }
    if (this.#seriesCount >= this.#limit) {
      this.#byHash.set(def.hash, this.#overflowOf(family));
      return;
    }
    const series = new Series(family, text, false);
    this.#oldestSeenMs = Number.NEGATIVE_INFINITY;
    series.hash = def.hash;
    family.series.add(series);
    this.#byHash.set(def.hash, series);
    this.#seriesCount++;
  }

  #overflowOf(family: Family): Series {
    if (family.overflow === null) {
      family.overflow = new Series(family, OVERFLOW_LABEL_TEXT, true);
      this.#oldestSeenMs = Number.NEGATIVE_INFINITY;
      family.series.add(family.overflow);
      this.#seriesCount++;
    }
    return family.overflow;
  }
}

/** Offset of the record after the one at `at` (see the layout in batch.ts). */
export function nextRecord(r: Float64Array, at: number): number {
  switch (r[at]) {
    case RecordKind.Gauge:
    case RecordKind.Sum:
      return at + HEADER_SLOTS + 1;
    case RecordKind.Histogram: {
      const bounds = r[at + 7]!;
      return at + 8 + bounds + bounds + 1;
    }
    case RecordKind.ExpHistogram: {
      const positive = r[at + 10]!;
      const negativeAt = at + 11 + positive;
      return negativeAt + 2 + r[negativeAt + 1]!;
    }
    case RecordKind.Summary:
      return at + 8 + 2 * r[at + 7]!;
    default:
      throw new Error(`corrupt batch: record kind ${r[at]} at slot ${at}`);
  }
}

function mergeRecord(s: Series, r: Float64Array, at: number, hp: HistogramPercentiles | null): void {
  const kind = r[at]!;
  const timeMs = r[at + 2]!;
  const startMs = r[at + 3]!;
  const flags = r[at + 4]!;
  const delta = (flags & RecordFlag.Delta) !== 0;
  if ((flags & RecordFlag.NoRecordedValue) !== 0) {
    s.hasValue = false;
    s.timeMs = timeMs;
    return;
  }
  switch (kind) {
    case RecordKind.Gauge:
    case RecordKind.Sum: {
      if (s.data !== SeriesData.Number) resetTo(s, SeriesData.Number);
      const v = r[at + 5]!;
      if (delta) {
        if (!s.hasValue) s.startMs = startMs;
        s.value = s.hasValue ? s.value + v : v;
      } else {
        // Gauges keep the newest point; cumulative sums too (a new start time is a reset).
        if (s.hasValue && timeMs < s.timeMs && kind === RecordKind.Gauge) return;
        s.value = v;
        s.startMs = startMs;
      }
      break;
    }
    case RecordKind.Histogram:
      mergeHistogram(s, r, at, delta, hp);
      break;
    case RecordKind.ExpHistogram:
      mergeExpHistogram(s, r, at, delta, hp);
      break;
    case RecordKind.Summary: {
      if (s.data !== SeriesData.Summary) resetTo(s, SeriesData.Summary);
      const n = r[at + 7]!;
      if (s.bounds === null || s.bounds.length !== n) {
        s.bounds = new Float64Array(n);
        s.counts = new Float64Array(n);
      }
      for (let i = 0; i < n; i++) {
        s.bounds[i] = r[at + 8 + 2 * i]!;
        s.counts![i] = r[at + 9 + 2 * i]!;
      }
      s.count = r[at + 5]!;
      s.sum = r[at + 6]!;
      s.startMs = startMs;
      break;
    }
  }
  s.hasValue = true;
  if (timeMs > s.timeMs) s.timeMs = timeMs;
}

function resetTo(s: Series, data: SeriesData): void {
  s.reset(data);
}

function mergeHistogram(s: Series, r: Float64Array, at: number, delta: boolean, hp: HistogramPercentiles | null): void {
  if (s.data !== SeriesData.Histogram) resetTo(s, SeriesData.Histogram);
  if (hp !== null) feedHistogram(s, r, at, delta, hp);
  const nBounds = r[at + 7]!;
  const boundsAt = at + 8;
  const countsAt = boundsAt + nBounds;
  let sameBounds = s.bounds !== null && s.bounds.length === nBounds;
  for (let i = 0; sameBounds && i < nBounds; i++) if (s.bounds![i] !== r[boundsAt + i]) sameBounds = false;
  if (!sameBounds) {
    // New or changed bucket layout: start the series over from this point.
    s.bounds = r.slice(boundsAt, boundsAt + nBounds);
    s.counts = new Float64Array(nBounds + 1);
    s.hasValue = false;
  }
  const counts = s.counts!;
  const accumulate = delta && s.hasValue;
  for (let i = 0; i <= nBounds; i++) counts[i] = accumulate ? counts[i]! + r[countsAt + i]! : r[countsAt + i]!;
  const count = r[at + 5]!;
  const sum = r[at + 6]!;
  s.count = accumulate ? s.count + count : count;
  s.sum = accumulate ? s.sum + sum : sum;
  if (!accumulate) s.startMs = r[at + 3]!;
}

function mergeExpHistogram(s: Series, r: Float64Array, at: number, delta: boolean, hp: HistogramPercentiles | null): void {
  if (s.data !== SeriesData.ExpHistogram) resetTo(s, SeriesData.ExpHistogram);
  const scale = r[at + 7]!;
  const nPositive = r[at + 10]!;
  let positive: BucketRun | null = { offset: r[at + 9]!, counts: r.slice(at + 11, at + 11 + nPositive) };
  const negativeAt = at + 11 + nPositive;
  const nNegative = r[negativeAt + 1]!;
  let negative: BucketRun | null = { offset: r[negativeAt]!, counts: r.slice(negativeAt + 2, negativeAt + 2 + nNegative) };
  const count = r[at + 5]!;
  const sum = r[at + 6]!;
  const zeroCount = r[at + 8]!;
  if (hp !== null) feedExpHistogram(s, r, at, delta, positive, negative, hp);
  if (!delta || !s.hasValue) {
    s.scale = scale;
    s.positive = positive;
    s.negative = negative;
    s.zeroCount = zeroCount;
    s.count = count;
    s.sum = sum;
    s.startMs = r[at + 3]!;
    return;
  }
  // Bring both sides to the coarser scale, then add.
  if (scale < s.scale) {
    if (s.positive) s.positive = downscaleRun(s.positive, s.scale - scale);
    if (s.negative) s.negative = downscaleRun(s.negative, s.scale - scale);
    s.scale = scale;
  } else if (scale > s.scale) {
    positive = downscaleRun(positive, scale - s.scale);
    negative = downscaleRun(negative, scale - s.scale);
  }
  s.positive = addRuns(s.positive, positive);
  s.negative = addRuns(s.negative, negative);
  s.zeroCount += zeroCount;
  s.count += count;
  s.sum += sum;
}
