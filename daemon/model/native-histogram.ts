// A read-model native histogram (OTLP bucket convention) as Prometheus' native histogram: schema,
// zero bucket, and per side the spans and count deltas that both the protobuf exposition
// (io.prometheus.client.Histogram) and Remote-Write 1.0 (prometheus.Histogram) carry.
//
// - Schema = OTLP scale; above 8 the buckets are merged down to 8; under -4 there is no Prometheus
//   schema that does not invent resolution, so the histogram has no native form (null).
// - OTLP bucket i covers (base^i, base^(i+1)]; Prometheus bucket j covers (base^(j-1), base^j]:
//   j = i + 1.
// - The zero threshold is at least 2^-128 (client_golang's default): Prometheus 2.42 tells a native
//   histogram from a classic one by a non-zero threshold, zero count or buckets.
// - Counts are float64 holding integers in the store; they are rounded for the integer encoding.

import type { BucketRun, NativeHistogramView } from './read-model.js';

/** Prometheus' native-histogram schemas. */
export const MAX_SCHEMA = 8;
export const MIN_SCHEMA = -4;
/** client_golang's default zero threshold, 2^-128. */
export const MIN_ZERO_THRESHOLD = 2.938735877055719e-39;
/** Zero runs at least this long end a span; shorter ones are sent as zero deltas (fewer bytes). */
const SPAN_GAP = 3;

/** A run of consecutive Prometheus buckets: `offset` from the previous span's end (the first: the index). */
export interface PrometheusBucketSpan {
  offset: number;
  length: number;
}

/** Prometheus' integer native histogram. */
export interface PrometheusNativeHistogram {
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  count: number;
  /** NaN when the source has none. */
  sum: number;
  positiveSpans: PrometheusBucketSpan[];
  /** Count of each bucket in the spans minus the previous one's (the first: minus 0). */
  positiveDeltas: number[];
  negativeSpans: PrometheusBucketSpan[];
  negativeDeltas: number[];
}

/** `h` in Prometheus' form, or null when its scale is under -4. */
export function toPrometheusNative(h: NativeHistogramView): PrometheusNativeHistogram | null {
  let scale = h.scale;
  if (scale < MIN_SCHEMA) return null;
  let positive = h.positive;
  let negative = h.negative;
  if (scale > MAX_SCHEMA) {
    positive = positive === null ? null : downscaleRun(positive, scale - MAX_SCHEMA);
    negative = negative === null ? null : downscaleRun(negative, scale - MAX_SCHEMA);
    scale = MAX_SCHEMA;
  }
  const out: PrometheusNativeHistogram = {
    schema: scale,
    zeroThreshold: Math.max(h.zeroThreshold, MIN_ZERO_THRESHOLD),
    zeroCount: Math.max(0, Math.round(h.zeroCount)),
    count: Math.max(0, Math.round(h.count)),
    sum: h.sum,
    positiveSpans: [],
    positiveDeltas: [],
    negativeSpans: [],
    negativeDeltas: [],
  };
  if (positive !== null) spansAndDeltas(positive, out.positiveSpans, out.positiveDeltas);
  if (negative !== null) spansAndDeltas(negative, out.negativeSpans, out.negativeDeltas);
  return out;
}

/** Appends the run's populated buckets to `spans` and `deltas` (Prometheus index = run index + 1). */
function spansAndDeltas(run: BucketRun, spans: PrometheusBucketSpan[], deltas: number[]): void {
  const counts = run.counts;
  let first = 0;
  while (first < counts.length && !(Math.round(counts[first]!) > 0)) first++;
  if (first === counts.length) return;
  let last = counts.length - 1;
  while (!(Math.round(counts[last]!) > 0)) last--;
  let previousEnd = -1;
  let previous = 0;
  let i = first;
  while (i <= last) {
    const end = spanEnd(counts, i, last);
    spans.push({ offset: previousEnd < 0 ? run.offset + i + 1 : i - previousEnd, length: end - i });
    for (let k = i; k < end; k++) {
      const c = Math.round(counts[k]!);
      deltas.push(c - previous);
      previous = c;
    }
    previousEnd = end;
    i = end;
    while (i <= last && !(Math.round(counts[i]!) > 0)) i++;
  }
}

/** End (exclusive) of the span starting at populated bucket `i`: at a zero run of SPAN_GAP or more, or past `last`. */
function spanEnd(counts: Float64Array, i: number, last: number): number {
  let end = i + 1;
  while (end <= last) {
    if (Math.round(counts[end]!) > 0) {
      end++;
      continue;
    }
    let zeros = 0;
    while (end + zeros <= last && !(Math.round(counts[end + zeros]!) > 0)) zeros++;
    if (zeros >= SPAN_GAP) break;
    end += zeros;
  }
  return end;
}

/** `run` at a scale `levels` coarser (index i → i >> levels); a new run, `run` is not modified. */
export function downscaleRun(run: BucketRun, levels: number): BucketRun {
  if (levels === 0 || run.counts.length === 0) return run;
  const first = run.offset >> levels;
  const last = (run.offset + run.counts.length - 1) >> levels;
  const counts = new Float64Array(last - first + 1);
  for (let i = 0; i < run.counts.length; i++) counts[((run.offset + i) >> levels) - first]! += run.counts[i]!;
  return { offset: first, counts };
}
