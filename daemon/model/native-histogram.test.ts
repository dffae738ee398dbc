// toPrometheusNative: OTLP-convention runs to Prometheus spans and deltas (what the protobuf
// exposition and remote_write send), checked by rebuilding the buckets from spans and deltas.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_ZERO_THRESHOLD, toPrometheusNative } from './native-histogram.js';
import type { PrometheusBucketSpan } from './native-histogram.js';

function rebuild(spans: PrometheusBucketSpan[], deltas: number[]): Map<number, number> {
  const out = new Map<number, number>();
  let index = 0;
  let count = 0;
  let d = 0;
  spans.forEach((span, n) => {
    index = n === 0 ? span.offset : index + span.offset;
    for (let k = 0; k < span.length; k++, index++) {
      count += deltas[d++]!;
      if (count !== 0) out.set(index, count);
    }
  });
  assert.equal(d, deltas.length, 'one delta per bucket in the spans');
  return out;
}

describe('toPrometheusNative', () => {
  it('shifts OTLP index i to Prometheus i + 1 and splits spans at gaps of 3 or more empty buckets', () => {
    const counts = Float64Array.from([0, 4, 0, 2, 0, 0, 0, 7, 1, 0]);
    const p = toPrometheusNative({ scale: 2, zeroCount: 3, zeroThreshold: 0, positive: { offset: -5, counts }, negative: { offset: 0, counts: Float64Array.from([1]) }, count: 18, sum: 9.5 })!;
    assert.equal(p.schema, 2);
    assert.equal(p.zeroThreshold, MIN_ZERO_THRESHOLD);
    assert.equal(p.zeroCount, 3);
    assert.deepEqual(p.positiveSpans, [{ offset: -3, length: 3 }, { offset: 3, length: 2 }]);
    assert.deepEqual(rebuild(p.positiveSpans, p.positiveDeltas), new Map([[-3, 4], [-1, 2], [3, 7], [4, 1]]));
    assert.deepEqual(rebuild(p.negativeSpans, p.negativeDeltas), new Map([[1, 1]]));
  });

  it('merges buckets down to schema 8 and has no native form under -4', () => {
    const p = toPrometheusNative({ scale: 9, zeroCount: 0, zeroThreshold: 0.001, positive: { offset: 3, counts: Float64Array.from([1, 1, 1]) }, negative: null, count: 3, sum: 1 })!;
    assert.equal(p.schema, 8);
    assert.equal(p.zeroThreshold, 0.001);
    // OTLP 3, 4, 5 at scale 9 → 1, 2, 2 at scale 8 → Prometheus 2, 3.
    assert.deepEqual(rebuild(p.positiveSpans, p.positiveDeltas), new Map([[2, 1], [3, 2]]));
    assert.equal(toPrometheusNative({ scale: -5, zeroCount: 0, zeroThreshold: 0, positive: null, negative: null, count: 0, sum: 0 }), null);
  });
});
