// The protobuf exposition encoder against protobufjs as the oracle (proto/prometheus/metric_family.proto).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { SeriesKind, StaticFamily, StaticSeries } from '../../daemon/model/index.js';
import type { NativeHistogramView } from '../../daemon/model/index.js';
import { SpanNativeHistogram } from '../../daemon/store/native-histogram.js';
import { decodeMetricFamilies, nativeBuckets } from '../../test-support/otlp-proto.js';
import type { DecodedMetric } from '../../test-support/otlp-proto.js';
import { random as seededRandom } from '../../test-support/random.js';
import { encodeFamilies, ProtoWriter } from './protobuf.js';

function labels(m: DecodedMetric): Record<string, string> {
  return Object.fromEntries((m.label ?? []).map((l) => [l.name, l.value]));
}

/** The native histogram's buckets as Prometheus index → count, computed here from the OTLP runs. */
function expectedPrometheusBuckets(run: { offset: number; counts: Float64Array } | null, levels = 0): Map<number, number> {
  const out = new Map<number, number>();
  if (run === null) return out;
  for (let i = 0; i < run.counts.length; i++) {
    const c = run.counts[i]!;
    if (c === 0) continue;
    // OTLP index i covers (base^i, base^(i+1)]: Prometheus' index i + 1 (after downscaling by `levels`).
    const index = ((run.offset + i) >> levels) + 1;
    out.set(index, (out.get(index) ?? 0) + c);
  }
  return out;
}

function expSeries(labelsFlat: string[], native: NativeHistogramView): StaticSeries {
  const s = new StaticSeries(labelsFlat);
  s.data = SeriesKind.ExpHistogram;
  s.scale = native.scale;
  s.zeroCount = native.zeroCount;
  s.positive = native.positive;
  s.negative = native.negative;
  s.count = native.count;
  s.sum = native.sum;
  s.native = native;
  return s;
}

