// The store's side of the read model (daemon/model/read-model.ts): its families as FamilyViews, in
// exposition order. Pushed families are the Family objects themselves (sorted by name), each
// histogram family followed by its `<name>_percentiles` summary; then the span RED families:
//   traces_span_metrics_calls_total                 counter, exemplar: the newest span
//   traces_span_metrics_duration_seconds            histogram (classic buckets, exemplar per bucket,
//                                                   and a native histogram of its own)
//   traces_span_metrics_duration_seconds_percentiles summary {quantile, window} + _sum/_count{window}
// Views over span series are made per gather and read the live series (no copy of the values).

import { EXEMPLAR_ID_BYTES } from '../../collectors/worker/batch.js';
import { SeriesKind } from '../model/read-model.js';
import { PercentileWindowView, SeriesViewBase } from '../model/views.js';
import type { ExemplarView, FamilyType, FamilyView, NativeHistogramView, SeriesView } from '../model/read-model.js';
import type { PercentileSettings, WindowedPercentiles } from '../percentiles/types.js';
import type { Family } from './series.js';
import { SPAN_FAMILIES } from './spans.js';
import type { SpanSeries, SpanStore } from './spans.js';

/** Every family the store holds, in exposition order. */
export function storeFamilies(families: readonly Family[], spans: SpanStore): FamilyView[] {
  const out: FamilyView[] = [];
  let names: Set<string> | null = null;
  for (const family of families) {
    out.push(family);
    if (family.type !== 'histogram') continue;
    // Skipped when a pushed family already owns one of its names.
    const name = `${family.name}_percentiles`;
    names ??= new Set(families.map((f) => f.name));
    if (names.has(name) || names.has(`${name}_sum`) || names.has(`${name}_count`)) continue;
    out.push(new PercentileFamily(name, `HDR percentiles of ${family.name} over sliding windows.`, family.series));
  }
  if (spans.series.size > 0) {
    out.push(new SpanFamily(SPAN_FAMILIES.calls, 'counter', 'Spans received, per service, span name, kind and status code.', '', spans, (s) => new SpanCallsView(s)));
    out.push(new SpanFamily(SPAN_FAMILIES.duration, 'histogram', 'Span durations (end - start).', 'seconds', spans, (s) => new SpanDurationView(s, spans.buckets)));
    out.push(new PercentileFamily(SPAN_FAMILIES.percentiles, 'Span duration percentiles over sliding windows (HDR histogram).', spans.series));
  }
  return out;
}


class SpanFamily implements FamilyView {
  constructor(
    readonly name: string,
    readonly type: FamilyType,
    readonly help: string,
    readonly unit: string,
    readonly spans: SpanStore,
    readonly view: (s: SpanSeries) => SeriesView,
  ) {}

  *[Symbol.iterator](): IterableIterator<SeriesView> {
    for (const s of this.spans.series) if (s.hasValue) yield this.view(s);
  }

  get series(): Iterable<SeriesView> {
    return this;
  }
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The exemplar a span series keeps for `bucket`, or null. */
function spanExemplar(s: SpanSeries, bucket: number, value: number): ExemplarView | null {
  if (bucket < 0) return null;
  const timeMs = s.exemplarTimeMs[bucket]!;
  if (Number.isNaN(timeMs)) return null;
  const ids = s.exemplarIds;
  const at = bucket * EXEMPLAR_ID_BYTES;
  let trace = '';
  for (let i = at; i < at + 16; i++) trace += HEX[ids[i]!];
  let span = '';
  for (let i = at + 16; i < at + 24; i++) span += HEX[ids[i]!];
  return { labels: ['trace_id', trace, 'span_id', span], value, timeMs };
}

class SpanCallsView extends SeriesViewBase {
  constructor(readonly s: SpanSeries) {
    super();
  }
  get labelText(): string { return this.s.labelText; }
  get labelOpen(): string { return this.s.labelOpen; }
  get data(): SeriesKind { return SeriesKind.Number; }
  override get value(): number { return this.s.calls; }
  /** The newest span's exemplar, with value 1 (one call), as the spanmetrics connector does. */
  override exemplar(): ExemplarView | null {
    return spanExemplar(this.s, this.s.latestExemplar, 1);
  }
}

class SpanDurationView extends SeriesViewBase {
  constructor(readonly s: SpanSeries, readonly buckets: Float64Array) {
    super();
  }
  get labelText(): string { return this.s.labelText; }
  get labelOpen(): string { return this.s.labelOpen; }
  get data(): SeriesKind { return SeriesKind.Histogram; }
  override get count(): number { return this.s.calls; }
  override get sum(): number { return this.s.sum; }
  override get bounds(): Float64Array { return this.buckets; }
  override get counts(): Float64Array { return this.s.counts; }
  override get native(): NativeHistogramView | null { return this.s.native; }
  override exemplar(index: number): ExemplarView | null {
    return spanExemplar(this.s, index, this.s.exemplarValue[index]!);
  }
}

/** Quantiles per settings object, as the Float64Array a summary view carries. */
const quantileArrays = new WeakMap<PercentileSettings, Float64Array>();

/**
 * `<name>_percentiles`: per series with percentiles and per window, a summary series with the
 * window as its last label: quantiles (none when the window is empty), `_sum` and `_count`.
 */
class PercentileFamily implements FamilyView {
  readonly type = 'summary';
  readonly unit = '';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly of: Iterable<{ hasValue: boolean; labelOpen: string; percentiles: WindowedPercentiles | null }>,
  ) {}

  get series(): Iterable<SeriesView> {
    return this;
  }

  *[Symbol.iterator](): IterableIterator<SeriesView> {
    for (const s of this.of) {
      const p = s.percentiles;
      if (p === null || !s.hasValue) continue;
      const settings = p.settings;
      let quantiles = quantileArrays.get(settings);
      if (quantiles === undefined) quantileArrays.set(settings, (quantiles = Float64Array.from(settings.quantiles)));
      for (let w = 0; w < settings.windowLabels.length; w++) yield new PercentileWindowView(s.labelOpen, settings.windowLabels[w]!, p, w, quantiles);
    }
  }
}

