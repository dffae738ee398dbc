// What remote_write samples: every series /metrics exposes, read through the store's single read
// model (daemon/model: a Gatherer of FamilyView/SeriesView, the same one the scrape renders), so
// what is sent is what a scrape sees: pushed metrics and target_info, span RED with exemplars,
// `_percentiles`, SLO gauges and counters (vigil_slo_events_total), Vigil's own series.
//
// Costs: a series' labels are parsed, sorted and encoded once and kept (per sample: `_bucket`
// with its `le`, `_sum`…) in a WeakMap keyed by the series view, so a tick of a counter costs one
// value and one timestamp. Views made fresh per gather (span, SLO, self-metrics series) fall back
// to a map by name and label text, replaced each tick so series that disappear drop out.
//
// Every sample carries the sampling time, never the series' own point time: a gauge's OTLP time
// can stand still for many intervals, and one time per tick is what keeps each series in order.

import { SeriesKind, forEachSample, formatValue, parseLabelText, toPrometheusNative } from '../../daemon/model/index.js';
import type { FamilyView, Gatherer, NativeHistogramView, PrometheusNativeHistogram, SeriesView } from '../../daemon/model/index.js';
import { encodeLabels } from './proto.js';
import type { LabelPair } from './proto.js';
import type { EncodedSeries, ExemplarPoint } from './batch.js';

/** Where sampled series go (a BatchWriter, or several). */
export interface SampleSink {
  float(series: EncodedSeries, value: number, exemplar: ExemplarPoint | null): void;
  histogram(series: EncodedSeries, h: PrometheusNativeHistogram): void;
}

