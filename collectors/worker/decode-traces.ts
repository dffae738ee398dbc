// Decodes an OTLP ExportTraceServiceRequest straight into a SpanBatch (layout in batch.ts).
//
// Like the metrics decoder it walks the bytes once and allocates nothing per span: a span's
// series hash comes from the resource hash, the name bytes, kind and status code, and the bytes of
// the configured extra dimensions; strings are decoded only for a series' first definition. The
// series follow the OTel Collector's spanmetrics connector: labels service_name, span_name,
// span_kind, status_code, the extra dimensions (span attribute first, then resource attribute;
// omitted when neither has it), and job/instance from the resource as for metrics.
//
// Durations are exact: end − start is taken on the 32-bit halves of the fixed64 nanoseconds, so
// a 1 ns span is 1e-9 s even though the timestamps themselves exceed 2^53.

import { RESERVED_LABELS, labelSet } from '../../daemon/model/naming.js';
import { EXEMPLAR_ID_BYTES, SPAN_SLOTS, SpanFlag } from './batch.js';
import type { SpanBatch, SpanSeriesDefinition } from './batch.js';
import { pooledCopy } from './buffers.js';
import { type DecodeOptions, RequestDecoder, type WorkerSeriesState } from './decode-metrics.js';
import { combineOrdered, hashBytes, hashString } from './hash.js';
import { WireType } from './wire.js';

/** Span settings the workers need (the `spans` config section). */
export interface SpanDecodeOptions {
  /** Extra dimensions: attribute keys looked up on the span, then on its resource. */
  dimensions: string[];
  /** Histogram upper bounds in seconds, ascending; the bucket index is computed here. */
  buckets: number[];
  /** Also count spans whose http.response.status_code / http.status_code is ≥ 500 as errors. */
  errorOnHttp5xx: boolean;
}

const VARINT = WireType.Varint;
const I64 = WireType.Fixed64;
const LEN = WireType.LengthDelimited;
const I32 = WireType.Fixed32;

const REQUEST_RESOURCE_SPANS = 1 * 8 + LEN;
const RS_SCOPE_SPANS = 2 * 8 + LEN;
const RESOURCE_ATTRIBUTES = 1 * 8 + LEN;
const SS_SPANS = 2 * 8 + LEN;
const SPAN_TRACE_ID = 1 * 8 + LEN;
const SPAN_SPAN_ID = 2 * 8 + LEN;
const SPAN_NAME = 5 * 8 + LEN;
const SPAN_KIND = 6 * 8 + VARINT;
const SPAN_START = 7 * 8 + I64;
const SPAN_END = 8 * 8 + I64;
const SPAN_ATTRIBUTES = 9 * 8 + LEN;
const SPAN_STATUS = 15 * 8 + LEN;
const STATUS_CODE = 3 * 8 + VARINT;
const KV_KEY = 1 * 8 + LEN;
const KV_VALUE = 2 * 8 + LEN;
const ANY_STRING = 1 * 8 + LEN;
const ANY_INT = 3 * 8 + VARINT;
const ANY_DOUBLE = 4 * 8 + I64;

function schema(fields: Record<number, WireType>): Int8Array {
  const max = Math.max(...Object.keys(fields).map(Number));
  const table = new Int8Array(max + 1).fill(-1);
  for (const [field, wireType] of Object.entries(fields)) table[Number(field)] = wireType;
  return table;
}

const S_REQUEST = schema({ 1: LEN });
const S_RESOURCE_SPANS = schema({ 1: LEN, 2: LEN, 3: LEN });
const S_RESOURCE = schema({ 1: LEN, 2: VARINT, 3: LEN });
const S_SCOPE_SPANS = schema({ 1: LEN, 2: LEN, 3: LEN });
const S_SPAN = schema({
  1: LEN, 2: LEN, 3: LEN, 4: LEN, 5: LEN, 6: VARINT, 7: I64, 8: I64, 9: LEN, 10: VARINT, 11: LEN, 12: VARINT, 13: LEN, 14: VARINT, 15: LEN, 16: I32,
});
const S_STATUS = schema({ 2: LEN, 3: VARINT });
const S_KEY_VALUE = schema({ 1: LEN, 2: LEN });
const S_ANY_VALUE = schema({ 1: LEN, 2: VARINT, 3: VARINT, 4: I64, 5: LEN, 6: LEN, 7: LEN });

