// A cumulative sparse exponential histogram of one span series' durations: the native histogram
// `traces_span_metrics_duration_seconds` carries in the protobuf exposition and over remote_write,
// beside the classic buckets. Recorded per span in the span store's merge loop, so record()
// allocates only when a duration lands outside the buckets held so far.
//
// Memory bound: the buckets are one contiguous run between the lowest and the highest populated
// bucket. When that run would exceed `maxBuckets`, the histogram halves its resolution (scale − 1,
// adjacent buckets merged) until it fits, as client_golang does past NativeHistogramMaxBucketNumber.
// Bytes per series: docs/performance.md (bench:memory's span-native figure).

import type { BucketRun, NativeHistogramView } from '../model/read-model.js';
import { downscaleRun } from './exp-histogram.js';

/** Prometheus' lowest schema: buckets cannot get coarser than this. */
const MIN_SCALE = -4;

/** Settings of span native histograms (`spans.native_histogram_*`). */
export interface NativeHistogramSettings {
  /** Starting scale (Prometheus schema), -4..8; 3 = buckets about 9% wide. */
  scale: number;
  /** Most buckets one series keeps; 0 = no native histograms. */
  maxBuckets: number;
}

/** Defaults: schema 3 (client_golang's bucket factor 1.1), at most 160 buckets (client_golang's usual cap). */
export const DEFAULT_NATIVE_HISTOGRAM: NativeHistogramSettings = { scale: 3, maxBuckets: 160 };

/** One series' durations as an exponential histogram (OTLP index convention, read-model.ts). */
export class SpanNativeHistogram implements NativeHistogramView {
  scale: number;
  zeroCount = 0;
  /** Durations at or under 0 are zero-bucket observations. */
  readonly zeroThreshold = 0;
  positive: BucketRun | null = null;
  readonly negative: BucketRun | null = null;
  count = 0;
  sum = 0;
  readonly #maxBuckets: number;
  /** 2^scale, so an index is ceil(log2(v) · factor) − 1. */
  #factor: number;

  constructor(settings: NativeHistogramSettings) {
    this.scale = settings.scale;
    this.#maxBuckets = Math.max(1, settings.maxBuckets);
    this.#factor = Math.pow(2, settings.scale);
  }

  /** Adds one observation of `v` seconds. */
  record(v: number): void {
    this.count++;
    this.sum += v;
    if (!(v > 0)) {
      this.zeroCount++;
      return;
    }
    let index = Math.ceil(Math.log2(v) * this.#factor) - 1;
    let run = this.positive;
    if (run === null || index < run.offset || index >= run.offset + run.counts.length) {
      index >>= this.#widen(index);
      run = this.positive!;
    }
    run.counts[index - run.offset]!++;
  }

  /** Bytes held (the bucket array and the object), for the memory figures. */
  byteSize(): number {
    return 96 + (this.positive === null ? 0 : 64 + this.positive.counts.byteLength);
  }

  /**
   * Makes room for bucket `index` (at the current scale), coarsening while the run would exceed
   * the cap; returns by how many levels the scale went down.
   */
  #widen(index: number): number {
    let run = this.positive;
    if (run === null) {
      this.positive = { offset: index, counts: new Float64Array(1) };
      return 0;
    }
    let lo = Math.min(run.offset, index);
    let hi = Math.max(run.offset + run.counts.length - 1, index);
    let levels = 0;
    while (hi - lo + 1 > this.#maxBuckets && this.scale - levels > MIN_SCALE) {
      levels++;
      lo >>= 1;
      hi >>= 1;
    }
    if (levels > 0) {
      run = downscaleRun(run, levels);
      this.scale -= levels;
      this.#factor = Math.pow(2, this.scale);
    }
    const counts = new Float64Array(hi - lo + 1);
    counts.set(run.counts, run.offset - lo);
    this.positive = { offset: lo, counts };
    return levels;
  }
}
