// Writes read-model families as the Prometheus protobuf exposition: length-delimited
// io.prometheus.client.MetricFamily messages (prometheus/client_model metrics.proto, the copy in
// prometheus/prometheus prompb/io/prometheus/client), which Prometheus asks for when started with
// `--enable-feature=native-histograms`. Hand-written because it runs once per series per scrape
// (STYLE.md 12); protobuf.test.ts decodes its output with protobufjs as the oracle.
//
// Histograms carry their classic buckets (with exemplars) and, when the series has one, a native
// histogram: OTLP exponential histograms, and span durations (the span store's own), converted by
// the read model's toPrometheusNative (daemon/model/native-histogram.ts: schema clamping, index
// shift, spans and deltas, the 2^-128 zero threshold), which remote_write shares.

import { SeriesKind, expClassicBuckets } from '../../daemon/model/read-model.js';
import type { ExemplarView, FamilyView, SeriesView } from '../../daemon/model/read-model.js';
import { toPrometheusNative } from '../../daemon/model/native-histogram.js';
import type { PrometheusBucketSpan, PrometheusNativeHistogram } from '../../daemon/model/native-histogram.js';
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

  /** A count: NaN, negative and infinite values (never produced by the store, but not trusted) write 0, values past 2^64 its largest double. */
  uint64(field: number, n: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(n >= 0 && n !== Infinity ? Math.min(n, MAX_UINT64_DOUBLE) : 0);
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

  string(field: number, s: string): void {
    this.tag(field, WIRE_LENGTH);
    const bytes = Buffer.byteLength(s);
    this.varint(bytes);
    this.#room(bytes);
    this.#pos += this.#buf.write(s, this.#pos, 'utf8');
  }

  /**
   * LabelPair messages (as field `field`) from label text `{a="b",c="d"}`, values escaped as in the
   * text format: one pass over the string's char codes, writing UTF-8 bytes and unescaping as it
   * goes, lengths patched in place (one byte reserved; moved in the rare case of 128 bytes or more).
   * No string is sliced or built and no native call is made per label.
   */
  labelPairs(field: number, text: string): void {
    const n = text.length;
    if (n < 2) return;
    // Worst case: every char 3 UTF-8 bytes, plus the framing the syntax chars make room for.
    this.#room(3 * n + 16);
    const buf = this.#buf;
    const tag = (field << 3) | WIRE_LENGTH;
    let w = this.#pos;
    let r = 1;
    const end = n - 1; // the closing `}`
    while (r < end) {
      buf[w] = tag;
      const pairAt = w + 1;
      // Label names are ASCII ([a-zA-Z0-9_]) and shorter than 128 in practice; checked below.
      const eq = text.indexOf('=', r);
      const nameLength = eq - r;
      buf[pairAt + 1] = 0x0a; // LabelPair.name = 1
      w = putVarint(buf, pairAt + 2, nameLength);
      for (let i = r; i < eq; i++) buf[w++] = text.charCodeAt(i);
      buf[w] = 0x12; // LabelPair.value = 2
      const valueAt = w + 1;
      w = valueAt + 1;
      let i = eq + 2;
      for (;;) {
        let c = text.charCodeAt(i++);
        if (c === 34 /* " */) break;
        if (c === 92 /* \ */) {
          c = text.charCodeAt(i++);
          if (c === 110 /* n */) c = 10;
        }
        if (c < 0x80) {
          buf[w++] = c;
        } else if (c < 0x800) {
          buf[w++] = 0xc0 | (c >> 6);
          buf[w++] = 0x80 | (c & 0x3f);
        } else if (c >= 0xd800 && c <= 0xdbff) {
          const code = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(i++) - 0xdc00);
          buf[w++] = 0xf0 | (code >> 18);
          buf[w++] = 0x80 | ((code >> 12) & 0x3f);
          buf[w++] = 0x80 | ((code >> 6) & 0x3f);
          buf[w++] = 0x80 | (code & 0x3f);
        } else {
          buf[w++] = 0xe0 | (c >> 12);
          buf[w++] = 0x80 | ((c >> 6) & 0x3f);
          buf[w++] = 0x80 | (c & 0x3f);
        }
      }
      w = this.#patchLength(valueAt, w);
      w = this.#patchLength(pairAt, w);
      r = i + 1; // past `,` (or onto the closing `}`)
    }
    this.#pos = w;
  }

  /** Writes the length of the bytes [at + 1, end) at `at` (one byte was reserved), moving them if it needs more (within labelPairs' room); returns the new end. */
  #patchLength(at: number, end: number): number {
    const length = end - at - 1;
    if (length < 0x80) {
      this.#buf[at] = length;
      return end;
    }
    // labelPairs reserved 3 bytes per char: the syntax chars (`="`, `"`, `,`) leave room for this.
    const extra = varintSize(length) - 1;
    const buf = this.#buf;
    buf.copyWithin(at + 1 + extra, at + 1, end);
    putVarint(buf, at, length);
    return end + extra;
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
      const buf = this.#buf;
      if (length > 256) buf.copyWithin(start + size, contentStart, this.#pos);
      else if (size < reserve) for (let i = 0; i < length; i++) buf[start + size + i] = buf[contentStart + i]!;
      else for (let i = length - 1; i >= 0; i--) buf[start + size + i] = buf[contentStart + i]!;
      this.#pos += size - reserve;
    }
    putVarint(this.#buf, start, length);
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

/** The largest double below 2^64 (a varint of 10 bytes at most). */
const MAX_UINT64_DOUBLE = 18446744073709549568;
const DOUBLE = new Float64Array(1);
const DOUBLE_BYTES = new Uint8Array(DOUBLE.buffer);

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

/** Writes varint `n` at `pos` of `buf` (room already made); returns the position after it. */
function putVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[pos++] = n;
  return pos;
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
  // One length byte when the message will likely stay under 128 bytes (labels plus a number), two otherwise.
  const metric = out.begin(MetricFamilyField.metric, s.data === SeriesKind.Number && s.labelText.length < 100 ? 1 : 2);
  out.labelPairs(MetricField.label, s.labelText);
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
  const native = s.native === null ? null : toPrometheusNative(s.native);
  if (native !== null) writeNative(native, out);
  out.end(h);
}

