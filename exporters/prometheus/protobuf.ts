// Writes read-model families as the Prometheus protobuf exposition: length-delimited
// io.prometheus.client.MetricFamily messages (prometheus/client_model metrics.proto, the copy in
// prometheus/prometheus prompb/io/prometheus/client), which Prometheus asks for when started with
// `--enable-feature=native-histograms`. Hand-written because it runs once per series per scrape
// (STYLE.md 12); protobuf.test.ts decodes its output with protobufjs as the oracle.
//
// Histograms carry their classic buckets (with exemplars) and, when the series has one, a native
// histogram: OTLP exponential histograms, and span durations (the span store's own). Schema =
// OTLP scale, downscaled to 8 when finer; a scale under -4 cannot be expressed without inventing
// resolution, so such a series goes out classic only. The zero threshold is at least 2^-128 so
// that Prometheus 2.42, which tells a native histogram from a classic one by a non-zero threshold,
// zero count or buckets, reads even an empty one as native.

import { SeriesKind, expClassicBuckets } from '../../daemon/model/read-model.js';
import type { BucketRun, ExemplarView, FamilyView, NativeHistogramView, SeriesView } from '../../daemon/model/read-model.js';
import type { ExpositionBuffers, RenderedExposition } from './exposition-writer.js';

/** Field numbers of metrics.proto, by message. */
const MetricFamilyField = { name: 1, help: 2, type: 3, metric: 4 } as const;
const MetricField = { label: 1, gauge: 2, counter: 3, summary: 4, histogram: 7 } as const;
const HistogramField = {
  sampleCount: 1,
  sampleSum: 2,
  bucket: 3,
  schema: 5,
  zeroThreshold: 6,
  zeroCount: 7,
  negativeSpan: 9,
  negativeDelta: 10,
  positiveSpan: 12,
  positiveDelta: 13,
} as const;
const MetricType = { counter: 0, gauge: 1, summary: 2, untyped: 3, histogram: 4 } as const;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;

/** client_golang's default zero threshold, 2^-128. */
export const MIN_ZERO_THRESHOLD = 2.938735877055719e-39;
/** Prometheus native-histogram schemas. */
export const MAX_SCHEMA = 8;
export const MIN_SCHEMA = -4;

/** A growable protobuf byte buffer with nested messages whose lengths are patched when they end. */
export class ProtoWriter {
  #buf: Buffer;
  #pos = 0;
  readonly #pool: ExpositionBuffers | null;

  constructor(sizeHint = 0, pool: ExpositionBuffers | null = null) {
    const capacity = Math.max(64 * 1024, Math.ceil(sizeHint * 1.125));
    this.#pool = pool;
    this.#buf = pool === null ? Buffer.allocUnsafeSlow(capacity) : pool.acquire(capacity);
  }

  get length(): number {
    return this.#pos;
  }

