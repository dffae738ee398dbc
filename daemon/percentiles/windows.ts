// Sliding windows of HDR counts from rotating interval slots, cascaded so that each value is
// recorded once. Level l (one per window) has slots `widths[l]` ms wide; a finished slot of level l
// is kept in level l's ring and added into the slot in progress of level l+1 ("pending"). Window l
// is then: level l's ring + pending[1..l] + the live slot. Widths nest (each a multiple of the
// previous), which is what makes the roll-up exact. See README.md for the numbers.

import hdr from 'hdr-histogram-js';
import type { PercentileSettings, WindowSnapshot, WindowedPercentiles } from './types.js';
import { addPayloadToDense, encodeDense, encodeEntries } from './codec.js';
import { SLOT_OVERHEAD_BYTES, Slot, addToDense, mergeEntries, readEntries, touched } from './sparse.js';

/** Slots per window aimed at: a value leaves a window between W and W·(1 + 1/6) after it was recorded. */
export const SLOTS_PER_WINDOW = 6;
/**
 * Recorded values buffered before they are merged into the live slot's payload. A merge walks the
 * whole payload, so a busy series (payload much longer than the log) gets a longer log, up to the max.
 */
const LOG_CAPACITY = 16;
const LOG_CAPACITY_MAX = 256;
/** A freed slot's buffer is reused for the next live slot only up to this size. */
const SPARE_MAX_BYTES = 256;

/** Slot width and slot count per window. */
export interface SlotPlan {
  /** Slot width per window, ms; each a multiple of the one before. */
  widthsMs: number[];
  /** Finished slots kept per window; a value stays between slots·width and (slots+1)·width. */
  slots: number[];
}

/** The nested slot widths for `windowsMs` (ascending): about W/6 each, a multiple of the previous. */
export function planSlots(windowsMs: readonly number[]): SlotPlan {
  const widthsMs: number[] = [];
  const slots: number[] = [];
  for (let l = 0; l < windowsMs.length; l++) {
    const target = windowsMs[l]! / SLOTS_PER_WINDOW;
    const width = l === 0 ? Math.max(1, Math.round(target)) : widthsMs[l - 1]! * Math.max(1, Math.round(target / widthsMs[l - 1]!));
    widthsMs.push(width);
    slots.push(Math.ceil(windowsMs[l]! / width));
  }
  return { widthsMs, slots };
}

/**
 * HDR index arithmetic shared by every series with the same precision and integer range, plus the
 * dense scratch array that scrape-time merges use (one per layout and process, not per series).
 */
class Layout {
  readonly index: hdr.PackedHistogram;
  #dense: Float64Array | null = null;
  // The range of #dense still holding counts from this layout's last merge, once another layout's
  // merge has taken the shared `touched` range over.
  #dirtyLow = 0;
  #dirtyHigh = -1;

  constructor(readonly digits: number, readonly highestInt: number) {
    this.index = new hdr.PackedHistogram(1, highestInt, digits);
  }

