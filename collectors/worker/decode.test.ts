// The hand-written metrics decoder against protobufjs as the oracle: requests are encoded by
// protobufjs from the .proto files in proto/, decoded by both, and every record and definition
// the worker produces is compared with what follows from protobufjs' decoding.

/* eslint-disable @typescript-eslint/no-explicit-any -- protobufjs messages are untyped here */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import protobuf from 'protobufjs';
import { familyName, labelSet } from '../../daemon/model/naming.js';
import { MalformedPayloadError } from '../errors.js';
import { type MetricBatch, type SeriesDefinition, RecordFlag, RecordKind } from './batch.js';
import { WorkerSeriesState, decodeMetricsRequest, int64ToDecimal } from './decode-metrics.js';
import { random as mulberry32 } from '../../test-support/random.js';

const TWO_32 = 4294967296;
interface LongStatic {
  fromString(s: string, unsigned?: boolean): object;
  fromBits(low: number, high: number, unsigned?: boolean): object;
  fromValue(v: unknown): { toString(): string };
}
const Long = protobuf.util.Long as unknown as LongStatic;

// ---- the oracle ----------------------------------------------------------------------------

const protoDir = fileURLToPath(new URL('../../../proto/', import.meta.url));
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => path.join(protoDir, target);
root.loadSync('opentelemetry/proto/collector/metrics/v1/metrics_service.proto');
root.resolveAll();
const Request = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');

function encode(request: object): Uint8Array {
  const err = Request.verify(Request.fromObject(request));
  assert.equal(err, null);
  return Request.encode(Request.fromObject(request)).finish();
}

function decode(bytes: Uint8Array, state = new WorkerSeriesState(), expMaxScale = 20, generation = 1, force = false): MetricBatch {
  return decodeMetricsRequest(bytes, state, generation, force, { expMaxScale });
}

/** A 64-bit protobufjs value (Long or number) as the decoder converts it: hi * 2^32 + lo. */
function num(v: any): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  return (v.unsigned ? v.high >>> 0 : v.high | 0) * TWO_32 + (v.low >>> 0);
}

function has(message: any, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(message, field);
}

/** AnyValue → label string, written independently of the decoder from the OTel spec rules. */
function anyString(v: any, json: boolean): string {
  const which: string | undefined = v?.value;
  switch (which) {
    case 'stringValue':
      return json ? JSON.stringify(v.stringValue) : v.stringValue;
    case 'boolValue':
      return v.boolValue ? 'true' : 'false';
    case 'intValue':
      return typeof v.intValue === 'number' ? String(v.intValue) : Long.fromValue(v.intValue).toString();
    case 'doubleValue': {
      const d: number = v.doubleValue;
      return json && !Number.isFinite(d) ? `"${d}"` : String(d);
    }
    case 'bytesValue': {
      const b64 = Buffer.from(v.bytesValue).toString('base64');
      return json ? `"${b64}"` : b64;
    }
    case 'arrayValue':
      return `[${(v.arrayValue.values ?? []).map((x: any) => anyString(x, true)).join(',')}]`;
    case 'kvlistValue':
      return `{${(v.kvlistValue.values ?? []).map((kv: any) => `${JSON.stringify(kv.key)}:${anyString(kv.value, true)}`).join(',')}}`;
    default:
      return json ? 'null' : '';
  }
}

/** Canonical typed form of an attribute, for series identity. */
function canonical(kv: any): string {
  const v = kv.value;
  const which = v?.value ?? 'none';
  const repr = which === 'doubleValue' && Object.is(v.doubleValue, -0) ? '-0' : anyString(v, true);
  return `${kv.key}\u0000${which}\u0000${repr}`;
}

interface ExpectedRecord {
  kind: number;
  key: string;
  /** null: "now" (target_info of a resource without points). */
  time: number | null;
  start: number;
  flags: number;
  values: number[];
}

interface Expected {
  records: ExpectedRecord[];
  definitions: Map<string, Omit<SeriesDefinition, 'hash'>>;
  pointsReceived: number;
  rejected: Record<string, number>;
}

const SERVICE_KEYS = new Set(['service.name', 'service.namespace', 'service.instance.id']);

function downscale(offset: number, counts: number[], shift: number): number[] {
  const d = 2 ** shift;
  const first = Math.floor(offset / d);
  if (counts.length === 0) return [first, 0];
  const last = Math.floor((offset + counts.length - 1) / d);
  const out = new Array<number>(last - first + 1).fill(0);
  counts.forEach((c, k) => (out[Math.floor((offset + k) / d) - first]! += c));
  return [first, out.length, ...out];
}