/** Series a tick could not send (counted by the caller). */
export interface CollectResult {
  invalid: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Series between two event-loop turns while sampling, so a large tick never holds ingest up for long. */
const SERIES_PER_SLICE = 4096;

/**
 * Sorted, unique, valid labels with `__name__` among them, encoded; null when invalid (a bad name
 * or a repeated one). Empty values are dropped: to Prometheus an empty label is no label.
 */
export function encodeSeries(name: string, flat: readonly string[]): EncodedSeries | null {
  if (!METRIC_NAME.test(name)) return null;
  const pairs: [string, string][] = [['__name__', name]];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const key = flat[i]!;
    if (!LABEL_NAME.test(key) || key === '__name__') return null;
    if (flat[i + 1] === '') continue;
    pairs.push([key, flat[i + 1]!]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (let i = 1; i < pairs.length; i++) if (pairs[i]![0] === pairs[i - 1]![0]) return null;
  const labels = encodeLabels(pairs);
  return { labels, hash: fnv1a(labels) };
}

/** FNV-1a over the encoded labels: the series' shard. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** What is kept per series between ticks. */
interface SeriesCache {
  /** The series' own labels, flat, parsed once. */
  flat: string[] | null;
  /** The single sample of a counter/gauge/info series (the fast path). */
  single: EncodedSeries | null | undefined;
  /** Other samples by suffix + extra label value (`_bucket\u00000.5`). */
  bySample: Map<string, EncodedSeries | null> | null;
  native: EncodedSeries | null | undefined;
  /** Time of the last exemplar sent, per exemplar index. */
  exemplarSent: Map<number, number> | null;
}

/** Reads every exposed series into a tick's batch; keeps the per-series encodings between ticks. */
export class StoreSampler {
  readonly #gatherer: Gatherer;
  readonly #byView = new WeakMap<SeriesView, SeriesCache>();
  #byText = new Map<string, SeriesCache>();

  constructor(gatherer: Gatherer) {
    this.#gatherer = gatherer;
  }

  /** Writes every series into `batch`; `onSlice` runs between slices (to cut payloads). */
  async collect(batch: SampleSink, onSlice: () => void): Promise<CollectResult> {
    const result: CollectResult = { invalid: 0 };
    const previousText = this.#byText;
    const nextText = new Map<string, SeriesCache>();
    let sinceYield = 0;
    const families = await this.#gatherer.gather();
    for (const family of families) {
      for (const s of family.series) {
        if (++sinceYield >= SERIES_PER_SLICE) {
          sinceYield = 0;
          onSlice();
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        if (!s.hasValue) continue;
        let cache = this.#byView.get(s);
        if (cache === undefined) {
          const key = `${family.name}\u0000${s.labelText}`;
          cache = nextText.get(key) ?? previousText.get(key) ?? { flat: null, single: undefined, bySample: null, native: undefined, exemplarSent: null };
          nextText.set(key, cache);
          this.#byView.set(s, cache);
        }
        this.#series(family, s, cache, batch, result);
      }
    }
    this.#byText = nextText;
    onSlice();
    return result;
  }

  #series(family: FamilyView, s: SeriesView, cache: SeriesCache, batch: SampleSink, result: CollectResult): void {
    if (s.data === SeriesKind.Number && family.type !== 'counter' && s.native === null && cache.single !== undefined) {
      // The bulk (gauges and info series seen before): no visitor, no closure.
      if (cache.single === null) result.invalid++;
      else batch.float(cache.single, s.value, null);
      return;
    }
    if (s.data === SeriesKind.Number && family.type === 'counter' && cache.single != null && cache.exemplarSent === null && s.exemplar(0) === null) {
      batch.float(cache.single, s.value, null);
      return;
    }
    const flat = (cache.flat ??= parseLabelText(s.labelText));
    forEachSample(family, s, (suffix, extraLabel, extraValue, value, exemplarIndex) => {
      let encoded: EncodedSeries | null | undefined;
      if (extraLabel === null && suffix === (family.type === 'counter' ? '_total' : '')) {
        encoded = cache.single ??= encodeSeries(family.name + suffix, flat);
      } else {
        const key = extraLabel === null ? suffix : `${suffix}\u0000${extraValue}`;
        const map = (cache.bySample ??= new Map());
        encoded = map.get(key);
        if (encoded === undefined) {
          encoded = encodeSeries(family.name + suffix, extraLabel === null ? flat : [...flat, extraLabel, formatValue(extraValue)]);
          map.set(key, encoded);
        }
      }
      if (encoded === null) {
        result.invalid++;
        return;
      }
      batch.float(encoded, value, exemplarIndex >= 0 ? this.#newExemplar(s, cache, exemplarIndex) : null);
    });
    const native = s.native;
    if (native !== null) this.#nativeHistogram(family, flat, native, cache, batch, result);
    // A number series needs only its encoding from now on: 100k of them should not keep their parsed labels.
    if (s.data === SeriesKind.Number && native === null) cache.flat = null;
  }

  /** The exemplar of `index` if one arrived since the last one sent, else null. */
  #newExemplar(s: SeriesView, cache: SeriesCache, index: number): ExemplarPoint | null {
    const e = s.exemplar(index);
    if (e === null) return null;
    const sent = (cache.exemplarSent ??= new Map());
    if (sent.get(index) === e.timeMs) return null;
    sent.set(index, e.timeMs);
    const labels: LabelPair[] = [];
    for (let i = 0; i + 1 < e.labels.length; i += 2) labels.push([e.labels[i]!, e.labels[i + 1]!]);
    return { labels, value: e.value, timestampMs: Math.round(e.timeMs) };
  }

  #nativeHistogram(family: FamilyView, flat: string[], h: NativeHistogramView, cache: SeriesCache, batch: SampleSink, result: CollectResult): void {
    const encoded = (cache.native ??= encodeSeries(family.name, flat));
    // The read model's conversion (schema clamp, index shift, spans, deltas), shared with the protobuf scrape.
    const p = encoded === null ? null : toPrometheusNative(h);
    if (encoded === null || p === null) {
      // Coarser than Prometheus can hold (or unlabelable): the classic buckets still carry it.
      result.invalid++;
      return;
    }
    batch.histogram(encoded, p);
  }

}
