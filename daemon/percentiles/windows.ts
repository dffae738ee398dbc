// Sliding windows of HDR counts from rotating interval slots, cascaded so that each value is
// recorded once. Level l (one per window) has slots `widths[l]` ms wide; a finished slot of level l
// is kept in level l's ring and added into the slot in progress of level l+1 ("pending"). Window l
// is then: level l's ring + pending[1..l] + the live slot. Widths nest (each a multiple of the
// previous), which is what makes the roll-up exact. See README.md for the numbers.

import hdr from 'hdr-histogram-js';
import type { PercentileSettings, WindowSnapshot, WindowedPercentiles } from './types.js';
import { SLOT_OVERHEAD_BYTES, Slot, addToDense, mergeEntries, mergeSlot, touched } from './sparse.js';

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

  constructor(readonly digits: number, readonly highestInt: number) {
    this.index = new hdr.PackedHistogram(1, highestInt, digits);
  }

  /** The scratch, zeroed over the range the previous merge touched. */
  dense(): Float64Array {
    if (this.#dense === null) this.#dense = new Float64Array(this.index.countsArrayLength);
    else if (touched.high >= 0) this.#dense.fill(0, touched.low, touched.high + 1);
    touched.low = Number.MAX_SAFE_INTEGER;
    touched.high = -1;
    return this.#dense;
  }

  get denseBytes(): number {
    return this.#dense === null ? 0 : this.#dense.byteLength;
  }
}

const layouts = new Map<string, Layout>();

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
  /** pending[l]: the level-l slot in progress, from finished level l-1 slots (index 0 unused). */
  readonly #pending: (Slot | null)[];
  readonly #rings: ((Slot | null)[] | null)[];
  #spare: Slot | null = null;

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
    this.#pending = new Array<Slot | null>(settings.windowsMs.length).fill(null);
    this.#rings = new Array<(Slot | null)[] | null>(settings.windowsMs.length).fill(null);
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
    for (let q = 0; q < quantiles.length; q++) {
      // hdr-histogram-js's rank rule (JsHistogram.getValueAtPercentile), so it can be the oracle.
      const exact = quantiles[q]! * total;
      const rank = Math.max(Math.ceil(exact - ulp(exact)), 1);
      let cumulative = 0;
      let i = touched.low;
      for (; i < touched.high; i++) {
        cumulative += dense[i]!;
        if (cumulative >= rank) break;
      }
      values[q] = h.highestEquivalentValue(h.valueFromIndex(i)) * this.#unit;
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
    let bytes = 0;
    const slotBytes = (s: Slot | null) => (s === null ? 0 : s.bytes.byteLength + SLOT_OVERHEAD_BYTES);
    bytes += slotBytes(this.#live) + slotBytes(this.#spare);
    if (this.#logIndex !== null) bytes += this.#logIndex.byteLength + this.#logCount!.byteLength;
    for (const p of this.#pending) bytes += slotBytes(p);
    for (const ring of this.#rings) {
      if (ring === null) continue;
      bytes += 8 * ring.length;
      for (const s of ring) bytes += slotBytes(s);
    }
    return bytes;
  }

  /** True when no window holds a value any more (the series may drop this object). */
  isEmpty(): boolean {
    this.#advance(this.#now());
    if (this.#live !== null) return false;
    for (const p of this.#pending) if (p !== null) return false;
    for (const ring of this.#rings) if (ring !== null) return false;
    return true;
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

  /** Keeps one freed slot for the next live slot, without a payload buffer worth freeing. */
  #keepSpare(slot: Slot): void {
    if (this.#spare !== null) return;
    if (slot.bytes.length > SPARE_MAX_BYTES) slot.bytes = new Uint8Array(0);
    this.#spare = slot;
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

  /** Finishes every slot whose interval ended before `now`, and frees slots out of every window. */
  #advance(now: number): void {
    const levels = this.#widths.length;
    for (let l = 0; l < levels; l++) {
      const current = Math.floor(now / this.#widths[l]!);
      if (l === 0) {
        const live = this.#live;
        if (live !== null && live.epoch < current) {
          this.#flushLog();
          this.#live = null;
          this.#finish(0, live);
        }
      } else {
        const pending = this.#pending[l]!;
        if (pending !== null && pending.epoch < current) {
          this.#pending[l] = null;
          this.#finish(l, pending);
        }
      }
      const ring = this.#rings[l]!;
      if (ring === null) continue;
      let held = 0;
      for (let i = 0; i < ring.length; i++) {
        const slot = ring[i]!;
        if (slot === null) continue;
        if (slot.epoch < current - this.#slotCounts[l]!) {
          ring[i] = null;
          this.#keepSpare(slot);
        } else held++;
      }
      if (held === 0) this.#rings[l] = null;
    }
  }

  /** Files a finished level-l slot in its ring and rolls it up into level l+1's slot in progress. */
  #finish(l: number, slot: Slot): void {
    if (slot.length > 0 && slot.bytes.length > slot.length + (slot.length >> 3) + 8) {
      slot.bytes = slot.bytes.slice(0, slot.length); // drop the live slot's headroom
    }
    const slots = this.#slotCounts[l]!;
    const ring = (this.#rings[l] ??= new Array<Slot | null>(slots).fill(null));
    const at = slot.epoch % slots;
    if (ring[at] !== null) this.#keepSpare(ring[at]!);
    ring[at] = slot;
    if (l + 1 >= this.#widths.length) return;
    const epoch = Math.floor(slot.epoch / (this.#widths[l + 1]! / this.#widths[l]!));
    let pending: Slot | null = this.#pending[l + 1]!;
    if (pending !== null && pending.epoch !== epoch) {
      this.#pending[l + 1] = null;
      this.#finish(l + 1, pending);
      pending = null;
    }
    if (pending === null) pending = this.#pending[l + 1] = this.#takeSlot(epoch);
    mergeSlot(pending, slot);
  }

  /** Merges window `w` into the layout's scratch (its populated range is `touched`). */
  #mergeWindow(w: number): Float64Array {
    this.#advance(this.#now());
    const dense = this.#layout.dense();
    const ring = this.#rings[w]!;
    if (ring !== null) for (const s of ring) if (s !== null) addToDense(dense, s.bytes, s.length);
    for (let l = 1; l <= w; l++) {
      const p = this.#pending[l]!;
      if (p !== null) addToDense(dense, p.bytes, p.length);
    }
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
    const add = (s: Slot | null) => {
      if (s === null) return;
      count += s.count;
      sum += s.sum;
    };
    const ring = this.#rings[w]!;
    if (ring !== null) for (const s of ring) add(s);
    for (let l = 1; l <= w; l++) add(this.#pending[l]!);
    add(this.#live);
    return { count, sum };
  }
}

function ulp(x: number): number {
  return x === 0 ? Number.MIN_VALUE : 2 ** (Math.floor(Math.log2(Math.abs(x))) - 52);
}
