// The hand-written Remote-Write encoder against protobufjs (the oracle): decoded field by field, and
// byte for byte against protobufjs' own encoding of the same message.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import SnappyJS from 'snappyjs';
import { BatchWriter, BodyKind, bodiesOf, readCounts } from './batch.js';
import { ProtoWriter } from './proto.js';
import { MIN_ZERO_THRESHOLD, toPrometheusNative } from '../../daemon/model/index.js';
import { encodeSeries } from './source.js';
import { WriteRequestType, decodeWriteRequest } from './test-receiver.js';

describe('remote-write protobuf encoder', () => {
  it('cuts requests at max_samples_per_send, per shard, keeping each series in one shard', () => {
    const batch = new BatchWriter(1000, 3, 4);
    const all = Array.from({ length: 30 }, (_, i) => encodeSeries('s', ['i', String(i)])!);
    for (const s of all) batch.float(s, 1, null);
    const bodies = bodiesOf(batch.cut(true)!.payload);
    assert.ok(bodies.every((b) => b.floats <= 4));
    assert.equal(bodies.reduce((n, b) => n + b.floats, 0), 30);
    for (const b of bodies) {
      for (const ts of decodeWriteRequest(SnappyJS.uncompress(b.bytes))) {
        const i = Number(ts.labels.find((l) => l.name === 'i')!.value);
        assert.equal(all[i]!.hash % 3, b.shard, `series ${i} in its shard`);
      }
    }
  });

  it('encodes samples, exemplars and native histograms exactly as protobufjs does', () => {
    const at = 1_764_000_000_123;
    const batch = new BatchWriter(at);
    const counter = encodeSeries('http_requests_total', ['job', 'api', 'code', '200', 'Zone', 'é-ü"\n'])!;
    const gauge = encodeSeries('temperature_celsius', [])!;
    const hist = encodeSeries('latency_seconds', ['job', 'api'])!;
    batch.float(counter, 12345.5, { labels: [['trace_id', '0af7651916cd43dd8448eb211c80319c'], ['span_id', 'b7ad6b7169203331']], value: 0.25, timestampMs: at - 5 });
    batch.float(gauge, -0.5, null);
    batch.float(gauge, Number.POSITIVE_INFINITY, null);
    // OTLP-convention buckets (index i covers (base^i, base^(i+1)]), converted by the read model.
    batch.histogram(hist, toPrometheusNative({
      count: 1_000_007,
      sum: 1234.5,
      scale: 3,
      zeroThreshold: 0,
      zeroCount: 2,
      positive: { offset: -8, counts: Float64Array.from([0, 5, 0, 0, 0, 0, 9, 1, 0, 4, 0]) },
      negative: { offset: 1, counts: Float64Array.from([3]) },
    })!);
    assert.equal(batch.cut(), null, 'no request is full yet');
    const cut = batch.cut(true)!;
    assert.deepEqual(readCounts(cut.payload), { sampledAtMs: at, entries: 4, floats: 3, histograms: 1, exemplars: 1 });
    const bodies = bodiesOf(cut.payload);
    // Floats and native histograms go in requests of their own.
    assert.deepEqual(bodies.map((b) => [b.kind, b.floats, b.histograms, b.exemplars]), [[BodyKind.Floats, 3, 0, 1], [BodyKind.Histograms, 0, 1, 0]]);

    const raw = Buffer.from(SnappyJS.uncompress(bodies[0]!.bytes));
    const rawHistograms = Buffer.from(SnappyJS.uncompress(bodies[1]!.bytes));
    const series = [...decodeWriteRequest(raw), ...decodeWriteRequest(rawHistograms)];
    assert.equal(series.length, 4);
    // Labels sorted by byte order, __name__ among them (upper case sorts before it).
    assert.deepEqual(series[0]!.labels, [
      { name: 'Zone', value: 'é-ü"\n' },
      { name: '__name__', value: 'http_requests_total' },
      { name: 'code', value: '200' },
      { name: 'job', value: 'api' },
    ]);
    assert.deepEqual(series[0]!.samples, [{ value: 12345.5, timestamp: at }]);
    assert.deepEqual(series[0]!.exemplars, [{ labels: [{ name: 'trace_id', value: '0af7651916cd43dd8448eb211c80319c' }, { name: 'span_id', value: 'b7ad6b7169203331' }], value: 0.25, timestamp: at - 5 }]);
    assert.deepEqual(series[1]!.labels, [{ name: '__name__', value: 'temperature_celsius' }]);
    assert.deepEqual(series[2]!.samples, [{ value: Number.POSITIVE_INFINITY, timestamp: at }]);
    const h = series[3]!.histograms![0]!;
    assert.equal(h['count_int'], 1_000_007);
    assert.equal(h['sum'], 1234.5);
    assert.equal(h['schema'], 3);
    assert.equal(h['zero_count_int'], 2);
    assert.equal(h['zero_threshold'], MIN_ZERO_THRESHOLD);
    assert.equal(h['timestamp'], at);
    // Buckets -6 (5) and -1..2 (9,1,0,4): a gap of 4 empty buckets splits the span; deltas run across spans.
    assert.deepEqual(h['positive_spans'], [{ offset: -6, length: 1 }, { offset: 4, length: 4 }]);
    assert.deepEqual(h['positive_deltas'], [5, 4, -8, -1, 4]);
    assert.deepEqual(h['negative_spans'], [{ offset: 2, length: 1 }]);
    assert.deepEqual(h['negative_deltas'], [3]);

    // protobufjs encoding the decoded messages gives the same bytes.
    for (const bytes of [raw, rawHistograms]) {
      const oracle = Buffer.from(WriteRequestType.encode(WriteRequestType.decode(bytes)).finish());
      assert.equal(oracle.toString('hex'), bytes.toString('hex'));
    }
  });

  it('writes varints past 2^31 and negative int64 timestamps as protobuf does', () => {
    for (const value of [0, 1, 127, 128, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 1_764_000_000_123, Number.MAX_SAFE_INTEGER, -1, -1_000_000_000_000]) {
      const w = new ProtoWriter(8);
      w.tag(2, 0);
      w.int64(value);
      const decoded = protobufDecodeSampleTimestamp(Buffer.from(w.view()));
      assert.equal(decoded, value, `int64 ${value}`);
    }
  });

  it('grows a small buffer across long nested fields', () => {
    const labels: string[] = [];
    for (let i = 0; i < 200; i++) labels.push(`l${String(i).padStart(3, '0')}`, 'v'.repeat(i * 3));
    const s = encodeSeries('wide', labels)!;
    const batch = new BatchWriter(5);
    batch.float(s, 1, null);
    const [body] = bodiesOf(batch.cut(true)!.payload);
    const [decoded] = decodeWriteRequest(SnappyJS.uncompress(body!.bytes));
    // Empty values are no labels: l000 is dropped.
    assert.equal(decoded!.labels.length, 200);
    assert.equal(decoded!.labels[199]!.value, 'v'.repeat(597));
  });

  it('refuses invalid label sets', () => {
    assert.equal(encodeSeries('0bad', []), null);
    assert.equal(encodeSeries('ok', ['bad-name', 'x']), null);
    assert.equal(encodeSeries('ok', ['a', '1', 'a', '2']), null);
    assert.equal(encodeSeries('ok', ['__name__', 'other']), null);
    assert.notEqual(encodeSeries('ok:sub', ['_a', '1']), null);
  });
});

function protobufDecodeSampleTimestamp(bytes: Buffer): number {
  const Sample = WriteRequestType.root.lookupType('prometheus.Sample');
  const obj = Sample.toObject(Sample.decode(bytes), { longs: String, defaults: true }) as { timestamp: string };
  return Number(obj.timestamp);
}
