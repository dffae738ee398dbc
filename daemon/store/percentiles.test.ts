// Histogram metrics → `<name>_percentiles` summaries, through the store and the renderer.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RecordFlag, RecordKind, SPAN_SLOTS } from '../../collectors/worker/batch.js';
import type { MetricBatch, SeriesDefinition, SpanBatch } from '../../collectors/worker/batch.js';
import { renderFamilies } from '../../exporters/prometheus/index.js';
import { createPercentiles, spanPercentileSettings } from '../percentiles/index.js';
import { DEFAULT_SPAN_BUCKETS } from './spans.js';
import { Store } from './store.js';

const PERCENTILES = {
  enabled: true,
  significantDigits: 2,
  quantiles: [0.5, 0.99],
  windowsMs: [60_000, 300_000, 3_600_000],
  windowLabels: ['1m', '5m', '1h'],
};

function batch(records: number[][], definitions: SeriesDefinition[] = []): MetricBatch {
  const flat = records.flat();
  return { records: Float64Array.from(flat), length: flat.length, recordCount: records.length, pointsReceived: records.length, definitions, rejected: {}, generation: 1 };
}

const LATENCY: SeriesDefinition = { hash: 1, name: 'rpc_seconds', type: 'histogram', help: 'RPC latency', unit: 'seconds', labels: ['method', 'get'] };

/** A cumulative explicit-bucket point. */
function cumulative(time: number, start: number, bounds: number[], counts: number[], sum: number): number[] {
  const count = counts.reduce((a, b) => a + b, 0);
  return [RecordKind.Histogram, 1, time, start, 0, count, sum, bounds.length, ...bounds, ...counts];
}

function setup(start = 0) {
  const clock = { t: start };
  const store = new Store({ limit: 100, stalenessMs: 3_600_000, now: () => clock.t, percentiles: PERCENTILES });
  return { clock, store };
}

