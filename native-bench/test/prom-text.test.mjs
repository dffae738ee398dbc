import { test } from 'node:test';
import assert from 'node:assert/strict';
import { samples, sumSamples } from '../lib/prom-text.mjs';

const TEXT = `# HELP vigil_points_accepted_total Points accepted.
# TYPE vigil_points_accepted_total counter
vigil_points_accepted_total{signal="metrics"} 1500
vigil_points_accepted_total{signal="traces"} 7
vigil_points_accepted_total_created{signal="metrics"} 1700000000
vigil_points_rejected_total{signal="metrics",reason="malformed"} 0
vigil_points_rejected_total{signal="metrics",reason="we\\"ird,}"} 2 1700000000000
vigil_up 1
`;

test('sums samples by exact name with a label filter', () => {
  assert.equal(sumSamples(TEXT, 'vigil_points_accepted_total'), 1507);
  assert.equal(sumSamples(TEXT, 'vigil_points_accepted_total', (l) => l.signal !== 'traces'), 1500);
  assert.equal(sumSamples(TEXT, 'vigil_points_rejected_total'), 2);
  assert.equal(samples(TEXT, 'vigil_points_rejected_total')[1].labels.reason, 'we"ird,}');
  assert.equal(sumSamples(TEXT, 'vigil_up'), 1);
  assert.equal(sumSamples(TEXT, 'vigil_missing_total'), null);
});

test('a declared counter without samples is known', async () => {
  const { declares } = await import('../lib/prom-text.mjs');
  const text = '# HELP vigil_points_rejected_total x\n# TYPE vigil_points_rejected_total counter\n';
  assert.equal(declares(text, 'vigil_points_rejected_total'), true);
  assert.equal(declares('# TYPE vigil_points_rejected counter\n', 'vigil_points_rejected_total'), true);
  assert.equal(declares(TEXT, 'vigil_points_dropped_total'), false);
});

test('seriesMap keys samples by name and sorted labels, and compareSeries finds every difference', async () => {
  const { seriesMap, compareSeries } = await import('../lib/prom-text.mjs');
  const a = seriesMap('# HELP x_total X.\nx_total{b="2",a="q\\"}"} 3\nx_bucket{le="+Inf",a="1"} 4 1700000000\ny 1.5 # {trace_id="ab"} 1 2\n# EOF\n');
  assert.deepEqual([...a.entries()], [['x_total{a="q\\"}",b="2"}', '3'], ['x_bucket{a="1",le="+Inf"}', '4'], ['y{}', '1.5']]);
  const b = seriesMap('x_total{a="q\\"}",b="2"} 3.0\nx_bucket{le="+Inf",a="1"} 5\nz 1\n', (name) => name !== 'z');
  const diff = compareSeries(a, b);
  assert.deepEqual(diff.missing, ['y{}']);
  assert.deepEqual(diff.extra, []);
  assert.deepEqual(diff.differing, [{ key: 'x_bucket{a="1",le="+Inf"}', expected: '4', actual: '5' }]);
  assert.throws(() => seriesMap('x 1\nx 2\n'), /twice/);
  assert.throws(() => seriesMap('x{a="1" 2\n'), /unterminated/);
});
