// Decodes an OTLP ExportMetricsServiceRequest straight into a MetricBatch (layout in batch.ts).
//
// The hot path walks the protobuf bytes once per data point, writes one record into a reused
// Float64Array and allocates nothing per point: attributes are hashed from their encoded bytes,
// and strings are decoded only to build the definition of a series this worker has not
// described yet (see WorkerSeriesState). Field numbers are those of proto/ (OTLP v1.x).
//
// Number conversions, all without BigInt:
// - fixed64 nanosecond timestamps become milliseconds as (hi * 2^32 + lo) / 1e6; the sum is
//   rounded to a double first (2^53 ns is 104 days, so current times keep ~256 ns resolution).
// - sfixed64 `as_int` values, fixed64 counts and uint64 bucket counts become float64 and lose
//   precision above 2^53 (9.007e15), like every Prometheus sample value.

import { RESERVED_LABELS, familyName, labelSet } from '../../daemon/model/naming.js';
import {
  type FamilyType,
  type MetricBatch,
  type RejectCounts,
  type SeriesDefinition,
  HEADER_SLOTS,
  RecordFlag,
  RecordKind,
} from './batch.js';
import { UnorderedHash, combineOrdered, hashBytes, hashString } from './hash.js';
import { pooledCopy } from './buffers.js';
import { HashMap53 } from './hash-map.js';
import { WireReader, WireType } from './wire.js';

/** Decoder settings, fixed for the life of a worker. */
export interface DecodeOptions {
  /** Exponential histograms with a finer scale are downscaled to this one. */
  expMaxScale: number;
}

/**
 * Which series this worker has described to the main thread. A worker sends a series'
 * definition once; when the store's registry generation changes (series were evicted) the
 * worker forgets and describes series again.
 */
export class WorkerSeriesState {
  #sent = new HashMap53<true>();
  #generation = Number.NaN;

  /** Starts a task for registry `generation`, forgetting every definition if it changed. */
  beginTask(generation: number): void {
    if (generation !== this.#generation) {
      this.#sent.clear();
      this.#generation = generation;
    }
  }

  /** Marks `hash` as described; true when it was not already. */
  claim(hash: number): boolean {
    return this.#sent.set(hash, true);
  }

  /** Forgets every definition: after an unexpected failure nothing says what reached the main thread. */
  forget(): void {
    this.#sent.clear();
    this.#generation = Number.NaN;
  }

  /** Forgets `hash` (its definition never reached the main thread). */
  release(hash: number): void {
    this.#sent.delete(hash);
  }

  /** Whether the definition of `hash` was sent in the current generation. */
  has(hash: number): boolean {
    return this.#sent.has(hash);
  }

  /** Number of series described in the current generation. */
  get size(): number {
    return this.#sent.size;
  }
}

// ---- field tags (field number × 8 + wire type) -------------------------------------------

const VARINT = WireType.Varint;
const I64 = WireType.Fixed64;
const LEN = WireType.LengthDelimited;

const REQUEST_RESOURCE_METRICS = 1 * 8 + LEN;
const RM_RESOURCE = 1 * 8 + LEN;
const RM_SCOPE_METRICS = 2 * 8 + LEN;
const RESOURCE_ATTRIBUTES = 1 * 8 + LEN;
const SM_SCOPE = 1 * 8 + LEN;
const SM_METRICS = 2 * 8 + LEN;
const SCOPE_NAME = 1 * 8 + LEN;
const SCOPE_VERSION = 2 * 8 + LEN;
const METRIC_NAME = 1 * 8 + LEN;
const METRIC_DESCRIPTION = 2 * 8 + LEN;
const METRIC_UNIT = 3 * 8 + LEN;
const METRIC_GAUGE = 5 * 8 + LEN;
const METRIC_SUM = 7 * 8 + LEN;
const METRIC_HISTOGRAM = 9 * 8 + LEN;
const METRIC_EXP_HISTOGRAM = 10 * 8 + LEN;
const METRIC_SUMMARY = 11 * 8 + LEN;
const DATA_POINTS = 1 * 8 + LEN;
const DATA_TEMPORALITY = 2 * 8 + VARINT;
const SUM_MONOTONIC = 3 * 8 + VARINT;
// NumberDataPoint
const NDP_ATTRIBUTES = 7 * 8 + LEN;
const POINT_START = 2 * 8 + I64;
const POINT_TIME = 3 * 8 + I64;
const NDP_AS_DOUBLE = 4 * 8 + I64;
const NDP_AS_INT = 6 * 8 + I64;
const NDP_FLAGS = 8 * 8 + VARINT;
// HistogramDataPoint
const HDP_ATTRIBUTES = 9 * 8 + LEN;
const POINT_COUNT = 4 * 8 + I64;
const POINT_SUM = 5 * 8 + I64;
const HDP_BUCKETS_PACKED = 6 * 8 + LEN;
const HDP_BUCKETS_ONE = 6 * 8 + I64;
const HDP_BOUNDS_PACKED = 7 * 8 + LEN;
const HDP_BOUNDS_ONE = 7 * 8 + I64;
const HDP_FLAGS = 10 * 8 + VARINT;
// ExponentialHistogramDataPoint
const EDP_ATTRIBUTES = 1 * 8 + LEN;
const EDP_SCALE = 6 * 8 + VARINT;
const EDP_ZERO_COUNT = 7 * 8 + I64;
const EDP_POSITIVE = 8 * 8 + LEN;
const EDP_NEGATIVE = 9 * 8 + LEN;
const EDP_FLAGS = 10 * 8 + VARINT;
const BUCKETS_OFFSET = 1 * 8 + VARINT;
const BUCKETS_COUNTS_PACKED = 2 * 8 + LEN;
const BUCKETS_COUNTS_ONE = 2 * 8 + VARINT;
// SummaryDataPoint
const SDP_ATTRIBUTES = 7 * 8 + LEN;
const SDP_QUANTILES = 6 * 8 + LEN;
const SDP_FLAGS = 8 * 8 + VARINT;
const QUANTILE_Q = 1 * 8 + I64;
const QUANTILE_VALUE = 2 * 8 + I64;
// KeyValue, AnyValue, ArrayValue, KeyValueList
const KV_KEY = 1 * 8 + LEN;
const KV_VALUE = 2 * 8 + LEN;
const ANY_STRING = 1 * 8 + LEN;
const ANY_BOOL = 2 * 8 + VARINT;
const ANY_INT = 3 * 8 + VARINT;
const ANY_DOUBLE = 4 * 8 + I64;
const ANY_ARRAY = 5 * 8 + LEN;
const ANY_KVLIST = 6 * 8 + LEN;
const ANY_BYTES = 7 * 8 + LEN;
const LIST_VALUES = 1 * 8 + LEN;

