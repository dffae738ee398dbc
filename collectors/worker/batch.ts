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
  /** The task's payload buffer, handed back for reuse (buffers.ts); the pool takes it off. */
  spent?: ArrayBuffer;
}

/**
 * How a task's payload is encoded: binary protobuf (OTLP/gRPC, OTLP/HTTP `application/x-protobuf`)
 * or OTLP/JSON (OTLP/HTTP `application/json`), which the worker re-encodes as protobuf first
 * (json-to-proto.ts), so both give the same batch.
 */
export type PayloadEncoding = 'protobuf' | 'json';

/** The task posted to a worker for one request. */
export interface MetricTask {
  signal: 'metrics';
  /** The raw ExportMetricsServiceRequest bytes (already gunzipped by the transport). */
  payload: Uint8Array;
  /** The payload's encoding; absent means protobuf. */
  encoding?: PayloadEncoding;
  /**
   * The store's registry generation. It changes whenever series are evicted; a worker seeing a
   * new generation forgets which definitions it has sent, so evicted series are described again.
   */
  generation: number;
  /** Send definitions for every series in this request, whatever was sent before. */
  forceDefinitions: boolean;
  /** The tenant of the request's bearer token: a `tenant` label on every series; absent or '' = none. */
  tenant?: string;
  /** Record buffers of merged batches, handed back for the worker to reuse (buffers.ts). */
  recycle?: ArrayBuffer[];
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

// ---- traces -------------------------------------------------------------------------------
//
// A worker turns one ExportTraceServiceRequest into one SpanBatch: a fixed-size record per span
// (no span objects), plus the definitions of span series this worker has not described before,
// plus the trace/span ids of a bounded sample of spans for exemplars.

/** Bits of a span record's flags slot. */
export const SpanFlag = {
  /** The span counts as an error (status ERROR, or HTTP 5xx when spans.error_on_http_5xx). */
  Error: 1,
} as const;

/**
 * Span record layout, SPAN_SLOTS float64s per span:
 *   [0] series hash  [1] duration (seconds)  [2] end time (ms since epoch, fractional)
 *   [3] histogram bucket index (0..B, B = +Inf; bounds are spans.histogram_buckets)
 *   [4] flags (SpanFlag bits)  [5] exemplar ordinal into `exemplarIds`, or -1
 */
export const SPAN_SLOTS = 6;

/** Bytes per exemplar in SpanBatch.exemplarIds: the 16-byte trace id, then the 8-byte span id. */
export const EXEMPLAR_ID_BYTES = 24;

/** Sent once per (worker, span series): its labels, and the parts the SLO hook selects on. */
export interface SpanSeriesDefinition {
  hash: number;
  /** Flat, sorted by name: [name0, value0, …] (service_name, span_name, span_kind, status_code, job, instance, dimensions). */
  labels: string[];
  service: string;
  spanName: string;
  /** `SPAN_KIND_SERVER` etc. */
  spanKind: string;
  /** `STATUS_CODE_UNSET`, `STATUS_CODE_OK` or `STATUS_CODE_ERROR`. */
  statusCode: string;
  /** The configured extra dimensions found on the span or its resource, by attribute key. */
  attributes: Record<string, string>;
}

/** One decoded trace request. */
export interface SpanBatch {
  signal: 'traces';
  /** Span records, layout above; only the first `length` slots are meaningful. */
  records: Float64Array;
  length: number;
  /** Spans in the request as sent. */
  spansReceived: number;
  /** Exemplar ids, EXEMPLAR_ID_BYTES each: the last span of each (series, bucket) in the request. */
  exemplarIds: Uint8Array;
  definitions: SpanSeriesDefinition[];
  /** Spans the worker refused, by reason. */
  rejected: RejectCounts;
  generation: number;
  /** As in MetricBatch. */
  spent?: ArrayBuffer;
}

/** The task posted to a worker for one trace request: MetricTask's fields for another signal. */
export interface TraceTask extends Omit<MetricTask, 'signal'> {
  signal: 'traces';
}

/** The worker's answer for one trace task. */
export type TraceTaskResult = SpanBatch | DecodeFailure;