/** What the decoder must produce for `bytes`, derived from protobufjs' decoding. */
function oracle(bytes: Uint8Array, expMaxScale: number): Expected {
  const req: any = Request.decode(bytes);
  const out: Expected = { records: [], definitions: new Map(), pointsReceived: 0, rejected: {} };
  const reject = (reason: string, n: number): void => {
    if (n > 0 || reason === 'no_data') out.rejected[reason] = (out.rejected[reason] ?? 0) + n;
  };
  for (const rm of req.resourceMetrics ?? []) {
    const resAttrs: any[] = rm.resource?.attributes ?? [];
    const resPairs = resAttrs.map((kv): [string, string] => [kv.key, anyString(kv.value, false)]);
    const get = (k: string): string | undefined => resPairs.filter(([key]) => key === k).at(-1)?.[1];
    const name = get('service.name');
    const ns = get('service.namespace');
    const inst = get('service.instance.id');
    const jobInstance: Array<[string, string]> = [];
    if (name) jobInstance.push(['job', ns ? `${ns}/${name}` : name]);
    if (inst) jobInstance.push(['instance', inst]);
    const resKey = JSON.stringify(resAttrs.map(canonical).sort());
    let latest = Number.NEGATIVE_INFINITY;

    for (const sm of rm.scopeMetrics ?? []) {
      const scopeName: string = sm.scope?.name ?? '';
      const scopeVersion: string = sm.scope?.version ?? '';
      const scopePairs: Array<[string, string]> = [];
      if (scopeName) scopePairs.push(['otel_scope_name', scopeName]);
      if (scopeVersion) scopePairs.push(['otel_scope_version', scopeVersion]);
      for (const m of sm.metrics ?? []) {
        const which: string | undefined = m.data;
        if (which === undefined) {
          out.pointsReceived++;
          out.rejected.no_data = (out.rejected.no_data ?? 0) + 1;
          continue;
        }
        const data = m[which];
        const points: any[] = data.dataPoints ?? [];
        if (m.name === '') {
          out.pointsReceived += points.length;
          reject('missing_name', points.length);
          continue;
        }
        let flags = 0;
        if (which === 'sum' || which === 'histogram' || which === 'exponentialHistogram') {
          const t = data.aggregationTemporality;
          if (t === 1) flags |= RecordFlag.Delta;
          else if (t !== 2) {
            out.pointsReceived += points.length;
            reject('invalid_temporality', points.length);
            continue;
          }
        }
        if (which === 'sum' && data.isMonotonic) flags |= RecordFlag.Monotonic;
        const type =
          which === 'gauge' ? 'gauge'
          : which === 'sum' ? (data.isMonotonic ? 'counter' : 'gauge')
          : which === 'summary' ? 'summary'
          : 'histogram';
        const family = familyName(m.name, m.unit, type);

        for (const p of points) {
          out.pointsReceived++;
          const attrs: any[] = p.attributes ?? [];
          const key = JSON.stringify([resKey, scopeName, scopeVersion, m.name, m.unit, type, attrs.map(canonical).sort()]);
          let pointFlags = flags;
          if ((p.flags & 1) !== 0) pointFlags |= RecordFlag.NoRecordedValue;
          let kind: number;
          let values: number[];
          if (which === 'gauge' || which === 'sum') {
            kind = which === 'gauge' ? RecordKind.Gauge : RecordKind.Sum;
            let value: number | undefined = p.value === 'asDouble' ? p.asDouble : p.value === 'asInt' ? num(p.asInt) : undefined;
            if ((p.flags & 1) !== 0) value = Number.NaN;
            else if (value === undefined) {
              reject('missing_value', 1);
              continue;
            }
            values = [value];
          } else if (which === 'histogram') {
            kind = RecordKind.Histogram;
            const counts: number[] = (p.bucketCounts ?? []).map(num);
            const bounds: number[] = p.explicitBounds ?? [];
            if (counts.length > 0) {
              const increasing = bounds.every((b, i) => i === 0 || b > bounds[i - 1]!);
              if (counts.length !== bounds.length + 1 || !increasing) {
                reject('invalid_histogram', 1);
                continue;
              }
            }
            const count = num(p.count);
            const sum = has(p, 'sum') ? p.sum : Number.NaN;
            values = counts.length === 0 ? [count, sum, 0, count] : [count, sum, bounds.length, ...bounds, ...counts];
          } else if (which === 'exponentialHistogram') {
            kind = RecordKind.ExpHistogram;
            const scale: number = p.scale;
            if (scale < -10 || scale > 20) {
              reject('invalid_histogram', 1);
              continue;
            }
            const target = Math.min(scale, expMaxScale);
            const shift = scale - target;
            values = [
              num(p.count),
              has(p, 'sum') ? p.sum : Number.NaN,
              target,
              num(p.zeroCount),
              ...downscale(p.positive?.offset ?? 0, (p.positive?.bucketCounts ?? []).map(num), shift),
              ...downscale(p.negative?.offset ?? 0, (p.negative?.bucketCounts ?? []).map(num), shift),
            ];
          } else {
            kind = RecordKind.Summary;
            const q: any[] = p.quantileValues ?? [];
            values = [num(p.count), p.sum, q.length, ...q.flatMap((x) => [x.quantile, x.value])];
          }
          const time = num(p.timeUnixNano) / 1e6;
          latest = Math.max(latest, time);
          out.records.push({ kind, key, time, start: num(p.startTimeUnixNano) / 1e6, flags: pointFlags, values });
          if (!out.definitions.has(key)) {
            const hasJob = jobInstance.some(([k]) => k === 'job');
            const hasInstance = jobInstance.some(([k]) => k === 'instance');
            const pairs: Array<[string, string]> = attrs
              .map((kv): [string, string] => [kv.key, anyString(kv.value, false)])
              .filter(([k]) => !(hasJob && k === 'job') && !(hasInstance && k === 'instance'));
            out.definitions.set(key, {
              name: family.name,
              type,
              help: m.description,
              unit: family.unit,
              labels: labelSet([...pairs, ...jobInstance, ...scopePairs]),
            });
          }
        }
      }
    }
    if (resAttrs.some((kv) => !SERVICE_KEYS.has(kv.key))) {
      const key = `target_info${resKey}`;
      out.records.push({
        kind: RecordKind.Gauge,
        key,
        time: latest === Number.NEGATIVE_INFINITY ? null : latest,
        start: 0,
        flags: 0,
        values: [1],
      });
      if (!out.definitions.has(key)) {
        const others = resPairs.filter(([k]) => !SERVICE_KEYS.has(k));
        out.definitions.set(key, { name: 'target_info', type: 'info', help: 'Target metadata', unit: '', labels: labelSet([...jobInstance, ...others]) });
      }
    }
  }
  return out;
}

interface ParsedRecord {
  kind: number;
  hash: number;
  time: number;
  start: number;
  flags: number;
  values: number[];
}