  #room(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.#pos + bytes, this.#buf.length * 2));
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }

  /** An unsigned varint (exact up to 2^53). */
  varint(n: number): void {
    this.#room(10);
    const buf = this.#buf;
    let pos = this.#pos;
    if (n < 0x80) {
      buf[pos] = n;
      this.#pos = pos + 1;
      return;
    }
    while (n >= 0x80) {
      buf[pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    buf[pos++] = n;
    this.#pos = pos;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  uint64(field: number, n: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(n);
  }

  /** sint32/sint64 (zigzag; exact for |n| < 2^52). */
  sint(field: number, n: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(zigzag(n));
  }

  double(field: number, v: number): void {
    this.tag(field, WIRE_FIXED64);
    this.#room(8);
    // Byte copies from a scratch view: cheaper than a native call per double.
    DOUBLE[0] = v;
    const buf = this.#buf;
    const pos = this.#pos;
    for (let i = 0; i < 8; i++) buf[pos + i] = DOUBLE_BYTES[i]!;
    this.#pos = pos + 8;
  }

  /**
   * The UTF-8 bytes of text[from, to), unescaping `\\`, `\"` and `\n` when `unescape` (label
   * text); returns where it stopped: `to`, or the index of the first unescaped `"` when unescaping.
   * A JS loop: label strings are short, and a native call per string cost more than the copy.
   */
  chars(text: string, from: number, to: number, unescape: boolean): number {
    this.#room((to - from) * 3);
    const buf = this.#buf;
    let pos = this.#pos;
    let i = from;
    for (; i < to; i++) {
      let c = text.charCodeAt(i);
      if (unescape) {
        if (c === 34 /* " */) break;
        if (c === 92 /* \ */) {
          c = text.charCodeAt(++i);
          if (c === 110 /* n */) c = 10;
        }
      }
      if (c < 0x80) {
        buf[pos++] = c;
      } else if (c < 0x800) {
        buf[pos++] = 0xc0 | (c >> 6);
        buf[pos++] = 0x80 | (c & 0x3f);
      } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to) {
        const low = text.charCodeAt(++i);
        const code = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        buf[pos++] = 0xf0 | (code >> 18);
        buf[pos++] = 0x80 | ((code >> 12) & 0x3f);
        buf[pos++] = 0x80 | ((code >> 6) & 0x3f);
        buf[pos++] = 0x80 | (code & 0x3f);
      } else {
        buf[pos++] = 0xe0 | (c >> 12);
        buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
        buf[pos++] = 0x80 | (c & 0x3f);
      }
    }
    this.#pos = pos;
    return i;
  }

  string(field: number, s: string): void {
    this.tag(field, WIRE_LENGTH);
    const bytes = Buffer.byteLength(s);
    this.varint(bytes);
    this.#room(bytes);
    this.#pos += this.#buf.write(s, this.#pos, 'utf8');
  }

  /** Opens a length-delimited field (`field` 0: a bare delimited message, no tag); pass the result to end(). */
  begin(field: number, reserve = 1): number {
    if (field !== 0) this.tag(field, WIRE_LENGTH);
    this.#room(reserve);
    const start = this.#pos;
    this.#pos += reserve;
    return start * 8 + reserve;
  }

  /** Closes what begin() opened: writes its length, moving the content if the length needs more or fewer bytes. */
  end(mark: number): void {
    const reserve = mark % 8;
    const start = (mark - reserve) / 8;
    const contentStart = start + reserve;
    const length = this.#pos - contentStart;
    const size = varintSize(length);
    if (size !== reserve) {
      this.#room(size - reserve);
      this.#buf.copyWithin(start + size, contentStart, this.#pos);
      this.#pos += size - reserve;
    }
    const end = this.#pos;
    this.#pos = start;
    this.varint(length);
    this.#pos = end;
  }

  /** The bytes written; with a pool, release() hands the buffer to the next scrape. */
  finish(): RenderedExposition {
    const buffer = this.#buf;
    const used = this.#pos;
    const pool = this.#pool;
    let released = false;
    return {
      bytes: buffer.subarray(0, used),
      release: () => {
        if (released || pool === null) return;
        released = true;
        pool.release(buffer, used);
      },
    };
  }
}

const DOUBLE = new Float64Array(1);
const DOUBLE_BYTES = new Uint8Array(DOUBLE.buffer);

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** Series written between two chances to yield. */
const SERIES_PER_YIELD = 128;

/** Writes `families` as delimited MetricFamily messages, yielding every few series (see runSliced). */
export function* protobufSteps(families: readonly FamilyView[], out: ProtoWriter): Generator<void, void, void> {
  let sinceYield = 0;
  for (const family of families) {
    // Families without a series to show are left out: the format has nothing to say for them.
    let mark = -1;
    for (const s of family.series) {
      if (++sinceYield >= SERIES_PER_YIELD) {
        sinceYield = 0;
        yield;
      }
      if (!s.hasValue || s.data === SeriesKind.Unknown) continue;
      if (mark < 0) mark = beginFamily(family, out);
      writeMetric(family, s, out);
    }
    if (mark >= 0) out.end(mark);
  }
}

/** Writes `families` to a new buffer (tests, remote callers without slicing). */
export function encodeFamilies(families: readonly FamilyView[]): Buffer {
  const out = new ProtoWriter();
  const steps = protobufSteps(families, out);
  while (steps.next().done !== true);
  return Buffer.from(out.finish().bytes);
}

function beginFamily(family: FamilyView, out: ProtoWriter): number {
  // Three length bytes cover families up to 2 MiB; a larger one moves once when it ends.
  const mark = out.begin(0, 3);
  const counter = family.type === 'counter';
  out.string(MetricFamilyField.name, counter ? `${family.name}_total` : family.name);
  if (family.help !== '') out.string(MetricFamilyField.help, family.help);
  out.uint64(MetricFamilyField.type, familyType(family));
  return mark;
}