describe('protobuf exposition encoder', () => {
  it('writes counters with _total, gauges, info as gauge, and escaped labels as protobufjs reads them', () => {
    const counter = new StaticFamily('orders', 'counter', 'Orders placed.');
    counter.add(['region', 'eu', 'quote', 'a "b" \\c\nd', 'unicode', 'ünï€😀'], 42);
    counter.add([], 7.5);
    const gauge = new StaticFamily('temperature_celsius', 'gauge', '');
    gauge.add(['room', 'x'], -3.25);
    const info = new StaticFamily('target_info', 'info', 'Target metadata.');
    info.add(['job', 'shop/checkout'], 1);
    const empty = new StaticFamily('vigil_nothing', 'gauge', 'Announced, no series.');
    const families = decodeMetricFamilies(encodeFamilies([counter, gauge, info, empty]));
    // protobufjs leaves out a field at its default (COUNTER is 0).
    assert.deepEqual(families.map((f) => [f.name, f.type ?? 'COUNTER']), [['orders_total', 'COUNTER'], ['temperature_celsius', 'GAUGE'], ['target_info', 'GAUGE']]);
    const [orders, temperature, target] = families;
    assert.equal(orders!.help, 'Orders placed.');
    assert.equal(orders!.metric.length, 2);
    assert.deepEqual(labels(orders!.metric[0]!), { region: 'eu', quote: 'a "b" \\c\nd', unicode: 'ünï€😀' });
    assert.equal(orders!.metric[0]!.counter!.value, 42);
    assert.deepEqual(labels(orders!.metric[1]!), {});
    assert.equal(orders!.metric[1]!.counter!.value, 7.5);
    assert.equal(temperature!.help, undefined);
    assert.equal(temperature!.metric[0]!.gauge!.value, -3.25);
    assert.equal(target!.metric[0]!.gauge!.value, 1);
  });

  it('writes summaries with quantiles, and skips series without a value', () => {
    const family = new StaticFamily('rpc_duration_seconds', 'summary', 'RPC latency.');
    const s = new StaticSeries(['method', 'get']);
    s.data = SeriesKind.Summary;
    s.bounds = Float64Array.from([0.5, 0.99]);
    s.counts = Float64Array.from([0.012, 0.25]);
    s.count = 1000;
    s.sum = 17.5;
    family.series.push(s);
    const hidden = new StaticSeries(['method', 'put']);
    hidden.hasValue = false;
    family.series.push(hidden);
    const [decoded] = decodeMetricFamilies(encodeFamilies([family]));
    assert.equal(decoded!.type, 'SUMMARY');
    assert.equal(decoded!.metric.length, 1);
    assert.deepEqual(decoded!.metric[0]!.summary, { sample_count: 1000, sample_sum: 17.5, quantile: [{ quantile: 0.5, value: 0.012 }, { quantile: 0.99, value: 0.25 }] });
  });

  it('writes classic histograms with cumulative buckets, +Inf, and per-bucket exemplars with timestamps', () => {
    const family = new StaticFamily('latency_seconds', 'histogram', '');
    const s = new StaticSeries(['svc', 'a']);
    s.data = SeriesKind.Histogram;
    s.bounds = Float64Array.from([0.1, 1]);
    s.counts = Float64Array.from([3, 5, 2]);
    s.count = 10;
    s.sum = 4.5;
    s.exemplar = (i: number) => (i === 1 ? { labels: ['trace_id', 'ab'.repeat(16), 'span_id', 'cd'.repeat(8)], value: 0.7, timeMs: 1_700_000_000_123 } : null);
    family.series.push(s);
    const [decoded] = decodeMetricFamilies(encodeFamilies([family]));
    const h = decoded!.metric[0]!.histogram!;
    assert.equal(decoded!.type, 'HISTOGRAM');
    assert.equal(h.sample_count, 10);
    assert.equal(h.sample_sum, 4.5);
    assert.deepEqual(h.bucket!.map((b) => [b.upper_bound, b.cumulative_count]), [[0.1, 3], [1, 8], [Infinity, 10]]);
    assert.equal(h.bucket![0]!.exemplar, undefined);
    assert.deepEqual(h.bucket![1]!.exemplar, {
      label: [{ name: 'trace_id', value: 'ab'.repeat(16) }, { name: 'span_id', value: 'cd'.repeat(8) }],
      value: 0.7,
      timestamp: { seconds: 1_700_000_000, nanos: 123_000_000 },
    });
    // No native fields on a classic-only histogram.
    assert.equal(h.schema, undefined);
    assert.equal(h.positive_span, undefined);
  });

  it('writes exponential histograms as native histograms (index + 1, spans, deltas) with classic buckets alongside', () => {
    const random = seededRandom(11);
    const positive = { offset: -7, counts: new Float64Array(40) };
    // Populated buckets with gaps of every length, so spans split and join.
    for (let i = 0; i < 40; i++) if (random() < 0.6) positive.counts[i] = 1 + Math.floor(random() * 1000);
    positive.counts[0] = 5;
    positive.counts[39] = 9;
    const negative = { offset: 2, counts: Float64Array.from([0, 4, 0, 0, 0, 0, 6]) };
    const count = [...positive.counts, ...negative.counts].reduce((a, b) => a + b, 0) + 3;
    const native: NativeHistogramView = { scale: 3, zeroCount: 3, zeroThreshold: 0, positive, negative, count, sum: 123.25 };
    const family = new StaticFamily('payload_bytes', 'histogram', 'Payload sizes.');
    family.series.push(expSeries(['svc', 'b'], native));
    const [decoded] = decodeMetricFamilies(encodeFamilies([family]));
    const h = decoded!.metric[0]!.histogram!;
    assert.equal(h.schema, 3);
    assert.equal(h.zero_count, 3);
    assert.ok(h.zero_threshold! > 0 && h.zero_threshold! <= 1e-38, 'a tiny zero threshold, so Prometheus 2.42 reads it as native');
    assert.equal(h.sample_count, count);
    assert.equal(h.sample_sum, 123.25);
    assert.deepEqual(nativeBuckets(h.positive_span, h.positive_delta), expectedPrometheusBuckets(positive));
    assert.deepEqual(nativeBuckets(h.negative_span, h.negative_delta), expectedPrometheusBuckets(negative));
    assert.ok(h.positive_span!.length > 1, 'gaps split spans');
    // The classic buckets are the same ones the text format shows; the last is +Inf with the count.
    const buckets = h.bucket!;
    assert.equal(buckets.at(-1)!.upper_bound, Infinity);
    assert.equal(buckets.at(-1)!.cumulative_count, count);
    for (let i = 1; i < buckets.length; i++) assert.ok((buckets[i]!.upper_bound ?? 0) > (buckets[i - 1]!.upper_bound ?? 0) && (buckets[i]!.cumulative_count ?? 0) >= (buckets[i - 1]!.cumulative_count ?? 0));
  });

  it('downscales scales above 8 to schema 8 and leaves scales under -4 classic only', () => {
    const fine = { offset: 1021, counts: Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]) };
    const family = new StaticFamily('x', 'histogram', '');
    family.series.push(expSeries(['k', 'fine'], { scale: 10, zeroCount: 0, zeroThreshold: 0, positive: fine, negative: null, count: 45, sum: 1 }));
    family.series.push(expSeries(['k', 'coarse'], { scale: -6, zeroCount: 0, zeroThreshold: 0, positive: { offset: 0, counts: Float64Array.from([2]) }, negative: null, count: 2, sum: 1 }));
    const [decoded] = decodeMetricFamilies(encodeFamilies([family]));
    const fineH = decoded!.metric[0]!.histogram!;
    assert.equal(fineH.schema, 8);
    assert.deepEqual(nativeBuckets(fineH.positive_span, fineH.positive_delta), expectedPrometheusBuckets(fine, 2));
    const coarse = decoded!.metric[1]!.histogram!;
    assert.equal(coarse.schema, undefined);
    assert.equal(coarse.positive_span, undefined);
    assert.equal(coarse.sample_count, 2);
  });

  it('an empty native histogram still says it is native (no-op span, threshold)', () => {
    const family = new StaticFamily('y', 'histogram', '');
    family.series.push(expSeries([], { scale: 0, zeroCount: 0, zeroThreshold: 0, positive: null, negative: null, count: 0, sum: 0 }));
    const h = decodeMetricFamilies(encodeFamilies([family]))[0]!.metric[0]!.histogram!;
    assert.equal(h.schema, undefined, 'schema 0 is the proto3 default');
    assert.ok(h.zero_threshold! > 0);
    assert.deepEqual(h.positive_span, [{}]);
  });

  it('keeps lengths right when a message outgrows its reserved length bytes (large families and metrics)', () => {
    // ~40k series with long labels: the family is over 2 MiB (4 length bytes, 3 reserved), and
    // each metric over 127 bytes.
    const family = new StaticFamily('big', 'gauge', 'Big.');
    for (let i = 0; i < 40_000; i++) family.add(['id', String(i), 'padding', 'p'.repeat(40 + (i % 200))], i);
    const small = new StaticFamily('after', 'counter', '');
    small.add([], 1);
    const body = encodeFamilies([family, small]);
    assert.ok(body.length > 4 * 1024 * 1024);
    const decoded = decodeMetricFamilies(body);
    assert.equal(decoded.length, 2);
    assert.equal(decoded[0]!.metric.length, 40_000);
    assert.equal(decoded[0]!.metric[39_999]!.gauge!.value, 39_999);
    assert.equal(labels(decoded[0]!.metric[12_345]!)['padding'], 'p'.repeat(40 + (12_345 % 200)));
    assert.equal(decoded[1]!.name, 'after_total');
  });

  it('regression: a non-finite count writes 0 instead of looping forever', () => {
    const family = new StaticFamily('odd', 'summary', '');
    for (const count of [Infinity, Number.NaN, -5]) {
      const s = new StaticSeries(['count', String(count)]);
      s.data = SeriesKind.Summary;
      s.bounds = new Float64Array(0);
      s.counts = new Float64Array(0);
      s.count = count;
      s.sum = 1;
      family.series.push(s);
    }
    const [decoded] = decodeMetricFamilies(encodeFamilies([family]));
    assert.deepEqual(decoded!.metric.map((m) => m.summary!.sample_count ?? 0), [0, 0, 0]);
  });

  it('varints and zigzag match protobufjs on edge values', () => {
    const values = [0, 1, 127, 128, 300, 16_383, 16_384, 2 ** 31 - 1, 2 ** 32, 2 ** 53 - 1];
    for (const v of values) {
      const w = new ProtoWriter();
      w.uint64(1, v);
      // zigzag is exact below 2^52 (sint fields carry bucket deltas and schemas, far smaller).
      const small = Math.min(v, 2 ** 52 - 1);
      w.sint(2, -small);
      w.sint(3, small);
      const bytes = w.finish().bytes;
      // Read back with protobufjs' Reader.
      const decoded = decodeVarints(bytes);
      assert.deepEqual(decoded, [v, small === 0 ? 0 : -small, small], `value ${v}`);
    }
  });
});