/** Expected wire type by field number for one message; -1 = not a field of it. */
function schema(fields: Record<number, WireType>): Int8Array {
  const max = Math.max(...Object.keys(fields).map(Number));
  const table = new Int8Array(max + 1).fill(-1);
  for (const [field, wireType] of Object.entries(fields)) table[Number(field)] = wireType;
  return table;
}

// Every defined field, so that a known field with the wrong wire type is an error rather than
// silently skipped. Repeated scalars list LEN; their unpacked form is handled by the decoder.
const S_REQUEST = schema({ 1: LEN });
const S_RESOURCE_METRICS = schema({ 1: LEN, 2: LEN, 3: LEN });
const S_RESOURCE = schema({ 1: LEN, 2: VARINT, 3: LEN });
const S_SCOPE_METRICS = schema({ 1: LEN, 2: LEN, 3: LEN });
const S_SCOPE = schema({ 1: LEN, 2: LEN, 3: LEN, 4: VARINT });
const S_METRIC = schema({ 1: LEN, 2: LEN, 3: LEN, 5: LEN, 7: LEN, 9: LEN, 10: LEN, 11: LEN, 12: LEN });
const S_SUM = schema({ 1: LEN, 2: VARINT, 3: VARINT });
const S_NUMBER_POINT = schema({ 2: I64, 3: I64, 4: I64, 5: LEN, 6: I64, 7: LEN, 8: VARINT });
const S_HISTOGRAM_POINT = schema({ 2: I64, 3: I64, 4: I64, 5: I64, 6: LEN, 7: LEN, 8: LEN, 9: LEN, 10: VARINT, 11: I64, 12: I64 });
const S_EXP_POINT = schema({
  1: LEN, 2: I64, 3: I64, 4: I64, 5: I64, 6: VARINT, 7: I64, 8: LEN, 9: LEN, 10: VARINT, 11: LEN, 12: I64, 13: I64, 14: I64,
});
const S_BUCKETS = schema({ 1: VARINT, 2: LEN });
const S_SUMMARY_POINT = schema({ 2: I64, 3: I64, 4: I64, 5: I64, 6: LEN, 7: LEN, 8: VARINT });
const S_QUANTILE = schema({ 1: I64, 2: I64 });
const S_KEY_VALUE = schema({ 1: LEN, 2: LEN });
const S_ANY_VALUE = schema({ 1: LEN, 2: VARINT, 3: VARINT, 4: I64, 5: LEN, 6: LEN, 7: LEN });
const S_LIST = schema({ 1: LEN });

const TEMPORALITY_DELTA = 1;
const TEMPORALITY_CUMULATIVE = 2;
const FLAG_NO_RECORDED_VALUE = 1;
/** Exponential histogram scales the OTel data model allows. */
const MIN_EXP_SCALE = -10;
const MAX_EXP_SCALE = 20;

const FAMILY_HASH: Readonly<Record<FamilyType, number>> = {
  counter: hashString('counter'),
  gauge: hashString('gauge'),
  histogram: hashString('histogram'),
  summary: hashString('summary'),
  info: hashString('info'),
};
const TARGET_INFO_HASH = hashString('target_info');

const utf8 = new TextEncoder();
const SERVICE_NAME = utf8.encode('service.name');
const SERVICE_NAMESPACE = utf8.encode('service.namespace');
const SERVICE_INSTANCE_ID = utf8.encode('service.instance.id');

// ---- reusable scratch buffers (one worker runs one task at a time) ------------------------

/** A growable list of float64s, reused across points and requests. */
class Scratch {
  data: Float64Array;
  n = 0;

  constructor(capacity: number) {
    this.data = new Float64Array(capacity);
  }

  reserve(extra: number): void {
    const need = this.n + extra;
    if (need <= this.data.length) return;
    let size = this.data.length * 2;
    while (size < need) size *= 2;
    const next = new Float64Array(size);
    next.set(this.data.subarray(0, this.n));
    this.data = next;
  }

  push(v: number): void {
    if (this.n === this.data.length) this.reserve(1);
    this.data[this.n++] = v;
  }
}

const records = new Scratch(4096);
const bounds = new Scratch(64);
const bucketCounts = new Scratch(64);
const positiveCounts = new Scratch(256);
const negativeCounts = new Scratch(256);
const quantiles = new Scratch(32);
/** Hashes claimed during the current request, released again if it fails. */
const claimed: number[] = [];

const textDecoder = new TextDecoder();

/**
 * Decodes one ExportMetricsServiceRequest into a MetricBatch. `records` is a copy in a pooled
 * buffer (buffers.ts) the caller may transfer. Throws MalformedPayloadError for bytes that are not a valid request;
 * the state then is as if the request had never been seen.
 */
export function decodeMetricsRequest(
  payload: Uint8Array,
  state: WorkerSeriesState,
  generation: number,
  forceDefinitions: boolean,
  options: DecodeOptions,
  tenant = '',
): MetricBatch {
  state.beginTask(generation);
  claimed.length = 0;
  records.n = 0;
  const decoder = new RequestDecoder(payload, state, forceDefinitions, options);
  decoder.setTenant(tenant);
  try {
    decoder.request();
  } catch (err) {
    for (const hash of claimed) state.release(hash);
    claimed.length = 0;
    throw err;
  }
  claimed.length = 0;
  return {
    records: pooledCopy(records.data, records.n),
    length: records.n,
    recordCount: decoder.recordCount,
    pointsReceived: decoder.pointsReceived,
    definitions: decoder.definitions,
    rejected: decoder.rejected,
    generation,
  };
}

/** Which OTLP data message a metric carries. */
const DataKind = { Gauge: 0, Sum: 1, Histogram: 2, ExpHistogram: 3, Summary: 4 } as const;
type DataKind = (typeof DataKind)[keyof typeof DataKind];

