// forEachSample (what remote_write sends as float samples) visits exactly the samples the text
// format shows, checked against the text renderer on every kind of series.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderFamilies } from '../../exporters/prometheus/index.js';
import { renderLabelText } from './labels.js';
import { formatValue } from './naming.js';
import { SeriesKind, StaticFamily, StaticSeries, forEachSample, labelsOf } from './read-model.js';
import type { FamilyView } from './read-model.js';

function families(): FamilyView[] {
  const counter = new StaticFamily('orders', 'counter', '');
  counter.add(['region', 'eu "1"'], 42);
  const gauge = new StaticFamily('depth', 'gauge', '');
  gauge.add([], -1.5);
  const histogram = new StaticFamily('latency_seconds', 'histogram', '');
  const h = new StaticSeries(['route', '/a']);
  Object.assign(h, { data: SeriesKind.Histogram, bounds: Float64Array.from([0.1, 1]), counts: Float64Array.from([1, 2, 3]), count: 6, sum: 9 });
  histogram.series.push(h);
  const exp = new StaticFamily('size_bytes', 'histogram', '');
  const e = new StaticSeries(['k', 'v']);
  Object.assign(e, { data: SeriesKind.ExpHistogram, scale: 1, zeroCount: 2, positive: { offset: 3, counts: Float64Array.from([1, 0, 4]) }, negative: { offset: 0, counts: Float64Array.from([5]) }, count: 12, sum: Number.NaN });
  exp.series.push(e);
  const summary = new StaticFamily('rpc_seconds', 'summary', '');
  const q = new StaticSeries([]);
  Object.assign(q, { data: SeriesKind.Summary, bounds: Float64Array.from([0.5, 0.9]), counts: Float64Array.from([0.1, 0.4]), count: 10, sum: 2 });
  summary.series.push(q);
  const hidden = new StaticFamily('hidden', 'gauge', '', '', false);
  hidden.add(['a', 'b'], 1).hasValue = false;
  return [counter, gauge, histogram, exp, summary, hidden];
}

describe('forEachSample', () => {
  it('visits the samples the text format shows, in its order, with its values', () => {
    const fams = families();
    const fromText = renderFamilies(fams, 'text').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    const visited: string[] = [];
    for (const family of fams) {
      for (const s of family.series) {
        forEachSample(family, s, (suffix, extraLabel, extraValue, value) => {
          const labels = labelsOf(s);
          if (extraLabel !== null) labels.push(extraLabel, formatValue(extraValue));
          visited.push(`${family.name}${suffix}${renderLabelText(labels)} ${formatValue(value)}`);
        });
      }
    }
    assert.deepEqual(visited, fromText);
  });

  it('gives the exemplar index of classic buckets and counters', () => {
    const [counter, , histogram] = families();
    const indexes: number[] = [];
    for (const f of [counter!, histogram!]) for (const s of f.series) forEachSample(f, s, (_suffix, _l, _v, _value, i) => indexes.push(i));
    // Counter: 0; histogram: buckets 0, 1, +Inf = 2, then _sum and _count without.
    assert.deepEqual(indexes, [0, 0, 1, 2, -1, -1]);
  });
});
