// What remote_write samples: every series /metrics exposes, read through one small adapter so the
// store's coming single read model (families, series, native histograms, exemplars) can replace it
// without touching the WAL, the shards or the delivery.
//
// Today's adapter reads two ways:
// - counter, gauge and info series of the store directly: their labels are encoded once per series
//   (kept in a WeakMap keyed by the Series object, so evicted series take theirs with them) and a
//   tick costs one value and one timestamp per series: this is the bulk (100k series in the bench);
// - everything else (classic histograms, summaries, `_percentiles`, span RED with their exemplars,
//   SLO gauges and counters, webhook and self-metrics) through the OpenMetrics text the exporters
//   already render, parsed here: these are few series, and reading the rendered text keeps what is
//   sent identical to what a scrape sees, exemplars included.
// Exponential-histogram series are also sent as native histograms (schema = OTel scale clamped to
// -4..8, bucket index + 1: OTel buckets are (base^i, base^(i+1)], Prometheus' (base^(i-1), base^i]).

import type { Family, Series } from '../../daemon/store/series.js';
import { SeriesData, parseLabelText } from '../../daemon/store/series.js';
import { downscaleRun } from '../../daemon/store/exp-histogram.js';
import { renderFamilies } from '../prometheus/render.js';
import { encodeLabels } from './proto.js';
import type { LabelPair } from './proto.js';
import type { BatchWriter, EncodedSeries, ExemplarPoint } from './batch.js';

/** What the sampler reads: the store's families and the rest of the exposition as OpenMetrics text. */
export interface ExpositionSource {
  /** The store's families, sorted by name. */
  families(): readonly Family[];
  /** Every other family /metrics exposes (span RED, SLOs, self-metrics…) as OpenMetrics text without `# EOF`. */
  otherText(): Promise<string>;
}

/** Series a tick could not send (counted by the caller). */
export interface CollectResult {
  invalid: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Prometheus' schema range for exponential native histograms. */
const MIN_SCHEMA = -4;
const MAX_SCHEMA = 8;

/** Series between two event-loop turns while sampling, so a large tick never holds ingest up for long. */
const SERIES_PER_SLICE = 4096;

/**
 * Sorted, unique, valid labels with `__name__` first-class among them, encoded; null when invalid
 * (a bad name or a repeated one). Empty values are dropped: to Prometheus an empty label is no label.
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

/** Reads every exposed series into a tick's batch; keeps the per-series encodings between ticks. */
export class StoreSampler {
  readonly #source: ExpositionSource;
  readonly #direct = new WeakMap<Series, EncodedSeries | null>();
  readonly #native = new WeakMap<Series, EncodedSeries | null>();
  /** Text-path series by their sample line's name+labels; replaced each tick, so gone series drop out. */
  #textSeries = new Map<string, EncodedSeries | null>();
  /** Timestamp of the last exemplar sent per text-path series: an exemplar goes out once. */
  #exemplarSent = new Map<string, number>();

  constructor(source: ExpositionSource) {
    this.#source = source;
  }

  /** Appends every series at `batch.sampledAtMs`; `onSlice` runs between slices (to cut payloads). */
  async collect(batch: BatchWriter, onSlice: () => void): Promise<CollectResult> {
    const result: CollectResult = { invalid: 0 };
    let sinceYield = 0;
    const textFamilies: Family[] = [];
    for (const family of this.#source.families()) {
      if (family.type === 'histogram' || family.type === 'summary') textFamilies.push(family);
      for (const s of family.series) {
        if (++sinceYield >= SERIES_PER_SLICE) {
          sinceYield = 0;
          onSlice();
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        if (!s.hasValue) continue;
        if (s.data === SeriesData.Number) {
          let encoded = this.#direct.get(s);
          if (encoded === undefined) {
            const name = family.type === 'counter' ? `${family.name}_total` : family.name;
            encoded = encodeSeries(name, parseLabelText(s.labelText));
            this.#direct.set(s, encoded);
          }
          if (encoded === null) result.invalid++;
          else batch.float(encoded, s.value, null);
        } else if (s.data === SeriesData.ExpHistogram) {
          this.#nativeHistogram(family, s, batch, result);
        }
      }
    }
    onSlice();
    // Histogram and summary families (and their _percentiles) as a scrape renders them.
    let text = textFamilies.length > 0 ? renderFamilies(textFamilies, 'openmetrics') : '';
    text += await this.#source.otherText();
    this.#parseText(text, batch, result, onSlice);
    return result;
  }

  #nativeHistogram(family: Family, s: Series, batch: BatchWriter, result: CollectResult): void {
    let encoded = this.#native.get(s);
    if (encoded === undefined) {
      encoded = encodeSeries(family.name, parseLabelText(s.labelText));
      this.#native.set(s, encoded);
    }
    if (encoded === null) {
      result.invalid++;
      return;
    }
    let scale = s.scale;
    let positive = s.positive;
    let negative = s.negative;
    if (scale > MAX_SCHEMA) {
      if (positive !== null) positive = downscaleRun(positive, scale - MAX_SCHEMA);
      if (negative !== null) negative = downscaleRun(negative, scale - MAX_SCHEMA);
      scale = MAX_SCHEMA;
    }
    if (scale < MIN_SCHEMA) {
      // Coarser than Prometheus can hold: the classic buckets (text path) still carry it.
      result.invalid++;
      return;
    }
    batch.histogram(encoded, {
      count: s.count,
      sum: Number.isNaN(s.sum) ? 0 : s.sum,
      schema: scale,
      zeroThreshold: 0,
      zeroCount: s.zeroCount,
      positive: positive === null ? null : { offset: positive.offset + 1, counts: positive.counts },
      negative: negative === null ? null : { offset: negative.offset + 1, counts: negative.counts },
    });
  }

