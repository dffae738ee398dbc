import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RecordFlag, RecordKind } from '../../collectors/worker/batch.js';
import type { FamilyType, MetricBatch, SeriesDefinition } from '../../collectors/worker/batch.js';
import { renderFamilies } from '../../exporters/prometheus/index.js';
import { Store } from './store.js';

/** Builds batches record by record, as a worker would. */
class BatchBuilder {
  readonly slots: number[] = [];
  readonly definitions: SeriesDefinition[] = [];
  records = 0;
  constructor(readonly generation = 1) {}

  define(hash: number, name: string, type: FamilyType, labels: string[] = [], help = '', unit = ''): this {
    this.definitions.push({ hash, name, type, help, unit, labels });
    return this;
  }
  number(kind: number, hash: number, value: number, opts: { time?: number; start?: number; flags?: number } = {}): this {
    this.slots.push(kind, hash, opts.time ?? 1000, opts.start ?? 0, opts.flags ?? 0, value);
    this.records++;
    return this;
  }
  gauge(hash: number, value: number, time = 1000): this {
    return this.number(RecordKind.Gauge, hash, value, { time });
  }
  sum(hash: number, value: number, delta: boolean, start = 500): this {
    const flags = RecordFlag.Monotonic | (delta ? RecordFlag.Delta : 0);
    return this.number(RecordKind.Sum, hash, value, { start, flags });
  }
  histogram(hash: number, bounds: number[], counts: number[], sum: number, delta: boolean): this {
    const count = counts.reduce((a, b) => a + b, 0);
    this.slots.push(RecordKind.Histogram, hash, 1000, 500, delta ? RecordFlag.Delta : 0, count, sum, bounds.length, ...bounds, ...counts);
    this.records++;
    return this;
  }
  expHistogram(hash: number, scale: number, zero: number, pos: [number, number[]], neg: [number, number[]], sum: number, delta: boolean): this {
    const count = zero + pos[1].reduce((a, b) => a + b, 0) + neg[1].reduce((a, b) => a + b, 0);
    this.slots.push(RecordKind.ExpHistogram, hash, 1000, 500, delta ? RecordFlag.Delta : 0, count, sum, scale, zero,
      pos[0], pos[1].length, ...pos[1], neg[0], neg[1].length, ...neg[1]);
    this.records++;
    return this;
  }
  summary(hash: number, count: number, sum: number, quantiles: Array<[number, number]>): this {
    this.slots.push(RecordKind.Summary, hash, 1000, 500, 0, count, sum, quantiles.length, ...quantiles.flat());
    this.records++;
    return this;
  }
  build(): MetricBatch {
    return {
      records: Float64Array.from(this.slots),
      length: this.slots.length,
      recordCount: this.records,
      pointsReceived: this.records,
      definitions: this.definitions,
      rejected: {},
      generation: this.generation,
    };
  }
}

function render(store: Store): string {
  return renderFamilies(store.collect(), 'text');
}

