// A sampling, encoded once into the requests that will be sent: each series goes to its shard (by
// a hash of its labels), each shard's TimeSeries are written straight into WriteRequest bodies of
// at most `maxPerRequest` samples, and each body is snappy-compressed (snappy.ts) as soon as it is full. The
// WAL stores these compressed bodies, so sending is a read and a POST: nothing is encoded or
// compressed twice, and the WAL holds compressed bytes (about a tenth of the raw labels).
// Native histograms go into bodies of their own, so an endpoint that refuses them (the Prometheus
// 2.42 trap) can skip those bodies and keep every float body.
//
// Record payload layout (little-endian):
//   u8 version (2) | f64 sampledAtMs | u32 samples | u32 floats | u32 histograms | u32 exemplars | u32 bodies
//   bodies: u8 kind (0 floats, 1 histograms) | u16 shard | u32 floats | u32 histograms | u32 exemplars
//           | u32 length | snappy-compressed WriteRequest

import { ProtoWriter, varintSize, writeExemplar, writeHistogram, writeSample } from './proto.js';
import { LiteralSpans, VOLATILE, compressInto, compressTemplate, maxCompressedLength } from './snappy.js';
import type { LabelPair } from './proto.js';
import type { PrometheusNativeHistogram } from '../../daemon/model/index.js';

export const PAYLOAD_VERSION = 2;
export const HEADER_BYTES = 1 + 8 + 5 * 4;
const BODY_HEADER_BYTES = 1 + 2 + 4 * 4;

/** What a body holds. */
export const BodyKind = {
  Floats: 0,
  Histograms: 1,
} as const;

/** Prometheus' staleness marker (value.StaleNaN, 0x7ff0000000000002) as a little-endian double. */
export const STALE_NAN = Uint8Array.from([0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f]);

/** A series as the queue knows it: its encoded labels and the hash that picks its shard. */
export interface EncodedSeries {
  readonly labels: Buffer;
  readonly hash: number;
}

/** An exemplar to attach to a float sample. */
export interface ExemplarPoint {
  labels: readonly LabelPair[];
  value: number;
  timestampMs: number;
}

/** Counts a payload carries (also kept in the WAL index). */
export interface BatchCounts {
  sampledAtMs: number;
  /** Floats + histograms. */
  entries: number;
  floats: number;
  histograms: number;
  exemplars: number;
}

/**
 * A float body of the last sampling kept to be sent again: the same series in the same order give
 * the same bytes but for their values and the sampling time, so the next sampling copies the
 * compressed body and rewrites those (compressTemplate in snappy.ts keeps them in literals, or
 * copies a time byte only from the same byte of another sample). No label is copied and nothing is
 * compressed: in a steady 100k-series sampling this was most of the CPU (docs/performance.md,
 * bench:remote-write).
 */
interface Template {
  /** The series key of each TimeSeries, in order (the sampler's label arena offsets, source.ts). */
  readonly keys: Float64Array;
  /** Bytes of the sampling time's varint when it was made (a body is only reused at the same size). */
  readonly timeLength: number;
  /** The compressed body (a snappy block). */
  readonly bytes: Buffer;
  /** Where each TimeSeries' value (8 bytes, little-endian double) is in `bytes`. */
  readonly valueAt: Uint32Array;
  /** Where bytes of the sampling time are in `bytes` (those in literals), and which byte of the varint each is. */
  readonly timeAt: Uint32Array;
  readonly timeByte: Uint8Array;
}

/**
 * The float bodies of the last sampling, per shard and place in the shard (the n-th request of
 * the shard), kept from one sampling to the next by the exporter (one per BatchWriter shape).
 * Only bodies whose series all came with a key (no exemplar, labels from the arena) are kept.
 */
export class BodyTemplates {
  readonly shards: number;
  readonly #slots: (Template | null)[][];
  /** Scratch: byte classes of a body being compressed, and its literal runs. */
  cls = new Uint8Array(64 * 1024);
  readonly spans = new LiteralSpans();

  constructor(shards: number) {
    this.shards = shards;
    this.#slots = Array.from({ length: shards }, () => []);
  }

  get(shard: number, slot: number): Template | null {
    return this.#slots[shard]![slot] ?? null;
  }

