// Good/total counts of one SLO in three small rings: the last LIVE_MINUTES minutes, the last
// LIVE_HOURS hours, and days (UTC) back to the start of the longest window. A window sum is exact:
// whole days from the day ring, the partial days at both ends from hours, the partial hours from
// minutes. The right end is always recent (in memory); the left end of a long window is older
// than the minute and hour rings, so its partial day and hour are summed by storage (one row per
// window and minute, skipped when the rings know the span had no events); the engine caches
// these sums per minute (docs/slo.md, "Memory layout"). Nothing is allocated before the SLO's
// first event: idle SLOs cost a few hundred bytes.

/** Minutes into the past an event may still be attributed to its own minute (later ones go to now). */
export const LATE_MINUTES = 10;

/** Minutes whose flushed values are remembered; bounds how long flushes may fail before data is lost. */
export const FLUSH_SLOTS = 64;

/**
 * Minutes kept live when history is in storage: the 2h window, the current hour plus the late
 * minutes (the right edge of every window), and what a flush that works again after failing (a
 * full disk) or a wall-clock step must still write minute by minute: about 4 hours (minutes it
 * reuses while flushes fail are kept apart by the engine until one works).
 */
export const LIVE_MINUTES = 256;

/** Hours kept live when history is in storage: today and yesterday (the 1d window), plus the late hour. */
export const LIVE_HOURS = 50;

const HOUR = 60;
const DAY = 1440;

/** A minute's counts, as added to storage. */
export interface MinuteCounts {
  minute: number;
  good: number;
  total: number;
}

/** Where the left edges are summed: this SLO's stored history. Each adds its sums to out[0] (good) and out[1] (total). */
export interface HistorySource {
  /** Stored minutes in [fromMinute, toMinute]. */
  minutes(fromMinute: number, toMinute: number, out: Float64Array): void;
  /** Stored hours in [fromHour, toHour]. */
  hours(fromHour: number, toHour: number, out: Float64Array): void;
}

/** Ring sizes of one SLO. */
export interface CountsShape {
  minuteSlots: number;
  hourSlots: number;
  /** The longest window in days, plus the partial days at both ends. */
  daySlots: number;
}

/** Buckets by epoch index modulo size; a tag says which index a slot holds. */
class Ring {
  readonly size: number;
  readonly good: Float64Array;
  readonly total: Float64Array;
  readonly tag: Int32Array;

  constructor(size: number) {
    this.size = size;
    this.good = new Float64Array(size);
    this.total = new Float64Array(size);
    this.tag = new Int32Array(size).fill(-1);
  }

  add(index: number, good: number, total: number): void {
    const i = index % this.size;
    if (this.tag[i] !== index) {
      this.tag[i] = index;
      this.good[i] = good;
      this.total[i] = total;
    } else {
      this.good[i] += good;
      this.total[i] += total;
    }
  }

  set(index: number, good: number, total: number): void {
    const i = index % this.size;
    this.tag[i] = index;
    this.good[i] = good;
    this.total[i] = total;
  }

  /** Adds bucket `index` to out (nothing if the ring holds no such bucket). */
  read(index: number, out: Float64Array): void {
    const i = index % this.size;
    if (this.tag[i] === index) {
      out[0] += this.good[i]!;
      out[1] += this.total[i]!;
    }
  }

  /** Total of bucket `index` (0 if absent). */
  totalOf(index: number): number {
    const i = index % this.size;
    return this.tag[i] === index ? this.total[i]! : 0;
  }
}

/** The rings of one SLO, allocated on first use. */
export class SloCounts {
  readonly minuteSlots: number;
  readonly hourSlots: number;
  readonly daySlots: number;
  #minutes: Ring | null = null;
  #hours: Ring | null = null;
  #days: Ring | null = null;
  // What storage holds for the last FLUSH_SLOTS minutes (only minutes this process wrote or loaded).
  #flushed: Ring | null = null;
  /** Edge sums read from storage (a measure of the storage reads the layout costs). */
  edgeReads = 0;

  constructor(shape: CountsShape) {
    this.minuteSlots = shape.minuteSlots;
    this.hourSlots = shape.hourSlots;
    this.daySlots = shape.daySlots;
  }

  /** True once an event or stored history gave the SLO its rings. */
  get allocated(): boolean {
    return this.#minutes !== null;
  }

