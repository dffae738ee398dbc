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
import { compressInto, maxCompressedLength } from './snappy.js';
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

/** One shard's request being filled. */
class OpenRequest {
  readonly w = new ProtoWriter(64 * 1024);
  floats = 0;
  histograms = 0;
  exemplars = 0;
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

  constructor(sampledAtMs: number, shards = 1, maxPerRequest = 2000) {
    this.sampledAtMs = sampledAtMs;
    this.#shards = shards;
    this.#maxPerRequest = maxPerRequest;
    this.#floats = Array.from({ length: shards }, () => new OpenRequest());
    this.#histograms = Array.from({ length: shards }, () => new OpenRequest());
  }

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
   */
  floatAt(src: Uint8Array, at: number, length: number, hash: number, value: number, exemplar: ExemplarPoint | null): void {
    const shard = hash % this.#shards;
    const r = this.#floats[shard]!;
    const w = r.w;
    const t = this.sampledAtMs;
    if (exemplar === null) {
      // The hot path: the TimeSeries' length is known, so no nested-length bookkeeping.
      const sampleBody = 1 + 8 + 1 + varintSize(t);
      w.tag(1, 2);
      w.varint(length + 2 + sampleBody);
      w.copyFrom(src, at, length);
      writeSample(w, value, t);
    } else {
      w.nested(1, () => {
        w.copyFrom(src, at, length);
        writeSample(w, value, t);
        writeExemplar(w, exemplar.labels, exemplar.value, exemplar.timestampMs);
      });
      r.exemplars++;
    }
    r.floats++;
    if (r.samples >= this.#maxPerRequest) this.#finish(BodyKind.Floats, shard, r);
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
    out.ensure(maxCompressedLength(r.w.length));
    out.length = compressInto(r.w.raw, r.w.length, out.raw, out.length);
    out.patchUint32(lengthAt, out.length - lengthAt - 4);
    this.#bodies++;
    this.#counts.floats += r.floats;
    this.#counts.histograms += r.histograms;
    this.#counts.exemplars += r.exemplars;
    r.w.reset();
    r.floats = 0;
    r.histograms = 0;
    r.exemplars = 0;
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
