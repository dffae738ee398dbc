// A sampling tick's series, encoded once: each entry is one protobuf TimeSeries (labels plus one
// sample, or one native histogram, with an exemplar when a new one arrived) framed with what the
// queue needs to route and count it without decoding protobuf. The payload is what the WAL stores
// and what requests are cut from: sending a batch is copying its entries' bytes behind a tag.
//
// Payload layout (little-endian):
//   u8 version (1) | f64 sampledAtMs | u32 entries | u32 floats | u32 histograms | u32 exemplars
//   entries: u8 flags | u32 series hash | u32 length | TimeSeries bytes

import { ProtoWriter, writeExemplar, writeHistogram, writeSample } from './proto.js';
import type { LabelPair, NativeHistogram } from './proto.js';

export const PAYLOAD_VERSION = 1;
export const HEADER_BYTES = 1 + 8 + 4 * 4;
const ENTRY_HEADER_BYTES = 1 + 4 + 4;

/** Entry flags. */
export const EntryFlag = {
  Float: 1,
  Histogram: 2,
  Exemplar: 4,
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
  entries: number;
  floats: number;
  histograms: number;
  exemplars: number;
}

/** Builds payloads for one tick; `cut()` ends one payload and starts the next. */
export class BatchWriter {
  readonly sampledAtMs: number;
  #w: ProtoWriter;
  /** The payload being written; null right after a cut, whose bytes stay valid until the next entry. */
  #counts: BatchCounts | null;

  /** `writer` may be one kept from the last sampling (its buffer is reused, not reallocated). */
  constructor(sampledAtMs: number, writer: ProtoWriter = new ProtoWriter(64 * 1024)) {
    this.sampledAtMs = sampledAtMs;
    this.#w = writer;
    writer.reset();
    this.#counts = this.#begin();
  }

  /** Bytes in the current payload. */
  get bytes(): number {
    return this.#counts === null ? 0 : this.#w.length;
  }

  get entries(): number {
    return this.#counts?.entries ?? 0;
  }

  /** One float sample at the tick's time, with an exemplar or none. */
  float(series: EncodedSeries, value: number, exemplar: ExemplarPoint | null): void {
    const w = this.#w;
    const at = this.#entryStart(exemplar === null ? EntryFlag.Float : EntryFlag.Float | EntryFlag.Exemplar, series.hash);
    w.bytes(series.labels);
    writeSample(w, value, this.sampledAtMs);
    const counts = this.#counts!;
    if (exemplar !== null) {
      writeExemplar(w, exemplar.labels, exemplar.value, exemplar.timestampMs);
      counts.exemplars++;
    }
    w.patchUint32(at, w.length - at - 4);
    counts.floats++;
  }

  /** One native histogram at the tick's time. */
  histogram(series: EncodedSeries, h: Omit<NativeHistogram, 'timestampMs'>): void {
    const w = this.#w;
    const at = this.#entryStart(EntryFlag.Histogram, series.hash);
    w.bytes(series.labels);
    writeHistogram(w, { ...h, timestampMs: this.sampledAtMs });
    w.patchUint32(at, w.length - at - 4);
    this.#counts!.histograms++;
  }

  /**
   * Ends the current payload: its bytes and counts, or null when it holds nothing. The bytes are a
   * view into the writer's buffer, valid until the next write: copy them to keep them.
   */
  cut(): { payload: Buffer; counts: BatchCounts } | null {
    const counts = this.#counts;
    if (counts === null || counts.entries === 0) return null;
    const w = this.#w;
    w.patchUint32(9, counts.entries);
    w.patchUint32(13, counts.floats);
    w.patchUint32(17, counts.histograms);
    w.patchUint32(21, counts.exemplars);
    const payload = w.view();
    // The next entry starts the next payload (at the buffer's start: this one's bytes are then gone).
    this.#counts = null;
    return { payload, counts };
  }

  #begin(): BatchCounts {
    const w = this.#w;
    w.reset();
    w.uint8(PAYLOAD_VERSION);
    w.ensure(8);
    w.double(this.sampledAtMs);
    for (let i = 0; i < 4; i++) w.uint32(0);
    return { sampledAtMs: this.sampledAtMs, entries: 0, floats: 0, histograms: 0, exemplars: 0 };
  }

  /** Writes an entry header; returns where its length goes. */
  #entryStart(flags: number, hash: number): number {
    if (this.#counts === null) this.#counts = this.#begin();
    const w = this.#w;
    w.ensure(ENTRY_HEADER_BYTES);
    w.uint8(flags);
    w.uint32(hash);
    const at = w.length;
    w.uint32(0);
    this.#counts.entries++;
    return at;
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

/** Calls `visit` for each entry of a payload: flags, hash, and the TimeSeries bytes' start and end. */
export function forEachEntry(payload: Buffer, visit: (flags: number, hash: number, start: number, end: number) => void): void {
  const { entries } = readCounts(payload);
  let at = HEADER_BYTES;
  for (let i = 0; i < entries; i++) {
    if (at + ENTRY_HEADER_BYTES > payload.length) throw new Error(`payload truncated at entry ${i}`);
    const flags = payload[at]!;
    const hash = payload.readUInt32LE(at + 1);
    const length = payload.readUInt32LE(at + 5);
    const start = at + ENTRY_HEADER_BYTES;
    const end = start + length;
    if (end > payload.length) throw new Error(`payload truncated in entry ${i}`);
    visit(flags, hash, start, end);
    at = end;
  }
}