  /** Sample lines of OpenMetrics text (comments skipped), with their exemplars. */
  #parseText(text: string, batch: BatchWriter, result: CollectResult, onSlice: () => void): void {
    const previous = this.#textSeries;
    const next = new Map<string, EncodedSeries | null>();
    const exemplarsBefore = this.#exemplarSent;
    const exemplarsNow = new Map<string, number>();
    let lines = 0;
    let at = 0;
    while (at < text.length) {
      let end = text.indexOf('\n', at);
      if (end < 0) end = text.length;
      const line = text.slice(at, end);
      at = end + 1;
      if (line === '' || line.charCodeAt(0) === 35 /* # */) continue;
      if (++lines % SERIES_PER_SLICE === 0) onSlice();
      const sample = splitSampleLine(line);
      if (sample === null) {
        result.invalid++;
        continue;
      }
      // OpenMetrics `_created` lines are not series to Prometheus either.
      if (sample.key.includes('_created{') || sample.key.endsWith('_created')) continue;
      let encoded = next.get(sample.key);
      if (encoded === undefined) {
        encoded = previous.get(sample.key);
        if (encoded === undefined) {
          try {
            encoded = encodeSeries(sample.name, sample.labelText === '' ? [] : parseLabelText(sample.labelText));
          } catch {
            encoded = null;
          }
        }
        next.set(sample.key, encoded);
      }
      if (encoded === null) {
        result.invalid++;
        continue;
      }
      let exemplar: ExemplarPoint | null = null;
      if (sample.exemplar !== null) {
        const parsed = parseExemplar(sample.exemplar);
        if (parsed !== null) {
          exemplarsNow.set(sample.key, parsed.timestampMs);
          if (exemplarsBefore.get(sample.key) !== parsed.timestampMs) exemplar = parsed;
        }
      }
      batch.float(encoded, sample.value, exemplar);
    }
    this.#textSeries = next;
    this.#exemplarSent = exemplarsNow;
  }
}

interface SampleLine {
  /** name plus label text, the series' identity in the text. */
  key: string;
  name: string;
  labelText: string;
  value: number;
  exemplar: string | null;
}

/** `name{labels} value [timestamp] [# {labels} value timestamp]`, or null. */
function splitSampleLine(line: string): SampleLine | null {
  let nameEnd = 0;
  while (nameEnd < line.length && line[nameEnd] !== '{' && line[nameEnd] !== ' ') nameEnd++;
  if (nameEnd === 0 || nameEnd === line.length) return null;
  const name = line.slice(0, nameEnd);
  let labelsEnd = nameEnd;
  if (line[nameEnd] === '{') {
    // The closing brace is the first `}` outside a quoted value.
    let quoted = false;
    let i = nameEnd + 1;
    for (; i < line.length; i++) {
      const c = line[i];
      if (quoted) {
        if (c === '\\') i++;
        else if (c === '"') quoted = false;
      } else if (c === '"') quoted = true;
      else if (c === '}') break;
    }
    if (i >= line.length) return null;
    labelsEnd = i + 1;
  }
  const labelText = line.slice(nameEnd, labelsEnd);
  const rest = line.slice(labelsEnd + 1);
  const hashAt = rest.indexOf(' # ');
  const valuePart = hashAt < 0 ? rest : rest.slice(0, hashAt);
  const space = valuePart.indexOf(' ');
  const value = parseValue(space < 0 ? valuePart : valuePart.slice(0, space));
  if (value === undefined) return null;
  return { key: line.slice(0, labelsEnd), name, labelText, value, exemplar: hashAt < 0 ? null : rest.slice(hashAt + 3) };
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return Number.NaN;
  if (text === '') return undefined;
  const v = Number(text);
  return Number.isNaN(v) ? undefined : v;
}

/** `{trace_id="…",span_id="…"} value timestamp` (timestamp in seconds) → an exemplar, or null. */
function parseExemplar(text: string): ExemplarPoint | null {
  const close = text.indexOf('} ');
  if (text[0] !== '{' || close < 0) return null;
  let flat: string[];
  try {
    flat = parseLabelText(text.slice(0, close + 1));
  } catch {
    return null;
  }
  const [valueText, timeText] = text.slice(close + 2).split(' ');
  const value = parseValue(valueText ?? '');
  const seconds = timeText === undefined ? Number.NaN : Number(timeText);
  if (value === undefined || !Number.isFinite(seconds)) return null;
  const labels: LabelPair[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) labels.push([flat[i]!, flat[i + 1]!]);
  return { labels, value, timestampMs: Math.round(seconds * 1000) };
}
