// Good/total counts of one SLO in two preallocated rings: the last LIVE_MINUTES minutes, and hours
// back to the start of the longest window. A window sum is exact: whole hours from the hour ring,
// the partial hours at both ends from minutes. The right end is always recent (minute ring); the
// left end of a long window is older than the minute ring, so its minutes come from storage, loaded
// once per hour and window into a small edge cache (docs/slo.md, "Memory layout"). Nothing is
// allocated until the SLO sees its first event, so idle SLOs cost a few hundred bytes.

import type { Bucket } from '../storage/index.js';

/** Minutes into the past an event may still be attributed to its own minute (later ones go to now). */
export const LATE_MINUTES = 10;

/** Minutes whose flushed values are remembered; bounds how long flushes may fail before data is lost. */
export const FLUSH_SLOTS = 64;

/**
 * Minutes kept live when history is in storage: covers the 2h window, the current hour plus the
 * late minutes (the right edge of every window), and the flush bookkeeping.
 */
export const LIVE_MINUTES = 128;

/** Edge hours cached per SLO: the left edges of the 6h, 1d, 3d and SLO windows. */
const EDGE_SLOTS = 4;

const HOUR = 60;

/** A minute's counts, as added to storage. */
export interface MinuteCounts {
  minute: number;
  good: number;
  total: number;
}

/** Stored minutes of this SLO in [fromMinute, toMinute], ascending (the flushed history). */
export type MinuteSource = (fromMinute: number, toMinute: number) => Bucket[];

/** Ring sizes of one SLO. */
export interface CountsShape {
  /** Minutes held live (with storage LIVE_MINUTES; without, the whole window, since nothing else has them). */
  minuteSlots: number;
  /** Hours held: the longest window in hours, plus the partial hours at both ends. */
  hourSlots: number;
}

/** The rings of one SLO, allocated on first use. */
export class SloCounts {
  readonly minuteSlots: number;
  readonly hourSlots: number;
  #mGood: Float64Array | null = null;
  #mTotal: Float64Array | null = null;
  #mTag: Int32Array | null = null;
  #hGood: Float64Array | null = null;
  #hTotal: Float64Array | null = null;
  #hTag: Int32Array | null = null;
  // What storage holds for the last FLUSH_SLOTS minutes (only minutes this process wrote or loaded).
  #flushedGood: Float64Array | null = null;
  #flushedTotal: Float64Array | null = null;
  #flushedTag: Int32Array | null = null;
  // Minutes of a few old hours (window left edges), loaded from storage; allocated on first need.
  #edgeTag: Int32Array | null = null;
  #edgeGood: Float64Array | null = null;
  #edgeTotal: Float64Array | null = null;
  #edgeNext = 0;
  /** Edge hours loaded from storage (a measure of the storage reads the layout costs). */
  edgeLoads = 0;

  constructor(shape: CountsShape) {
    this.minuteSlots = shape.minuteSlots;
    this.hourSlots = shape.hourSlots;
  }

  /** True once any event or history was added. */
  get allocated(): boolean {
    return this.#mGood !== null;
  }