function familyType(family: FamilyView): number {
  switch (family.type) {
    case 'counter':
      return MetricType.counter;
    case 'gauge':
    case 'info':
      return MetricType.gauge;
    case 'summary':
      return MetricType.summary;
    case 'histogram':
      return MetricType.histogram;
    default:
      return MetricType.untyped;
  }
}

function writeMetric(family: FamilyView, s: SeriesView, out: ProtoWriter): void {
  const metric = out.begin(MetricFamilyField.metric, 2);
  writeLabelPairs(s.labelText, MetricField.label, out);
  switch (s.data) {
    case SeriesKind.Number: {
      if (family.type === 'counter') {
        const counter = out.begin(MetricField.counter);
        out.double(1, s.value);
        writeExemplar(s.exemplar(0), 2, out);
        out.end(counter);
      } else {
        const gauge = out.begin(MetricField.gauge);
        out.double(1, s.value);
        out.end(gauge);
      }
      break;
    }
    case SeriesKind.Summary: {
      const summary = out.begin(MetricField.summary, 2);
      out.uint64(1, Math.max(0, Math.round(s.count)));
      if (!Number.isNaN(s.sum)) out.double(2, s.sum);
      const quantiles = s.bounds!;
      const values = s.counts!;
      for (let i = 0; i < quantiles.length; i++) {
        const q = out.begin(3);
        out.double(1, quantiles[i]!);
        out.double(2, values[i]!);
        out.end(q);
      }
      out.end(summary);
      break;
    }
    case SeriesKind.Histogram:
    case SeriesKind.ExpHistogram:
      writeHistogram(s, out);
      break;
  }
  out.end(metric);
}

function writeHistogram(s: SeriesView, out: ProtoWriter): void {
  const h = out.begin(MetricField.histogram, 2);
  out.uint64(HistogramField.sampleCount, Math.max(0, Math.round(s.count)));
  if (!Number.isNaN(s.sum)) out.double(HistogramField.sampleSum, s.sum);
  if (s.data === SeriesKind.Histogram) {
    const bounds = s.bounds!;
    const counts = s.counts!;
    let cumulative = 0;
    for (let i = 0; i <= bounds.length; i++) {
      cumulative += counts[i]!;
      writeBucket(i < bounds.length ? bounds[i]! : Infinity, i < bounds.length ? cumulative : s.count, s.exemplar(i), out);
    }
  } else {
    const { bounds, cumulative } = expClassicBuckets(s);
    for (let i = 0; i < bounds.length; i++) writeBucket(bounds[i]!, cumulative[i]!, null, out);
    writeBucket(Infinity, s.count, null, out);
  }
  const native = s.native;
  if (native !== null && native.scale >= MIN_SCHEMA) writeNative(native, out);
  out.end(h);
}

function writeBucket(upperBound: number, cumulative: number, exemplar: ExemplarView | null, out: ProtoWriter): void {
  const b = out.begin(HistogramField.bucket);
  out.uint64(1, Math.max(0, Math.round(cumulative)));
  out.double(2, upperBound);
  writeExemplar(exemplar, 3, out);
  out.end(b);
}

/** The native-histogram fields of a Histogram message. */
function writeNative(h: NativeHistogramView, out: ProtoWriter): void {
  let scale = h.scale;
  let positive = h.positive;
  let negative = h.negative;
  if (scale > MAX_SCHEMA) {
    positive = positive === null ? null : downscale(positive, scale - MAX_SCHEMA);
    negative = negative === null ? null : downscale(negative, scale - MAX_SCHEMA);
    scale = MAX_SCHEMA;
  }
  out.sint(HistogramField.schema, scale);
  out.double(HistogramField.zeroThreshold, Math.max(h.zeroThreshold, MIN_ZERO_THRESHOLD));
  out.uint64(HistogramField.zeroCount, Math.max(0, Math.round(h.zeroCount)));
  const wroteNegative = negative !== null && writeBuckets(negative, HistogramField.negativeSpan, HistogramField.negativeDelta, out);
  const wrotePositive = positive !== null && writeBuckets(positive, HistogramField.positiveSpan, HistogramField.positiveDelta, out);
  if (!wroteNegative && !wrotePositive) {
    // No buckets yet: the no-op span metrics.proto asks for, so the histogram still reads as native.
    const span = out.begin(HistogramField.positiveSpan);
    out.sint(1, 0);
    out.uint64(2, 0);
    out.end(span);
  }
}