/** Splits a batch's records per the layout in batch.ts (written independently of the store). */
function parseRecords(batch: MetricBatch): ParsedRecord[] {
  const r = batch.records;
  assert.equal(batch.length, r.length, 'records are trimmed to length');
  const out: ParsedRecord[] = [];
  let at = 0;
  while (at < batch.length) {
    const kind = r[at]!;
    let size: number;
    if (kind === RecordKind.Gauge || kind === RecordKind.Sum) size = 1;
    else if (kind === RecordKind.Histogram) size = 3 + 2 * r[at + 7]! + 1;
    else if (kind === RecordKind.ExpHistogram) {
      const p = r[at + 10]!;
      size = 6 + p + 2 + r[at + 11 + p + 1]!;
    } else if (kind === RecordKind.Summary) size = 3 + 2 * r[at + 7]!;
    else assert.fail(`bad record kind ${kind} at ${at}`);
    out.push({ kind, hash: r[at + 1]!, time: r[at + 2]!, start: r[at + 3]!, flags: r[at + 4]!, values: Array.from(r.subarray(at + 5, at + 5 + size)) });
    at += 5 + size;
  }
  assert.equal(at, batch.length);
  assert.equal(out.length, batch.recordCount);
  return out;
}

/** Decodes `bytes` with a fresh state and checks everything against the oracle. */
function checkAgainstOracle(bytes: Uint8Array, expMaxScale = 20): MetricBatch {
  const before = Date.now();
  const batch = decode(bytes, new WorkerSeriesState(), expMaxScale);
  const after = Date.now();
  const expected = oracle(bytes, expMaxScale);
  const records = parseRecords(batch);
  assert.equal(batch.pointsReceived, expected.pointsReceived, 'pointsReceived');
  assert.deepEqual(batch.rejected, expected.rejected, 'rejected');
  assert.equal(records.length, expected.records.length, 'record count');

  const hashOfKey = new Map<string, number>();
  const keyOfHash = new Map<number, string>();
  records.forEach((rec, i) => {
    const want = expected.records[i]!;
    assert.ok(Number.isSafeInteger(rec.hash) && rec.hash >= 0, 'hash is a 53-bit integer');
    assert.equal(hashOfKey.get(want.key) ?? rec.hash, rec.hash, `same series, same hash (record ${i})`);
    assert.equal(keyOfHash.get(rec.hash) ?? want.key, want.key, `different series, different hash (record ${i})`);
    hashOfKey.set(want.key, rec.hash);
    keyOfHash.set(rec.hash, want.key);
    const time = want.time ?? rec.time;
    if (want.time === null) assert.ok(rec.time >= before && rec.time <= after, 'target_info without points is stamped now');
    assert.deepEqual(
      { kind: rec.kind, time: rec.time, start: rec.start, flags: rec.flags, values: rec.values },
      { kind: want.kind, time, start: want.start, flags: want.flags, values: want.values },
      `record ${i}`,
    );
  });

  assert.equal(batch.definitions.length, expected.definitions.size, 'one definition per series');
  for (const def of batch.definitions) {
    const key = keyOfHash.get(def.hash);
    assert.ok(key !== undefined, 'definition of a series with records');
    const { hash: _hash, ...rest } = def;
    assert.deepEqual(rest, expected.definitions.get(key));
  }
  return batch;
}

// ---- request builders ----------------------------------------------------------------------

const kv = (key: string, value: object): object => ({ key, value });
const str = (s: string): object => ({ stringValue: s });
const T0 = Long.fromString('1700000000123456789', true);
const T1 = Long.fromString('1700000060987654321', true);