  set(shard: number, slot: number, t: Template | null): void {
    this.#slots[shard]![slot] = t;
  }

  /** After a sampling: a shard's bodies past those it filled are forgotten. */
  trim(shard: number, slots: number): void {
    const list = this.#slots[shard]!;
    if (list.length > slots) list.length = slots;
  }
}

/** One shard's request being filled. */
class OpenRequest {
  readonly w = new ProtoWriter(64 * 1024);
  floats = 0;
  histograms = 0;
  exemplars = 0;
  /** Which request of its shard this is in the sampling (0, 1, …): the place of its template. */
  slot = 0;
  /** The template being followed: the float samples so far are those of its series, in its order. */
  template: Template | null = null;
  /** While following a template nothing is written to `w`; each entry is kept here instead. */
  src: Uint8Array | null = null;
  /** Per float entry (with templates only): key (-1: none), value, its labels in `src`, where its value is in `w`. */
  keys: Float64Array | null = null;
  values: Float64Array | null = null;
  ats: Uint32Array | null = null;
  lengths: Uint32Array | null = null;
  valueAt: Uint32Array | null = null;
  /** Every float entry has a key: the body can become a template. */
  keyed = true;
  get samples(): number {
    return this.floats + this.histograms;
  }
}

/** Builds a sampling's request bodies; `cut()` hands out the finished ones as a WAL record payload. */
export class BatchWriter {
  readonly sampledAtMs: number;
  readonly #shards: number;
  readonly #maxPerRequest: number;
  readonly #floats: OpenRequest[];
  readonly #histograms: OpenRequest[];
  /**
   * Finished bodies not yet cut into a record, framed as in the payload (body header, then the
   * compressed bytes): compressed straight into this one growing buffer, so a sampling allocates
   * no output buffer per request (a 100k-series sampling made ~20 MB of them, and the garbage
   * collector of a daemon holding 100k series paid for it).
   */
  readonly #done = new ProtoWriter(256 * 1024);
  #bodies = 0;
  #counts = { floats: 0, histograms: 0, exemplars: 0 };
  /** Bodies of the last sampling to reuse, or null (every body compressed). */
  readonly #templates: BodyTemplates | null;
  /** The sampling time as a varint (the bytes a reused body gets). */
  readonly #time: Uint8Array;

