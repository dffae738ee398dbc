// Series views that several read-model sources share: a base with no distribution, and one window
// of windowed HDR percentiles as a summary (the store's histograms and spans, and the probes).

import type { WindowedPercentiles } from '../percentiles/types.js';
import { SeriesKind } from './read-model.js';
import type { BucketRun, ExemplarView, NativeHistogramView, SeriesView } from './read-model.js';

const EMPTY = new Float64Array(0);

/** Fields every view shares: no distribution unless it says otherwise. */
abstract class SeriesViewBase implements SeriesView {
  abstract readonly labelText: string;
  abstract readonly labelOpen: string;
  abstract readonly data: SeriesKind;
  get labelClose(): string { return '}'; }
  get hasValue(): boolean { return true; }
  get timeMs(): number { return 0; }
  get startMs(): number { return 0; }
  get value(): number { return 0; }
  get count(): number { return 0; }
  get sum(): number { return Number.NaN; }
  get bounds(): Float64Array | null { return null; }
  get counts(): Float64Array | null { return null; }
  get scale(): number { return 0; }
  get zeroCount(): number { return 0; }
  get positive(): BucketRun | null { return null; }
  get negative(): BucketRun | null { return null; }
  get native(): NativeHistogramView | null { return null; }
  exemplar(_index: number): ExemplarView | null { return null; }
}

/** One window of an HDR source as a summary: quantiles, then `_sum` and `_count`, all with `window`. */
class PercentileWindowView extends SeriesViewBase {
  readonly labelText: string;
  readonly #close: string;
  readonly #count: number;
  readonly #sum: number;
  readonly #quantiles: Float64Array;
  readonly #values: Float64Array;

  constructor(readonly labelOpen: string, window: string, source: WindowedPercentiles, index: number, quantiles: Float64Array) {
    super();
    this.#close = `,window="${window}"}`;
    this.labelText = `${labelOpen}window="${window}"}`;
    const snap = source.snapshot(index);
    this.#count = snap.count;
    this.#sum = snap.sum;
    // An empty window has no quantiles ("no data", never NaN), only its zero count and sum.
    this.#quantiles = snap.values === null ? EMPTY : quantiles;
    this.#values = snap.values ?? EMPTY;
  }

  get data(): SeriesKind { return SeriesKind.Summary; }
  override get labelClose(): string { return this.#close; }
  override get count(): number { return this.#count; }
  override get sum(): number { return this.#sum; }
  override get bounds(): Float64Array { return this.#quantiles; }
  override get counts(): Float64Array { return this.#values; }
}

export { PercentileWindowView, SeriesViewBase };