function writeBucket(upperBound: number, cumulative: number, exemplar: ExemplarView | null, out: ProtoWriter): void {
  const b = out.begin(HistogramField.bucket);
  out.uint64(1, Math.max(0, Math.round(cumulative)));
  out.double(2, upperBound);
  writeExemplar(exemplar, 3, out);
  out.end(b);
}

/** The native-histogram fields of a Histogram message (the conversion is the read model's, shared with remote_write). */
function writeNative(p: PrometheusNativeHistogram, out: ProtoWriter): void {
  out.sint(HistogramField.schema, p.schema);
  out.double(HistogramField.zeroThreshold, p.zeroThreshold);
  out.uint64(HistogramField.zeroCount, p.zeroCount);
  writeSide(p.negativeSpans, p.negativeDeltas, HistogramField.negativeSpan, HistogramField.negativeDelta, out);
  if (p.positiveSpans.length === 0 && p.negativeSpans.length === 0) {
    // No buckets yet: the no-op span metrics.proto asks for, so the histogram still reads as native.
    writeSide([{ offset: 0, length: 0 }], [], HistogramField.positiveSpan, HistogramField.positiveDelta, out);
  } else {
    writeSide(p.positiveSpans, p.positiveDeltas, HistogramField.positiveSpan, HistogramField.positiveDelta, out);
  }
}

function writeSide(spans: readonly PrometheusBucketSpan[], deltas: readonly number[], spanField: number, deltaField: number, out: ProtoWriter): void {
  for (const s of spans) {
    const span = out.begin(spanField);
    out.sint(1, s.offset);
    out.uint64(2, s.length);
    out.end(span);
  }
  if (deltas.length === 0) return;
  const packed = out.begin(deltaField, 2);
  for (const d of deltas) out.varint(zigzag(d));
  out.end(packed);
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

