// OTLP/JSON → protobuf bytes, in the decode worker. A JSON request is re-encoded into the binary
// form and then decoded by the same byte decoder as a protobuf request, so both bodies give the
// same series by construction.
//
// The JSON is read per the OTLP JSON mapping (opentelemetry-specification protocol/otlp.md, "JSON
// Protobuf Encoding"): lowerCamelCase keys (the proto field names are accepted too, as the OTel
// Collector does), trace/span ids as hex, other bytes as base64, 64-bit integers as decimal strings
// or numbers, enums as integers only, unknown keys ignored, `null` as absent. Fields are written in
// declaration order with packed repeated scalars, as protobuf serializers do, and implicit-presence
// scalars at their default value are left out. Any type mismatch is a MalformedPayloadError whose
// message names the JSON path, e.g. `resourceMetrics[0].scopeMetrics[0].metrics[2].sum.dataPoints[1].asInt`.

import { MalformedPayloadError } from '../errors.js';
import { MAX_DEPTH } from './wire.js';

/** Scalar kinds of the OTLP schema, by how they are read from JSON and written to the wire. */
type Scalar =
  | 'string'
  | 'bool'
  | 'double'
  | 'uint32'
  | 'sint32'
  | 'fixed32'
  | 'uint64'
  | 'fixed64'
  | 'sfixed64'
  | 'int64'
  | 'enum'
  | 'bytes'
  | 'hex';

/** One field as written below: [lowerCamelCase name, number, kind or message name, flags]. */
type FieldRow = readonly [json: string, number: number, kind: Scalar | `.${string}`, flags?: string];
/** One field with its proto (snake_case) name, which the JSON mapping also accepts. */
type FieldSpec = readonly [json: string, proto: string, number: number, kind: Scalar | `.${string}`, flags?: string];
// Flags: 'r' repeated, 'p' explicit presence (oneof member or `optional`): written even at its default.

