// The contract between the decode workers and the main-thread store.
//
// A worker turns one OTLP request into one MetricBatch: a flat Float64Array of point
// records (transferred, not cloned) plus the definitions of series this worker has not
// described before. The main thread walks the records and updates series in place; it
// never sees protobuf and never allocates per point.

/** Record kinds, the first slot of every record. */
export const RecordKind = {
  Gauge: 1,
  Sum: 2,
  Histogram: 3,
  ExpHistogram: 4,
  Summary: 5,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** Bits of a record's flags slot. */
export const RecordFlag = {
  Monotonic: 1,
  Delta: 2,
  /** OTLP DataPointFlags.FLAG_NO_RECORDED_VALUE: the series went stale at the source. */
  NoRecordedValue: 4,
} as const;

/**
 * Record layout (every slot is a float64):
 *   [0] kind  [1] series hash  [2] time (ms since epoch, fractional)  [3] start time (ms, 0 = unset)
 *   [4] flags (RecordFlag bits)
 * then by kind:
 *   Gauge, Sum:     [5] value
 *   Histogram:      [5] count [6] sum (NaN = unset) [7] nBounds=B, B bounds, B+1 bucket counts
 *   ExpHistogram:   [5] count [6] sum (NaN = unset) [7] scale [8] zero count
 *                   [9] positive offset [10] nPositive=P, P counts, negative offset, nNegative=N, N counts
 *   Summary:        [5] count [6] sum [7] nQuantiles=Q, Q pairs of (quantile, value)
 */
export const HEADER_SLOTS = 5;

/** Prometheus metric family types a series can belong to. */
export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'info';

/** Sent once per (worker, series): everything needed to render the series' labels. */
export interface SeriesDefinition {
  /** Series hash, as in the records (53-bit integer). */
  hash: number;
  /** Prometheus family name, already translated from OTLP (unit suffix; without `_total`). */
  name: string;
  type: FamilyType;
  /** The OTLP description, unescaped. */
  help: string;
  /** Prometheus unit word (`seconds`, `bytes`, …), '' when none. */
  unit: string;
  /** Flat, sorted by name: [name0, value0, name1, value1, …]; names already sanitised. */
  labels: string[];
}

/** Points the worker refused, by reason (documented in docs/metrics.md). */
export interface RejectCounts {
  [reason: string]: number;
}

/** One decoded request. */
export interface MetricBatch {
  /** Point records, layout above. Only the first `length` slots are meaningful. */
  records: Float64Array;
  length: number;
  /** Number of records (data points plus synthetic target_info points). */
  recordCount: number;
  /** Data points in the request as sent (excluding synthetic target_info points). */
  pointsReceived: number;
  definitions: SeriesDefinition[];
  rejected: RejectCounts;
  /** The registry generation the worker assumed (see MetricTask.generation). */
  generation: number;
}

/** The task posted to a worker for one request. */
export interface MetricTask {
  signal: 'metrics';
  /** The raw ExportMetricsServiceRequest bytes (already gunzipped by the transport). */
  payload: Uint8Array;
  /**
   * The store's registry generation. It changes whenever series are evicted; a worker seeing a
   * new generation forgets which definitions it has sent, so evicted series are described again.
   */
  generation: number;
  /** Send definitions for every series in this request, whatever was sent before. */
  forceDefinitions: boolean;
}

/** What a worker returns for bytes that are not a valid request; becomes INVALID_ARGUMENT. */
export interface DecodeFailure {
  failed: true;
  /** Short machine-readable reason, a label value of vigil_requests_rejected_total (e.g. 'malformed'). */
  reason: string;
  /** Human-readable message naming what was wrong (field path, offset), sent to the client. */
  message: string;
}

/** The worker's answer for one task. */
export type MetricTaskResult = MetricBatch | DecodeFailure;