/** Span.SpanKind names, as the spanmetrics connector writes them; unknown values are UNSPECIFIED. */
const SPAN_KINDS = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
/** Status.StatusCode names; unknown values are UNSET. */
const STATUS_CODES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];
const STATUS_ERROR = 2;

const SPAN_SERIES_SEED = hashString('traces_span_metrics');
/** Stands in for a dimension the span and its resource lack. */
const MISSING_DIMENSION = hashString('\u0000missing');

const TWO_32 = 4294967296;
const utf8 = new TextEncoder();
const HTTP_STATUS_KEYS = [utf8.encode('http.response.status_code'), utf8.encode('http.status_code')];

// ---- reusable scratch (one worker runs one task at a time) ---------------------------------

let records = new Float64Array(SPAN_SLOTS * 1024);
/** Per record: offset of its 16-byte trace id (its 8-byte span id offset follows), or -1. */
let traceIdAt = new Int32Array(1024);
let spanIdAt = new Int32Array(1024);
/** Exemplar sampling: series hash → slot; per slot and bucket the last record index, or -1. */
const exemplarSlot = new Map<number, number>();
let exemplarTable = new Int32Array(1024);
const claimedSpans: number[] = [];

/**
 * Decodes one ExportTraceServiceRequest into a SpanBatch. Throws MalformedPayloadError for
 * bytes that are not a valid request; the state then is as if the request had never been seen.
 */
export function decodeTracesRequest(
  payload: Uint8Array,
  state: WorkerSeriesState,
  generation: number,
  forceDefinitions: boolean,
  options: DecodeOptions,
  spans: SpanDecodeOptions,
  tenant = '',
): SpanBatch {
  state.beginTask(generation);
  claimedSpans.length = 0;
  exemplarSlot.clear();
  const decoder = new TraceDecoder(payload, state, forceDefinitions, options, spans);
  decoder.setTenant(tenant);
  try {
    decoder.request();
  } catch (err) {
    for (const hash of claimedSpans) state.release(hash);
    claimedSpans.length = 0;
    throw err;
  }
  claimedSpans.length = 0;
  return decoder.finish(generation);
}

class TraceDecoder extends RequestDecoder {
  readonly spans: SpanDecodeOptions;
  readonly view: DataView;
  readonly bounds: Float64Array;
  readonly dimKeys: Uint8Array[];
  /** AnyValue ranges of the dimensions on the current resource / span; start -1 = absent. */
  readonly resourceDimStart: Int32Array;
  readonly resourceDimEnd: Int32Array;
  readonly spanDimStart: Int32Array;
  readonly spanDimEnd: Int32Array;
  /** Whether span attributes must be read at all (dimensions or the HTTP 5xx rule). */
  readonly readAttributes: boolean;
  readonly spanDefinitions: SpanSeriesDefinition[] = [];
  spansReceived = 0;
  nRecords = 0;
  // The KeyValue last parsed by keyValueRanges.
  kvKeyStart = 0;
  kvKeyEnd = 0;
  kvValueStart = -1;
  kvValueEnd = -1;
  spanResourceHash = 0;

  constructor(payload: Uint8Array, state: WorkerSeriesState, forceDefinitions: boolean, options: DecodeOptions, spans: SpanDecodeOptions) {
    super(payload, state, forceDefinitions, options);
    this.spans = spans;
    this.view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    this.bounds = Float64Array.from(spans.buckets);
    this.dimKeys = spans.dimensions.map((key) => utf8.encode(key));
    const n = this.dimKeys.length;
    this.resourceDimStart = new Int32Array(n);
    this.resourceDimEnd = new Int32Array(n);
    this.spanDimStart = new Int32Array(n);
    this.spanDimEnd = new Int32Array(n);
    this.readAttributes = n > 0 || spans.errorOnHttp5xx;
  }

  override needsDefinition(hash: number): boolean {
    if (this.forced !== null) {
      if (this.forced.has(hash)) return false;
      this.forced.add(hash);
      if (this.state.claim(hash)) claimedSpans.push(hash);
      return true;
    }
    if (!this.state.claim(hash)) return false;
    claimedSpans.push(hash);
    return true;
  }

  override request(): void {
    this.eachMessage(this.buf.length, REQUEST_RESOURCE_SPANS, 'resource_spans', S_REQUEST, this.resourceSpans);
  }