  #alloc(): void {
    this.#mGood = new Float64Array(this.minuteSlots);
    this.#mTotal = new Float64Array(this.minuteSlots);
    this.#mTag = new Int32Array(this.minuteSlots).fill(-1);
    this.#hGood = new Float64Array(this.hourSlots);
    this.#hTotal = new Float64Array(this.hourSlots);
    this.#hTag = new Int32Array(this.hourSlots).fill(-1);
    this.#flushedGood = new Float64Array(FLUSH_SLOTS);
    this.#flushedTotal = new Float64Array(FLUSH_SLOTS);
    this.#flushedTag = new Int32Array(FLUSH_SLOTS).fill(-1);
  }

  /** Adds counts to `minute` (an epoch minute, at most LATE_MINUTES old) and to its hour. */
  add(minute: number, good: number, total: number): void {
    if (this.#mGood === null) this.#alloc();
    const i = minute % this.minuteSlots;
    if (this.#mTag![i] !== minute) {
      this.#mTag![i] = minute;
      this.#mGood![i] = good;
      this.#mTotal![i] = total;
    } else {
      this.#mGood![i] += good;
      this.#mTotal![i] += total;
    }
    const hour = Math.floor(minute / HOUR);
    const h = hour % this.hourSlots;
    if (this.#hTag![h] !== hour) {
      this.#hTag![h] = hour;
      this.#hGood![h] = good;
      this.#hTotal![h] = total;
    } else {
      this.#hGood![h] += good;
      this.#hTotal![h] += total;
    }
  }

  /** Sets a minute from storage (its hour comes from loadHour); recent ones are marked as flushed. */
  loadMinute(minute: number, good: number, total: number, nowMinute: number): void {
    if (this.#mGood === null) this.#alloc();
    const i = minute % this.minuteSlots;
    this.#mTag![i] = minute;
    this.#mGood![i] = good;
    this.#mTotal![i] = total;
    if (minute > nowMinute - FLUSH_SLOTS) {
      const f = minute % FLUSH_SLOTS;
      this.#flushedTag![f] = minute;
      this.#flushedGood![f] = good;
      this.#flushedTotal![f] = total;
    }
  }

  /** Sets an hour from storage. */
  loadHour(hour: number, good: number, total: number): void {
    if (this.#mGood === null) this.#alloc();
    const h = hour % this.hourSlots;
    this.#hTag![h] = hour;
    this.#hGood![h] = good;
    this.#hTotal![h] = total;
  }

  /**
   * Sums minutes [from, to] (to ≤ nowMinute) into out[0] (good) and out[1] (total). Whole hours
   * come from the hour ring; partial hours from the minute ring, or from `source` for minutes
   * older than the minute ring.
   */
  sum(from: number, to: number, nowMinute: number, out: Float64Array, source: MinuteSource | null): void {
    out[0] = 0;
    out[1] = 0;
    if (this.#mGood === null || to < from) return;
    const firstFull = Math.ceil(from / HOUR);
    const lastFull = Math.floor((to + 1) / HOUR) - 1;
    if (lastFull < firstFull) {
      this.#minutes(from, to, nowMinute, out, source);
      return;
    }
    if (from < firstFull * HOUR) this.#minutes(from, firstFull * HOUR - 1, nowMinute, out, source);
    const oldestHour = Math.floor(nowMinute / HOUR) - this.hourSlots + 1;
    for (let hour = Math.max(firstFull, oldestHour); hour <= lastFull; hour++) {
      const h = hour % this.hourSlots;
      if (this.#hTag![h] === hour) {
        out[0] += this.#hGood![h]!;
        out[1] += this.#hTotal![h]!;
      }
    }
    if ((lastFull + 1) * HOUR <= to) this.#minutes((lastFull + 1) * HOUR, to, nowMinute, out, source);
  }

  /** Adds minutes [from, to] to out: from the minute ring where it reaches, else from the edge cache. */
  #minutes(from: number, to: number, nowMinute: number, out: Float64Array, source: MinuteSource | null): void {
    const reach = nowMinute - this.minuteSlots + 1;
    for (let m = Math.max(from, reach); m <= to; m++) {
      const i = m % this.minuteSlots;
      if (this.#mTag![i] === m) {
        out[0] += this.#mGood![i]!;
        out[1] += this.#mTotal![i]!;
      }
    }
    if (from >= reach || source === null) return;
    for (let hour = Math.floor(from / HOUR); hour * HOUR <= Math.min(to, reach - 1); hour++) {
      // An hour the hour ring holds as empty has no minutes to load.
      const h = hour % this.hourSlots;
      if (hour > Math.floor(nowMinute / HOUR) - this.hourSlots && (this.#hTag![h] !== hour || this.#hTotal![h] === 0)) continue;
      const slot = this.#edge(hour, source);
      const a = Math.max(from, hour * HOUR) - hour * HOUR;
      const b = Math.min(to, reach - 1, hour * HOUR + HOUR - 1) - hour * HOUR;
      for (let k = a; k <= b; k++) {
        out[0] += this.#edgeGood![slot * HOUR + k]!;
        out[1] += this.#edgeTotal![slot * HOUR + k]!;
      }
    }
  }

  /** The edge-cache slot holding `hour`'s minutes, loading them from storage if needed. */
  #edge(hour: number, source: MinuteSource): number {
    if (this.#edgeTag === null) {
      this.#edgeTag = new Int32Array(EDGE_SLOTS).fill(-1);
      this.#edgeGood = new Float64Array(EDGE_SLOTS * HOUR);
      this.#edgeTotal = new Float64Array(EDGE_SLOTS * HOUR);
    }
    for (let s = 0; s < EDGE_SLOTS; s++) if (this.#edgeTag[s] === hour) return s;
    const slot = this.#edgeNext;
    this.#edgeNext = (slot + 1) % EDGE_SLOTS;
    this.#edgeTag[slot] = hour;
    this.#edgeGood!.fill(0, slot * HOUR, slot * HOUR + HOUR);
    this.#edgeTotal!.fill(0, slot * HOUR, slot * HOUR + HOUR);
    for (const b of source(hour * HOUR, hour * HOUR + HOUR - 1)) {
      this.#edgeGood![slot * HOUR + (b.at - hour * HOUR)] = b.good;
      this.#edgeTotal![slot * HOUR + (b.at - hour * HOUR)] = b.total;
    }
    this.edgeLoads++;
    return slot;
  }

  /** Sums the hours starting in [fromMs, toMs) that the hour ring still holds; returns false if `fromMs` is older. */
  hoursStarting(fromMs: number, toMs: number, nowMinute: number, out: Float64Array): boolean {
    out[0] = 0;
    out[1] = 0;
    const oldestHour = Math.floor(nowMinute / HOUR) - this.hourSlots + 1;
    const first = Math.ceil(fromMs / 3_600_000);
    if (first < oldestHour) return false;
    if (this.#hGood === null) return true;
    for (let hour = first; hour * 3_600_000 < toMs; hour++) {
      const h = hour % this.hourSlots;
      if (this.#hTag![h] === hour) {
        out[0] += this.#hGood[h]!;
        out[1] += this.#hTotal![h]!;
      }
    }
    return true;
  }

  /** Pushes, for minutes [from, to], the counts not yet flushed. */
  unflushed(from: number, to: number, out: MinuteCounts[]): void {
    if (this.#mGood === null) return;
    for (let m = Math.max(from, to - FLUSH_SLOTS + 1); m <= to; m++) {
      const i = m % this.minuteSlots;
      if (this.#mTag![i] !== m) continue;
      const f = m % FLUSH_SLOTS;
      const known = this.#flushedTag![f] === m;
      const good = this.#mGood[i]! - (known ? this.#flushedGood![f]! : 0);
      const total = this.#mTotal![i]! - (known ? this.#flushedTotal![f]! : 0);
      if (good !== 0 || total !== 0) out.push({ minute: m, good, total });
    }
  }

  /** Records minutes [from, to] as flushed with their current counts. */
  markFlushed(from: number, to: number): void {
    if (this.#mGood === null) return;
    for (let m = Math.max(from, to - FLUSH_SLOTS + 1); m <= to; m++) {
      const i = m % this.minuteSlots;
      if (this.#mTag![i] !== m) continue;
      const f = m % FLUSH_SLOTS;
      this.#flushedTag![f] = m;
      this.#flushedGood![f] = this.#mGood[i]!;
      this.#flushedTotal![f] = this.#mTotal![i]!;
    }
  }

  /** Bytes held by the typed arrays (the object itself adds about 200). */
  get byteSize(): number {
    let bytes = 0;
    if (this.#mGood !== null) bytes += (this.minuteSlots + this.hourSlots + FLUSH_SLOTS) * 20;
    if (this.#edgeTag !== null) bytes += EDGE_SLOTS * (4 + HOUR * 16);
    return bytes;
  }
}

/** Bytes an SLO with traffic holds for a given shape (what `vigil check-config` adds up). */
export function countsBytes(shape: CountsShape, withStorage: boolean): number {
  return (shape.minuteSlots + shape.hourSlots + FLUSH_SLOTS) * 20 + (withStorage ? EDGE_SLOTS * (4 + HOUR * 16) : 0);
}