function fullRequest(): object {
  return {
    resourceMetrics: [
      {
        resource: {
          attributes: [
            kv('service.name', str('checkout')),
            kv('service.namespace', str('shop')),
            kv('service.instance.id', str('pod-7')),
            kv('host.name', str('node-1')),
            kv('k8s.pod.uid', { bytesValue: Uint8Array.from([1, 2, 255]) }),
          ],
        },
        scopeMetrics: [
          {
            scope: { name: 'io.opentelemetry.http', version: '1.2.3' },
            metrics: [
              {
                name: 'http.server.request.count',
                unit: '{request}',
                description: 'Requests "served"\nby route',
                sum: {
                  aggregationTemporality: 2,
                  isMonotonic: true,
                  dataPoints: [
                    {
                      attributes: [
                        kv('http.method', str('GET')),
                        kv('http.status_code', { intValue: 200 }),
                        kv('ok', { boolValue: true }),
                        kv('ratio', { doubleValue: 0.1 }),
                        kv('tags', { arrayValue: { values: [str('a"b'), { intValue: -3 }, { doubleValue: Number.POSITIVE_INFINITY }, {}] } }),
                        kv('map', { kvlistValue: { values: [kv('x', { boolValue: false }), kv('y', { bytesValue: Uint8Array.from([0]) })] } }),
                        kv('big', { intValue: Long.fromString('-9223372036854775808') }),
                        kv('job', str('impostor')),
                      ],
                      startTimeUnixNano: T0,
                      timeUnixNano: T1,
                      asInt: Long.fromString('9007199254740993'),
                    },
                    { attributes: [kv('http.method', str('POST'))], timeUnixNano: T1, asDouble: 2.5, flags: 0 },
                    { attributes: [kv('http.method', str('PUT'))], timeUnixNano: T1, flags: 1 },
                  ],
                },
              },
              {
                name: 'queue.depth',
                unit: '1',
                gauge: { dataPoints: [{ timeUnixNano: T1, asInt: -4 }, { timeUnixNano: T1, asDouble: -0 }] },
              },
              {
                name: 'conns',
                sum: { aggregationTemporality: 1, isMonotonic: false, dataPoints: [{ timeUnixNano: T1, startTimeUnixNano: T0, asInt: 3 }] },
              },
              {
                name: 'http.server.duration',
                unit: 's',
                histogram: {
                  aggregationTemporality: 1,
                  dataPoints: [
                    { timeUnixNano: T1, startTimeUnixNano: T0, count: 6, sum: 1.25, bucketCounts: [1, 2, 3], explicitBounds: [0.1, 0.5] },
                    { attributes: [kv('route', str('/a'))], timeUnixNano: T1, count: 4 },
                    { attributes: [kv('route', str('/bad'))], timeUnixNano: T1, count: 4, bucketCounts: [1, 3], explicitBounds: [0.1, 0.2] },
                    { attributes: [kv('route', str('/dec'))], timeUnixNano: T1, count: 4, bucketCounts: [1, 2, 1], explicitBounds: [0.5, 0.5] },
                  ],
                },
              },
              {
                name: 'rpc.duration',
                unit: 'ms',
                exponentialHistogram: {
                  aggregationTemporality: 2,
                  dataPoints: [
                    {
                      timeUnixNano: T1,
                      count: 22,
                      sum: 100,
                      scale: 5,
                      zeroCount: 2,
                      positive: { offset: -3, bucketCounts: [1, 2, 3, 4, 5] },
                      negative: { offset: 7, bucketCounts: [3, 0, 1] },
                      zeroThreshold: 1e-9,
                      min: 0,
                      max: 9,
                    },
                    { attributes: [kv('empty', str(''))], timeUnixNano: T1, count: 0, scale: -2 },
                    { attributes: [kv('bad', str('scale'))], timeUnixNano: T1, count: 0, scale: 21 },
                  ],
                },
              },
              {
                name: 'gc.pause',
                unit: 'us',
                summary: {
                  dataPoints: [
                    { timeUnixNano: T1, count: 10, sum: 42.5, quantileValues: [{ quantile: 0.5, value: 3 }, { quantile: 0.99, value: 9.5 }] },
                    { attributes: [kv('q', str('none'))], timeUnixNano: T1, count: 0 },
                  ],
                },
              },
              { name: 'no.data', unit: 's' },
              { name: '', gauge: { dataPoints: [{ asInt: 1 }, { asInt: 2 }] } },
              { name: 'bad.temporality', sum: { isMonotonic: true, dataPoints: [{ asInt: 1 }] } },
              { name: 'no.value', gauge: { dataPoints: [{ timeUnixNano: T1 }] } },
            ],
          },
          { metrics: [{ name: 'scopeless', gauge: { dataPoints: [{ timeUnixNano: T0, asDouble: 1 }] } }] },
        ],
      },
      {
        resource: { attributes: [kv('service.name', str('batch'))] },
        scopeMetrics: [{ scope: { name: 'x' }, metrics: [{ name: 'jobs', gauge: { dataPoints: [{ timeUnixNano: T0, asInt: 1 }] } }] }],
      },
      { resource: { attributes: [kv('region', str('eu'))] }, scopeMetrics: [] },
      { scopeMetrics: [{ metrics: [{ name: 'anonymous', gauge: { dataPoints: [{ timeUnixNano: T0, asInt: 1 }] } }] }] },
    ],
  };
}

// ---- deterministic random requests ---------------------------------------------------------


