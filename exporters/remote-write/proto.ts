// A hand-written protobuf writer for the Remote-Write 1.0 messages (prometheus/prompb remote.proto,
// types.proto): only what a writer needs, appending into one growing buffer so a sampling tick of
// 100k series allocates a handful of buffers, not an object per field. proto.test.ts decodes its
// output with protobufjs (the oracle) and compares field by field.
//
//   WriteRequest { repeated TimeSeries timeseries = 1; }
//   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
//                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
//   Label        { string name = 1; string value = 2; }
//   Sample       { double value = 1; int64 timestamp = 2; }
//   Exemplar     { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
//   Histogram    { uint64 count_int = 1; double sum = 3; sint32 schema = 4; double zero_threshold = 5;
//                  uint64 zero_count_int = 6; repeated BucketSpan negative_spans = 8;
//                  repeated sint64 negative_deltas = 9; repeated BucketSpan positive_spans = 11;
//                  repeated sint64 positive_deltas = 12; ResetHint reset_hint = 14; int64 timestamp = 15; }
//   BucketSpan   { sint32 offset = 1; uint32 length = 2; }

import type { PrometheusBucketSpan, PrometheusNativeHistogram } from '../../daemon/model/index.js';

/** Wire types. */
const VARINT = 0;
const FIXED64 = 1;
const BYTES = 2;

/** An append-only byte buffer with protobuf primitives. */
export class ProtoWriter {
  #buf: Buffer;
  #view: DataView;
  #pos = 0;
  /** The source of the last copyFrom and a view of it (a sampling copies from one arena). */
  #src: Uint8Array | null = null;
  #srcView: DataView | null = null;