  #alloc(): void {
    this.#minutes = new Ring(this.minuteSlots);
    this.#hours = new Ring(this.hourSlots);
    this.#days = new Ring(this.daySlots);
    this.#flushed = new Ring(FLUSH_SLOTS);
  }

  /** Adds counts to `minute` (an epoch minute, at most LATE_MINUTES old), its hour and its day. */
  add(minute: number, good: number, total: number): void {
    if (this.#minutes === null) this.#alloc();
    this.#minutes!.add(minute, good, total);
    this.#hours!.add(Math.floor(minute / HOUR), good, total);
    this.#days!.add(Math.floor(minute / DAY), good, total);
  }

  /**
   * Adds counts of a minute older than the minute ring (already written to storage: a backfill)
   * to its hour and its day, where those rings still hold them; older ones are read from storage.
   */
  addPast(minute: number, good: number, total: number, nowMinute: number): void {
    if (this.#minutes === null) this.#alloc();
    const hour = Math.floor(minute / HOUR);
    const day = Math.floor(minute / DAY);
    if (hour > Math.floor(nowMinute / HOUR) - this.hourSlots) this.#hours!.add(hour, good, total);
    if (day > Math.floor(nowMinute / DAY) - this.daySlots) this.#days!.add(day, good, total);
  }

  /** Sets a minute from storage (its hour and day come from loadHour/loadDay); recent ones are marked as flushed. */
  loadMinute(minute: number, good: number, total: number, nowMinute: number): void {
    if (this.#minutes === null) this.#alloc();
    this.#minutes!.set(minute, good, total);
    if (minute > nowMinute - FLUSH_SLOTS) this.#flushed!.set(minute, good, total);
  }

  /** Sets an hour from storage. */
  loadHour(hour: number, good: number, total: number): void {
    if (this.#minutes === null) this.#alloc();
    this.#hours!.set(hour, good, total);
  }

  /** Sets a day from storage. */
  loadDay(day: number, good: number, total: number): void {
    if (this.#minutes === null) this.#alloc();
    this.#days!.set(day, good, total);
  }

  /**
   * Sums minutes [from, to] (to ≤ nowMinute) into out[0] (good) and out[1] (total): whole days
   * from the day ring, partial days from hours, partial hours from minutes; hours and minutes
   * older than their rings from `source`.
   */
  sum(from: number, to: number, nowMinute: number, out: Float64Array, source: HistorySource | null): void {
    out[0] = 0;
    out[1] = 0;
    if (this.#minutes === null || to < from) return;
    const a = Math.ceil(from / DAY);
    const b = Math.floor((to + 1) / DAY) - 1;
    if (a > b) {
      this.#sumHours(from, to, nowMinute, out, source);
      return;
    }
    if (from < a * DAY) this.#sumHours(from, a * DAY - 1, nowMinute, out, source);
    const oldest = Math.floor(nowMinute / DAY) - this.daySlots + 1;
    for (let d = Math.max(a, oldest); d <= b; d++) this.#days!.read(d, out);
    if ((b + 1) * DAY <= to) this.#sumHours((b + 1) * DAY, to, nowMinute, out, source);
  }

  /** Adds minutes [from, to] to out from hours where whole, minutes at the ends. */
  #sumHours(from: number, to: number, nowMinute: number, out: Float64Array, source: HistorySource | null): void {
    const a = Math.ceil(from / HOUR);
    const b = Math.floor((to + 1) / HOUR) - 1;
    if (a > b) {
      this.#sumMinutes(from, to, nowMinute, out, source);
      return;
    }
    if (from < a * HOUR) this.#sumMinutes(from, a * HOUR - 1, nowMinute, out, source);
    const reach = Math.floor(nowMinute / HOUR) - this.hourSlots + 1;
    for (let h = Math.max(a, reach); h <= b; h++) this.#hours!.read(h, out);
    // Hours older than the hour ring (the partial day at a long window's left end): from storage.
    const last = Math.min(b, reach - 1);
    if (source !== null && a <= last && !this.#knownEmptyDays(Math.floor(a / 24), Math.floor(last / 24), nowMinute)) {
      source.hours(a, last, out);
      this.edgeReads++;
    }
    if ((b + 1) * HOUR <= to) this.#sumMinutes((b + 1) * HOUR, to, nowMinute, out, source);
  }

  /** Adds minutes [from, to] to out: from the minute ring where it reaches, else from storage an hour at a time. */
  #sumMinutes(from: number, to: number, nowMinute: number, out: Float64Array, source: HistorySource | null): void {
    const reach = nowMinute - this.minuteSlots + 1;
    for (let m = Math.max(from, reach); m <= to; m++) this.#minutes!.read(m, out);
    // Minutes older than the minute ring (the partial hour at a window's left end): from storage.
    const last = Math.min(to, reach - 1);
    if (source !== null && from <= last && !this.#knownEmptyHours(Math.floor(from / HOUR), Math.floor(last / HOUR), nowMinute)) {
      source.minutes(from, last, out);
      this.edgeReads++;
    }
  }

  /** True when the rings know hours [a, b] had no events (then storage need not be asked). */
  #knownEmptyHours(a: number, b: number, nowMinute: number): boolean {
    const reach = Math.floor(nowMinute / HOUR) - this.hourSlots;
    for (let h = a; h <= b; h++) {
      if (h > reach ? this.#hours!.totalOf(h) !== 0 : !this.#knownEmptyDays(Math.floor(h / 24), Math.floor(h / 24), nowMinute)) return false;
    }
    return true;
  }

  /** True when the day ring knows days [a, b] had no events. */
  #knownEmptyDays(a: number, b: number, nowMinute: number): boolean {
    const reach = Math.floor(nowMinute / DAY) - this.daySlots;
    for (let d = a; d <= b; d++) if (d <= reach || this.#days!.totalOf(d) !== 0) return false;
    return true;
  }

  /**
   * Sums a local day [startMs, endMs) into out if the rings hold it: a UTC day from the day ring,
   * any other day as the hours starting in it (exact for zones with whole-hour offsets). False
   * when the day is older than the rings.
   */
  localDay(startMs: number, endMs: number, nowMinute: number, out: Float64Array): boolean {
    out[0] = 0;
    out[1] = 0;
    if (startMs % 86_400_000 === 0 && endMs - startMs === 86_400_000) {
      const day = startMs / 86_400_000;
      if (day <= Math.floor(nowMinute / DAY) - this.daySlots) return false;
      this.#days?.read(day, out);
      return true;
    }
    const first = Math.ceil(startMs / 3_600_000);
    if (first <= Math.floor(nowMinute / HOUR) - this.hourSlots) return false;
    for (let h = first; h * 3_600_000 < endMs; h++) this.#hours?.read(h, out);
    return true;
  }

  /** The minute the slot of `minute` holds when it is another one (adding to `minute` drops it), else -1. */
  heldBefore(minute: number): number {
    const minutes = this.#minutes;
    if (minutes === null) return -1;
    const tag = minutes.tag[minute % minutes.size]!;
    return tag === minute ? -1 : tag;
  }

  /**
   * The oldest minute at or after `from` the minute ring still holds, or `to` + 1 if none. A slot
   * keeps its minute until an event of a later minute of the same slot arrives, so after a quiet
   * spell it can hold a minute older than the ring's span.
   */
  oldestSince(from: number, to: number): number {
    const minutes = this.#minutes;
    let oldest = to + 1;
    if (minutes === null) return oldest;
    for (const m of minutes.tag) if (m >= from && m < oldest) oldest = m;
    return oldest;
  }

  /** Pushes, for minutes [from, to], the counts not yet flushed. */
  unflushed(from: number, to: number, out: MinuteCounts[]): void {
    const minutes = this.#minutes;
    const flushed = this.#flushed;
    if (minutes === null || flushed === null) return;
    for (let m = Math.max(from, to - FLUSH_SLOTS + 1); m <= to; m++) {
      const i = m % minutes.size;
      if (minutes.tag[i] !== m) continue;
      const f = m % FLUSH_SLOTS;
      const known = flushed.tag[f] === m;
      const good = minutes.good[i]! - (known ? flushed.good[f]! : 0);
      const total = minutes.total[i]! - (known ? flushed.total[f]! : 0);
      if (good !== 0 || total !== 0) out.push({ minute: m, good, total });
    }
  }

  /** Records minutes [from, to] as flushed with their current counts. */
  markFlushed(from: number, to: number): void {
    const minutes = this.#minutes;
    if (minutes === null) return;
    for (let m = Math.max(from, to - FLUSH_SLOTS + 1); m <= to; m++) {
      const i = m % minutes.size;
      if (minutes.tag[i] === m) this.#flushed!.set(m, minutes.good[i]!, minutes.total[i]!);
    }
  }

  /** Bytes held by the typed arrays (the objects around them add about 400). */
  get byteSize(): number {
    if (this.#minutes === null) return 0;
    return (this.minuteSlots + this.hourSlots + this.daySlots + FLUSH_SLOTS) * 20;
  }
}