class Gen {
  readonly rand: () => number;
  constructor(seed: number) {
    this.rand = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
  string(): string {
    const alphabet = ['a', 'b', 'z', '_', '.', '-', ' ', '"', '\\', '\n', 'é', '日', '🙂', '0', '9', '/'];
    let s = '';
    for (let i = this.int(8); i > 0; i--) s += this.pick(alphabet);
    return s;
  }
  long(unsigned: boolean): unknown {
    const lo = this.int(TWO_32);
    const hi = unsigned ? this.int(TWO_32) : this.int(TWO_32) | 0;
    return Long.fromBits(lo | 0, hi | 0, unsigned);
  }
  anyValue(depth: number): object {
    switch (this.int(depth < 3 ? 8 : 6)) {
      case 0:
        return {};
      case 1:
        return str(this.string());
      case 2:
        return { boolValue: this.chance(0.5) };
      case 3:
        return { intValue: this.chance(0.5) ? this.int(2000) - 1000 : this.long(false) };
      case 4:
        return { doubleValue: this.pick([0.1, -0, 1e21, 1 / 3, -2.5e-7, Number.NaN, Number.POSITIVE_INFINITY, this.rand() * 1e6]) };
      case 5: {
        const b = new Uint8Array(this.int(6));
        for (let i = 0; i < b.length; i++) b[i] = this.int(256);
        return { bytesValue: b };
      }
      case 6:
        return { arrayValue: { values: Array.from({ length: this.int(4) }, () => this.anyValue(depth + 1)) } };
      default:
        return { kvlistValue: { values: Array.from({ length: this.int(3) }, () => kv(this.string(), this.anyValue(depth + 1))) } };
    }
  }
  attributes(keys: readonly string[], max: number): object[] {
    const chosen = [...keys].sort(() => this.rand() - 0.5).slice(0, this.int(max + 1));
    return chosen.map((key) => kv(key, this.chance(0.6) ? str(this.pick(['a', 'b', '', 'GET', this.string()])) : this.anyValue(0)));
  }
  time(): unknown {
    if (this.chance(0.05)) return 0;
    return Long.fromBits(this.int(TWO_32) | 0, 395812395 + this.int(1000), true);
  }
  count(): unknown {
    return this.chance(0.05) ? this.long(true) : this.int(1000);
  }
  point(which: string): object {
    const p: Record<string, unknown> = {
      attributes: this.attributes(['method', 'code', 'job', 'instance', 'a.b', '1st', 'x-y', 'ünï', 'route'], 3),
      timeUnixNano: this.time(),
    };
    if (this.chance(0.5)) p.startTimeUnixNano = this.time();
    if (this.chance(0.1)) p.flags = this.pick([1, 2, 3]);
    if (which === 'gauge' || which === 'sum') {
      const r = this.rand();
      if (r < 0.4) p.asInt = this.chance(0.7) ? this.int(1e6) - 5e5 : this.long(false);
      else if (r < 0.95) p.asDouble = this.pick([this.rand() * 100, -0, Number.NaN, 1e300]);
    } else if (which === 'histogram') {
      p.count = this.count();
      if (this.chance(0.7)) p.sum = this.rand() * 1000;
      if (this.chance(0.5)) p.min = 0;
      const n = this.int(6);
      if (this.chance(0.85)) {
        let b = -1;
        p.explicitBounds = Array.from({ length: n }, () => (b += this.chance(0.95) ? 0.5 + this.rand() : 0));
        p.bucketCounts = Array.from({ length: this.chance(0.9) ? n + 1 : n + 2 }, () => this.count());
      } else if (this.chance(0.5)) p.explicitBounds = [1, 2];
    } else if (which === 'exponentialHistogram') {
      p.count = this.count();
      if (this.chance(0.7)) p.sum = this.rand() * 1000;
      p.scale = this.chance(0.95) ? this.int(31) - 10 : this.pick([-11, 21, 1000]);
      p.zeroCount = this.int(5);
      const buckets = (): object => ({ offset: this.int(200) - 100, bucketCounts: Array.from({ length: this.int(12) }, () => this.count()) });
      if (this.chance(0.8)) p.positive = buckets();
      if (this.chance(0.5)) p.negative = buckets();
      if (this.chance(0.3)) p.zeroThreshold = 1e-6;
    } else {
      p.count = this.count();
      if (this.chance(0.8)) p.sum = this.rand() * 100;
      p.quantileValues = Array.from({ length: this.int(4) }, (_, i) => ({ quantile: i / 4, value: this.rand() }));
    }
    return p;
  }
  metric(): object {
    const which = this.pick(['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary', 'gauge', 'sum']);
    const m: Record<string, unknown> = {
      name: this.chance(0.03) ? '' : this.pick(['http.requests', 'cpu.time', 'mem', 'latency', 'q-depth', this.string()]),
      unit: this.pick(['', 's', 'ms', 'By', '1', '{request}', 'm/s']),
      description: this.pick(['', 'help text', this.string()]),
    };
    if (this.chance(0.03)) return m;
    const dataPoints = Array.from({ length: this.int(5) }, () => this.point(which));
    const data: Record<string, unknown> = { dataPoints };
    if (which === 'sum' || which === 'histogram' || which === 'exponentialHistogram') {
      data.aggregationTemporality = this.chance(0.05) ? 0 : this.pick([1, 2]);
    }
    if (which === 'sum') data.isMonotonic = this.chance(0.6);
    m[which] = data;
    if (this.chance(0.1)) m.metadata = [kv('m', str('v'))];
    return m;
  }
  request(): object {
    return {
      resourceMetrics: Array.from({ length: 1 + this.int(3) }, () => {
        const rm: Record<string, unknown> = {
          scopeMetrics: Array.from({ length: this.int(3) }, () => {
            const sm: Record<string, unknown> = { metrics: Array.from({ length: this.int(5) }, () => this.metric()) };
            if (this.chance(0.8)) sm.scope = { name: this.pick(['', 'lib', this.string()]), version: this.pick(['', '1.0']) };
            return sm;
          }),
        };
        if (this.chance(0.9)) {
          rm.resource = {
            attributes: this.attributes(['service.name', 'service.namespace', 'service.instance.id', 'host.name', 'region', 'job'], 4),
          };
        }
        return rm;
      }),
    };
  }
}

// ---- a tiny hand encoder, for wire layouts protobufjs never produces ------------------------

function varint(n: bigint): number[] {
  let v = BigInt.asUintN(64, n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const cat = (...parts: Array<number[] | Uint8Array>): number[] => parts.flatMap((p) => Array.from(p));
const ld = (field: number, ...parts: Array<number[] | Uint8Array>): number[] => {
  const body = cat(...parts);
  return [...varint(BigInt(field * 8 + 2)), ...varint(BigInt(body.length)), ...body];
};
const vi = (field: number, n: number | bigint): number[] => [...varint(BigInt(field * 8)), ...varint(BigInt(n))];
const f64 = (field: number, n: number): number[] => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return [...varint(BigInt(field * 8 + 1)), ...b];
};
const dbl = (field: number, x: number): number[] => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, x, true);
  return [...varint(BigInt(field * 8 + 1)), ...b];
};
const zigzag = (n: number): bigint => BigInt((n << 1) ^ (n >> 31)) & 0xffffffffn;
const u8 = (bytes: number[]): Uint8Array => Uint8Array.from(bytes);
const kvBytes = (key: string, value: string): number[] => cat(ld(1, Buffer.from(key)), ld(2, ld(1, Buffer.from(value))));

/** Asserts decoding throws a MalformedPayloadError with a message; returns the message. */
function assertMalformed(bytes: Uint8Array, pattern?: RegExp, state = new WorkerSeriesState()): string {
  let message = '';
  assert.throws(
    () => decode(bytes, state),
    (err: unknown) => {
      assert.ok(err instanceof MalformedPayloadError, `expected MalformedPayloadError, got ${String(err)}`);
      assert.equal(err.code, 'VIGIL_MALFORMED_PAYLOAD');
      assert.ok(err.message.length > 0);
      if (pattern) assert.match(err.message, pattern);
      message = err.message;
      return true;
    },
  );
  return message;
}

// ---- tests ---------------------------------------------------------------------------------