/** The decoding of one request: position context (resource, scope, metric) plus the output. The trace decoder (decode-traces.ts) extends it for the resource and attribute helpers. */
export class RequestDecoder {
  readonly r: WireReader;
  readonly buf: Uint8Array;
  readonly state: WorkerSeriesState;
  readonly options: DecodeOptions;
  /** Series described in this request when definitions are forced, to describe each once. */
  readonly forced: Set<number> | null;

  recordCount = 0;
  pointsReceived = 0;
  readonly definitions: SeriesDefinition[] = [];
  readonly rejected: RejectCounts = {};

  readonly attributes = new UnorderedHash();
  readonly resourceAttributes = new UnorderedHash();

  // Resource context.
  resourceStart = -1;
  resourceEnd = -1;
  resourceHash = 0;
  /** Whether the resource has attributes other than service.name/namespace/instance.id. */
  resourceHasInfo = false;
  /** job/instance label pairs from the resource, decoded on first need. */
  resourceLabels: Array<[string, string]> | null = null;
  latestTimeMs = Number.NEGATIVE_INFINITY;
  /** The request's tenant ('' = none): a `tenant` label on every series, mixed into every resource hash. */
  tenant = '';
  tenantHash = 0;

  // Scope context.
  scopeNameStart = 0;
  scopeNameEnd = 0;
  scopeVersionStart = 0;
  scopeVersionEnd = 0;
  scopeHash = 0;
  scopeLabels: Array<[string, string]> | null = null;

  // Metric context.
  nameStart = 0;
  nameEnd = 0;
  unitStart = 0;
  unitEnd = 0;
  descriptionStart = 0;
  descriptionEnd = 0;
  familyType: FamilyType = 'gauge';
  family: { name: string; unit: string; help: string } | null = null;
  /** Hash of (resource, scope, metric identity); a point's hash adds its attributes. */
  metricHash = 0;

  constructor(payload: Uint8Array, state: WorkerSeriesState, forceDefinitions: boolean, options: DecodeOptions) {
    this.r = new WireReader(payload);
    this.buf = payload;
    this.state = state;
    this.options = options;
    this.forced = forceDefinitions ? new Set<number>() : null;
  }

  /**
   * Sets the request's tenant. Its hash seeds every resource hash, so the same series sent by two
   * tenants are two series; resourceJobInstance() adds the label beside job/instance.
   */
  setTenant(tenant: string): void {
    this.tenant = tenant;
    this.tenantHash = tenant === '' ? 0 : hashString(`tenant\u0000${tenant}`);
  }

  /** The resource attributes' digest, with the tenant mixed in when there is one. */
  resourceDigest(): number {
    const digest = this.resourceAttributes.digest();
    return this.tenant === '' ? digest : combineOrdered(this.tenantHash, digest);
  }

  /** Skips a field not decoded here, failing if it is a known field with the wrong wire type. */
  skipOther(tag: number, end: number, table: Int8Array): void {
    const field = tag >>> 3;
    if (field < table.length) {
      const expected = table[field]!;
      if (expected >= 0 && expected !== (tag & 7)) this.r.wrongType(tag, `field ${field}`);
    }
    this.r.skip(tag, end);
  }

  reject(reason: string, points: number): void {
    if (points === 0) return;
    this.rejected[reason] = (this.rejected[reason] ?? 0) + points;
  }

  /**
   * Visits every `tag` message from `r.pos` to `end`: enters it as `name[i]` (error messages name
   * the path), calls `visit` with its bounds, leaves. Other fields are checked against `table`, or
   * just skipped when `table` is null (a later pass over fields already checked).
   */
  eachMessage(end: number, tag: number, name: string, table: Int8Array | null, visit: (start: number, end: number) => void): void {
    const r = this.r;
    let index = 0;
    while (r.pos < end) {
      const t = r.tag(end);
      if (t === tag) {
        const length = r.length(end, name);
        const at = r.pos;
        r.enter(name, index++);
        visit.call(this, at, at + length);
        r.leave();
        r.pos = at + length;
      } else if (table === null) r.skip(t, end);
      else this.skipOther(t, end, table);
    }
  }