/** Zero runs at least this long end a span; shorter ones are sent as zero deltas (cheaper). */
const SPAN_GAP = 3;

/**
 * One side's buckets as spans and deltas; false when it has no populated bucket. The run's index i
 * (OTLP: (base^i, base^(i+1)]) is Prometheus' index i + 1 (base^(j-1), base^j].
 */
function writeBuckets(run: BucketRun, spanField: number, deltaField: number, out: ProtoWriter): boolean {
  const counts = run.counts;
  let first = 0;
  while (first < counts.length && !(counts[first]! > 0)) first++;
  if (first === counts.length) return false;
  let last = counts.length - 1;
  while (!(counts[last]! > 0)) last--;
  // Spans: [start, end) index ranges within counts.
  let spanStart = first;
  let previousEnd = -1;
  let i = first;
  while (i <= last) {
    const end = spanEnd(counts, i, last);
    const span = out.begin(spanField);
    out.sint(1, previousEnd < 0 ? run.offset + spanStart + 1 : spanStart - previousEnd);
    out.uint64(2, end - spanStart);
    out.end(span);
    previousEnd = end;
    i = end;
    while (i <= last && !(counts[i]! > 0)) i++;
    spanStart = i;
  }
  // Deltas over every bucket inside the spans, in order, packed.
  const deltas = out.begin(deltaField, 2);
  let previous = 0;
  i = first;
  while (i <= last) {
    const end = spanEnd(counts, i, last);
    for (let k = i; k < end; k++) {
      const c = Math.round(counts[k]!);
      out.varint(zigzag(c - previous));
      previous = c;
    }
    i = end;
    while (i <= last && !(counts[i]! > 0)) i++;
  }
  out.end(deltas);
  return true;
}

/** End (exclusive) of the span starting at populated bucket `i`: at a zero run of SPAN_GAP or more, or past `last`. */
function spanEnd(counts: Float64Array, i: number, last: number): number {
  let end = i + 1;
  while (end <= last) {
    if (counts[end]! > 0) {
      end++;
      continue;
    }
    let zeros = 0;
    while (end + zeros <= last && !(counts[end + zeros]! > 0)) zeros++;
    if (zeros >= SPAN_GAP) break;
    end += zeros;
  }
  return end;
}

/** A run at a coarser scale (index i → i >> levels). */
function downscale(run: BucketRun, levels: number): BucketRun {
  if (run.counts.length === 0) return run;
  const first = run.offset >> levels;
  const last = (run.offset + run.counts.length - 1) >> levels;
  const counts = new Float64Array(last - first + 1);
  for (let i = 0; i < run.counts.length; i++) counts[((run.offset + i) >> levels) - first]! += run.counts[i]!;
  return { offset: first, counts };
}

function writeExemplar(e: ExemplarView | null, field: number, out: ProtoWriter): void {
  if (e === null) return;
  const ex = out.begin(field);
  for (let i = 0; i + 1 < e.labels.length; i += 2) {
    const pair = out.begin(1);
    out.string(1, e.labels[i]!);
    out.string(2, e.labels[i + 1]!);
    out.end(pair);
  }
  out.double(2, e.value);
  const ts = out.begin(3);
  const seconds = Math.floor(e.timeMs / 1000);
  out.uint64(1, seconds);
  const nanos = Math.round((e.timeMs - seconds * 1000) * 1e6);
  if (nanos > 0) out.uint64(2, nanos);
  out.end(ts);
  out.end(ex);
}

/**
 * LabelPair messages straight from label text (`{a="b",c="d"}`, values escaped as in the text
 * format), so a scrape never builds the label list.
 */
function writeLabelPairs(text: string, field: number, out: ProtoWriter): void {
  let at = 1;
  const end = text.length - 1;
  while (at < end) {
    const eq = text.indexOf('="', at);
    if (eq < 0) throw new Error(`malformed label text: ${text}`);
    const pair = out.begin(field);
    const name = out.begin(1);
    out.chars(text, at, eq, false);
    out.end(name);
    const value = out.begin(2);
    const close = out.chars(text, eq + 2, text.length, true);
    out.end(value);
    out.end(pair);
    at = close + 2;
  }
}