describe('decodeMetricsRequest against protobufjs', () => {
  it('decodes every metric type, temporality, value type and AnyValue type', () => {
    const batch = checkAgainstOracle(encode(fullRequest()));
    assert.deepEqual(batch.rejected, {
      invalid_histogram: 3,
      no_data: 1,
      missing_name: 2,
      invalid_temporality: 1,
      missing_value: 1,
    });
    assert.equal(batch.generation, 1);
    const names = new Set(batch.definitions.map((d) => d.name));
    for (const name of ['http_server_request_count', 'queue_depth_ratio', 'conns', 'http_server_duration_seconds', 'rpc_duration_milliseconds', 'gc_pause_microseconds', 'target_info']) {
      assert.ok(names.has(name), name);
    }
  });

  it('renders labels as the spec says (spot check of the oracle itself)', () => {
    const batch = decode(encode(fullRequest()));
    const counter = batch.definitions.find((d) => d.name === 'http_server_request_count' && d.labels.includes('GET'))!;
    assert.equal(counter.type, 'counter');
    assert.equal(counter.help, 'Requests "served"\nby route');
    const labels = Object.fromEntries(Array.from({ length: counter.labels.length / 2 }, (_, i) => [counter.labels[2 * i], counter.labels[2 * i + 1]]));
    assert.deepEqual(labels, {
      big: '-9223372036854775808',
      http_method: 'GET',
      http_status_code: '200',
      instance: 'pod-7',
      job: 'shop/checkout',
      map: '{"x":false,"y":"AA=="}',
      ok: 'true',
      otel_scope_name: 'io.opentelemetry.http',
      otel_scope_version: '1.2.3',
      ratio: '0.1',
      tags: '["a\\"b",-3,"Infinity",null]',
    });
    const info = batch.definitions.filter((d) => d.name === 'target_info');
    assert.equal(info.length, 2, 'one target_info per resource with non-service attributes');
    assert.deepEqual(info[0]!.labels, ['host_name', 'node-1', 'instance', 'pod-7', 'job', 'shop/checkout', 'k8s_pod_uid', 'AQL/']);
    assert.deepEqual(info[1]!.labels, ['region', 'eu']);
  });

  it('downscales exponential histograms to expMaxScale', () => {
    for (const scale of [-3, 0, 1, 4, 5, 20]) checkAgainstOracle(encode(fullRequest()), scale);
    const batch = decode(encode(fullRequest()), new WorkerSeriesState(), 3);
    const rec = parseRecords(batch).find((r) => r.kind === RecordKind.ExpHistogram && r.values[0] === 22)!;
    // scale 5 → 3: indices -3..1 → -1..0 (1+2+3, 4+5); 7..9 → 1..2 (3, 0+1).
    assert.deepEqual(rec.values, [22, 100, 3, 2, -1, 2, 6, 9, 1, 2, 3, 1]);
  });

  it('matches the oracle on 400 random requests', () => {
    const gen = new Gen(0x5eed);
    let points = 0;
    for (let i = 0; i < 400; i++) {
      const bytes = encode(gen.request());
      const batch = checkAgainstOracle(bytes, gen.pick([-2, 0, 3, 8, 20]));
      points += batch.pointsReceived;
    }
    assert.ok(points > 2000, `exercised ${points} points`);
  });

  it('counts target_info as a record but not as a received point', () => {
    const batch = decode(encode({ resourceMetrics: [{ resource: { attributes: [kv('region', str('eu'))] } }] }));
    assert.equal(batch.recordCount, 1);
    assert.equal(batch.pointsReceived, 0);
  });

  it('decodes an empty request', () => {
    const batch = decode(new Uint8Array(0));
    assert.deepEqual({ ...batch, records: Array.from(batch.records) }, {
      records: [],
      length: 0,
      recordCount: 0,
      pointsReceived: 0,
      definitions: [],
      rejected: {},
      generation: 1,
    });
  });
});