  /**
   * Finds the `resource` field of the ResourceMetrics or ResourceSpans from `r.pos` to `end` (field 1
   * in both; it may follow the scopes on the wire), checking the other fields against `table`.
   */
  findResource(end: number, table: Int8Array): void {
    const r = this.r;
    this.resourceStart = -1;
    this.resourceEnd = -1;
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === RM_RESOURCE) {
        const length = r.length(end, 'resource');
        this.resourceStart = r.pos;
        this.resourceEnd = r.pos + length;
        r.pos += length;
      } else this.skipOther(tag, end, table);
    }
  }

  request(): void {
    this.eachMessage(this.buf.length, REQUEST_RESOURCE_METRICS, 'resource_metrics', S_REQUEST, this.resourceMetrics);
  }

  resourceMetrics(start: number, end: number): void {
    this.findResource(end, S_RESOURCE_METRICS);
    this.hashResource();
    this.resourceLabels = null;
    this.latestTimeMs = Number.NEGATIVE_INFINITY;
    this.r.pos = start;
    this.eachMessage(end, RM_SCOPE_METRICS, 'scope_metrics', null, this.scopeMetrics);
    if (this.resourceHasInfo) this.targetInfo();
  }

  hashResource(): void {
    const r = this.r;
    const set = this.resourceAttributes;
    set.reset();
    this.resourceHasInfo = false;
    if (this.resourceStart < 0) {
      this.resourceHash = this.resourceDigest();
      return;
    }
    const end = this.resourceEnd;
    r.pos = this.resourceStart;
    r.enter('resource', -1);
    let index = 0;
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === RESOURCE_ATTRIBUTES) {
        const length = r.length(end, 'attributes');
        const at = r.pos;
        set.addBytes(this.buf, at, at + length);
        if (!this.resourceHasInfo) {
          r.enter('attributes', index);
          if (!this.isServiceKey(at, at + length)) this.resourceHasInfo = true;
          r.leave();
        }
        index++;
        r.pos = at + length;
      } else this.skipOther(tag, end, S_RESOURCE);
    }
    r.leave();
    this.resourceHash = this.resourceDigest();
  }

  /** Whether the KeyValue at [start, end) has one of the keys that become job/instance. */
  isServiceKey(start: number, end: number): boolean {
    const r = this.r;
    r.pos = start;
    let keyStart = 0;
    let keyEnd = 0;
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === KV_KEY) {
        const length = r.length(end, 'key');
        keyStart = r.pos;
        keyEnd = keyStart + length;
        r.pos = keyEnd;
      } else this.skipOther(tag, end, S_KEY_VALUE);
    }
    return (
      bytesEqual(this.buf, keyStart, keyEnd, SERVICE_NAME) ||
      bytesEqual(this.buf, keyStart, keyEnd, SERVICE_NAMESPACE) ||
      bytesEqual(this.buf, keyStart, keyEnd, SERVICE_INSTANCE_ID)
    );
  }

  scopeMetrics(start: number, end: number): void {
    const r = this.r;
    let scopeStart = -1;
    let scopeEnd = -1;
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === SM_SCOPE) {
        const length = r.length(end, 'scope');
        scopeStart = r.pos;
        scopeEnd = scopeStart + length;
        r.pos = scopeEnd;
      } else this.skipOther(tag, end, S_SCOPE_METRICS);
    }
    this.scopeNameStart = this.scopeNameEnd = this.scopeVersionStart = this.scopeVersionEnd = 0;
    if (scopeStart >= 0) {
      r.pos = scopeStart;
      r.enter('scope', -1);
      while (r.pos < scopeEnd) {
        const tag = r.tag(scopeEnd);
        if (tag === SCOPE_NAME) {
          const length = r.length(scopeEnd, 'name');
          this.scopeNameStart = r.pos;
          this.scopeNameEnd = r.pos += length;
        } else if (tag === SCOPE_VERSION) {
          const length = r.length(scopeEnd, 'version');
          this.scopeVersionStart = r.pos;
          this.scopeVersionEnd = r.pos += length;
        } else this.skipOther(tag, scopeEnd, S_SCOPE);
      }
      r.leave();
    }
    this.scopeHash = combineOrdered(
      this.resourceHash,
      combineOrdered(
        hashBytes(this.buf, this.scopeNameStart, this.scopeNameEnd),
        hashBytes(this.buf, this.scopeVersionStart, this.scopeVersionEnd),
      ),
    );
    this.scopeLabels = null;

    r.pos = start;
    this.eachMessage(end, SM_METRICS, 'metrics', null, this.metric);
  }

  metric(start: number, end: number): void {
    const r = this.r;
    r.pos = start;
    this.nameStart = this.nameEnd = this.unitStart = this.unitEnd = this.descriptionStart = this.descriptionEnd = 0;
    let dataTag = 0;
    let dataStart = 0;
    let dataEnd = 0;
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case METRIC_NAME: {
          const length = r.length(end, 'name');
          this.nameStart = r.pos;
          this.nameEnd = r.pos += length;
          break;
        }
        case METRIC_DESCRIPTION: {
          const length = r.length(end, 'description');
          this.descriptionStart = r.pos;
          this.descriptionEnd = r.pos += length;
          break;
        }
        case METRIC_UNIT: {
          const length = r.length(end, 'unit');
          this.unitStart = r.pos;
          this.unitEnd = r.pos += length;
          break;
        }
        case METRIC_GAUGE:
        case METRIC_SUM:
        case METRIC_HISTOGRAM:
        case METRIC_EXP_HISTOGRAM:
        case METRIC_SUMMARY: {
          // A oneof: the last one on the wire wins.
          const length = r.length(end, 'data');
          dataTag = tag;
          dataStart = r.pos;
          dataEnd = r.pos += length;
          break;
        }
        default:
          this.skipOther(tag, end, S_METRIC);
      }
    }
    if (dataTag === 0) {
      // No points to count: the metric itself is the rejected item.
      this.pointsReceived++;
      this.reject('no_data', 1);
      return;
    }

    let kind: DataKind;
    let dataName: string;
    switch (dataTag) {
      case METRIC_GAUGE:
        kind = DataKind.Gauge;
        dataName = 'gauge';
        break;
      case METRIC_SUM:
        kind = DataKind.Sum;
        dataName = 'sum';
        break;
      case METRIC_HISTOGRAM:
        kind = DataKind.Histogram;
        dataName = 'histogram';
        break;
      case METRIC_EXP_HISTOGRAM:
        kind = DataKind.ExpHistogram;
        dataName = 'exponential_histogram';
        break;
      default:
        kind = DataKind.Summary;
        dataName = 'summary';
    }

    // Temporality and monotonicity may follow the points: read them first.
    r.pos = dataStart;
    r.enter(dataName, -1);
    let points = 0;
    let temporality = 0;
    let monotonic = false;
    while (r.pos < dataEnd) {
      const tag = r.tag(dataEnd);
      if (tag === DATA_POINTS) {
        const length = r.length(dataEnd, 'data_points');
        r.pos += length;
        points++;
      } else if (tag === DATA_TEMPORALITY && kind !== DataKind.Gauge && kind !== DataKind.Summary) {
        temporality = r.int32(dataEnd);
      } else if (tag === SUM_MONOTONIC && kind === DataKind.Sum) {
        r.varint64(dataEnd);
        monotonic = (r.lo | r.hi) !== 0;
      } else this.skipOther(tag, dataEnd, kind === DataKind.Gauge || kind === DataKind.Summary ? S_LIST : S_SUM);
    }

    if (this.nameEnd === this.nameStart) {
      this.pointsReceived += points;
      this.reject('missing_name', points);
      r.leave();
      return;
    }
    let flags = 0;
    if (kind === DataKind.Sum || kind === DataKind.Histogram || kind === DataKind.ExpHistogram) {
      if (temporality === TEMPORALITY_DELTA) flags |= RecordFlag.Delta;
      else if (temporality !== TEMPORALITY_CUMULATIVE) {
        this.pointsReceived += points;
        this.reject('invalid_temporality', points);
        r.leave();
        return;
      }
    }
    if (kind === DataKind.Sum && monotonic) flags |= RecordFlag.Monotonic;

    const type: FamilyType =
      kind === DataKind.Gauge ? 'gauge'
      : kind === DataKind.Sum ? (monotonic ? 'counter' : 'gauge')
      : kind === DataKind.Summary ? 'summary'
      : 'histogram';
    this.familyType = type;
    this.family = null;
    this.metricHash = combineOrdered(
      this.scopeHash,
      combineOrdered(
        combineOrdered(hashBytes(this.buf, this.nameStart, this.nameEnd), hashBytes(this.buf, this.unitStart, this.unitEnd)),
        FAMILY_HASH[type],
      ),
    );

    r.pos = dataStart;
    let index = 0;
    while (r.pos < dataEnd) {
      const tag = r.tag(dataEnd);
      if (tag === DATA_POINTS) {
        const length = r.length(dataEnd);
        const at = r.pos;
        r.enter('data_points', index++);
        switch (kind) {
          case DataKind.Gauge:
            this.numberPoint(at, at + length, RecordKind.Gauge, flags);
            break;
          case DataKind.Sum:
            this.numberPoint(at, at + length, RecordKind.Sum, flags);
            break;
          case DataKind.Histogram:
            this.histogramPoint(at, at + length, flags);
            break;
          case DataKind.ExpHistogram:
            this.expHistogramPoint(at, at + length, flags);
            break;
          case DataKind.Summary:
            this.summaryPoint(at, at + length);
            break;
        }
        r.leave();
        r.pos = at + length;
      } else r.skip(tag, dataEnd);
    }
    r.leave();
  }

  /** Reserves `slots` record slots and writes the header; returns the offset of slot 5. */
  header(kind: number, hash: number, timeMs: number, startMs: number, flags: number, slots: number): number {
    records.reserve(slots);
    const out = records.data;
    const at = records.n;
    out[at] = kind;
    out[at + 1] = hash;
    out[at + 2] = timeMs;
    out[at + 3] = startMs;
    out[at + 4] = flags;
    records.n = at + slots;
    this.recordCount++;
    if (timeMs > this.latestTimeMs) this.latestTimeMs = timeMs;
    return at + HEADER_SLOTS;
  }

  numberPoint(start: number, end: number, kind: number, flags: number): void {
    const r = this.r;
    const buf = this.buf;
    const attributes = this.attributes;
    attributes.reset();
    let startNs = 0;
    let timeNs = 0;
    let value = Number.NaN;
    let hasValue = false;
    let pointFlags = 0;
    r.pos = start;
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case NDP_ATTRIBUTES: {
          const length = r.length(end, 'attributes');
          const at = r.pos;
          attributes.addBytes(buf, at, at + length);
          r.pos = at + length;
          break;
        }
        case POINT_START:
          startNs = r.fixed64(end);
          break;
        case POINT_TIME:
          timeNs = r.fixed64(end);
          break;
        case NDP_AS_DOUBLE:
          value = r.double(end);
          hasValue = true;
          break;
        case NDP_AS_INT:
          value = r.sfixed64(end);
          hasValue = true;
          break;
        case NDP_FLAGS:
          pointFlags = r.uint32(end);
          break;
        default:
          this.skipOther(tag, end, S_NUMBER_POINT);
      }
    }
    this.pointsReceived++;
    if ((pointFlags & FLAG_NO_RECORDED_VALUE) !== 0) {
      flags |= RecordFlag.NoRecordedValue;
      value = Number.NaN;
    } else if (!hasValue) {
      this.reject('missing_value', 1);
      return;
    }
    const hash = combineOrdered(this.metricHash, attributes.digest());
    if (this.needsDefinition(hash)) this.define(hash, start, end, NDP_ATTRIBUTES);
    const at = this.header(kind, hash, timeNs / 1e6, startNs / 1e6, flags, HEADER_SLOTS + 1);
    records.data[at] = value;
  }

  histogramPoint(start: number, end: number, flags: number): void {
    const r = this.r;
    const buf = this.buf;
    const attributes = this.attributes;
    attributes.reset();
    bounds.n = 0;
    bucketCounts.n = 0;
    let startNs = 0;
    let timeNs = 0;
    let count = 0;
    let sum = Number.NaN;
    let pointFlags = 0;
    r.pos = start;
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case HDP_ATTRIBUTES: {
          const length = r.length(end, 'attributes');
          const at = r.pos;
          attributes.addBytes(buf, at, at + length);
          r.pos = at + length;
          break;
        }
        case POINT_START:
          startNs = r.fixed64(end);
          break;
        case POINT_TIME:
          timeNs = r.fixed64(end);
          break;
        case POINT_COUNT:
          count = r.fixed64(end);
          break;
        case POINT_SUM:
          sum = r.double(end);
          break;
        case HDP_BUCKETS_PACKED:
          this.packedFixed64(end, bucketCounts, false, 'bucket_counts');
          break;
        case HDP_BUCKETS_ONE:
          bucketCounts.push(r.fixed64(end));
          break;
        case HDP_BOUNDS_PACKED:
          this.packedFixed64(end, bounds, true, 'explicit_bounds');
          break;
        case HDP_BOUNDS_ONE:
          bounds.push(r.double(end));
          break;
        case HDP_FLAGS:
          pointFlags = r.uint32(end);
          break;
        default:
          this.skipOther(tag, end, S_HISTOGRAM_POINT);
      }
    }
    this.pointsReceived++;
    const nCounts = bucketCounts.n;
    // Without bucket counts only count and sum are known: one +Inf bucket holding `count`.
    const nBounds = nCounts === 0 ? 0 : bounds.n;
    if (nCounts !== 0) {
      if (nCounts !== nBounds + 1) {
        this.reject('invalid_histogram', 1);
        return;
      }
      const b = bounds.data;
      for (let i = 1; i < nBounds; i++) {
        if (!(b[i]! > b[i - 1]!)) {
          this.reject('invalid_histogram', 1);
          return;
        }
      }
    }
    if ((pointFlags & FLAG_NO_RECORDED_VALUE) !== 0) flags |= RecordFlag.NoRecordedValue;
    const hash = combineOrdered(this.metricHash, attributes.digest());
    if (this.needsDefinition(hash)) this.define(hash, start, end, HDP_ATTRIBUTES);
    let at = this.header(RecordKind.Histogram, hash, timeNs / 1e6, startNs / 1e6, flags, HEADER_SLOTS + 3 + 2 * nBounds + 1);
    const out = records.data;
    out[at++] = count;
    out[at++] = sum;
    out[at++] = nBounds;
    if (nCounts === 0) {
      out[at] = count;
      return;
    }
    out.set(bounds.data.subarray(0, nBounds), at);
    out.set(bucketCounts.data.subarray(0, nCounts), at + nBounds);
  }

  /** Appends a packed repeated fixed64 (or double) field to `into`. */
  packedFixed64(end: number, into: Scratch, asDouble: boolean, field: string): void {
    const r = this.r;
    const start = r.pos;
    const length = r.length(end, field);
    if (length % 8 !== 0) r.fail(`packed ${field} length ${length} is not a multiple of 8`, start, field);
    const at = r.pos;
    const n = length / 8;
    into.reserve(n);
    const data = into.data;
    let k = into.n;
    for (let p = at; p < at + length; p += 8) data[k++] = asDouble ? r.doubleAt(p) : r.fixed64At(p);
    into.n = k;
    r.pos = at + length;
  }

  expHistogramPoint(start: number, end: number, flags: number): void {
    const r = this.r;
    const buf = this.buf;
    const attributes = this.attributes;
    attributes.reset();
    positiveCounts.n = 0;
    negativeCounts.n = 0;
    let startNs = 0;
    let timeNs = 0;
    let count = 0;
    let sum = Number.NaN;
    let scale = 0;
    let zeroCount = 0;
    let positiveOffset = 0;
    let negativeOffset = 0;
    let pointFlags = 0;
    r.pos = start;
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case EDP_ATTRIBUTES: {
          const length = r.length(end, 'attributes');
          const at = r.pos;
          attributes.addBytes(buf, at, at + length);
          r.pos = at + length;
          break;
        }
        case POINT_START:
          startNs = r.fixed64(end);
          break;
        case POINT_TIME:
          timeNs = r.fixed64(end);
          break;
        case POINT_COUNT:
          count = r.fixed64(end);
          break;
        case POINT_SUM:
          sum = r.double(end);
          break;
        case EDP_SCALE:
          scale = r.sint32(end);
          break;
        case EDP_ZERO_COUNT:
          zeroCount = r.fixed64(end);
          break;
        case EDP_POSITIVE:
          r.enter('positive', -1);
          positiveOffset = this.buckets(end, positiveCounts);
          r.leave();
          break;
        case EDP_NEGATIVE:
          r.enter('negative', -1);
          negativeOffset = this.buckets(end, negativeCounts);
          r.leave();
          break;
        case EDP_FLAGS:
          pointFlags = r.uint32(end);
          break;
        default:
          this.skipOther(tag, end, S_EXP_POINT);
      }
    }
    this.pointsReceived++;
    if (scale < MIN_EXP_SCALE || scale > MAX_EXP_SCALE) {
      this.reject('invalid_histogram', 1);
      return;
    }
    if ((pointFlags & FLAG_NO_RECORDED_VALUE) !== 0) flags |= RecordFlag.NoRecordedValue;
    const hash = combineOrdered(this.metricHash, attributes.digest());
    if (this.needsDefinition(hash)) this.define(hash, start, end, EDP_ATTRIBUTES);

    const target = Math.min(scale, this.options.expMaxScale);
    const shift = scale - target;
    const nPositive = downscaledLength(positiveOffset, positiveCounts.n, shift);
    const nNegative = downscaledLength(negativeOffset, negativeCounts.n, shift);
    let at = this.header(RecordKind.ExpHistogram, hash, timeNs / 1e6, startNs / 1e6, flags, HEADER_SLOTS + 8 + nPositive + nNegative);
    const out = records.data;
    out[at++] = count;
    out[at++] = sum;
    out[at++] = target;
    out[at++] = zeroCount;
    at = writeBuckets(out, at, positiveOffset, positiveCounts, shift, nPositive);
    writeBuckets(out, at, negativeOffset, negativeCounts, shift, nNegative);
  }

  /** Decodes the Buckets message at `pos` into `into` (replacing it); returns its offset. */
  buckets(end: number, into: Scratch): number {
    const r = this.r;
    const length = r.length(end, 'buckets');
    const bucketsEnd = r.pos + length;
    into.n = 0;
    let offset = 0;
    while (r.pos < bucketsEnd) {
      const tag = r.tag(bucketsEnd);
      if (tag === BUCKETS_OFFSET) offset = r.sint32(bucketsEnd);
      else if (tag === BUCKETS_COUNTS_PACKED) {
        const length = r.length(bucketsEnd, 'bucket_counts');
        const packedEnd = r.pos + length;
        while (r.pos < packedEnd) into.push(r.uint64(packedEnd));
      } else if (tag === BUCKETS_COUNTS_ONE) into.push(r.uint64(bucketsEnd));
      else this.skipOther(tag, bucketsEnd, S_BUCKETS);
    }
    return offset;
  }

  summaryPoint(start: number, end: number): void {
    const r = this.r;
    const buf = this.buf;
    const attributes = this.attributes;
    attributes.reset();
    quantiles.n = 0;
    let startNs = 0;
    let timeNs = 0;
    let count = 0;
    let sum = 0;
    let pointFlags = 0;
    let index = 0;
    r.pos = start;
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case SDP_ATTRIBUTES: {
          const length = r.length(end, 'attributes');
          const at = r.pos;
          attributes.addBytes(buf, at, at + length);
          r.pos = at + length;
          break;
        }
        case POINT_START:
          startNs = r.fixed64(end);
          break;
        case POINT_TIME:
          timeNs = r.fixed64(end);
          break;
        case POINT_COUNT:
          count = r.fixed64(end);
          break;
        case POINT_SUM:
          sum = r.double(end);
          break;
        case SDP_QUANTILES: {
          const length = r.length(end, 'quantile_values');
          const qEnd = r.pos + length;
          r.enter('quantile_values', index++);
          let quantile = 0;
          let value = 0;
          while (r.pos < qEnd) {
            const qTag = r.tag(qEnd);
            if (qTag === QUANTILE_Q) quantile = r.double(qEnd);
            else if (qTag === QUANTILE_VALUE) value = r.double(qEnd);
            else this.skipOther(qTag, qEnd, S_QUANTILE);
          }
          r.leave();
          quantiles.push(quantile);
          quantiles.push(value);
          break;
        }
        case SDP_FLAGS:
          pointFlags = r.uint32(end);
          break;
        default:
          this.skipOther(tag, end, S_SUMMARY_POINT);
      }
    }
    this.pointsReceived++;
    const flags = (pointFlags & FLAG_NO_RECORDED_VALUE) !== 0 ? RecordFlag.NoRecordedValue : 0;
    const hash = combineOrdered(this.metricHash, attributes.digest());
    if (this.needsDefinition(hash)) this.define(hash, start, end, SDP_ATTRIBUTES);
    const nPairs = quantiles.n;
    let at = this.header(RecordKind.Summary, hash, timeNs / 1e6, startNs / 1e6, flags, HEADER_SLOTS + 3 + nPairs);
    const out = records.data;
    out[at++] = count;
    out[at++] = sum;
    out[at++] = nPairs / 2;
    out.set(quantiles.data.subarray(0, nPairs), at);
  }

  /** One synthetic `target_info` sample for the current resource (not a received point). */
  targetInfo(): void {
    const hash = combineOrdered(this.resourceHash, TARGET_INFO_HASH);
    if (this.needsDefinition(hash)) {
      const pairs = this.resourceInfoPairs();
      this.definitions.push({ hash, name: 'target_info', type: 'info', help: 'Target metadata', unit: '', labels: labelSet(pairs) });
    }
    const timeMs = this.latestTimeMs === Number.NEGATIVE_INFINITY ? Date.now() : this.latestTimeMs;
    const at = this.header(RecordKind.Gauge, hash, timeMs, 0, 0, HEADER_SLOTS + 1);
    records.data[at] = 1;
  }

  /** True when this request must carry the definition of `hash`. */
  needsDefinition(hash: number): boolean {
    if (this.forced !== null) {
      if (this.forced.has(hash)) return false;
      this.forced.add(hash);
      if (this.state.claim(hash)) claimed.push(hash);
      return true;
    }
    if (!this.state.claim(hash)) return false;
    claimed.push(hash);
    return true;
  }

  // ---- definitions: the only place strings are decoded ------------------------------------

  /** Adds the definition of series `hash`, whose point is the message at [start, end). */
  define(hash: number, start: number, end: number, attributesTag: number): void {
    const r = this.r;
    const saved = r.pos;
    const resource = this.resourceJobInstance();
    const hasJob = resource.some(([key]) => key === 'job');
    const hasInstance = resource.some(([key]) => key === 'instance');
    const pairs: Array<[string, string]> = [];
    r.pos = start;
    let index = 0;
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === attributesTag) {
        const length = r.length(end);
        const at = r.pos;
        r.enter('attributes', index++);
        const pair = this.keyValue(at, at + length);
        r.leave();
        r.pos = at + length;
        // Resource-derived job/instance win over point attributes of the same name (the spec
        // derives them from the resource; a point attribute cannot impersonate another target).
        if ((hasJob && pair[0] === 'job') || (hasInstance && pair[0] === 'instance')) continue;
        // Nor can one impersonate another tenant.
        if (this.tenant !== '' && pair[0] === 'tenant') continue;
        pairs.push(pair);
      } else r.skip(tag, end);
    }
    for (const pair of resource) pairs.push(pair);
    for (const pair of this.scopeLabelPairs()) pairs.push(pair);
    const family = this.familyInfo();
    const reserved = this.familyType === 'histogram' ? RESERVED_LABELS.histogram : this.familyType === 'summary' ? RESERVED_LABELS.summary : [];
    this.definitions.push({ hash, name: family.name, type: this.familyType, help: family.help, unit: family.unit, labels: labelSet(pairs, reserved) });
    r.pos = saved;
  }

  familyInfo(): { name: string; unit: string; help: string } {
    if (this.family === null) {
      const type = this.familyType;
      const translated = familyName(
        this.string(this.nameStart, this.nameEnd),
        this.string(this.unitStart, this.unitEnd),
        type === 'info' ? 'gauge' : type,
      );
      this.family = { name: translated.name, unit: translated.unit, help: this.string(this.descriptionStart, this.descriptionEnd) };
    }
    return this.family;
  }

  /** `otel_scope_name` / `otel_scope_version` pairs of the current scope, when non-empty. */
  scopeLabelPairs(): Array<[string, string]> {
    if (this.scopeLabels === null) {
      const pairs: Array<[string, string]> = [];
      if (this.scopeNameEnd > this.scopeNameStart) pairs.push(['otel_scope_name', this.string(this.scopeNameStart, this.scopeNameEnd)]);
      if (this.scopeVersionEnd > this.scopeVersionStart) {
        pairs.push(['otel_scope_version', this.string(this.scopeVersionStart, this.scopeVersionEnd)]);
      }
      this.scopeLabels = pairs;
    }
    return this.scopeLabels;
  }

  /** The resource's attributes as decoded pairs, in wire order. */
  resourcePairs(): Array<[string, string]> {
    const pairs: Array<[string, string]> = [];
    if (this.resourceStart < 0) return pairs;
    const r = this.r;
    const saved = r.pos;
    const end = this.resourceEnd;
    r.pos = this.resourceStart;
    r.enter('resource', -1);
    let index = 0;
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === RESOURCE_ATTRIBUTES) {
        const length = r.length(end);
        const at = r.pos;
        r.enter('attributes', index++);
        pairs.push(this.keyValue(at, at + length));
        r.leave();
        r.pos = at + length;
      } else r.skip(tag, end);
    }
    r.leave();
    r.pos = saved;
    return pairs;
  }

  /** `job` and `instance` from service.namespace/service.name and service.instance.id. */
  resourceJobInstance(): Array<[string, string]> {
    if (this.resourceLabels === null) {
      let name: string | undefined;
      let namespace: string | undefined;
      let instance: string | undefined;
      for (const [key, value] of this.resourcePairs()) {
        if (key === 'service.name') name = value;
        else if (key === 'service.namespace') namespace = value;
        else if (key === 'service.instance.id') instance = value;
      }
      const pairs: Array<[string, string]> = [];
      if (name !== undefined && name !== '') pairs.push(['job', namespace ? `${namespace}/${name}` : name]);
      if (instance !== undefined && instance !== '') pairs.push(['instance', instance]);
      if (this.tenant !== '') pairs.push(['tenant', this.tenant]);
      this.resourceLabels = pairs;
    }
    return this.resourceLabels;
  }

  /** target_info labels: job/instance plus every other resource attribute. */
  resourceInfoPairs(): Array<[string, string]> {
    const pairs = [...this.resourceJobInstance()];
    for (const pair of this.resourcePairs()) {
      const key = pair[0];
      if (key !== 'service.name' && key !== 'service.namespace' && key !== 'service.instance.id' && !(this.tenant !== '' && key === 'tenant')) pairs.push(pair);
    }
    return pairs;
  }

  string(start: number, end: number): string {
    return start === end ? '' : textDecoder.decode(this.buf.subarray(start, end));
  }

  /** Decodes the KeyValue at [start, end) into [key, value as a label string]. */
  keyValue(start: number, end: number): [string, string] {
    const r = this.r;
    r.pos = start;
    let key = '';
    let value = '';
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === KV_KEY) {
        const length = r.length(end, 'key');
        key = this.string(r.pos, r.pos + length);
        r.pos += length;
      } else if (tag === KV_VALUE) {
        const length = r.length(end, 'value');
        const at = r.pos;
        r.enter('value', -1);
        value = this.anyValue(at, at + length, false);
        r.leave();
        r.pos = at + length;
      } else this.skipOther(tag, end, S_KEY_VALUE);
    }
    return [key, value];
  }

  /**
   * An AnyValue as a string, per the OTel spec's representation of non-string attribute values:
   * bools `true`/`false`, ints in decimal, doubles in shortest round-trip form (NaN and ±Infinity
   * as `NaN`, `Infinity`, `-Infinity`), bytes in base64, arrays and maps as JSON. Inside JSON
   * (`json`), strings and bytes are quoted, non-finite doubles become JSON strings, and an empty
   * value is `null`; at the top level an empty value is ''.
   */
  anyValue(start: number, end: number, json: boolean): string {
    const r = this.r;
    r.pos = start;
    let out = json ? 'null' : '';
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case ANY_STRING: {
          const length = r.length(end, 'string_value');
          const s = this.string(r.pos, r.pos + length);
          r.pos += length;
          out = json ? JSON.stringify(s) : s;
          break;
        }
        case ANY_BOOL:
          r.varint64(end);
          out = (r.lo | r.hi) !== 0 ? 'true' : 'false';
          break;
        case ANY_INT:
          r.varint64(end);
          out = int64ToDecimal(r.lo, r.hi);
          break;
        case ANY_DOUBLE: {
          const v = r.double(end);
          out = json && !Number.isFinite(v) ? `"${String(v)}"` : String(v);
          break;
        }
        case ANY_BYTES: {
          const length = r.length(end, 'bytes_value');
          const b64 = Buffer.from(this.buf.buffer, this.buf.byteOffset + r.pos, length).toString('base64');
          r.pos += length;
          out = json ? `"${b64}"` : b64;
          break;
        }
        case ANY_ARRAY: {
          const length = r.length(end, 'array_value');
          const at = r.pos;
          r.enter('array_value', -1);
          out = `[${this.list(at, at + length, false).join(',')}]`;
          r.leave();
          r.pos = at + length;
          break;
        }
        case ANY_KVLIST: {
          const length = r.length(end, 'kvlist_value');
          const at = r.pos;
          r.enter('kvlist_value', -1);
          out = `{${this.list(at, at + length, true).join(',')}}`;
          r.leave();
          r.pos = at + length;
          break;
        }
        default:
          this.skipOther(tag, end, S_ANY_VALUE);
      }
    }
    return out;
  }

  /** The JSON items of an ArrayValue (`"v"`) or KeyValueList (`"k":v`) at [start, end). */
  list(start: number, end: number, keyed: boolean): string[] {
    const r = this.r;
    const items: string[] = [];
    r.pos = start;
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === LIST_VALUES) {
        const length = r.length(end, 'values');
        const at = r.pos;
        r.enter('values', items.length);
        if (keyed) {
          const [key, value] = this.jsonKeyValue(at, at + length);
          items.push(`${JSON.stringify(key)}:${value}`);
        } else items.push(this.anyValue(at, at + length, true));
        r.leave();
        r.pos = at + length;
      } else this.skipOther(tag, end, S_LIST);
    }
    return items;
  }

  jsonKeyValue(start: number, end: number): [string, string] {
    const r = this.r;
    r.pos = start;
    let key = '';
    let value = 'null';
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === KV_KEY) {
        const length = r.length(end, 'key');
        key = this.string(r.pos, r.pos + length);
        r.pos += length;
      } else if (tag === KV_VALUE) {
        const length = r.length(end, 'value');
        const at = r.pos;
        r.enter('value', -1);
        value = this.anyValue(at, at + length, true);
        r.leave();
        r.pos = at + length;
      } else this.skipOther(tag, end, S_KEY_VALUE);
    }
    return [key, value];
  }
}