  constructor(sampledAtMs: number, shards = 1, maxPerRequest = 2000, templates: BodyTemplates | null = null) {
    this.sampledAtMs = sampledAtMs;
    this.#shards = shards;
    this.#maxPerRequest = maxPerRequest;
    // Templates are for non-negative times only (a negative one is a ten-byte int64).
    this.#templates = templates !== null && templates.shards === shards && sampledAtMs >= 0 ? templates : null;
    const time = new ProtoWriter(16);
    time.varint(Math.max(0, sampledAtMs));
    this.#time = Uint8Array.from(time.view());
    this.#floats = Array.from({ length: shards }, (_, shard) => {
      const r = new OpenRequest();
      if (this.#templates !== null) {
        r.keys = new Float64Array(maxPerRequest);
        r.values = new Float64Array(maxPerRequest);
        r.ats = new Uint32Array(maxPerRequest);
        r.lengths = new Uint32Array(maxPerRequest);
        r.valueAt = new Uint32Array(maxPerRequest);
      }
      this.#open(shard, r);
      return r;
    });
    this.#histograms = Array.from({ length: shards }, () => new OpenRequest());
  }

  /** Float bodies of this sampling that reused a template (tests, benches). */
  reusedBodies = 0;

  /** Compressed bytes finished and not yet cut. */
  get bytes(): number {
    return this.#done.length;
  }

  /** One float sample at the sampling's time, with an exemplar or none. */
  float(series: EncodedSeries, value: number, exemplar: ExemplarPoint | null): void {
    this.floatAt(series.labels, 0, series.labels.length, series.hash, value, exemplar);
  }

  /**
   * One float sample of the series whose encoded labels are `src[at, at + length)` (the sampler's
   * label arena, source.ts): copied from there, so no object is made per series or sample.
   * `key` (≥ 0) names those label bytes for good: the same key is always the same bytes (the
   * sampler's arena offset), so a body of the same keys in the same order can be reused; -1: none.
   */
  floatAt(src: Uint8Array, at: number, length: number, hash: number, value: number, exemplar: ExemplarPoint | null, key = -1): void {
    const shard = hash % this.#shards;
    const r = this.#floats[shard]!;
    const template = r.template;
    if (template !== null) {
      const i = r.floats;
      // Template keys are all ≥ 0, so a series without a key never matches.
      if (exemplar === null && i < template.keys.length && template.keys[i] === key && (i === 0 || src === r.src)) {
        r.src = src;
        r.keys![i] = key;
        r.values![i] = value;
        r.ats![i] = at;
        r.lengths![i] = length;
        r.floats++;
        if (r.samples >= this.#maxPerRequest) this.#finish(BodyKind.Floats, shard, r);
        return;
      }
      this.#materialize(r);
    }
    if (exemplar === null) this.#writeFloat(r, src, at, length, value, key);
    else {
      const w = r.w;
      const t = this.sampledAtMs;
      w.nested(1, () => {
        w.copyFrom(src, at, length);
        writeSample(w, value, t);
        writeExemplar(w, exemplar.labels, exemplar.value, exemplar.timestampMs);
      });
      r.exemplars++;
      r.keyed = false;
      r.floats++;
    }
    if (r.samples >= this.#maxPerRequest) this.#finish(BodyKind.Floats, shard, r);
  }

  /**
   * A staleness marker for the series whose encoded labels are `src[at, at + length)`, gone from
   * /metrics: a float sample of Prometheus' StaleNaN, its exact bits written (a JavaScript NaN
   * may not keep them), so queries stop showing the series at once, as after a scrape that no
   * longer has it.
   */
  staleAt(src: Uint8Array, at: number, length: number, hash: number): void {
    const shard = hash % this.#shards;
    const r = this.#floats[shard]!;
    if (r.template !== null) this.#materialize(r);
    this.#writeFloat(r, src, at, length, 0, -1);
    // The value is followed by the time's tag and varint.
    r.w.raw.set(STALE_NAN, r.w.length - this.#time.length - 1 - 8);
    if (r.samples >= this.#maxPerRequest) this.#finish(BodyKind.Floats, shard, r);
  }

  /** The hot path of a float without exemplar: the TimeSeries' length is known, so no nested-length bookkeeping. */
  #writeFloat(r: OpenRequest, src: Uint8Array, at: number, length: number, value: number, key: number): void {
    const w = r.w;
    const t = this.sampledAtMs;
    const sampleBody = 1 + 8 + 1 + varintSize(t);
    w.tag(1, 2);
    w.varint(length + 2 + sampleBody);
    w.copyFrom(src, at, length);
    if (r.keys !== null) {
      const i = r.floats;
      r.keys[i] = key;
      // writeSample: tag, length (one byte), the double's tag, then the value.
      r.valueAt![i] = w.length + 3;
      if (key < 0) r.keyed = false;
    }
    writeSample(w, value, t);
    r.floats++;
  }

  /** Stops following the request's template: writes the entries kept so far, as floatAt would have. */
  #materialize(r: OpenRequest): void {
    const n = r.floats;
    r.template = null;
    r.floats = 0;
    r.w.reset();
    for (let i = 0; i < n; i++) this.#writeFloat(r, r.src!, r.ats![i]!, r.lengths![i]!, r.values![i]!, r.keys![i]!);
    r.src = null;
  }

  /** Readies a float request for its next place in the shard: the template kept there, if it can serve. */
  #open(shard: number, r: OpenRequest): void {
    r.keyed = true;
    r.src = null;
    const t = this.#templates?.get(shard, r.slot) ?? null;
    r.template = t !== null && t.timeLength === this.#time.length ? t : null;
  }

  /** One native histogram at the sampling's time. */
  histogram(series: EncodedSeries, h: PrometheusNativeHistogram): void {
    this.histogramAt(series.labels, 0, series.labels.length, series.hash, h);
  }

  /** One native histogram of the series whose encoded labels are `src[at, at + length)`. */
  histogramAt(src: Uint8Array, at: number, length: number, hash: number, h: PrometheusNativeHistogram): void {
    const shard = hash % this.#shards;
    const r = this.#histograms[shard]!;
    r.w.nested(1, () => {
      r.w.copyFrom(src, at, length);
      writeHistogram(r.w, h, this.sampledAtMs);
    });
    r.histograms++;
    if (r.samples >= this.#maxPerRequest) this.#finish(BodyKind.Histograms, shard, r);
  }

  /**
   * The finished bodies as one record payload and its counts, or null when there are none. With
   * `final`, the partly filled requests are finished first (the end of the sampling).
   */
  cut(final = false): { payload: Buffer; counts: BatchCounts } | null {
    if (final) {
      for (let s = 0; s < this.#shards; s++) {
        if (this.#floats[s]!.samples > 0) this.#finish(BodyKind.Floats, s, this.#floats[s]!);
        if (this.#histograms[s]!.samples > 0) this.#finish(BodyKind.Histograms, s, this.#histograms[s]!);
        this.#templates?.trim(s, this.#floats[s]!.slot);
      }
    }
    if (this.#bodies === 0) return null;
    const c = this.#counts;
    const counts: BatchCounts = { sampledAtMs: this.sampledAtMs, entries: c.floats + c.histograms, floats: c.floats, histograms: c.histograms, exemplars: c.exemplars };
    const bodies = this.#done.view();
    const payload = Buffer.allocUnsafe(HEADER_BYTES + bodies.length);
    payload[0] = PAYLOAD_VERSION;
    payload.writeDoubleLE(this.sampledAtMs, 1);
    payload.writeUInt32LE(counts.entries, 9);
    payload.writeUInt32LE(counts.floats, 13);
    payload.writeUInt32LE(counts.histograms, 17);
    payload.writeUInt32LE(counts.exemplars, 21);
    payload.writeUInt32LE(this.#bodies, 25);
    payload.set(bodies, HEADER_BYTES);
    this.#done.reset();
    this.#bodies = 0;
    this.#counts = { floats: 0, histograms: 0, exemplars: 0 };
    return { payload, counts };
  }

  #finish(kind: number, shard: number, r: OpenRequest): void {
    const template = r.template;
    if (template !== null && r.floats !== template.keys.length) this.#materialize(r);
    const out = this.#done;
    out.uint8(kind);
    out.ensure(2);
    out.uint8(shard & 0xff);
    out.uint8(shard >>> 8);
    out.uint32(r.floats);
    out.uint32(r.histograms);
    out.uint32(r.exemplars);
    const lengthAt = out.length;
    out.uint32(0);
    if (r.template !== null) this.#reuse(r, r.template);
    else if (kind === BodyKind.Floats && this.#templates !== null) this.#compressKept(shard, r);
    else {
      out.ensure(maxCompressedLength(r.w.length));
      out.length = compressInto(r.w.raw, r.w.length, out.raw, out.length);
    }
    out.patchUint32(lengthAt, out.length - lengthAt - 4);
    this.#bodies++;
    this.#counts.floats += r.floats;
    this.#counts.histograms += r.histograms;
    this.#counts.exemplars += r.exemplars;
    r.w.reset();
    r.floats = 0;
    r.histograms = 0;
    r.exemplars = 0;
    if (kind === BodyKind.Floats && this.#templates !== null) {
      r.slot++;
      this.#open(shard, r);
    }
  }

  /** The template's compressed body with this sampling's values and time written in. */
  #reuse(r: OpenRequest, t: Template): void {
    const out = this.#done;
    this.reusedBodies++;
    out.ensure(t.bytes.length);
    const base = out.length;
    const raw = out.raw;
    raw.set(t.bytes, base);
    const values = r.values!;
    const valueAt = t.valueAt;
    for (let i = 0; i < valueAt.length; i++) raw.writeDoubleLE(values[i]!, base + valueAt[i]!);
    const time = this.#time;
    const timeAt = t.timeAt;
    const timeByte = t.timeByte;
    for (let i = 0; i < timeAt.length; i++) raw[base + timeAt[i]!] = time[timeByte[i]!]!;
    out.length = base + t.bytes.length;
  }

  /** Compresses a float body so it can be reused (compressTemplate), and keeps it as its place's template. */
  #compressKept(shard: number, r: OpenRequest): void {
    const out = this.#done;
    const templates = this.#templates!;
    const n = r.w.length;
    if (!r.keyed || r.floats === 0) {
      out.ensure(maxCompressedLength(n));
      out.length = compressInto(r.w.raw, n, out.raw, out.length);
      templates.set(shard, r.slot, null);
      return;
    }
    if (templates.cls.length < n) templates.cls = new Uint8Array(Math.max(n, templates.cls.length * 2));
    const cls = templates.cls;
    cls.fill(0, 0, n);
    const timeLength = this.#time.length;
    const valueAt = r.valueAt!;
    const floats = r.floats;
    for (let i = 0; i < floats; i++) {
      const v = valueAt[i]!;
      cls.fill(VOLATILE, v, v + 8);
      for (let k = 0; k < timeLength; k++) cls[v + 9 + k] = 1 + k;
    }
    out.ensure(maxCompressedLength(n));
    const base = out.length;
    const spans = templates.spans;
    out.length = compressTemplate(r.w.raw, n, cls, out.raw, base, spans);
    // Where the values and the time bytes in literals landed: entries and literal runs are both in order.
    const outValueAt = new Uint32Array(floats);
    const timeAt: number[] = [];
    const timeByte: number[] = [];
    const d = spans.data;
    let s = 0;
    for (let i = 0; i < floats; i++) {
      const v = valueAt[i]!;
      while (s < spans.count && d[s * 3 + 1]! <= v) s++;
      // Never happens (a value is never copied, so its 8 bytes are in one literal run); if it did, no template.
      if (s >= spans.count || d[s * 3]! > v || d[s * 3 + 1]! < v + 8) {
        templates.set(shard, r.slot, null);
        return;
      }
      outValueAt[i] = d[s * 3 + 2]! + (v - d[s * 3]!) - base;
      for (let k = 0; k < timeLength; k++) {
        const p = v + 9 + k;
        while (s < spans.count && d[s * 3 + 1]! <= p) s++;
        if (s < spans.count && d[s * 3]! <= p) {
          timeAt.push(d[s * 3 + 2]! + (p - d[s * 3]!) - base);
          timeByte.push(k);
        }
      }
    }
    templates.set(shard, r.slot, {
      keys: r.keys!.slice(0, floats),
      timeLength,
      bytes: Buffer.from(out.raw.subarray(base, out.length)),
      valueAt: outValueAt,
      timeAt: Uint32Array.from(timeAt),
      timeByte: Uint8Array.from(timeByte),
    });
  }
}

/** Reads a payload's header; throws on a payload this version cannot read. */
export function readCounts(payload: Buffer): BatchCounts {
  if (payload.length < HEADER_BYTES || payload[0] !== PAYLOAD_VERSION) throw new Error(`unknown payload version ${payload[0]}`);
  return {
    sampledAtMs: payload.readDoubleLE(1),
    entries: payload.readUInt32LE(9),
    floats: payload.readUInt32LE(13),
    histograms: payload.readUInt32LE(17),
    exemplars: payload.readUInt32LE(21),
  };
}

/** One request body of a payload. */
export interface Body {
  kind: number;
  shard: number;
  floats: number;
  histograms: number;
  exemplars: number;
  /** The snappy-compressed WriteRequest (a view into the payload). */
  bytes: Buffer;
}

/** The request bodies of a payload, in order; throws when it is truncated. */
export function bodiesOf(payload: Buffer): Body[] {
  readCounts(payload);
  const n = payload.readUInt32LE(25);
  const out: Body[] = [];
  let at = HEADER_BYTES;
  for (let i = 0; i < n; i++) {
    if (at + BODY_HEADER_BYTES > payload.length) throw new Error(`payload truncated at body ${i}`);
    const length = payload.readUInt32LE(at + 15);
    const start = at + BODY_HEADER_BYTES;
    if (start + length > payload.length) throw new Error(`payload truncated in body ${i}`);
    out.push({
      kind: payload[at]!,
      shard: payload.readUInt16LE(at + 1),
      floats: payload.readUInt32LE(at + 3),
      histograms: payload.readUInt32LE(at + 7),
      exemplars: payload.readUInt32LE(at + 11),
      bytes: payload.subarray(start, start + length),
    });
    at = start + length;
  }
  return out;
}