describe('series identity', () => {
  const request = (resourceAttrs: object[], pointAttrs: object[], extra: Partial<Record<'name' | 'unit' | 'scope', string>> = {}): Uint8Array =>
    encode({
      resourceMetrics: [
        {
          resource: { attributes: resourceAttrs },
          scopeMetrics: [
            {
              scope: { name: extra.scope ?? 'lib', version: '1' },
              metrics: [{ name: extra.name ?? 'm', unit: extra.unit ?? 's', gauge: { dataPoints: [{ attributes: pointAttrs, timeUnixNano: T0, asInt: 1 }] } }],
            },
          ],
        },
      ],
    });
  const hashOf = (bytes: Uint8Array): number => parseRecords(decode(bytes))[0]!.hash;
  const res = [kv('service.name', str('api')), kv('host', str('h1')), kv('n', { intValue: 3 })];
  const pts = [kv('a', str('1')), kv('b', { boolValue: true }), kv('c', { arrayValue: { values: [str('x')] } }), kv('d', str('4'))];

  it('does not depend on attribute order (point or resource)', () => {
    const base = hashOf(request(res, pts));
    assert.equal(hashOf(request(res, [...pts].reverse())), base);
    assert.equal(hashOf(request([...res].reverse(), [pts[2]!, pts[0]!, pts[3]!, pts[1]!])), base);
    const a = decode(request(res, pts));
    const b = decode(request([...res].reverse(), [...pts].reverse()));
    assert.deepEqual(a.definitions, b.definitions);
  });

  it('differs when any part of the identity differs', () => {
    const base = hashOf(request(res, pts));
    const variants = [
      request(res, [kv('a', str('2')), ...pts.slice(1)]),
      request(res, [kv('a', { intValue: 1 }), ...pts.slice(1)]),
      request(res, pts.slice(1)),
      request([kv('service.name', str('web')), ...res.slice(1)], pts),
      request(res, pts, { name: 'm2' }),
      request(res, pts, { unit: 'ms' }),
      request(res, pts, { scope: 'lib2' }),
    ];
    const hashes = new Set([base, ...variants.map(hashOf)]);
    assert.equal(hashes.size, variants.length + 1);
  });

  it('separates tenants: each tenant seeds the hash and adds a tenant label that wins over a point attribute', () => {
    const bytes = request(res, [...pts, kv('tenant', str('forged'))]);
    const withTenant = (tenant: string): MetricBatch => decodeMetricsRequest(bytes, new WorkerSeriesState(), 1, false, { expMaxScale: 20 }, tenant);
    const [none, a, b] = [withTenant(''), withTenant('a'), withTenant('b')];
    assert.deepEqual(none, decode(bytes), 'no tenant decodes as before');
    const hashes = new Set([none, a, b].map((batch) => parseRecords(batch)[0]!.hash));
    assert.equal(hashes.size, 3);
    const labels = (batch: MetricBatch, name: string): string[] => batch.definitions.find((d) => d.name === name)!.labels;
    const tenantOf = (flat: string[]): string[] => flat.filter((_, i) => i % 2 === 0 && flat[i] === 'tenant').map((_, i) => flat[flat.indexOf('tenant') + 1 + i]!);
    assert.deepEqual(tenantOf(labels(a, 'm_seconds')), ['a']);
    assert.deepEqual(tenantOf(labels(b, 'm_seconds')), ['b']);
    assert.deepEqual(tenantOf(labels(none, 'm_seconds')), ['forged'], 'without a tenant the attribute is an ordinary label');
    assert.deepEqual(tenantOf(labels(a, 'target_info')), ['a'], 'target_info carries the tenant too');
  });

  it('separates a counter from a gauge of the same name', () => {
    const sum = (monotonic: boolean): Uint8Array =>
      encode({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'm', sum: { aggregationTemporality: 2, isMonotonic: monotonic, dataPoints: [{ asInt: 1 }] } }] }] }] });
    assert.notEqual(hashOf(sum(true)), hashOf(sum(false)));
  });

  it('finds the resource and scope wherever they are on the wire; reads unpacked repeated fields', () => {
    const resource = ld(1, ld(1, kvBytes('service.name', 'api')), ld(1, kvBytes('zone', 'z1')));
    const scope = ld(1, ld(1, Buffer.from('lib')), ld(2, Buffer.from('1')));
    const histogramPoint = (packed: boolean): number[] =>
      cat(
        f64(4, 6),
        packed ? ld(6, ...[1, 2, 3].map((c) => f64(0, c).slice(1))) : cat(f64(6, 1), f64(6, 2), f64(6, 3)),
        dbl(5, 2.5),
        packed ? ld(7, ...[0.5, 1].map((b) => dbl(0, b).slice(1))) : cat(dbl(7, 0.5), dbl(7, 1)),
        f64(3, 1_700_000_000_000_000_000),
        ld(9, kvBytes('k', 'v')),
      );
    const expPoint = (packed: boolean): number[] =>
      cat(
        vi(6, zigzag(2)),
        ld(8, packed ? ld(2, ...[1, 300, 70000].map((c) => varint(BigInt(c)))) : cat(vi(2, 1), vi(2, 300), vi(2, 70000)), vi(1, zigzag(-2))),
        f64(4, 70301),
      );
    const histogramMetric = (packed: boolean): number[] => ld(2, ld(9, ld(1, histogramPoint(packed)), vi(2, 2)), ld(1, Buffer.from('h')));
    const expMetric = (packed: boolean): number[] => ld(2, ld(10, vi(2, 1), ld(1, expPoint(packed))), ld(1, Buffer.from('e')));
    // Children first, then the resource / scope they belong to.
    const reordered = u8(ld(1, ld(2, histogramMetric(false), expMetric(false), scope), resource));
    const canonicalOrder = u8(ld(1, resource, ld(2, scope, histogramMetric(true), expMetric(true))));
    checkAgainstOracle(canonicalOrder, 1);
    const a = decode(canonicalOrder, new WorkerSeriesState(), 1);
    const b = decode(reordered, new WorkerSeriesState(), 1);
    assert.deepEqual(parseRecords(b), parseRecords(a));
    assert.deepEqual(b.definitions, a.definitions);
    assert.equal(a.recordCount, 3, 'two points and target_info');
  });
});

describe('WorkerSeriesState', () => {
  const bytes = encode(fullRequest());

  it('sends each definition once per generation', () => {
    const state = new WorkerSeriesState();
    const first = decode(bytes, state, 20, 1);
    assert.ok(first.definitions.length > 0);
    const again = decode(bytes, state, 20, 1);
    assert.equal(again.definitions.length, 0);
    assert.deepEqual(parseRecords(again).map((r) => r.hash), parseRecords(first).map((r) => r.hash));
    const next = decode(bytes, state, 20, 2);
    assert.equal(next.definitions.length, first.definitions.length, 'a new generation describes series again');
    assert.equal(next.generation, 2);
  });

  it('forceDefinitions describes every series of the request once', () => {
    const state = new WorkerSeriesState();
    const first = decode(bytes, state, 20, 1);
    const doubled = encode({ resourceMetrics: [...(fullRequest() as any).resourceMetrics, ...(fullRequest() as any).resourceMetrics] });
    const forced = decode(doubled, state, 20, 1, true);
    assert.deepEqual(forced.definitions, first.definitions);
  });

  it('forgets definitions of a request that failed to decode', () => {
    const state = new WorkerSeriesState();
    const good = encode({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: [{ asInt: 1 }] } }] }] }] });
    const broken = u8([...good, ...ld(1, [0x0a, 0x05, 0x01])]);
    assertMalformed(broken, /length 5 overruns/, state);
    assert.equal(state.size, 0);
    assert.equal(decode(good, state).definitions.length, 1);
  });
});