  resourceSpans(start: number, end: number): void {
    this.findResource(end, S_RESOURCE_SPANS);
    this.hashResource();
    this.resourceLabels = null;
    this.spanResourceHash = combineOrdered(this.resourceHash, SPAN_SERIES_SEED);
    this.resourceDimensions();
    this.r.pos = start;
    this.eachMessage(end, RS_SCOPE_SPANS, 'scope_spans', null, this.scopeSpans);
  }

  /** Finds the configured dimensions among the resource's attributes. */
  resourceDimensions(): void {
    this.resourceDimStart.fill(-1);
    if (this.dimKeys.length === 0 || this.resourceStart < 0) return;
    const r = this.r;
    const end = this.resourceEnd;
    r.pos = this.resourceStart;
    r.enter('resource', -1);
    let index = 0;
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === RESOURCE_ATTRIBUTES) {
        const length = r.length(end, 'attributes');
        const at = r.pos;
        r.enter('attributes', index++);
        this.keyValueRanges(at, at + length);
        r.leave();
        const dim = this.dimensionOf();
        if (dim >= 0) {
          this.resourceDimStart[dim] = this.kvValueStart;
          this.resourceDimEnd[dim] = this.kvValueEnd;
        }
        r.pos = at + length;
      } else this.skipOther(tag, end, S_RESOURCE);
    }
    r.leave();
  }

  scopeSpans(start: number, end: number): void {
    this.r.pos = start;
    this.eachMessage(end, SS_SPANS, 'spans', S_SCOPE_SPANS, this.span);
  }

  /** Parses the KeyValue at [start, end) into the kvKey and kvValue ranges (value start -1 when absent). */
  keyValueRanges(start: number, end: number): void {
    const r = this.r;
    r.pos = start;
    this.kvKeyStart = this.kvKeyEnd = 0;
    this.kvValueStart = this.kvValueEnd = -1;
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === KV_KEY) {
        const length = r.length(end, 'key');
        this.kvKeyStart = r.pos;
        this.kvKeyEnd = r.pos += length;
      } else if (tag === KV_VALUE) {
        const length = r.length(end, 'value');
        this.kvValueStart = r.pos;
        this.kvValueEnd = r.pos += length;
      } else this.skipOther(tag, end, S_KEY_VALUE);
    }
  }

  /** Index of the configured dimension whose key is the last parsed KeyValue's key, or -1. */
  dimensionOf(): number {
    const keys = this.dimKeys;
    for (let i = 0; i < keys.length; i++) if (bytesEqual(this.buf, this.kvKeyStart, this.kvKeyEnd, keys[i]!)) return i;
    return -1;
  }

  /** Whether the last parsed KeyValue is an HTTP status code attribute with a value ≥ 500. */
  isHttp5xx(): boolean {
    if (!bytesEqual(this.buf, this.kvKeyStart, this.kvKeyEnd, HTTP_STATUS_KEYS[0]!) && !bytesEqual(this.buf, this.kvKeyStart, this.kvKeyEnd, HTTP_STATUS_KEYS[1]!)) {
      return false;
    }
    if (this.kvValueStart < 0) return false;
    const r = this.r;
    const end = this.kvValueEnd;
    r.pos = this.kvValueStart;
    r.enter('value', -1);
    let code = 0;
    while (r.pos < end) {
      const tag = r.tag(end);
      if (tag === ANY_INT) code = r.int64(end);
      else if (tag === ANY_DOUBLE) code = r.double(end);
      else if (tag === ANY_STRING) {
        const length = r.length(end, 'string_value');
        code = Number(this.string(r.pos, r.pos + length));
        r.pos += length;
      } else this.skipOther(tag, end, S_ANY_VALUE);
    }
    r.leave();
    return code >= 500;
  }

  span(start: number, end: number): void {
    const r = this.r;
    const buf = this.buf;
    const view = this.view;
    let nameStart = 0;
    let nameEnd = 0;
    let kind = 0;
    let statusCode = 0;
    let startLo = 0;
    let startHi = 0;
    let endLo = 0;
    let endHi = 0;
    let traceAt = -1;
    let spanAt = -1;
    let http5xx = false;
    const dimStart = this.spanDimStart;
    const dimEnd = this.spanDimEnd;
    if (this.dimKeys.length > 0) dimStart.fill(-1);
    let attributeIndex = 0;
    r.pos = start;
    while (r.pos < end) {
      const tag = r.tag(end);
      switch (tag) {
        case SPAN_TRACE_ID: {
          const length = r.length(end, 'trace_id');
          traceAt = length === 16 ? r.pos : -1;
          r.pos += length;
          break;
        }
        case SPAN_SPAN_ID: {
          const length = r.length(end, 'span_id');
          spanAt = length === 8 ? r.pos : -1;
          r.pos += length;
          break;
        }
        case SPAN_NAME: {
          const length = r.length(end, 'name');
          nameStart = r.pos;
          nameEnd = r.pos += length;
          break;
        }
        case SPAN_KIND:
          kind = r.uint32(end);
          break;
        case SPAN_START: {
          const at = r.pos;
          r.fixed64(end);
          startLo = view.getUint32(at, true);
          startHi = view.getUint32(at + 4, true);
          break;
        }
        case SPAN_END: {
          const at = r.pos;
          r.fixed64(end);
          endLo = view.getUint32(at, true);
          endHi = view.getUint32(at + 4, true);
          break;
        }
        case SPAN_ATTRIBUTES: {
          const length = r.length(end, 'attributes');
          const at = r.pos;
          if (this.readAttributes) {
            r.enter('attributes', attributeIndex);
            this.keyValueRanges(at, at + length);
            r.leave();
            const dim = this.dimensionOf();
            if (dim >= 0) {
              dimStart[dim] = this.kvValueStart;
              dimEnd[dim] = this.kvValueEnd;
            }
            if (this.spans.errorOnHttp5xx) {
              r.enter('attributes', attributeIndex);
              if (this.isHttp5xx()) http5xx = true;
              r.leave();
            }
          }
          attributeIndex++;
          r.pos = at + length;
          break;
        }
        case SPAN_STATUS: {
          const length = r.length(end, 'status');
          const statusEnd = r.pos + length;
          r.enter('status', -1);
          statusCode = 0;
          while (r.pos < statusEnd) {
            const statusTag = r.tag(statusEnd);
            if (statusTag === STATUS_CODE) statusCode = r.uint32(statusEnd);
            else this.skipOther(statusTag, statusEnd, S_STATUS);
          }
          r.leave();
          break;
        }
        default:
          this.skipOther(tag, end, S_SPAN);
      }
    }
    this.spansReceived++;
    if (nameEnd === nameStart) {
      this.reject('missing_name', 1);
      return;
    }
    if ((endHi === 0 && endLo === 0) || endHi < startHi || (endHi === startHi && endLo < startLo)) {
      this.reject('invalid_span_time', 1);
      return;
    }
    if (kind >= SPAN_KINDS.length) kind = 0;
    if (statusCode >= STATUS_CODES.length) statusCode = 0;
    let hash = combineOrdered(this.spanResourceHash, hashBytes(buf, nameStart, nameEnd));
    hash = combineOrdered(hash, kind * 8 + statusCode);
    for (let i = 0; i < this.dimKeys.length; i++) {
      // A dimension on the span wins over the same key on the resource (as in the connector).
      const s = dimStart[i]! >= 0 ? dimStart[i]! : this.resourceDimStart[i]!;
      const e = dimStart[i]! >= 0 ? dimEnd[i]! : this.resourceDimEnd[i]!;
      hash = combineOrdered(hash, s >= 0 ? hashBytes(buf, s, e) : MISSING_DIMENSION);
    }
    if (this.needsDefinition(hash)) this.defineSpan(hash, nameStart, nameEnd, kind, statusCode);

    const durationSeconds = ((endHi - startHi) * TWO_32 + (endLo - startLo)) / 1e9;
    const bounds = this.bounds;
    let bucket = 0;
    while (bucket < bounds.length && durationSeconds > bounds[bucket]!) bucket++;
    const n = this.nRecords;
    if ((n + 1) * SPAN_SLOTS > records.length) growRecords();
    const at = n * SPAN_SLOTS;
    records[at] = hash;
    records[at + 1] = durationSeconds;
    records[at + 2] = (endHi * TWO_32 + endLo) / 1e6;
    records[at + 3] = bucket;
    records[at + 4] = statusCode === STATUS_ERROR || http5xx ? SpanFlag.Error : 0;
    records[at + 5] = -1;
    this.nRecords = n + 1;
    if (traceAt >= 0 && spanAt >= 0) {
      traceIdAt[n] = traceAt;
      spanIdAt[n] = spanAt;
      // Keep the last span of each (series, bucket) in this request as its exemplar candidate.
      const width = bounds.length + 1;
      let slot = exemplarSlot.get(hash);
      if (slot === undefined) {
        slot = exemplarSlot.size;
        exemplarSlot.set(hash, slot);
        if ((slot + 1) * width > exemplarTable.length) growExemplarTable((slot + 1) * width);
        exemplarTable.fill(-1, slot * width, (slot + 1) * width);
      }
      exemplarTable[slot * width + bucket] = n;
    }
  }

  /** The definition of span series `hash`: the only place strings are decoded. */
  defineSpan(hash: number, nameStart: number, nameEnd: number, kind: number, statusCode: number): void {
    const r = this.r;
    const saved = r.pos;
    let service = '';
    for (const [key, value] of this.resourcePairs()) if (key === 'service.name') service = value;
    const spanName = this.string(nameStart, nameEnd);
    const spanKind = SPAN_KINDS[kind]!;
    const status = STATUS_CODES[statusCode]!;
    const pairs: Array<[string, string]> = [
      ['service_name', service],
      ['span_name', spanName],
      ['span_kind', spanKind],
      ['status_code', status],
      ...this.resourceJobInstance(),
    ];
    const attributes: Record<string, string> = {};
    for (let i = 0; i < this.dimKeys.length; i++) {
      const onSpan = this.spanDimStart[i]! >= 0;
      const s = onSpan ? this.spanDimStart[i]! : this.resourceDimStart[i]!;
      const e = onSpan ? this.spanDimEnd[i]! : this.resourceDimEnd[i]!;
      if (s < 0) continue;
      r.enter(this.spans.dimensions[i]!, -1);
      const value = this.anyValue(s, e, false);
      r.leave();
      attributes[this.spans.dimensions[i]!] = value;
      // The token's tenant wins over a `tenant` dimension, as over a point attribute.
      if (this.tenant !== '' && this.spans.dimensions[i] === 'tenant') continue;
      pairs.push([this.spans.dimensions[i]!, value]);
    }
    this.spanDefinitions.push({ hash, labels: labelSet(pairs, RESERVED_LABELS.spans), service, spanName, spanKind, statusCode: status, attributes });
    r.pos = saved;
  }

  /** The batch: the records copied into a pooled buffer, and the sampled exemplars' ids. */
  finish(generation: number): SpanBatch {
    const n = this.nRecords;
    const out = pooledCopy(records, n * SPAN_SLOTS);
    const width = this.bounds.length + 1;
    let exemplars = 0;
    const used = exemplarSlot.size * width;
    for (let i = 0; i < used; i++) if (exemplarTable[i]! >= 0) exemplars++;
    const ids = new Uint8Array(exemplars * EXEMPLAR_ID_BYTES);
    let k = 0;
    for (let i = 0; i < used; i++) {
      const record = exemplarTable[i]!;
      if (record < 0) continue;
      out[record * SPAN_SLOTS + 5] = k;
      const base = k * EXEMPLAR_ID_BYTES;
      ids.set(this.buf.subarray(traceIdAt[record]!, traceIdAt[record]! + 16), base);
      ids.set(this.buf.subarray(spanIdAt[record]!, spanIdAt[record]! + 8), base + 16);
      k++;
    }
    exemplarSlot.clear();
    return {
      signal: 'traces',
      records: out,
      length: out.length,
      spansReceived: this.spansReceived,
      exemplarIds: ids,
      definitions: this.spanDefinitions,
      rejected: this.rejected,
      generation,
    };
  }
}

function growRecords(): void {
  const next = new Float64Array(records.length * 2);
  next.set(records);
  records = next;
  const trace = new Int32Array(traceIdAt.length * 2);
  trace.set(traceIdAt);
  traceIdAt = trace;
  const span = new Int32Array(spanIdAt.length * 2);
  span.set(spanIdAt);
  spanIdAt = span;
}

function growExemplarTable(need: number): void {
  let size = exemplarTable.length * 2;
  while (size < need) size *= 2;
  const next = new Int32Array(size);
  next.set(exemplarTable);
  exemplarTable = next;
}

function bytesEqual(buf: Uint8Array, start: number, end: number, expected: Uint8Array): boolean {
  if (end - start !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (buf[start + i] !== expected[i]) return false;
  return true;
}
