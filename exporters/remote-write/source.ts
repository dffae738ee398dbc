// What remote_write samples: every series /metrics exposes, read through the store's single read
// model (daemon/model: a Gatherer of FamilyView/SeriesView, the same one the scrape renders), so
// what is sent is what a scrape sees: pushed metrics and target_info, span RED with exemplars,
// `_percentiles`, SLO gauges and counters (vigil_slo_events_total), Vigil's own series.
//
// Costs: a series' labels are parsed, sorted and encoded once and kept (per sample: `_bucket`
// with its `le`, `_sum`…) in a label arena (LabelArena below): one growing byte buffer and a few
// typed arrays, found through a Map per family keyed by the label text the series already holds.
// No object is kept per series: a daemon holding 100k series and remote_write used to keep ~5
// objects per series (a WeakMap entry, a cache, an encoding, its Buffer, a boxed hash), doubling
// the objects every full garbage collection marks, and ingest paid for it (docs/performance.md,
// bench:remote-write). A tick of a counter costs one Map lookup, one label copy, a value and a time.
// Series not seen in a sampling are forgotten at its end, so series that disappear drop out.
//
// Every sample carries the sampling time, never the series' own point time: a gauge's OTLP time
// can stand still for many intervals, and one time per tick is what keeps each series in order.

import { SeriesKind, forEachSample, formatValue, parseLabelText, toPrometheusNative } from '../../daemon/model/index.js';
import type { FamilyView, Gatherer, PrometheusNativeHistogram, SeriesView } from '../../daemon/model/index.js';
import { ProtoWriter, encodeLabels, grown, writeLabels } from './proto.js';
import type { LabelPair } from './proto.js';
import type { EncodedSeries, ExemplarPoint } from './batch.js';

/** Where sampled series go (a BatchWriter, or several). */
export interface SampleSink {
  /**
   * One float sample of the series whose encoded labels are `src[at, at + length)`; `key` ≥ 0
   * names those bytes for good (the same key is always the same labels), -1 when they have none.
   */
  floatAt(src: Uint8Array, at: number, length: number, hash: number, value: number, exemplar: ExemplarPoint | null, key: number): void;
  /** A staleness marker for the series whose encoded labels are `src[at, at + length)`: it left /metrics. */
  staleAt(src: Uint8Array, at: number, length: number, hash: number): void;
  /** One native histogram of the series whose encoded labels are `src[at, at + length)`. */
  histogramAt(src: Uint8Array, at: number, length: number, hash: number, h: PrometheusNativeHistogram): void;
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
  const pairs = sortedPairs(name, flat);
  if (pairs === null) return null;
  const labels = encodeLabels(pairs);
  return { labels, hash: fnv1a(labels, 0, labels.length) };
}

/** The label pairs of a series as sent (sorted by name, unique, with `__name__`), or null when invalid. */
function sortedPairs(name: string, flat: readonly string[]): [string, string][] | null {
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
  return pairs;
}

/** FNV-1a over the encoded labels: the series' shard. */
function fnv1a(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}


// A series' block in the arena: one entry per sample, in forEachSample's order, the native
// histogram (if any) last. An entry is
//   u8 code | f64 extra label value (0 when none) | u32 shard hash | u32 length (INVALID: no labels) | labels
// The code and extra value identify the sample (`_bucket` + `le`, `_sum`…), so a series whose
// samples change (new bucket bounds, a quantile more) is seen at once and its block encoded again.
const ENTRY_HEADER = 1 + 8 + 4 + 4;
const HASH_AT = 9;
const LENGTH_AT = 13;
const INVALID = 0xffffffff;
const SUFFIXES = ['', '_total', '_bucket', '_sum', '_count'];
const NATIVE_CODE = 255;
/** Codes of the single sample of a gauge or info series and of a counter (the fast path). */
const PLAIN_CODE = 0;
const TOTAL_CODE = 4;
/** Keys of a generation of the arena: offsets are below 2^32. */
const GENERATION = 2 ** 32;
/** The arena is compacted when this much of it (and half of it) is dead blocks. */
const COMPACT_GARBAGE_BYTES = 1024 * 1024;