describe('malformed payloads', () => {
  const valid = encode(fullRequest());

  it('fails on every truncation of a valid payload except at top-level boundaries', () => {
    const boundaries = new Set<number>([0]);
    const reader = protobuf.Reader.create(valid);
    while (reader.pos < reader.len) {
      reader.skipType(reader.uint32() & 7);
      boundaries.add(reader.pos);
    }
    for (let cut = 0; cut < valid.length; cut++) {
      const truncated = valid.subarray(0, cut);
      if (boundaries.has(cut)) decode(truncated);
      else assertMalformed(truncated);
    }
  });

  it('fails with MalformedPayloadError or succeeds on random bytes and random corruptions', () => {
    const gen = new Gen(42);
    let failures = 0;
    const attempt = (bytes: Uint8Array): void => {
      try {
        decode(bytes);
      } catch (err) {
        assert.ok(err instanceof MalformedPayloadError, `unexpected ${String(err)}`);
        assert.ok(err.message.length > 0);
        failures++;
      }
    };
    for (let i = 0; i < 2000; i++) {
      const random = new Uint8Array(gen.int(200));
      for (let j = 0; j < random.length; j++) random[j] = gen.int(256);
      attempt(random);
      const corrupted = new Uint8Array(valid);
      for (let k = 1 + gen.int(4); k > 0; k--) corrupted[gen.int(corrupted.length)] = gen.int(256);
      attempt(corrupted);
    }
    assert.ok(failures > 1000, `${failures} failures`);
  });

  it('names the field path and offset', () => {
    const bad = u8(ld(1, ld(2, ld(2, ld(1, Buffer.from('m')), ld(5, ld(1, f64(3, 1).slice(0, 5)))))));
    assertMalformed(bad, /^truncated fixed64 at byte \d+ \(in resource_metrics\[0\]\.scope_metrics\[0\]\.metrics\[0\]\.gauge\.data_points\[0\]\)$/);
  });

  it('rejects a known field with the wrong wire type', () => {
    const gauge = (point: number[]): Uint8Array => u8(ld(1, ld(2, ld(2, ld(1, Buffer.from('m')), ld(5, ld(1, point))))));
    assertMalformed(gauge(vi(3, 5)), /wrong wire type 0 for field 3/); // time_unix_nano as a varint
    assertMalformed(gauge(ld(4, [1, 2])), /wrong wire type 2 for field 4/); // as_double as bytes
    assertMalformed(gauge(f64(7, 0)), /wrong wire type 1 for field 7/); // attributes as fixed64
    assertMalformed(u8(vi(1, 3)), /wrong wire type 0 for field 1/); // resource_metrics as a varint
    assertMalformed(u8(ld(1, vi(2, 1))), /wrong wire type 0 for field 2/); // scope_metrics as a varint
    // Unknown fields of any wire type are skipped.
    decode(gauge(cat(f64(99, 1), vi(100, 7), ld(101, [1]), [0xad, 0x06, 1, 2, 3, 4], f64(3, 5), dbl(4, 1))));
  });

  it('rejects lengths past the end, groups and overlong varints', () => {
    assertMalformed(u8([0x0a, 0x10, 0x00]), /length 16 overruns the 1 bytes left at byte 1/);
    assertMalformed(u8(ld(1, [0x12, 0x7f])), /length 127 overruns/);
    assertMalformed(u8([0x0b, 0x0c]), /group \(wire type 3\)/);
    assertMalformed(u8(ld(1, [0x0c])), /group \(wire type 4\)/);
    assertMalformed(u8([0x10, ...new Array(10).fill(0xff), 0x01]), /varint longer than 10 bytes/);
    assertMalformed(u8([0x0f]), /invalid wire type 7/);
    assertMalformed(u8([0x00]), /field number 0/);
  });

  it('rejects packed fixed64 fields whose length is not a multiple of 8', () => {
    const bad = u8(ld(1, ld(2, ld(2, ld(1, Buffer.from('h')), ld(9, vi(2, 2), ld(1, ld(6, [1, 2, 3])))))));
    assertMalformed(bad, /packed bucket_counts length 3 is not a multiple of 8/);
  });

  it('rejects attribute values nested deeper than 32, without recursing further', () => {
    const nested = (levels: number): Uint8Array => {
      // AnyValue{array_value: ArrayValue{values: [...]}}, built with Buffer.concat to stay fast.
      const wrap = (field: number, body: Uint8Array): Uint8Array => Buffer.concat([u8([field * 8 + 2, ...varint(BigInt(body.length))]), body]);
      let value = u8(ld(1, Buffer.from('leaf')));
      for (let i = 0; i < levels; i++) value = wrap(5, wrap(1, value));
      return value;
    };
    const request = (levels: number): Uint8Array =>
      u8(ld(1, ld(2, ld(2, ld(1, Buffer.from('m')), ld(5, ld(1, dbl(4, 1), ld(7, ld(1, Buffer.from('k')), ld(2, nested(levels)))))))));
    const ok = decode(request(10));
    assert.equal(ok.definitions[0]!.labels[1], '[[[[[[[[[["leaf"]]]]]]]]]]');
    assertMalformed(request(40), /nesting deeper than 32/);
    assertMalformed(request(5000), /nesting deeper than 32/);
  });
});

describe('int64ToDecimal', () => {
  it('formats every int64 exactly', () => {
    const gen = new Gen(7);
    const values = [0n, 1n, -1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 10n ** 18n, -(10n ** 16n)];
    for (let i = 0; i < 500; i++) values.push(BigInt.asIntN(64, (BigInt(gen.int(TWO_32)) << 32n) | BigInt(gen.int(TWO_32))));
    for (const v of values) {
      const u = BigInt.asUintN(64, v);
      assert.equal(int64ToDecimal(Number(u & 0xffffffffn), Number(u >> 32n)), v.toString());
    }
  });
});
