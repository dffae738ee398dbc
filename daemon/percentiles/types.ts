// The contract of windowed HDR percentiles, shared by span metrics and histogram metrics.

/** Settings of one percentile source (span durations, or one histogram metric). */
export interface PercentileSettings {
  /** HDR significant value digits (1–5); relative error ≤ 10^-digits. */
  significantDigits: number;
  /** Smallest and largest value tracked, in the source's unit (seconds for spans). */
  lowest: number;
  highest: number;
  /** Sliding windows, milliseconds, ascending (default 1m, 5m, 1h). */
  windowsMs: number[];
  /** Window label values, same order (`1m`, `5m`, `1h`). */
  windowLabels: string[];
  /** Quantiles reported (default 0.5, 0.9, 0.95, 0.99, 0.999). */
  quantiles: number[];
}

/** What one window says at scrape time. */
export interface WindowSnapshot {
  /** Quantile values in `quantiles` order; null when the window holds no values ("no data"). */
  values: Float64Array | null;
  count: number;
  sum: number;
}

/** Values recorded over sliding windows; one per series. */
export interface WindowedPercentiles {
  /** The settings it was created with (window labels and quantiles, for rendering). */
  readonly settings: PercentileSettings;
  /**
   * Records `count` occurrences of `value` (source unit) at the injected clock's now. `sum` is what
   * this adds to the window's `_sum` (default value × count; histogram points pass their exact sum).
   */
  record(value: number, count: number, sum?: number): void;
  /** The window at `index` of PercentileSettings.windowsMs, as of now. */
  snapshot(index: number): WindowSnapshot;
  /** Count of values ≤ `threshold` and the total, over the window at `index` (for latency SLIs). */
  countAtOrBelow(index: number, threshold: number): { atOrBelow: number; total: number };
  /** Bytes this series holds now (for vigil_hdr_bytes). */
  byteSize(): number;
}