const FIELDS: Record<string, readonly FieldRow[]> = {
  // common/v1
  AnyValue: [
    ['stringValue', 1, 'string', 'p'],
    ['boolValue', 2, 'bool', 'p'],
    ['intValue', 3, 'int64', 'p'],
    ['doubleValue', 4, 'double', 'p'],
    ['arrayValue', 5, '.ArrayValue', 'p'],
    ['kvlistValue', 6, '.KeyValueList', 'p'],
    ['bytesValue', 7, 'bytes', 'p'],
  ],
  ArrayValue: [['values', 1, '.AnyValue', 'r']],
  KeyValueList: [['values', 1, '.KeyValue', 'r']],
  KeyValue: [
    ['key', 1, 'string'],
    ['value', 2, '.AnyValue'],
  ],
  InstrumentationScope: [
    ['name', 1, 'string'],
    ['version', 2, 'string'],
    ['attributes', 3, '.KeyValue', 'r'],
    ['droppedAttributesCount', 4, 'uint32'],
  ],
  EntityRef: [
    ['schemaUrl', 1, 'string'],
    ['type', 2, 'string'],
    ['idKeys', 3, 'string', 'r'],
    ['descriptionKeys', 4, 'string', 'r'],
  ],
  // resource/v1
  Resource: [
    ['attributes', 1, '.KeyValue', 'r'],
    ['droppedAttributesCount', 2, 'uint32'],
    ['entityRefs', 3, '.EntityRef', 'r'],
  ],
  // metrics/v1 and collector/metrics/v1
  ExportMetricsServiceRequest: [['resourceMetrics', 1, '.ResourceMetrics', 'r']],
  ResourceMetrics: [
    ['resource', 1, '.Resource'],
    ['scopeMetrics', 2, '.ScopeMetrics', 'r'],
    ['schemaUrl', 3, 'string'],
  ],
  ScopeMetrics: [
    ['scope', 1, '.InstrumentationScope'],
    ['metrics', 2, '.Metric', 'r'],
    ['schemaUrl', 3, 'string'],
  ],
  Metric: [
    ['name', 1, 'string'],
    ['description', 2, 'string'],
    ['unit', 3, 'string'],
    ['gauge', 5, '.Gauge', 'p'],
    ['sum', 7, '.Sum', 'p'],
    ['histogram', 9, '.Histogram', 'p'],
    ['exponentialHistogram', 10, '.ExponentialHistogram', 'p'],
    ['summary', 11, '.Summary', 'p'],
    ['metadata', 12, '.KeyValue', 'r'],
  ],
  Gauge: [['dataPoints', 1, '.NumberDataPoint', 'r']],
  Sum: [
    ['dataPoints', 1, '.NumberDataPoint', 'r'],
    ['aggregationTemporality', 2, 'enum'],
    ['isMonotonic', 3, 'bool'],
  ],
  Histogram: [
    ['dataPoints', 1, '.HistogramDataPoint', 'r'],
    ['aggregationTemporality', 2, 'enum'],
  ],
  ExponentialHistogram: [
    ['dataPoints', 1, '.ExponentialHistogramDataPoint', 'r'],
    ['aggregationTemporality', 2, 'enum'],
  ],
  Summary: [['dataPoints', 1, '.SummaryDataPoint', 'r']],
  NumberDataPoint: [
    ['attributes', 7, '.KeyValue', 'r'],
    ['startTimeUnixNano', 2, 'fixed64'],
    ['timeUnixNano', 3, 'fixed64'],
    ['asDouble', 4, 'double', 'p'],
    ['asInt', 6, 'sfixed64', 'p'],
    ['exemplars', 5, '.Exemplar', 'r'],
    ['flags', 8, 'uint32'],
  ],
  HistogramDataPoint: [
    ['attributes', 9, '.KeyValue', 'r'],
    ['startTimeUnixNano', 2, 'fixed64'],
    ['timeUnixNano', 3, 'fixed64'],
    ['count', 4, 'fixed64'],
    ['sum', 5, 'double', 'p'],
    ['bucketCounts', 6, 'fixed64', 'r'],
    ['explicitBounds', 7, 'double', 'r'],
    ['exemplars', 8, '.Exemplar', 'r'],
    ['flags', 10, 'uint32'],
    ['min', 11, 'double', 'p'],
    ['max', 12, 'double', 'p'],
  ],
  ExponentialHistogramDataPoint: [
    ['attributes', 1, '.KeyValue', 'r'],
    ['startTimeUnixNano', 2, 'fixed64'],
    ['timeUnixNano', 3, 'fixed64'],
    ['count', 4, 'fixed64'],
    ['sum', 5, 'double', 'p'],
    ['scale', 6, 'sint32'],
    ['zeroCount', 7, 'fixed64'],
    ['positive', 8, '.Buckets'],
    ['negative', 9, '.Buckets'],
    ['flags', 10, 'uint32'],
    ['exemplars', 11, '.Exemplar', 'r'],
    ['min', 12, 'double', 'p'],
    ['max', 13, 'double', 'p'],
    ['zeroThreshold', 14, 'double'],
  ],
  Buckets: [
    ['offset', 1, 'sint32'],
    ['bucketCounts', 2, 'uint64', 'r'],
  ],
  SummaryDataPoint: [
    ['attributes', 7, '.KeyValue', 'r'],
    ['startTimeUnixNano', 2, 'fixed64'],
    ['timeUnixNano', 3, 'fixed64'],
    ['count', 4, 'fixed64'],
    ['sum', 5, 'double'],
    ['quantileValues', 6, '.ValueAtQuantile', 'r'],
    ['flags', 8, 'uint32'],
  ],
  ValueAtQuantile: [
    ['quantile', 1, 'double'],
    ['value', 2, 'double'],
  ],
  Exemplar: [
    ['filteredAttributes', 7, '.KeyValue', 'r'],
    ['timeUnixNano', 2, 'fixed64'],
    ['asDouble', 3, 'double', 'p'],
    ['asInt', 6, 'sfixed64', 'p'],
    ['spanId', 4, 'hex'],
    ['traceId', 5, 'hex'],
  ],
  // trace/v1 and collector/trace/v1
  ExportTraceServiceRequest: [['resourceSpans', 1, '.ResourceSpans', 'r']],
  ResourceSpans: [
    ['resource', 1, '.Resource'],
    ['scopeSpans', 2, '.ScopeSpans', 'r'],
    ['schemaUrl', 3, 'string'],
  ],
  ScopeSpans: [
    ['scope', 1, '.InstrumentationScope'],
    ['spans', 2, '.Span', 'r'],
    ['schemaUrl', 3, 'string'],
  ],
  Span: [
    ['traceId', 1, 'hex'],
    ['spanId', 2, 'hex'],
    ['traceState', 3, 'string'],
    ['parentSpanId', 4, 'hex'],
    ['name', 5, 'string'],
    ['kind', 6, 'enum'],
    ['startTimeUnixNano', 7, 'fixed64'],
    ['endTimeUnixNano', 8, 'fixed64'],
    ['attributes', 9, '.KeyValue', 'r'],
    ['droppedAttributesCount', 10, 'uint32'],
    ['events', 11, '.SpanEvent', 'r'],
    ['droppedEventsCount', 12, 'uint32'],
    ['links', 13, '.SpanLink', 'r'],
    ['droppedLinksCount', 14, 'uint32'],
    ['status', 15, '.SpanStatus'],
    ['flags', 16, 'fixed32'],
  ],
  SpanEvent: [
    ['timeUnixNano', 1, 'fixed64'],
    ['name', 2, 'string'],
    ['attributes', 3, '.KeyValue', 'r'],
    ['droppedAttributesCount', 4, 'uint32'],
  ],
  SpanLink: [
    ['traceId', 1, 'hex'],
    ['spanId', 2, 'hex'],
    ['traceState', 3, 'string'],
    ['attributes', 4, '.KeyValue', 'r'],
    ['droppedAttributesCount', 5, 'uint32'],
    ['flags', 6, 'fixed32'],
  ],
  SpanStatus: [
    ['message', 2, 'string'],
    ['code', 3, 'enum'],
  ],
};