/** A sample's code: its suffix and which extra label it carries (none, le, quantile, another). */
function codeOf(suffix: string, extraLabel: string | null): number {
  const s = SUFFIXES.indexOf(suffix);
  const label = extraLabel === null ? 0 : extraLabel === 'le' ? 1 : extraLabel === 'quantile' ? 2 : 3;
  return s < 0 ? 254 : s * 4 + label;
}

function sameNumber(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}

/** A family's series in the order a sampling met them: label text and series id at each place. */
interface FamilyOrder {
  texts: string[];
  ids: Uint32Array;
  length: number;
}

/** One sampling's walk over the read model. */
interface Walk {
  readonly epoch: number;
  /** Distinct series seen. */
  seen: number;
  /** Series left in this slice (between two turns of the event loop). */
  budget: number;
  readonly sink: SampleSink;
  readonly result: CollectResult;
}

/** Reads every exposed series into a tick's batch; keeps the per-series encodings between ticks. */
export class StoreSampler {
  readonly #gatherer: Gatherer;
  /** Family name → label text → series id (the index of its block in the arena). */
  readonly #byFamily = new Map<string, Map<string, number>>();
  /**
   * Family name → its series' label texts and ids in the order the last sampling met them (series
   * with a value only). Cleared whenever a series is forgotten (its id may then be reused).
   */
  readonly #order = new Map<string, FamilyOrder>();
  // The arena: blocks of encoded label sets, and per series id its block's place and sample count.
  #bytes = Buffer.allocUnsafe(256 * 1024);
  /** A view of #bytes (replaced with it). */
  #view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.length);
  #used = 0;
  #garbage = 0;
  #start: Uint32Array = new Uint32Array(1024);
  #length: Uint32Array = new Uint32Array(1024);
  #samples: Uint32Array = new Uint32Array(1024);
  /** The sampling that last saw the series (series not seen are forgotten at the end of a sampling). */
  #seen: Uint32Array = new Uint32Array(1024);
  readonly #freeIds: number[] = [];
  #nextId = 1;
  #liveIds = 0;
  #epoch = 0;
  /**
   * Bumped when the arena is compacted: until then bytes at an offset never change (blocks encoded
   * again go to the end), so generation·2^32 + offset is a sample's key for the sink.
   */
  #generation = 0;
  /** Samplings in progress (several interval groups may overlap); forgetting waits for the last. */
  #active = 0;
  /** Time of the last exemplar sent, per series id and exemplar index (only series with exemplars). */
  readonly #exemplarSent = new Map<number, Map<number, number>>();
  /** A series block being encoded again (scratch, reused). */
  readonly #build = new ProtoWriter(4096);