function bytesEqual(buf: Uint8Array, start: number, end: number, expected: Uint8Array): boolean {
  if (end - start !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (buf[start + i] !== expected[i]) return false;
  return true;
}

/** Number of buckets after merging 2^shift adjacent ones (bucket i goes to floor(i / 2^shift)). */
function downscaledLength(offset: number, n: number, shift: number): number {
  if (n === 0 || shift === 0) return n;
  const divisor = 2 ** shift;
  return Math.floor((offset + n - 1) / divisor) - Math.floor(offset / divisor) + 1;
}

/** Writes offset, count and the (downscaled) counts of one bucket run; returns the next slot. */
function writeBuckets(out: Float64Array, at: number, offset: number, counts: Scratch, shift: number, n: number): number {
  if (shift === 0) {
    out[at] = offset;
    out[at + 1] = n;
    out.set(counts.data.subarray(0, n), at + 2);
    return at + 2 + n;
  }
  const divisor = 2 ** shift;
  const newOffset = Math.floor(offset / divisor);
  out[at] = newOffset;
  out[at + 1] = n;
  const base = at + 2;
  out.fill(0, base, base + n);
  const data = counts.data;
  for (let k = 0; k < counts.n; k++) out[base + Math.floor((offset + k) / divisor) - newOffset] += data[k]!;
  return base + n;
}

/** An int64 given as two's-complement 32-bit halves, in exact decimal. */
export function int64ToDecimal(lo: number, hi: number): string {
  const negative = (hi & 0x80000000) !== 0;
  if (negative) {
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  let digits: string;
  if (hi < 0x200000) digits = String(hi * 4294967296 + lo);
  else {
    // Above 2^53: long division of four 16-bit limbs by 10^4.
    const limbs = [hi >>> 16, hi & 0xffff, lo >>> 16, lo & 0xffff];
    digits = '';
    while (limbs[0]! | limbs[1]! | limbs[2]! | limbs[3]!) {
      let rest = 0;
      for (let i = 0; i < 4; i++) {
        const cur = rest * 65536 + limbs[i]!;
        limbs[i] = Math.floor(cur / 10000);
        rest = cur % 10000;
      }
      digits = String(rest).padStart(4, '0') + digits;
    }
    digits = digits.replace(/^0+/, '');
  }
  return negative ? `-${digits}` : digits;
}
