// Per-minute good/total counts of one SLO in preallocated rings: the window sums read them, the
// flush writes what changed since the last flush. Recording touches two array slots, no allocation.

/** Minutes into the past an event may still be attributed to its own minute (later ones go to now). */
export const LATE_MINUTES = 10;

/** Minutes whose flushed values are remembered; bounds how long flushes may fail before data is lost. */
export const FLUSH_SLOTS = 64;

/** A minute's counts, as added to storage. */
export interface MinuteCounts {
  minute: number;
  good: number;
  total: number;
}

/** Ring of `size` minutes, indexed by epoch minute modulo size; a tag says which minute a slot holds. */
export class MinuteRing {
  readonly size: number;
  readonly #good: Float64Array;
  readonly #total: Float64Array;
  readonly #tag: Int32Array;
  // What storage holds for the last FLUSH_SLOTS minutes (only minutes this process wrote or loaded).
  readonly #flushedGood = new Float64Array(FLUSH_SLOTS);
  readonly #flushedTotal = new Float64Array(FLUSH_SLOTS);
  readonly #flushedTag = new Int32Array(FLUSH_SLOTS).fill(-1);

  constructor(size: number) {
    this.size = size;
    this.#good = new Float64Array(size);
    this.#total = new Float64Array(size);
    this.#tag = new Int32Array(size).fill(-1);
  }

  /** Adds counts to `minute` (an epoch minute); the caller keeps minutes within the ring. */
  add(minute: number, good: number, total: number): void {
    const i = minute % this.size;
    if (this.#tag[i] !== minute) {
      this.#tag[i] = minute;
      this.#good[i] = good;
      this.#total[i] = total;
      return;
    }
    this.#good[i] += good;
    this.#total[i] += total;
  }

  /** Sets a minute from storage; recent ones are marked as already flushed. */
  load(minute: number, good: number, total: number, nowMinute: number): void {
    const i = minute % this.size;
    this.#tag[i] = minute;
    this.#good[i] = good;
    this.#total[i] = total;
    if (minute > nowMinute - FLUSH_SLOTS) {
      const f = minute % FLUSH_SLOTS;
      this.#flushedTag[f] = minute;
      this.#flushedGood[f] = good;
      this.#flushedTotal[f] = total;
    }
  }

  /** Sums minutes [from, to] into out[0] (good) and out[1] (total). */
  sum(from: number, to: number, out: Float64Array): void {
    let good = 0;
    let total = 0;
    const first = Math.max(from, to - this.size + 1);
    for (let m = first; m <= to; m++) {
      const i = m % this.size;
      if (this.#tag[i] === m) {
        good += this.#good[i]!;
        total += this.#total[i]!;
      }
    }
    out[0] = good;
    out[1] = total;
  }

  /** Pushes, for minutes [from, to], the counts not yet flushed. */
  unflushed(from: number, to: number, out: MinuteCounts[]): void {
    for (let m = Math.max(from, to - FLUSH_SLOTS + 1); m <= to; m++) {
      const i = m % this.size;
      if (this.#tag[i] !== m) continue;
      const f = m % FLUSH_SLOTS;
      const known = this.#flushedTag[f] === m;
      const good = this.#good[i]! - (known ? this.#flushedGood[f]! : 0);
      const total = this.#total[i]! - (known ? this.#flushedTotal[f]! : 0);
      if (good !== 0 || total !== 0) out.push({ minute: m, good, total });
    }
  }

  /** Records minutes [from, to] as flushed with their current counts. */
  markFlushed(from: number, to: number): void {
    for (let m = Math.max(from, to - FLUSH_SLOTS + 1); m <= to; m++) {
      const i = m % this.size;
      if (this.#tag[i] !== m) continue;
      const f = m % FLUSH_SLOTS;
      this.#flushedTag[f] = m;
      this.#flushedGood[f] = this.#good[i]!;
      this.#flushedTotal[f] = this.#total[i]!;
    }
  }

  /** Bytes held. */
  get byteSize(): number {
    return this.size * 20 + FLUSH_SLOTS * 20;
  }
}