  // The series being visited (forEachSample calls #visit for each of its samples).
  #vFamily: FamilyView | null = null;
  #vSeries: SeriesView | null = null;
  #vId = 0;
  #vSink: SampleSink | null = null;
  #vResult: CollectResult | null = null;
  #vIndex = 0;
  #vCursor = 0;
  #vRebuild = false;
  #vFlat: string[] | null = null;
  readonly #visit = (suffix: string, extraLabel: string | null, extraValue: number, value: number, exemplarIndex: number): void => {
    const at = this.#entry(codeOf(suffix, extraLabel), suffix, extraLabel, extraLabel === null ? 0 : extraValue);
    const src = this.#vRebuild ? this.#build.raw : this.#bytes;
    const length = src.readUInt32LE(at + LENGTH_AT);
    if (length === INVALID) {
      this.#vResult!.invalid++;
      return;
    }
    const exemplar = exemplarIndex >= 0 ? this.#newExemplar(this.#vSeries!, this.#vId, exemplarIndex) : null;
    this.#vSink!.floatAt(src, at + ENTRY_HEADER, length, src.readUInt32LE(at + HASH_AT), value, exemplar, this.#vRebuild ? -1 : this.#generation * GENERATION + at);
  };

  constructor(gatherer: Gatherer) {
    this.#gatherer = gatherer;
  }

  /** Series whose encodings are kept (tests). */
  get seriesKept(): number {
    return this.#liveIds;
  }

  /** Bytes of the label arena, live and dead (tests, benches). */
  get arenaBytes(): { used: number; garbage: number } {
    return { used: this.#used, garbage: this.#garbage };
  }

  /** Writes every series into `batch`; `onSlice` runs between slices (to cut payloads). */
  async collect(batch: SampleSink, onSlice: () => void): Promise<CollectResult> {
    const result: CollectResult = { invalid: 0 };
    const walk: Walk = { epoch: (this.#epoch = (this.#epoch + 1) >>> 0 || 1), seen: 0, budget: SERIES_PER_SLICE, sink: batch, result };
    this.#active++;
    try {
      const families = await this.#gatherer.gather();
      for (const family of families) {
        const series = family.series[Symbol.iterator]();
        let position = 0;
        for (;;) {
          position = this.#walkFamily(family, series, position, walk);
          if (position < 0) break;
          walk.budget = SERIES_PER_SLICE;
          onSlice();
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.#active--;
    }
    if (this.#active === 0 && walk.seen < this.#liveIds) this.#forget(walk.epoch, batch);
    if (this.#garbage > COMPACT_GARBAGE_BYTES && this.#garbage * 2 > this.#used) this.#compact();
    onSlice();
    return result;
  }

  /**
   * Samples the family's series from `series` until the slice's budget is spent: returns the
   * position reached (to go on after a turn of the event loop), or -1 at the family's end.
   * A series' id is found through the family's order of the last sampling (the same label text
   * at the same place: no Map lookup), else through the Map.
   */
  #walkFamily(family: FamilyView, series: Iterator<SeriesView>, position: number, walk: Walk): number {
    let ids = this.#byFamily.get(family.name);
    let order = this.#order.get(family.name);
    if (order === undefined) this.#order.set(family.name, (order = { texts: [], ids: new Uint32Array(16), length: 0 }));
    let k = position;
    for (;;) {
      if (walk.budget-- <= 0) return k;
      const next = series.next();
      if (next.done === true) {
        order.length = k;
        if (order.texts.length > k) order.texts.length = k;
        return -1;
      }
      const s = next.value;
      if (!s.hasValue) continue;
      const text = s.labelText;
      let id: number;
      if (k < order.length && order.texts[k] === text) id = order.ids[k]!;
      else {
        if (ids === undefined) this.#byFamily.set(family.name, (ids = new Map()));
        let known = ids.get(text);
        if (known === undefined) {
          known = this.#newId();
          ids.set(text, known);
        }
        id = known;
        if (k >= order.ids.length) {
          const grown = new Uint32Array(order.ids.length * 2);
          grown.set(order.ids);
          order.ids = grown;
        }
        order.texts[k] = text;
        order.ids[k] = id;
        if (k >= order.length) order.length = k + 1;
      }
      k++;
      if (this.#seen[id] !== walk.epoch) {
        this.#seen[id] = walk.epoch;
        walk.seen++;
      }
      this.#series(family, s, id, walk.sink, walk.result);
    }
  }

  #series(family: FamilyView, s: SeriesView, id: number, sink: SampleSink, result: CollectResult): void {
    if (s.data === SeriesKind.Number && this.#samples[id] === 1 && s.native === null) {
      // The bulk (counters and gauges seen before): one entry, no visitor.
      const counter = family.type === 'counter';
      const at = this.#start[id]!;
      const bytes = this.#bytes;
      if (bytes[at] === (counter ? TOTAL_CODE : PLAIN_CODE) && (!counter || (s.exemplar(0) === null && (this.#exemplarSent.size === 0 || !this.#exemplarSent.has(id))))) {
        // A DataView, not Buffer#readUInt32LE: no argument checks, inlined (100k series a sampling).
        const view = this.#view;
        const length = view.getUint32(at + LENGTH_AT, true);
        if (length === INVALID) result.invalid++;
        else sink.floatAt(bytes, at + ENTRY_HEADER, length, view.getUint32(at + HASH_AT, true), s.value, null, this.#generation * GENERATION + at);
        return;
      }
    }
    this.#vFamily = family;
    this.#vSeries = s;
    this.#vId = id;
    this.#vSink = sink;
    this.#vResult = result;
    this.#vIndex = 0;
    this.#vCursor = this.#start[id]!;
    this.#vRebuild = false;
    this.#vFlat = null;
    forEachSample(family, s, this.#visit);
    const native = s.native;
    if (native !== null) {
      const at = this.#entry(NATIVE_CODE, '', null, 0);
      const src = this.#vRebuild ? this.#build.raw : this.#bytes;
      const length = src.readUInt32LE(at + LENGTH_AT);
      // The read model's conversion (schema clamp, index shift, spans, deltas), shared with the protobuf scrape.
      const p = length === INVALID ? null : toPrometheusNative(native);
      // Coarser than Prometheus can hold (or unlabelable): the classic buckets still carry it.
      if (p === null) result.invalid++;
      else sink.histogramAt(src, at + ENTRY_HEADER, length, src.readUInt32LE(at + HASH_AT), p);
    }
    this.#endSeries();
    this.#vFamily = this.#vSeries = this.#vSink = this.#vResult = null;
    this.#vFlat = null;
  }

  /**
   * The entry of the visited series' next sample: its offset in the arena (the stored encoding
   * still fits) or, once one does not, in the block being encoded again (#build).
   */
  #entry(code: number, suffix: string, extraLabel: string | null, extra: number): number {
    const id = this.#vId;
    if (!this.#vRebuild) {
      const at = this.#vCursor;
      const bytes = this.#bytes;
      if (this.#vIndex < this.#samples[id]! && bytes[at] === code && sameNumber(bytes.readDoubleLE(at + 1), extra)) {
        const length = bytes.readUInt32LE(at + LENGTH_AT);
        this.#vCursor = at + ENTRY_HEADER + (length === INVALID ? 0 : length);
        this.#vIndex++;
        return at;
      }
      // From here on the block is encoded again: keep the entries that matched so far.
      const start = this.#start[id]!;
      this.#build.reset();
      this.#build.copyFrom(bytes, start, at - start);
      this.#vRebuild = true;
    }
    const w = this.#build;
    const at = w.length;
    const family = this.#vFamily!;
    const flat = (this.#vFlat ??= parseLabelText(this.#vSeries!.labelText));
    const pairs = sortedPairs(code === NATIVE_CODE ? family.name : family.name + suffix, extraLabel === null ? flat : [...flat, extraLabel, formatValue(extra)]);
    w.uint8(code);
    w.double(extra);
    w.uint32(0);
    w.uint32(INVALID);
    if (pairs !== null) {
      const from = w.length;
      writeLabels(w, pairs);
      w.patchUint32(at + HASH_AT, fnv1a(w.raw, from, w.length));
      w.patchUint32(at + LENGTH_AT, w.length - from);
    }
    this.#vIndex++;
    return at;
  }

  /** Stores the visited series' block if it was encoded again, or trims it if it has fewer samples now. */
  #endSeries(): void {
    const id = this.#vId;
    if (this.#vRebuild) {
      const block = this.#build;
      this.#ensureArena(block.length);
      block.raw.copy(this.#bytes, this.#used, 0, block.length);
      this.#garbage += this.#length[id]!;
      this.#start[id] = this.#used;
      this.#length[id] = block.length;
      this.#samples[id] = this.#vIndex;
      this.#used += block.length;
    } else if (this.#vIndex !== this.#samples[id]) {
      const length = this.#vCursor - this.#start[id]!;
      this.#garbage += this.#length[id]! - length;
      this.#length[id] = length;
      this.#samples[id] = this.#vIndex;
    }
  }

  /** The exemplar of `index` if one arrived since the last one sent, else null. */
  #newExemplar(s: SeriesView, id: number, index: number): ExemplarPoint | null {
    const e = s.exemplar(index);
    if (e === null) return null;
    let sent = this.#exemplarSent.get(id);
    if (sent === undefined) this.#exemplarSent.set(id, (sent = new Map()));
    if (sent.get(index) === e.timeMs) return null;
    sent.set(index, e.timeMs);
    const labels: LabelPair[] = [];
    for (let i = 0; i + 1 < e.labels.length; i += 2) labels.push([e.labels[i]!, e.labels[i + 1]!]);
    return { labels, value: e.value, timestampMs: Math.round(e.timeMs) };
  }

  #newId(): number {
    this.#liveIds++;
    const reused = this.#freeIds.pop();
    if (reused !== undefined) return reused;
    const id = this.#nextId++;
    if (id >= this.#start.length) {
      const grow = (a: Uint32Array): Uint32Array => {
        const next = new Uint32Array(a.length * 2);
        next.set(a);
        return next;
      };
      this.#start = grow(this.#start);
      this.#length = grow(this.#length);
      this.#samples = grow(this.#samples);
      this.#seen = grow(this.#seen);
    }
    return id;
  }

  /**
   * Forgets the series the sampling `epoch` did not see (gone from the read model, or without a
   * value), after a staleness marker for each of their float samples into `sink` (in series
   * order: after the samples sent before). Native histograms get none: their classic series do,
   * and a float marker on a native series is what a receiver could refuse.
   */
  #forget(epoch: number, sink: SampleSink): void {
    this.#order.clear();
    const bytes = this.#bytes;
    for (const [name, ids] of this.#byFamily) {
      for (const [text, id] of ids) {
        if (this.#seen[id] === epoch) continue;
        const end = this.#start[id]! + this.#length[id]!;
        for (let at = this.#start[id]!; at < end; ) {
          const length = bytes.readUInt32LE(at + LENGTH_AT);
          if (length === INVALID) {
            at += ENTRY_HEADER;
            continue;
          }
          if (bytes[at] !== NATIVE_CODE) sink.staleAt(bytes, at + ENTRY_HEADER, length, bytes.readUInt32LE(at + HASH_AT));
          at += ENTRY_HEADER + length;
        }
        ids.delete(text);
        this.#garbage += this.#length[id]!;
        this.#start[id] = 0;
        this.#length[id] = 0;
        this.#samples[id] = 0;
        this.#seen[id] = 0;
        this.#exemplarSent.delete(id);
        this.#freeIds.push(id);
        this.#liveIds--;
      }
      if (ids.size === 0) this.#byFamily.delete(name);
    }
  }

  /** Copies the live blocks into a fresh arena, dropping the dead ones. */
  #compact(): void {
    const live = this.#used - this.#garbage;
    const next = Buffer.allocUnsafe(Math.max(256 * 1024, live * 2));
    let used = 0;
    for (const ids of this.#byFamily.values()) {
      for (const id of ids.values()) {
        const length = this.#length[id]!;
        this.#bytes.copy(next, used, this.#start[id]!, this.#start[id]! + length);
        this.#start[id] = used;
        used += length;
      }
    }
    this.#bytes = next;
    this.#view = new DataView(next.buffer, next.byteOffset, next.length);
    this.#used = used;
    this.#garbage = 0;
    this.#generation++;
  }

  #ensureArena(bytes: number): void {
    if (this.#used + bytes <= this.#bytes.length) return;
    this.#bytes = grown(this.#bytes, this.#used, bytes);
    this.#view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.length);
  }
}
