// In-memory state of one series and one metric family. Updated in place by the store's
// merge loop; read by the Prometheus renderer.
//
// Memory (native-bench/memory.mjs, daemon/store/memory.bench.ts): a counter series is one small
// object, its label text (the only copy of its labels), and five numbers in a shared Float64Array
// slab; histogram, exponential-histogram and summary state lives in a side object that counter
// and gauge series never allocate. The accessors keep the shape the renderer and SLOs read.

import type { FamilyType } from '../../collectors/worker/batch.js';
import { parseLabelText } from '../model/labels.js';
import type { BucketRun, ExemplarView, FamilyView, SeriesView } from '../model/read-model.js';
import type { WindowedPercentiles } from '../percentiles/index.js';

/** What kind of data a series holds (fixed at creation; a record of another kind is rejected). */
export const SeriesData = {
  Unknown: 0,
  Number: 1,
  Histogram: 2,
  ExpHistogram: 3,
  Summary: 4,
} as const;
export type SeriesData = (typeof SeriesData)[keyof typeof SeriesData];

/** One metric family: every series sharing a Prometheus name. */
export class Family implements FamilyView {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  readonly unit: string;
  /** Live series, in creation order; also found by label text. */
  readonly series = new SeriesSet();
  /** The `otel_metric_overflow="true"` series, created when the series limit is first hit. */
  overflow: Series | null = null;

  constructor(name: string, type: FamilyType, help: string, unit: string) {
    this.name = name;
    this.type = type;
    this.help = help;
    this.unit = unit;
  }
}

/** The overflow series' key in a SeriesSet: no label text starts with a NUL. */
const OVERFLOW_KEY = '\u0000overflow';

/**
 * A family's series: iterates like a Set<Series> in creation order, and finds a series by its label
 * text. One Map keyed by the label string the series already holds, so the lookup costs no extra
 * string and the family keeps one hash-table entry per series, not two.
 */
export class SeriesSet implements Iterable<Series> {
  readonly #byText = new Map<string, Series>();

  get size(): number {
    return this.#byText.size;
  }

  /** Adds `s`, replacing a series with the same label text (the store never adds one). */
  add(s: Series): this {
    this.#byText.set(keyOf(s), s);
    return this;
  }

  delete(s: Series): boolean {
    const key = keyOf(s);
    if (this.#byText.get(key) !== s) return false;
    return this.#byText.delete(key);
  }

  has(s: Series): boolean {
    return this.#byText.get(keyOf(s)) === s;
  }

  /** The non-overflow series with this label text. */
  byLabelText(labelText: string): Series | undefined {
    return this.#byText.get(labelText);
  }

  values(): IterableIterator<Series> {
    return this.#byText.values();
  }

  [Symbol.iterator](): IterableIterator<Series> {
    return this.#byText.values();
  }
}

function keyOf(s: Series): string {
  return s.isOverflow ? OVERFLOW_KEY : s.labelText;
}

export type { BucketRun };

/** Histogram, exponential-histogram and summary state: only series of those kinds have one. */
class DistributionState {
  count = 0;
  sum = Number.NaN;
  bounds: Float64Array | null = null;
  counts: Float64Array | null = null;
  scale = 0;
  zeroCount = 0;
  positive: BucketRun | null = null;
  negative: BucketRun | null = null;
  percentiles: WindowedPercentiles | null = null;
  /** The series' labelOpen, cached here: only series with a distribution render it. */
  labelOpen: string | null = null;
}

// The numbers every series has, struct-of-arrays: slot s owns slab[s·FIELDS … s·FIELDS + FIELDS−1]
// of chunk s >>> CHUNK_BITS. A double in an object field costs a 16-byte box besides the field;
// here it costs 8 bytes. Slot 0 is a sink that released series write into harmlessly.
const FIELDS = 5;
const VALUE = 0;
const START_MS = 1;
const TIME_MS = 2;
const SEEN_MS = 3;
const HASH = 4;
const CHUNK_BITS = 14;
const CHUNK_SLOTS = 1 << CHUNK_BITS;
const SLOT_MASK = CHUNK_SLOTS - 1;
const chunks: Float64Array[] = [];
const freeSlots: number[] = [];
let nextSlot = 1;

function takeSlot(): number {
  const reused = freeSlots.pop();
  if (reused !== undefined) return reused;
  const slot = nextSlot++;
  if (slot >>> CHUNK_BITS >= chunks.length) chunks.push(new Float64Array(CHUNK_SLOTS * FIELDS));
  return slot;
}
chunks.push(new Float64Array(CHUNK_SLOTS * FIELDS));

// Series.#bits: the SeriesData kind in the low 3 bits, then two flags.
const DATA_MASK = 0b111;
const HAS_VALUE = 0b1000;
const OVERFLOW = 0b10000;

/**
 * One series. Its accessors are public for the hot merge loop; only the store writes them. Five
 * fields, so a counter series' object is 64 bytes: everything else is in the slab or the side object.
 */
export class Series implements SeriesView {
  readonly family: Family;
  /** `{a="b",c="d"}` or '' — rendered once, and the only copy of the labels the series keeps. */
  readonly labelText: string;
  #bits: number;
  #slot: number;
  #distribution: DistributionState | null = null;