  /**
   * The scratch, zeroed over the range this layout's previous merge touched. `touched` is shared by
   * every layout, so the layout that used it last keeps its range when another one takes it over
   * (regression: percentiles of a series read another layout's range and kept stale counts).
   */
  dense(): Float64Array {
    if (scratchOwner !== this) {
      if (scratchOwner !== null) {
        scratchOwner.#dirtyLow = touched.low;
        scratchOwner.#dirtyHigh = touched.high;
      }
      touched.low = this.#dirtyLow;
      touched.high = this.#dirtyHigh;
      scratchOwner = this;
    }
    if (this.#dense === null) this.#dense = new Float64Array(this.index.countsArrayLength);
    else if (touched.high >= 0) this.#dense.fill(0, touched.low, touched.high + 1);
    touched.low = Number.MAX_SAFE_INTEGER;
    touched.high = -1;
    this.#dirtyHigh = -1;
    return this.#dense;
  }

  get denseBytes(): number {
    return this.#dense === null ? 0 : this.#dense.byteLength;
  }
}

const layouts = new Map<string, Layout>();
/** The layout whose merge the shared `touched` range describes. */
let scratchOwner: Layout | null = null;

/** Indices of settings.quantiles, smallest quantile first; one array per settings, not per series. */
const quantileOrders = new WeakMap<PercentileSettings, number[]>();

function quantileOrder(settings: PercentileSettings): number[] {
  let order = quantileOrders.get(settings);
  if (order === undefined) {
    const q = settings.quantiles;
    order = q.map((_, i) => i).sort((a, b) => q[a]! - q[b]!);
    quantileOrders.set(settings, order);
  }
  return order;
}

function layoutFor(digits: number, highestInt: number): Layout {
  const key = `${digits}:${highestInt}`;
  let layout = layouts.get(key);
  if (layout === undefined) {
    layout = new Layout(digits, highestInt);
    layouts.set(key, layout);
  }
  return layout;
}

/** Bytes of the per-process scratch arrays (not per series; reported in the README). */
export function scratchBytes(): number {
  let bytes = 0;
  for (const layout of layouts.values()) bytes += layout.denseBytes;
  return bytes;
}

/** One stored slot of the arena while it is rebuilt. */
interface StoredSlot {
  level: number;
  /** The level's slot in progress (levels ≥ 1), not yet in its ring. */
  pending: boolean;
  /** floor(time / width of the level). */
  epoch: number;
  count: number;
  sum: number;
  /** The payload is source[at, at + length). */
  source: Uint8Array;
  at: number;
  length: number;
}

/** A slot record for a freshly encoded payload. */
function slotOf(level: number, pending: boolean, epoch: number, count: number, sum: number, payload: Uint8Array): StoredSlot {
  return { level, pending, epoch, count, sum, source: payload, at: 0, length: payload.length };
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

/** Parses an arena: per slot, tag (level·2 + pending), epoch, count, payload length (varints), sum (8 bytes), payload. */
function parseArena(arena: Uint8Array | null): StoredSlot[] {
  const slots: StoredSlot[] = [];
  if (arena === null) return slots;
  let at = 0;
  const varint = () => {
    let v = 0;
    let scale = 1;
    let byte: number;
    do {
      byte = arena[at++]!;
      v += (byte & 127) * scale;
      scale *= 128;
    } while (byte >= 128);
    return v;
  };
  while (at < arena.length) {
    const tag = varint();
    const epoch = varint();
    const count = varint();
    const length = varint();
    f64Bytes.set(arena.subarray(at, at + 8));
    at += 8;
    slots.push({ level: tag >>> 1, pending: (tag & 1) === 1, epoch, count, sum: f64[0]!, source: arena, at, length });
    at += length;
  }
  return slots;
}

/** The arena holding `slots` (null when there are none): one buffer, exactly as long as needed. */
function buildArena(slots: StoredSlot[]): Uint8Array | null {
  if (slots.length === 0) return null;
  const varintBytes = (n: number) => {
    let b = 1;
    while (n >= 128) {
      n = Math.floor(n / 128);
      b++;
    }
    return b;
  };
  let size = 0;
  for (const s of slots) size += varintBytes(s.level * 2 + 1) + varintBytes(s.epoch) + varintBytes(s.count) + varintBytes(s.length) + 8 + s.length;
  const arena = new Uint8Array(size);
  let at = 0;
  const varint = (n: number) => {
    while (n >= 128) {
      arena[at++] = (n % 128) | 128;
      n = Math.floor(n / 128);
    }
    arena[at++] = n;
  };
  for (const s of slots) {
    varint(s.level * 2 + (s.pending ? 1 : 0));
    varint(s.epoch);
    varint(s.count);
    varint(s.length);
    f64[0] = s.sum;
    arena.set(f64Bytes, at);
    at += 8;
    if (s.at === 0 && s.length === s.source.length) arena.set(s.source, at);
    else arena.set(s.source.subarray(s.at, s.at + s.length), at);
    at += s.length;
  }
  return arena;
}

/**
 * Bytes V8 spends on a typed array beside its elements (the view object, its ArrayBuffer and, off
 * heap, the backing store's bookkeeping), and on the HdrWindows object with its small arrays:
 * measured with memory.bench.ts, so that byteSize() tracks the heap.
 */
export const TYPED_ARRAY_OVERHEAD_BYTES = 120;
export const SERIES_OVERHEAD_BYTES = 200;

/** Windowed percentiles of one series. */
export class HdrWindows implements WindowedPercentiles {
  readonly #settings: PercentileSettings;
  readonly #now: () => number;
  readonly #widths: number[];
  readonly #slotCounts: number[];
  readonly #layout: Layout;
  /** Source value → HDR integer: HDR records integers, so values are scaled by 1/unit. */
  readonly #unit: number;
  readonly #lowestInt: number;
  readonly #highestInt: number;
  #live: Slot | null = null;
  #logIndex: Int32Array | null = null;
  #logCount: Float64Array | null = null;
  #logLength = 0;
  /** Every finished slot and every slot in progress of levels ≥ 1, in one buffer (parseArena). */
  #arena: Uint8Array | null = null;
  /** floor(now / level-0 width) when the arena was last brought up to date: it only changes at those boundaries. */
  #arenaEpoch = -1;
  #spare: Slot | null = null;
  /**
   * derived[l]: level l's slot in progress is not stored but summed from level l-1's ring, which
   * still holds all of it (the ring keeps at least width[l]/width[l-1] - 1 slots).
   */
  readonly #derived: boolean[];

  constructor(settings: PercentileSettings, now: () => number) {
    this.#settings = settings;
    this.#now = now;
    const plan = planSlots(settings.windowsMs);
    this.#widths = plan.widthsMs;
    this.#slotCounts = plan.slots;
    const digits = settings.significantDigits;
    // One unit is lowest/10^(digits+1): rounding to whole units then costs at most a tenth of
    // HDR's own relative error, at `lowest`, and less above it.
    this.#unit = settings.lowest / 10 ** (digits + 1);
    this.#lowestInt = 10 ** (digits + 1);
    this.#highestInt = Math.ceil(settings.highest / this.#unit);
    this.#layout = layoutFor(digits, this.#highestInt);
    this.#derived = this.#widths.map((width, l) => l > 0 && this.#slotCounts[l - 1]! >= width / this.#widths[l - 1]! - 1);
  }

  get settings(): PercentileSettings {
    return this.#settings;
  }

  record(value: number, count: number, sum: number = value * count): void {
    count = Math.round(count);
    if (!(count > 0)) return;
    const epoch = Math.floor(this.#now() / this.#widths[0]!);
    let live = this.#live;
    if (live === null || live.epoch !== epoch) {
      this.#advance(epoch * this.#widths[0]!);
      live = this.#live = this.#takeSlot(epoch);
    }
    const index = this.#indexOf(value);
    const n = this.#logLength;
    const indices = (this.#logIndex ??= new Int32Array(LOG_CAPACITY));
    const counts = (this.#logCount ??= new Float64Array(LOG_CAPACITY));
    if (n > 0 && indices[n - 1] === index) counts[n - 1] = counts[n - 1]! + count;
    else if (n < indices.length) {
      indices[n] = index;
      counts[n] = count;
      this.#logLength = n + 1;
    } else {
      this.#flushLog(); // may replace the log with a longer one
      this.#logIndex![0] = index;
      this.#logCount![0] = count;
      this.#logLength = 1;
    }
    live.count += count;
    live.sum += Number.isFinite(sum) ? sum : value * count;
  }

  snapshot(index: number): WindowSnapshot {
    const dense = this.#mergeWindow(index);
    const { count, sum } = this.#totals(index);
    if (touched.high < 0) return { values: null, count, sum };
    const quantiles = this.#settings.quantiles;
    const values = new Float64Array(quantiles.length);
    let total = 0;
    for (let i = touched.low; i <= touched.high; i++) total += dense[i]!;
    const h = this.#layout.index;
    // One walk for all quantiles, in ascending order: each one's bucket is at or after the last's.
    const high = touched.high;
    let i = touched.low;
    let cumulative = dense[i]!;
    for (const q of quantileOrder(this.#settings)) {
      // hdr-histogram-js's rank rule (JsHistogram.getValueAtPercentile), so it can be the oracle:
      // the first bucket whose cumulative count reaches the rank.
      const exact = quantiles[q]! * total;
      const rank = Math.max(Math.ceil(exact - ulp(exact)), 1);
      while (i < high && cumulative < rank) cumulative += dense[++i]!;
      // Twelve significant digits drop the float noise of the unit scaling (0.245366783, not
      // 0.24536678299999998) and are far finer than any HDR precision (at most 5 digits).
      values[q] = Number((h.highestEquivalentValue(h.valueFromIndex(i)) * this.#unit).toPrecision(12));
    }
    return { values, count, sum };
  }

  countAtOrBelow(index: number, threshold: number): { atOrBelow: number; total: number } {
    const dense = this.#mergeWindow(index);
    const limit = this.#indexOf(threshold);
    let atOrBelow = 0;
    let total = 0;
    for (let i = touched.low; i <= touched.high; i++) {
      total += dense[i]!;
      if (i <= limit) atOrBelow += dense[i]!;
    }
    return { atOrBelow, total };
  }

  byteSize(): number {
    this.#advance(this.#now());
    const arrays = (a: { byteLength: number } | null) => (a === null ? 0 : a.byteLength + TYPED_ARRAY_OVERHEAD_BYTES);
    const slot = (s: Slot | null) => (s === null ? 0 : SLOT_OVERHEAD_BYTES + (s.bytes.length === 0 ? 0 : arrays(s.bytes)));
    const held = arrays(this.#arena) + slot(this.#live) + slot(this.#spare) + arrays(this.#logIndex) + arrays(this.#logCount);
    return held === 0 ? 0 : held + SERIES_OVERHEAD_BYTES;
  }

  /** True when no window holds a value any more (the series may drop this object). */
  isEmpty(): boolean {
    this.#advance(this.#now());
    return this.#live === null && this.#arena === null;
  }

  #indexOf(value: number): number {
    let v = Math.round(value / this.#unit);
    if (!(v >= this.#lowestInt)) v = this.#lowestInt; // also NaN and negatives
    else if (v > this.#highestInt) v = this.#highestInt;
    return this.#layout.index.countsArrayIndex(v);
  }

  #takeSlot(epoch: number): Slot {
    const slot = this.#spare ?? new Slot();
    this.#spare = null;
    slot.clear(epoch);
    return slot;
  }

  #flushLog(): void {
    const n = this.#logLength;
    if (n === 0) return;
    const indices = this.#logIndex!;
    const counts = this.#logCount!;
    // Insertion sort (n ≤ 16), folding repeats.
    let m = 0;
    for (let i = 0; i < n; i++) {
      const index = indices[i]!;
      const count = counts[i]!;
      let j = m - 1;
      while (j >= 0 && indices[j]! > index) j--;
      if (j >= 0 && indices[j] === index) {
        counts[j] = counts[j]! + count;
        continue;
      }
      for (let k = m; k > j + 1; k--) {
        indices[k] = indices[k - 1]!;
        counts[k] = counts[k - 1]!;
      }
      indices[j + 1] = index;
      counts[j + 1] = count;
      m++;
    }
    const live = this.#live!;
    mergeEntries(live, indices, counts, m);
    this.#logLength = 0;
    if (live.length > 16 * indices.length && indices.length < LOG_CAPACITY_MAX) {
      this.#logIndex = new Int32Array(indices.length * 2);
      this.#logCount = new Float64Array(indices.length * 2);
    }
  }

  /**
   * Finishes the live slot and every slot in progress whose interval ended before `now`, files
   * each in its level's ring and rolls it up into the next level, and drops slots out of their
   * window; then rewrites the arena. Level boundaries are level-0 boundaries, so nothing changes
   * between two of those.
   */
  #advance(now: number): void {
    const epoch0 = Math.floor(now / this.#widths[0]!);
    const live = this.#live;
    const liveDone = live !== null && live.epoch < epoch0;
    if (!liveDone && epoch0 === this.#arenaEpoch) return;
    this.#arenaEpoch = epoch0;
    if (!liveDone && this.#arena === null) return;
    const stored = parseArena(this.#arena);
    let carries: StoredSlot[] = [];
    if (liveDone) {
      this.#flushLog();
      if (liveIndex.length < live.length) {
        liveIndex = new Int32Array(live.length * 2);
        liveCount = new Float64Array(live.length * 2);
      }
      const n = readEntries(live, liveIndex, liveCount);
      carries.push(slotOf(0, false, live.epoch, live.count, live.sum, encodeEntries(liveIndex, liveCount, n)));
      this.#live = null;
      if (live.bytes.length > SPARE_MAX_BYTES) live.bytes = new Uint8Array(0);
      this.#spare = live;
      // The log goes with the slot: a busy series grows it again within its next slot.
      this.#logIndex = null;
      this.#logCount = null;
    }
    const kept: StoredSlot[] = [];
    let below: StoredSlot[] = []; // level l-1's ring before expiry (with the slots filed now)
    for (let l = 0; l < this.#widths.length; l++) {
      const current = Math.floor(now / this.#widths[l]!);
      const ring: StoredSlot[] = [];
      let pending: StoredSlot | null = null;
      for (const s of stored) {
        if (s.level !== l) continue;
        if (s.pending) pending = s;
        else ring.push(s);
      }
      const finished: StoredSlot[] = [];
      const file = (s: StoredSlot) => {
        s.pending = false;
        ring.push(s);
        finished.push(s);
      };
      if (l === 0) for (const c of carries) file(c);
      else if (this.#derived[l]) {
        // No stored slot in progress: it is the level-(l-1) ring's slots of the current epoch.
        // Epochs that ended are summed from that ring, once (their ring-l slot marks them done).
        const ratio = this.#widths[l]! / this.#widths[l - 1]!;
        const ends: number[] = [];
        for (const s of below) {
          const e = Math.floor(s.epoch / ratio);
          if (e >= current || ends.includes(e) || ring.some((r) => r.epoch === e)) continue;
          ends.push(e);
        }
        ends.sort((x, y) => x - y);
        for (const e of ends) {
          const dense = this.#layout.dense();
          let count = 0;
          let sum = 0;
          for (const s of below) {
            if (Math.floor(s.epoch / ratio) !== e) continue;
            addPayloadToDense(dense, s.source, s.at);
            count += s.count;
            sum += s.sum;
          }
          file(slotOf(l, false, e, count, sum, encodeDense(dense, touched.low, touched.high)));
        }
      } else {
        const ratio = this.#widths[l]! / this.#widths[l - 1]!;
        for (const c of carries) {
          const e = Math.floor(c.epoch / ratio);
          if (pending !== null && pending.epoch === e) {
            const dense = this.#layout.dense();
            addPayloadToDense(dense, pending.source, pending.at);
            addPayloadToDense(dense, c.source, c.at);
            pending = slotOf(l, true, e, pending.count + c.count, pending.sum + c.sum, encodeDense(dense, touched.low, touched.high));
            continue;
          }
          if (pending !== null) file(pending);
          pending = { level: l, pending: true, epoch: e, count: c.count, sum: c.sum, source: c.source, at: c.at, length: c.length };
        }
        if (pending !== null && pending.epoch < current) {
          file(pending);
          pending = null;
        }
      }
      for (const s of ring) if (s.epoch >= current - this.#slotCounts[l]!) kept.push(s);
      if (pending !== null) kept.push(pending);
      carries = finished;
      below = ring;
    }
    this.#arena = buildArena(kept);
    if (this.#arena === null && this.#live === null) this.#spare = null; // idle: hold nothing
  }

  /**
   * Whether stored slot `s` is in window `w`: level w's ring, the slots in progress of levels
   * 1 … w, and for a level l whose slot in progress is derived, level l-1's ring slots of l's
   * current epoch (`current[l]`).
   */
  #inWindow(s: StoredSlot, w: number, current: number[]): boolean {
    if (s.pending) return s.level <= w;
    if (s.level === w) return true;
    const l = s.level + 1;
    return l <= w && this.#derived[l]! && Math.floor(s.epoch / (this.#widths[l]! / this.#widths[s.level]!)) === current[l];
  }

  #currentEpochs(): number[] {
    const now = this.#now();
    return this.#widths.map((width) => Math.floor(now / width));
  }

  /** Merges window `w` into the layout's scratch (its populated range is `touched`). */
  #mergeWindow(w: number): Float64Array {
    this.#advance(this.#now());
    const dense = this.#layout.dense();
    const current = this.#currentEpochs();
    for (const s of parseArena(this.#arena)) if (this.#inWindow(s, w, current)) addPayloadToDense(dense, s.source, s.at);
    const live = this.#live;
    if (live !== null) {
      addToDense(dense, live.bytes, live.length);
      for (let i = 0; i < this.#logLength; i++) {
        const index = this.#logIndex![i]!;
        dense[index] = dense[index]! + this.#logCount![i]!;
        if (index < touched.low) touched.low = index;
        if (index > touched.high) touched.high = index;
      }
    }
    return dense;
  }

  #totals(w: number): { count: number; sum: number } {
    let count = 0;
    let sum = 0;
    const current = this.#currentEpochs();
    for (const s of parseArena(this.#arena)) {
      if (this.#inWindow(s, w, current)) {
        count += s.count;
        sum += s.sum;
      }
    }
    if (this.#live !== null) {
      count += this.#live.count;
      sum += this.#live.sum;
    }
    return { count, sum };
  }
}

/** Scratch for the live slot's entries when it is encoded. */
let liveIndex = new Int32Array(256);
let liveCount = new Float64Array(256);

function ulp(x: number): number {
  return x === 0 ? Number.MIN_VALUE : 2 ** (Math.floor(Math.log2(Math.abs(x))) - 52);
}