/** The proto name of every field is its JSON name in snake_case, derived once here. */
const SCHEMA: Record<string, readonly FieldSpec[]> = Object.fromEntries(
  Object.entries(FIELDS).map(([type, rows]) => [
    type,
    rows.map(([json, number, kind, flags]): FieldSpec => [json, json.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), number, kind, flags ?? '']),
  ]),
);

/** The request message of each signal. */
const ROOT: Record<'metrics' | 'traces', string> = {
  metrics: 'ExportMetricsServiceRequest',
  traces: 'ExportTraceServiceRequest',
};

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** A growable byte buffer with the few protobuf primitives the schema needs. */
class ProtoWriter {
  buf = new Uint8Array(1024);
  view = new DataView(this.buf.buffer);
  pos = 0;

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** A non-negative integer below 2^53 as a varint. */
  varint(value: number): void {
    this.reserve(10);
    while (value > 0x7f) {
      this.buf[this.pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buf[this.pos++] = value;
  }

  /** Any 64-bit pattern (two's complement for negatives) as a varint. */
  varint64(value: bigint): void {
    this.reserve(10);
    let v = BigInt.asUintN(64, value);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  fixed64(value: bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, value), true);
    this.pos += 8;
  }

  fixed32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, value, true);
    this.pos += 4;
  }

  double(value: number): void {
    this.reserve(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  bytes(data: Uint8Array): void {
    this.varint(data.length);
    this.reserve(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  /** Starts a length-delimited body: one byte is reserved for its length. */
  beginLength(): number {
    this.reserve(1);
    return this.pos++;
  }

  /** Ends a body begun at `start`, writing its length as a minimal varint (moving the body if needed). */
  endLength(start: number): void {
    const length = this.pos - start - 1;
    let size = 1;
    for (let v = length; v > 0x7f; v = Math.floor(v / 0x80)) size++;
    if (size > 1) {
      this.reserve(size - 1);
      this.buf.copyWithin(start + size, start + 1, this.pos);
      this.pos += size - 1;
    }
    let at = start;
    let v = length;
    while (v > 0x7f) {
      this.buf[at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[at] = v;
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Walks one JSON document against the schema, keeping the JSON path for messages. */
class JsonEncoder {
  readonly out = new ProtoWriter();
  readonly #path: (string | number)[] = [];
  #depth = 0;

  fail(problem: string, value: unknown): never {
    throw new MalformedPayloadError(`invalid OTLP/JSON at ${this.#formatPath()}: ${problem} (got ${describe(value)})`);
  }

  #formatPath(): string {
    if (this.#path.length === 0) return '(the request)';
    return this.#path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  }

  message(type: string, value: unknown): void {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail('must be an object', value);
    // The same bound as the protobuf decoder's (wire.ts): without it deep AnyValue nesting
    // overflowed the stack, a RangeError the worker reported as a retryable failure.
    if (this.#depth >= MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} messages`, value);
    this.#depth++;
    const object = value as Record<string, unknown>;
    for (const [json, proto, number, kind, flags = ''] of SCHEMA[type]!) {
      let name = json;
      let item = object[json];
      if (item === undefined && proto !== json) {
        item = object[proto];
        name = proto;
      }
      if (item === undefined || item === null) continue;
      this.#path.push(name);
      if (flags.includes('r')) this.#repeated(number, kind, item);
      else this.#single(number, kind, item, flags.includes('p'));
      this.#path.pop();
    }
    this.#depth--;
  }

  #repeated(number: number, kind: Scalar | `.${string}`, items: unknown): void {
    if (!Array.isArray(items)) this.fail('must be an array', items);
    if (items.length === 0) return;
    if (kind.startsWith('.') || kind === 'string' || kind === 'bytes' || kind === 'hex') {
      for (let i = 0; i < items.length; i++) {
        this.#path.push(i);
        if (items[i] === null) this.fail('must not be null', null);
        this.#single(number, kind, items[i], true);
        this.#path.pop();
      }
      return;
    }
    // Repeated scalars are packed, as proto3 serializers write them.
    const out = this.out;
    out.tag(number, WIRE_LEN);
    const start = out.beginLength();
    for (let i = 0; i < items.length; i++) {
      this.#path.push(i);
      this.#scalarValue(kind as Scalar, items[i]);
      this.#path.pop();
    }
    out.endLength(start);
  }

  #single(number: number, kind: Scalar | `.${string}`, value: unknown, present: boolean): void {
    const out = this.out;
    if (kind.startsWith('.')) {
      out.tag(number, WIRE_LEN);
      const start = out.beginLength();
      this.message(kind.slice(1), value);
      out.endLength(start);
      return;
    }
    const scalar = kind as Scalar;
    if (!present && isDefault(scalar, value)) {
      // Still validate the value's type, so `"count": "x"` is an error even if it were skipped.
      this.#check(scalar, value);
      return;
    }
    switch (scalar) {
      case 'string':
      case 'bytes':
      case 'hex':
        out.tag(number, WIRE_LEN);
        break;
      case 'double':
      case 'fixed64':
      case 'sfixed64':
        out.tag(number, WIRE_I64);
        break;
      case 'fixed32':
        out.tag(number, WIRE_I32);
        break;
      default:
        out.tag(number, WIRE_VARINT);
    }
    this.#scalarValue(scalar, value);
  }

  #check(kind: Scalar, value: unknown): void {
    const saved = this.out.pos;
    this.#scalarValue(kind, value);
    this.out.pos = saved;
  }

  /** Writes one scalar's value (no tag). */
  #scalarValue(kind: Scalar, value: unknown): void {
    const out = this.out;
    switch (kind) {
      case 'string':
        if (typeof value !== 'string') this.fail('must be a string', value);
        out.bytes(utf8.encode(value));
        return;
      case 'bool':
        if (typeof value !== 'boolean') this.fail('must be true or false', value);
        out.varint(value ? 1 : 0);
        return;
      case 'double':
        out.double(this.#double(value));
        return;
      case 'uint32':
        out.varint(this.#integer(value, 0, 0xffffffff, 'an unsigned 32-bit integer'));
        return;
      case 'enum':
        out.varint64(BigInt(this.#integer(value, -0x80000000, 0x7fffffff, 'an integer enum value (OTLP/JSON does not take enum names)')));
        return;
      case 'sint32': {
        const v = this.#integer(value, -0x80000000, 0x7fffffff, 'a 32-bit integer');
        out.varint(v >= 0 ? v * 2 : -v * 2 - 1);
        return;
      }
      case 'fixed32':
        out.fixed32(this.#integer(value, 0, 0xffffffff, 'an unsigned 32-bit integer'));
        return;
      case 'uint64':
        out.varint64(this.#int64(value, 0n, UINT64_MAX, 'an unsigned 64-bit integer'));
        return;
      case 'fixed64':
        out.fixed64(this.#int64(value, 0n, UINT64_MAX, 'an unsigned 64-bit integer'));
        return;
      case 'sfixed64':
        out.fixed64(this.#int64(value, INT64_MIN, INT64_MAX, 'a 64-bit integer'));
        return;
      case 'int64':
        out.varint64(this.#int64(value, INT64_MIN, INT64_MAX, 'a 64-bit integer'));
        return;
      case 'bytes':
        out.bytes(this.#base64(value));
        return;
      case 'hex':
        out.bytes(this.#hex(value));
        return;
    }
  }

  #double(value: unknown): number {
    if (typeof value === 'number') return value;
    if (typeof value === 'string') {
      if (value === 'NaN') return Number.NaN;
      if (value === 'Infinity') return Number.POSITIVE_INFINITY;
      if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
      if (/^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(value)) return Number(value);
    }
    return this.fail('must be a number, or "NaN", "Infinity" or "-Infinity"', value);
  }

  #integer(value: unknown, min: number, max: number, wording: string): number {
    let n: number | undefined;
    if (typeof value === 'number') n = value;
    else if (typeof value === 'string' && /^-?\d+$/.test(value)) n = Number(value);
    if (n === undefined || !Number.isInteger(n) || n < min || n > max) this.fail(`must be ${wording}`, value);
    return n;
  }

  #int64(value: unknown, min: bigint, max: bigint, wording: string): bigint {
    let n: bigint | undefined;
    if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
    else if (typeof value === 'string' && /^-?\d+$/.test(value)) n = BigInt(value);
    if (n === undefined || n < min || n > max) this.fail(`must be ${wording}, as a decimal string or a number`, value);
    return n;
  }

  #hex(value: unknown): Uint8Array {
    if (typeof value !== 'string' || value.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(value)) {
      this.fail('must be a hex string (OTLP/JSON writes trace and span ids in hex, not base64)', value);
    }
    return Buffer.from(value, 'hex');
  }

  #base64(value: unknown): Uint8Array {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) this.fail('must be a base64 string', value);
    return Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  }
}

/** Whether an implicit-presence scalar holds its proto3 default (and so is not written). */
function isDefault(kind: Scalar, value: unknown): boolean {
  switch (kind) {
    case 'string':
    case 'bytes':
    case 'hex':
      return value === '';
    case 'bool':
      return value === false;
    default:
      return value === 0 || value === '0';
  }
}

/** A short rendering of a bad JSON value for messages. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  return String(value);
}

/**
 * Re-encodes an OTLP/JSON Export*ServiceRequest body (UTF-8) as protobuf bytes.
 * Throws MalformedPayloadError naming the JSON path of the first problem.
 */
export function otlpJsonToProtobuf(signal: 'metrics' | 'traces', body: Uint8Array): Uint8Array {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    throw new MalformedPayloadError('invalid OTLP/JSON: the body is not valid UTF-8');
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new MalformedPayloadError(`invalid OTLP/JSON: ${(err as Error).message}`);
  }
  const encoder = new JsonEncoder();
  encoder.message(ROOT[signal], document);
  return encoder.out.result();
}