  constructor(family: Family, labelText: string, isOverflow: boolean) {
    this.family = family;
    this.labelText = labelText;
    this.#bits = isOverflow ? OVERFLOW : 0;
    this.#slot = takeSlot();
    const at = this.#at();
    const chunk = chunks[this.#slot >>> CHUNK_BITS]!;
    chunk.fill(0, at, at + FIELDS);
    chunk[at + HASH] = Number.NaN;
  }

  /** Set by the first record merged; a record of another kind resets the series to that kind. */
  get data(): SeriesData { return (this.#bits & DATA_MASK) as SeriesData; }
  set data(v: SeriesData) { this.#bits = (this.#bits & ~DATA_MASK) | v; }
  /** True once a point has been merged; false again after a NoRecordedValue marker. */
  get hasValue(): boolean { return (this.#bits & HAS_VALUE) !== 0; }
  set hasValue(v: boolean) { this.#bits = v ? this.#bits | HAS_VALUE : this.#bits & ~HAS_VALUE; }
  /** Overflow series aggregate the delta points of series beyond the limit. */
  get isOverflow(): boolean { return (this.#bits & OVERFLOW) !== 0; }

  /** Flat sorted [name, value, …] labels, parsed back from `labelText` (for SLO selectors; not per point). */
  get labels(): string[] {
    return parseLabelText(this.labelText);
  }

  /** `{a="b",c="d",` or `{` — for appending `le=`/`quantile=`; made on first use. */
  get labelOpen(): string {
    const d = this.#distribution;
    if (d !== null && d.labelOpen !== null) return d.labelOpen;
    const open = this.labelText === '' ? '{' : this.labelText.slice(0, -1) + ',';
    if (d !== null) d.labelOpen = open;
    return open;
  }

  /** The first hash that resolved to this series (NaN for overflow series, which own none). */
  get hash(): number { return chunks[this.#slot >>> CHUNK_BITS]![this.#at() + HASH]!; }
  set hash(v: number) { chunks[this.#slot >>> CHUNK_BITS]![this.#at() + HASH] = v; }
  get value(): number { return chunks[this.#slot >>> CHUNK_BITS]![this.#at() + VALUE]!; }
  set value(v: number) { chunks[this.#slot >>> CHUNK_BITS]![this.#at() + VALUE] = v; }
  get startMs(): number { return chunks[this.#slot >>> CHUNK_BITS]![this.#at() + START_MS]!; }
  set startMs(v: number) { chunks[this.#slot >>> CHUNK_BITS]![this.#at() + START_MS] = v; }
  get timeMs(): number { return chunks[this.#slot >>> CHUNK_BITS]![this.#at() + TIME_MS]!; }
  set timeMs(v: number) { chunks[this.#slot >>> CHUNK_BITS]![this.#at() + TIME_MS] = v; }
  /** Wall-clock ms of the last point merged (for staleness). */
  get seenMs(): number { return chunks[this.#slot >>> CHUNK_BITS]![this.#at() + SEEN_MS]!; }
  set seenMs(v: number) { chunks[this.#slot >>> CHUNK_BITS]![this.#at() + SEEN_MS] = v; }

  // Histogram, exponential histogram and summary state (defaults when the series has none).
  get count(): number { return this.#distribution?.count ?? 0; }
  set count(v: number) { this.#state().count = v; }
  get sum(): number { return this.#distribution?.sum ?? Number.NaN; }
  set sum(v: number) { this.#state().sum = v; }
  /** Classic histogram: upper bounds; summary: quantiles. */
  get bounds(): Float64Array | null { return this.#distribution?.bounds ?? null; }
  set bounds(v: Float64Array | null) { this.#state().bounds = v; }
  /** Classic histogram: per-bucket (non-cumulative) counts, bounds.length + 1 of them; summary: values. */
  get counts(): Float64Array | null { return this.#distribution?.counts ?? null; }
  set counts(v: Float64Array | null) { this.#state().counts = v; }
  get scale(): number { return this.#distribution?.scale ?? 0; }
  set scale(v: number) { this.#state().scale = v; }
  get zeroCount(): number { return this.#distribution?.zeroCount ?? 0; }
  set zeroCount(v: number) { this.#state().zeroCount = v; }
  get positive(): BucketRun | null { return this.#distribution?.positive ?? null; }
  set positive(v: BucketRun | null) { this.#state().positive = v; }
  get negative(): BucketRun | null { return this.#distribution?.negative ?? null; }
  set negative(v: BucketRun | null) { this.#state().negative = v; }
  /** HDR windows of a histogram series (`<name>_percentiles`); created with its first point. */
  get percentiles(): WindowedPercentiles | null { return this.#distribution?.percentiles ?? null; }
  set percentiles(v: WindowedPercentiles | null) { this.#state().percentiles = v; }

  // The rest of the read model's SeriesView (daemon/model/read-model.ts): prototype members, no memory per series.
  /** Line labels are labelOpen + `le="…"` + labelClose. */
  get labelClose(): string { return '}'; }
  /** An exponential histogram is its own native histogram. */
  get native(): Series | null { return this.data === SeriesData.ExpHistogram ? this : null; }
  /** OTLP's zero threshold is not kept: exact zeros only. */
  get zeroThreshold(): number { return 0; }
  /** Metric series keep no exemplars. */
  exemplar(): ExemplarView | null { return null; }

  /** Forgets the value and any distribution state: the series now holds `data`. */
  reset(data: SeriesData): void {
    this.data = data;
    this.hasValue = false;
    this.value = 0;
    this.#distribution = null;
  }

  /** Gives the series' numbers back to the slab (the store calls this when evicting it; the object is dead after). */
  release(): void {
    if (this.#slot === 0) return;
    freeSlots.push(this.#slot);
    this.#slot = 0;
    this.#distribution = null;
  }

  #at(): number {
    return (this.#slot & SLOT_MASK) * FIELDS;
  }

  #state(): DistributionState {
    return (this.#distribution ??= new DistributionState());
  }
}