  constructor(initialBytes = 4096) {
    this.#buf = Buffer.allocUnsafe(Math.max(64, initialBytes));
    this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length);
  }

  get length(): number {
    return this.#pos;
  }

  /** Moves the end after writing into `raw` directly (within the room ensure() made). */
  set length(pos: number) {
    this.#pos = pos;
  }

  /** The whole underlying buffer (valid until the next write that grows it); bytes [0, length) are written. */
  get raw(): Buffer {
    return this.#buf;
  }

  /** The bytes written so far (a view; copy it if the writer is reused). */
  view(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  /** Forgets what was written, keeping the buffer. */
  reset(): void {
    this.#pos = 0;
  }

  ensure(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return;
    this.#buf = grown(this.#buf, this.#pos, bytes);
    this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length);
  }

  /** An unsigned varint of a non-negative safe integer (up to 2^53). */
  varint(value: number): void {
    this.ensure(10);
    const buf = this.#buf;
    let pos = this.#pos;
    // Above 2^31 the bit operators would truncate: divide instead.
    while (value > 0x7f) {
      buf[pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    buf[pos++] = value;
    this.#pos = pos;
  }

  /** A zigzag varint (sint32/sint64) of a safe integer. */
  zigzag(value: number): void {
    this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  /** An int64 varint: negative values take ten bytes (two's complement), as protobuf requires. */
  int64(value: number): void {
    if (value >= 0) {
      this.varint(value);
      return;
    }
    const big = BigInt.asUintN(64, BigInt(value));
    this.ensure(10);
    let v = big;
    while (v > 0x7fn) {
      this.#buf[this.#pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#buf[this.#pos++] = Number(v);
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  double(value: number): void {
    this.ensure(8);
    this.#buf.writeDoubleLE(value, this.#pos);
    this.#pos += 8;
  }

  uint8(value: number): void {
    this.ensure(1);
    this.#buf[this.#pos++] = value;
  }

  /** A little-endian uint32 (the WAL's framing, not protobuf). */
  uint32(value: number): void {
    this.ensure(4);
    this.#buf.writeUInt32LE(value >>> 0, this.#pos);
    this.#pos += 4;
  }

  /** Overwrites a little-endian uint32 written earlier at `at`. */
  patchUint32(at: number, value: number): void {
    this.#buf.writeUInt32LE(value >>> 0, at);
  }

  /** Overwrites a little-endian double written earlier at `at`. */
  patchDouble(at: number, value: number): void {
    this.#buf.writeDoubleLE(value, at);
  }

  /** Lets `fill` write up to `maxBytes` at the end of the buffer; it returns how many it wrote. */
  writeWith(maxBytes: number, fill: (target: Uint8Array) => number): void {
    this.ensure(maxBytes);
    this.#pos += fill(this.#buf.subarray(this.#pos, this.#pos + maxBytes));
  }

  /**
   * `length` bytes of `src` from `at`, four at a time through DataViews: as fast as set() on a
   * subarray for ~130-byte label sets, without the view set() needs per call (124k short-lived
   * objects per 100k-series sampling, for the young-generation collector to sweep).
   */
  copyFrom(src: Uint8Array, at: number, length: number): void {
    this.ensure(length);
    if (src !== this.#src) {
      this.#src = src;
      this.#srcView = new DataView(src.buffer, src.byteOffset, src.byteLength);
    }
    const from = this.#srcView!;
    const to = this.#view;
    const pos = this.#pos;
    let i = 0;
    for (; i + 4 <= length; i += 4) to.setUint32(pos + i, from.getUint32(at + i, true), true);
    const buf = this.#buf;
    for (; i < length; i++) buf[pos + i] = src[at + i]!;
    this.#pos = pos + length;
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.#buf.set(data, this.#pos);
    this.#pos += data.length;
  }

  /** A length-delimited string field. */
  stringField(field: number, text: string): void {
    const length = Buffer.byteLength(text);
    this.tag(field, BYTES);
    this.varint(length);
    this.ensure(length);
    this.#pos += this.#buf.write(text, this.#pos, 'utf8');
  }

  /**
   * A length-delimited field whose body `write` appends. The length is not known up front: the
   * body is written after a reserved varint of `reserve` bytes, then moved if the length needs fewer.
   */
  nested(field: number, write: () => void): void {
    this.tag(field, BYTES);
    const reserve = 5;
    this.ensure(reserve);
    const lengthAt = this.#pos;
    this.#pos += reserve;
    const bodyAt = this.#pos;
    write();
    const length = this.#pos - bodyAt;
    const size = varintSize(length);
    if (size !== reserve) {
      this.#buf.copy(this.#buf, lengthAt + size, bodyAt, this.#pos);
      this.#pos -= reserve - size;
    }
    let at = lengthAt;
    let v = length;
    while (v > 0x7f) {
      this.#buf[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.#buf[at] = v;
  }
}

/** Bytes a varint of `value` takes. */
export function varintSize(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** A label pair as it is sent. */
export type LabelPair = readonly [name: string, value: string];

/** The encoded `labels` fields (1) of a TimeSeries: written once per series and reused every tick. */
export function encodeLabels(labels: readonly LabelPair[]): Buffer {
  const w = new ProtoWriter(64);
  writeLabels(w, labels);
  return Buffer.from(w.view());
}

/** Appends the encoded `labels` fields (1) of a TimeSeries to `w`. */
export function writeLabels(w: ProtoWriter, labels: readonly LabelPair[]): void {
  for (const [name, value] of labels) writeLabel(w, 1, name, value);
}

function writeLabel(w: ProtoWriter, field: number, name: string, value: string): void {
  w.nested(field, () => {
    w.stringField(1, name);
    w.stringField(2, value);
  });
}

/** Appends the samples field (2) of a TimeSeries: one Sample. */
export function writeSample(w: ProtoWriter, value: number, timestampMs: number): void {
  if (timestampMs < 0) {
    w.nested(2, () => {
      w.tag(1, FIXED64);
      w.double(value);
      w.tag(2, VARINT);
      w.int64(timestampMs);
    });
    return;
  }
  // The hot path (one per series per sampling): the length is known, no closure.
  w.tag(2, BYTES);
  w.varint(1 + 8 + 1 + varintSize(timestampMs));
  w.tag(1, FIXED64);
  w.double(value);
  w.tag(2, VARINT);
  w.varint(timestampMs);
}

/** Appends the exemplars field (3) of a TimeSeries. */
export function writeExemplar(w: ProtoWriter, labels: readonly LabelPair[], value: number, timestampMs: number): void {
  w.nested(3, () => {
    for (const [name, v] of labels) writeLabel(w, 1, name, v);
    w.tag(2, FIXED64);
    w.double(value);
    w.tag(3, VARINT);
    w.int64(timestampMs);
  });
}

/** Appends the histograms field (4) of a TimeSeries: an integer native histogram (the form Prometheus 2.42 accepts over remote write), in the read model's Prometheus form (daemon/model toPrometheusNative). */
export function writeHistogram(w: ProtoWriter, h: PrometheusNativeHistogram, timestampMs: number): void {
  w.nested(4, () => {
    w.tag(1, VARINT);
    w.varint(h.count);
    w.tag(3, FIXED64);
    w.double(Number.isNaN(h.sum) ? 0 : h.sum);
    w.tag(4, VARINT);
    w.zigzag(h.schema);
    // proto3 leaves a zero double out; protobufjs (the oracle) does too.
    if (h.zeroThreshold !== 0) {
      w.tag(5, FIXED64);
      w.double(h.zeroThreshold);
    }
    w.tag(6, VARINT);
    w.varint(h.zeroCount);
    writeSpans(w, h.negativeSpans, h.negativeDeltas, 8, 9);
    writeSpans(w, h.positiveSpans, h.positiveDeltas, 11, 12);
    // reset_hint stays UNKNOWN (0, the default, not written): Prometheus detects resets itself.
    w.tag(15, VARINT);
    w.int64(timestampMs);
  });
}

function writeSpans(w: ProtoWriter, spans: readonly PrometheusBucketSpan[], deltas: readonly number[], spansField: number, deltasField: number): void {
  if (spans.length === 0) return;
  for (const span of spans) {
    w.nested(spansField, () => {
      w.tag(1, VARINT);
      w.zigzag(span.offset);
      w.tag(2, VARINT);
      w.varint(span.length);
    });
  }
  w.nested(deltasField, () => {
    for (const d of deltas) w.zigzag(d);
  });
}

/** prompb `MetricMetadata.MetricType` (types.proto): the values Prometheus sends. */
export const MetricType = {
  UNKNOWN: 0,
  COUNTER: 1,
  GAUGE: 2,
  HISTOGRAM: 3,
  GAUGEHISTOGRAM: 4,
  SUMMARY: 5,
  INFO: 6,
  STATESET: 7,
} as const;

/** One metric family's metadata as sent. */
export interface MetricMetadata {
  type: number;
  familyName: string;
  help: string;
  unit: string;
}

/**
 * Appends a `metadata` field (3) of a WriteRequest:
 * MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
 * (field 3 was never used). Empty fields are left out, as proto3 does.
 */
export function writeMetadata(w: ProtoWriter, m: MetricMetadata): void {
  w.nested(3, () => {
    if (m.type !== 0) {
      w.tag(1, VARINT);
      w.varint(m.type);
    }
    w.stringField(2, m.familyName);
    if (m.help !== '') w.stringField(4, m.help);
    if (m.unit !== '') w.stringField(5, m.unit);
  });
}

/** A buffer twice as large as `buf` (or more, to hold `bytes` past `used`), with `buf`'s first `used` bytes. */
export function grown(buf: Buffer, used: number, bytes: number): Buffer<ArrayBuffer> {
  let size = buf.length * 2;
  while (size < used + bytes) size *= 2;
  const next = Buffer.allocUnsafe(size);
  buf.copy(next, 0, 0, used);
  return next;
}