function decodeVarints(bytes: Uint8Array): number[] {
  const r = protobuf.Reader.create(bytes);
  const out: number[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const value: unknown = field === 1 ? r.uint64() : r.sint64();
    out.push(typeof value === 'number' ? value : (value as { toNumber(): number }).toNumber());
  }
  return out;
}

describe('span native histogram', () => {
  it('puts every duration in the bucket that covers it and keeps count and sum', () => {
    const random = seededRandom(5);
    const h = new SpanNativeHistogram({ scale: 3, maxBuckets: 1000 });
    const values: number[] = [];
    for (let i = 0; i < 5000; i++) values.push(Math.exp(random() * 10 - 9));
    values.push(0, 1, 2, 0.5);
    for (const v of values) h.record(v);
    assert.equal(h.count, values.length);
    assert.ok(Math.abs(h.sum - values.reduce((a, b) => a + b, 0)) < 1e-9);
    assert.equal(h.zeroCount, 1);
    assert.equal(h.scale, 3);
    // Bounds as 2^(i/8): exact at powers of two, where base^i would round.
    const bound = (i: number): number => Math.pow(2, i / 8);
    const counts = new Map<number, number>();
    for (const v of values) {
      if (v === 0) continue;
      // Independent of the implementation: the OTLP index whose (bound(i), bound(i+1)] holds v.
      let i = Math.floor(Math.log2(v) * 8);
      while (bound(i + 1) < v) i++;
      while (bound(i) >= v) i--;
      counts.set(i, (counts.get(i) ?? 0) + 1);
    }
    const run = h.positive!;
    for (let k = 0; k < run.counts.length; k++) assert.equal(run.counts[k], counts.get(run.offset + k) ?? 0, `bucket ${run.offset + k}`);
  });

  it('halves its resolution instead of growing past maxBuckets', () => {
    const h = new SpanNativeHistogram({ scale: 8, maxBuckets: 40 });
    for (const v of [1e-6, 1e-3, 1, 10, 3600]) h.record(v);
    assert.ok(h.positive!.counts.length <= 40, `${h.positive!.counts.length} buckets`);
    assert.ok(h.scale < 8 && h.scale >= -4, `scale ${h.scale}`);
    assert.equal([...h.positive!.counts].reduce((a, b) => a + b, 0), 5);
    // Each value is still inside its bucket at the coarser scale.
    const base = Math.pow(2, Math.pow(2, -h.scale));
    for (const v of [1e-6, 1e-3, 1, 10, 3600]) {
      const i = Math.ceil(Math.log2(v) * Math.pow(2, h.scale)) - 1;
      assert.ok(Math.pow(base, i) < v * (1 + 1e-12) && v <= Math.pow(base, i + 1) * (1 + 1e-12));
      assert.ok(h.positive!.counts[i - h.positive!.offset]! >= 1, `value ${v} in bucket ${i}`);
    }
    assert.ok(h.byteSize() < 96 + 64 + 40 * 8 + 1);
  });
});