function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('histogram percentiles in the store', () => {
  it('records the per-interval increments of cumulative points and renders a summary family', () => {
    const { clock, store } = setup(1_000_000);
    // 6 values: 1 in (−∞, 0.1], 2 in (0.1, 1], 3 above 1.
    store.merge(batch([cumulative(1_000_000, 990_000, [0.1, 1], [1, 2, 3], 7.5)], [LATENCY]));
    clock.t += 30_000;
    // +2 in (0.1, 1]: placed at √(0.1·1) ≈ 0.316.
    store.merge(batch([cumulative(1_030_000, 990_000, [0.1, 1], [1, 4, 3], 9.5)]));
    const text = renderFamilies(store.collect(), 'text');
    assert.deepEqual(lines(text, '# TYPE rpc_seconds'), ['# TYPE rpc_seconds histogram', '# TYPE rpc_seconds_percentiles summary']);
    assert.ok(text.indexOf('rpc_seconds_count') < text.indexOf('# TYPE rpc_seconds_percentiles'), 'after its histogram family');
    const oneMinute = lines(text, 'rpc_seconds_percentiles').filter((l) => l.includes('window="1m"'));
    assert.equal(oneMinute.length, 4);
    const median = /^rpc_seconds_percentiles\{method="get",quantile="0\.5",window="1m"\} (\S+)$/.exec(oneMinute[0]!);
    assert.ok(median !== null, oneMinute[0]);
    assert.ok(Math.abs(Number(median[1]) / Math.sqrt(0.1) - 1) <= 0.01, `median ${median[1]}`);
    assert.match(oneMinute[1]!, /^rpc_seconds_percentiles\{method="get",quantile="0\.99",window="1m"\} 1(\.00\d+)?$/);
    assert.deepEqual(oneMinute.slice(2), ['rpc_seconds_percentiles_sum{method="get",window="1m"} 9.5', 'rpc_seconds_percentiles_count{method="get",window="1m"} 8']);

    // Two minutes later nothing new: the 1m window is empty (no quantiles, count 0), 5m still has all.
    clock.t += 120_000;
    const later = renderFamilies(store.collect(), 'openmetrics');
    assert.deepEqual(lines(later, 'rpc_seconds_percentiles').filter((l) => l.includes('window="1m"')), [
      'rpc_seconds_percentiles_sum{method="get",window="1m"} 0',
      'rpc_seconds_percentiles_count{method="get",window="1m"} 0',
    ]);
    assert.ok(later.includes('rpc_seconds_percentiles_count{method="get",window="5m"} 8'));
    assert.ok(!/NaN|Inf"\}/.test(lines(later, 'rpc_seconds_percentiles').join('\n')));
  });

  it('takes a cumulative point from a long-running source as the baseline only', () => {
    const { clock, store } = setup(10_000_000);
    store.merge(batch([cumulative(10_000_000, 1_000, [1], [500, 20], 900)], [LATENCY]));
    clock.t += 10_000;
    store.merge(batch([cumulative(10_010_000, 1_000, [1], [503, 20], 901)]));
    const text = renderFamilies(store.collect(), 'text');
    assert.ok(text.includes('rpc_seconds_percentiles_count{method="get",window="1h"} 3'), text);
  });

  it('starts over on a reset (count going down)', () => {
    const { clock, store } = setup(1_000_000);
    store.merge(batch([cumulative(1_000_000, 999_000, [1], [5, 0], 2)], [LATENCY]));
    clock.t += 10_000;
    store.merge(batch([cumulative(1_010_000, 999_000, [1], [2, 0], 1)]));
    const text = renderFamilies(store.collect(), 'text');
    assert.ok(text.includes('rpc_seconds_percentiles_count{method="get",window="1m"} 7'), text);
  });

  it('renders exponential histograms too, and counts HDR series and bytes', () => {
    const { store } = setup(1_000_000);
    const exp: SeriesDefinition = { hash: 2, name: 'size_bytes', type: 'histogram', help: '', unit: 'bytes', labels: [] };
    // Scale 0, buckets (1,2], (2,4], (4,8] with 1, 2, 1 values; delta.
    store.merge(batch([[RecordKind.ExpHistogram, 2, 1_000_000, 999_000, RecordFlag.Delta, 4, 11, 0, 0, 0, 3, 1, 2, 1, 0, 0]], [exp]));
    const text = renderFamilies(store.collect(), 'text');
    assert.ok(text.includes('size_bytes_percentiles_count{window="1m"} 4'), text);
    const median = /^size_bytes_percentiles\{quantile="0\.5",window="1m"\} (\S+)$/m.exec(text);
    assert.ok(median !== null && Math.abs(Number(median[1]) / Math.sqrt(8) - 1) <= 0.01, `median ${median?.[1]} (bucket (2,4] at √8)`);
    const stats = store.hdrStats();
    assert.equal(stats.series, 1);
    assert.ok(stats.bytes > 0 && stats.bytes < 1024);
  });

  it('leaves the name to a pushed family that already owns it', () => {
    const { store } = setup(1_000_000);
    const clash: SeriesDefinition = { hash: 3, name: 'rpc_seconds_percentiles', type: 'gauge', help: '', unit: '', labels: [] };
    store.merge(batch([cumulative(1_000_000, 999_000, [1], [1, 1], 2), [RecordKind.Gauge, 3, 1_000_000, 0, 0, 7]], [LATENCY, clash]));
    const text = renderFamilies(store.collect(), 'text');
    assert.deepEqual(lines(text, '# TYPE rpc_seconds_percentiles'), ['# TYPE rpc_seconds_percentiles gauge']);
  });

  it('counts the HDR windows of span series in hdrStats (vigil_hdr_bytes used to leave them out)', () => {
    const { clock, store } = setup(1_000_000);
    const spanStore = new Store({
      limit: 100, stalenessMs: 3_600_000, now: () => clock.t, percentiles: PERCENTILES,
      spans: { buckets: DEFAULT_SPAN_BUCKETS, percentiles: spanPercentileSettings(PERCENTILES), newPercentiles: (s) => createPercentiles(s, () => clock.t) },
    });
    assert.deepEqual(spanStore.hdrStats(), { series: 0, bytes: 0 });
    const records = new Float64Array(2 * SPAN_SLOTS);
    records.set([7, 0.012, 1_000_000, 5, 0, -1], 0);
    records.set([8, 0.3, 1_000_000, 8, 0, -1], SPAN_SLOTS);
    const definition = (hash: number, name: string) => ({
      hash, labels: ['service_name', 'api', 'span_kind', 'SPAN_KIND_SERVER', 'span_name', name, 'status_code', 'STATUS_CODE_UNSET'],
      service: 'api', spanName: name, spanKind: 'SPAN_KIND_SERVER', statusCode: 'STATUS_CODE_UNSET', attributes: {},
    });
    const spans: SpanBatch = { signal: 'traces', records, length: records.length, spansReceived: 2, exemplarIds: new Uint8Array(0), definitions: [definition(7, 'GET /a'), definition(8, 'GET /b')], rejected: {}, generation: spanStore.generation };
    assert.equal(spanStore.mergeSpans(spans).accepted, 2);
    const stats = spanStore.hdrStats();
    assert.equal(stats.series, 2);
    assert.ok(stats.bytes > 0, `bytes ${stats.bytes}`);
    assert.deepEqual(store.hdrStats(), { series: 0, bytes: 0 });
  });

  it('keeps no percentiles when disabled', () => {
    const store = new Store({ limit: 100, stalenessMs: 60_000, percentiles: { ...PERCENTILES, enabled: false } });
    store.merge(batch([cumulative(Date.now(), Date.now() - 1000, [1], [1, 1], 2)], [LATENCY]));
    assert.ok(!renderFamilies(store.collect(), 'text').includes('_percentiles'));
    assert.deepEqual(store.hdrStats(), { series: 0, bytes: 0 });
  });
});