describe('Store', () => {
  it('accumulates delta sums and replaces cumulative ones', () => {
    const store = new Store({ limit: 100, stalenessMs: 60_000 });
    store.merge(new BatchBuilder().define(1, 'requests', 'counter', ['a', 'x']).define(2, 'bytes', 'counter').sum(1, 5, true).sum(2, 10, false).build());
    store.merge(new BatchBuilder().sum(1, 7, true).sum(2, 12, false).build());
    assert.equal(render(store), '# TYPE bytes_total counter\nbytes_total 12\n# TYPE requests_total counter\nrequests_total{a="x"} 12\n');
  });

  it('keeps the newest gauge point by timestamp', () => {
    const store = new Store({ limit: 100, stalenessMs: 60_000 });
    store.merge(new BatchBuilder().define(1, 'temp', 'gauge').gauge(1, 20, 2000).gauge(1, 10, 1000).build());
    assert.match(render(store), /^temp 20$/m);
    store.merge(new BatchBuilder().gauge(1, 30, 3000).build());
    assert.match(render(store), /^temp 30$/m);
  });

  it('accumulates delta histograms and restarts on a bucket layout change', () => {
    const store = new Store({ limit: 100, stalenessMs: 60_000 });
    store.merge(new BatchBuilder().define(1, 'lat_seconds', 'histogram', [], 'Latency', 'seconds').histogram(1, [0.1, 1], [1, 2, 3], 7.5, true).build());
    store.merge(new BatchBuilder().histogram(1, [0.1, 1], [1, 0, 1], 2.5, true).build());
    assert.equal(render(store), [
      '# HELP lat_seconds Latency',
      '# TYPE lat_seconds histogram',
      'lat_seconds_bucket{le="0.1"} 2',
      'lat_seconds_bucket{le="1"} 4',
      'lat_seconds_bucket{le="+Inf"} 8',
      'lat_seconds_sum 10',
      'lat_seconds_count 8',
      '',
    ].join('\n'));
    store.merge(new BatchBuilder().histogram(1, [0.5], [4, 1], 3, true).build());
    assert.match(render(store), /lat_seconds_bucket\{le="0.5"\} 4\nlat_seconds_bucket\{le="\+Inf"\} 5\n/);
  });

  it('merges delta exponential histograms at the coarser scale', () => {
    const store = new Store({ limit: 100, stalenessMs: 60_000 });
    // scale 1: base sqrt(2); index 0 = (1, 1.414], 1 = (1.414, 2], 2 = (2, 2.83], 3 = (2.83, 4]
    store.merge(new BatchBuilder().define(1, 'size', 'histogram').expHistogram(1, 1, 1, [0, [1, 1, 1, 1]], [0, []], 10, true).build());
    // scale 0: index 0 = (1, 2], 1 = (2, 4]
    store.merge(new BatchBuilder().expHistogram(1, 0, 0, [0, [2, 3]], [0, []], 9, true).build());
    assert.equal(render(store), [
      '# TYPE size histogram',
      'size_bucket{le="0"} 1',
      'size_bucket{le="2"} 5',
      'size_bucket{le="4"} 10',
      'size_bucket{le="+Inf"} 10',
      'size_sum 19',
      'size_count 10',
      '',
    ].join('\n'));
  });

  it('renders summaries with their quantiles', () => {
    const store = new Store({ limit: 100, stalenessMs: 60_000 });
    store.merge(new BatchBuilder().define(1, 'rpc', 'summary', ['m', 'get']).summary(1, 4, 10, [[0.5, 2], [0.99, 4]]).build());
    assert.equal(render(store), '# TYPE rpc summary\nrpc{m="get",quantile="0.5"} 2\nrpc{m="get",quantile="0.99"} 4\nrpc_sum{m="get"} 10\nrpc_count{m="get"} 4\n');
  });

  it('merges two hashes of one label set into one series', () => {
    const store = new Store({ limit: 100, stalenessMs: 60_000 });
    store.merge(new BatchBuilder().define(1, 'c', 'counter', ['a', '1']).define(2, 'c', 'counter', ['a', '1']).sum(1, 1, true).sum(2, 2, true).build());
    assert.equal(store.seriesCount, 1);
    assert.match(render(store), /^c_total\{a="1"\} 3$/m);
  });

  it('rejects points whose family exists with another type', () => {
    const store = new Store({ limit: 100, stalenessMs: 60_000 });
    const result = store.merge(new BatchBuilder().define(1, 'x', 'gauge').define(2, 'x', 'counter', ['a', 'b']).gauge(1, 1).sum(2, 1, true).build());
    assert.deepEqual([result.accepted, result.rejected], [1, { type_conflict: 1 }]);
    assert.equal(store.stats.typeConflicts, 1);
  });

  it('sends delta points beyond the series limit to the overflow series and rejects the rest', () => {
    const store = new Store({ limit: 2, stalenessMs: 60_000 });
    const b = new BatchBuilder();
    for (let h = 1; h <= 4; h++) b.define(h, 'c', 'counter', ['i', String(h)]).sum(h, 10, true);
    b.define(5, 'g', 'gauge', ['i', '5']).gauge(5, 1);
    const result = store.merge(b.build());
    assert.equal(result.accepted, 4);
    assert.deepEqual(result.rejected, { series_limit: 1 });
    const text = render(store);
    assert.match(text, /^c_total\{otel_metric_overflow="true"\} 20$/m);
    assert.doesNotMatch(text, /i="3"/);
  });

  it('evicts stale series, changes the generation, and asks for definitions again', () => {
    let now = 0;
    const store = new Store({ limit: 100, stalenessMs: 1000, now: () => now });
    store.merge(new BatchBuilder().define(1, 'a', 'gauge').define(2, 'b', 'gauge').gauge(1, 1).gauge(2, 2).build());
    now = 800;
    store.merge(new BatchBuilder().gauge(2, 3).build());
    now = 1500;
    assert.equal(store.evictStale(), 1);
    assert.equal(store.generation, 2);
    assert.equal(render(store), '# TYPE b gauge\nb 3\n');
    // A batch decoded before the eviction that relies on series 1 without defining it.
    const stale = new BatchBuilder(1).gauge(1, 5).build();
    assert.equal(store.canMerge(stale), false);
    assert.equal(store.canMerge(new BatchBuilder(1).define(1, 'a', 'gauge').gauge(1, 5).build()), true);
    assert.equal(store.canMerge(new BatchBuilder(1).gauge(2, 5).build()), true);
  });

  it('a sweep with nothing stale skips the walk, yet never misses a series gone stale, one defined without a point, or one last seen at a clock set back', () => {
    let now = 10_000;
    const store = new Store({ limit: 100, stalenessMs: 1000, now: () => now });
    store.merge(new BatchBuilder().define(1, 'a', 'gauge').define(2, 'b', 'gauge').gauge(1, 1).gauge(2, 2).build());
    now = 10_500;
    assert.equal(store.evictStale(), 0);
    store.merge(new BatchBuilder().gauge(2, 3).build());
    now = 11_200;
    assert.equal(store.evictStale(), 1, 'a, last seen at 10,000, is stale at 11,200');
    // Defined without a point: seenMs 0, stale at the next sweep.
    store.merge(new BatchBuilder(store.generation).define(3, 'c', 'gauge').build());
    assert.equal(store.evictStale(), 1);
    // A clock set back: b's point merged at 5,000 (its seenMs goes back) is stale once the cutoff passes it.
    now = 5_000;
    store.merge(new BatchBuilder(store.generation).gauge(2, 4).build());
    assert.equal(render(store), '# TYPE b gauge\nb 4\n');
    now = 6_100;
    assert.equal(store.evictStale(), 1, 'b is evicted');
  });

  it('evicts a series under every hash it had, and a new series after it starts from zero', () => {
    let now = 0;
    const store = new Store({ limit: 100, stalenessMs: 1000, now: () => now });
    store.merge(new BatchBuilder().define(1, 'c', 'counter', ['a', '1']).define(2, 'c', 'counter', ['a', '1']).sum(1, 5, true).sum(2, 2, true).build());
    now = 1500;
    assert.equal(store.evictStale(), 1);
    assert.equal(store.canMerge(new BatchBuilder(1).sum(1, 1, true).build()), false);
    assert.equal(store.canMerge(new BatchBuilder(1).sum(2, 1, true).build()), false);
    // The new series takes the evicted one's slab slot: it must not inherit its value or time.
    store.merge(new BatchBuilder(store.generation).define(3, 'c', 'counter', ['a', '2']).sum(3, 4, true).build());
    assert.equal(render(store), '# TYPE c_total counter\nc_total{a="2"} 4\n');
    const [series] = store.families()[0]!.series;
    assert.equal(series!.seenMs, 1500);
  });

  it('keeps a pushed series labelled otel_metric_overflow="true" apart from the overflow series', () => {
    const store = new Store({ limit: 1, stalenessMs: 60_000 });
    const b = new BatchBuilder().define(1, 'c', 'counter', ['otel_metric_overflow', 'true']).sum(1, 1, true);
    b.define(2, 'c', 'counter', ['i', '2']).sum(2, 10, true);
    assert.equal(store.merge(b.build()).accepted, 2);
    assert.equal(store.seriesCount, 2);
    assert.equal(render(store).match(/^c_total\{otel_metric_overflow="true"\} /gm)?.length, 2);
  });

  it('hides a series after a no-recorded-value marker until a new value arrives', () => {
    const store = new Store({ limit: 100, stalenessMs: 60_000 });
    store.merge(new BatchBuilder().define(1, 'g', 'gauge').gauge(1, 1).build());
    store.merge(new BatchBuilder().number(RecordKind.Gauge, 1, 0, { time: 2000, flags: RecordFlag.NoRecordedValue }).build());
    assert.equal(render(store), '');
    store.merge(new BatchBuilder().gauge(1, 4, 3000).build());
    assert.equal(render(store), '# TYPE g gauge\ng 4\n');
  });
});
