import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SelfMetrics, type SelfMetricSources } from './self-metrics.js';

const zero = (): number => 0;
const sources: SelfMetricSources = {
  inflightBytes: zero, inflightLimitBytes: zero, workerThreads: zero, workerQueue: zero, workerUtilization: zero, workerRestarts: zero,
  activeSeries: zero, seriesLimit: zero, seriesEvicted: zero, hashCollisions: zero, hdrBytes: zero, hdrSeries: zero,
  memoryUsed: zero, memorySoftLimit: zero, memoryHardLimit: zero, memoryState: zero,
};

// prom-client renames shared counters in place when it renders OpenMetrics; text scrapes after an
// OpenMetrics scrape lost the `_total` of every vigil_*_total counter.
test('a text render after an OpenMetrics render still names counters with _total', async () => {
  const metrics = new SelfMetrics(sources);
  metrics.pointsAccepted.inc({ signal: 'metrics' }, 5);
  const before = await metrics.render('text');
  assert.match(before, /^vigil_points_accepted_total\{signal="metrics"\} 5$/m);
  const om = await metrics.render('openmetrics');
  assert.match(om, /^# TYPE vigil_points_accepted counter$/m);
  assert.match(om, /^vigil_points_accepted_total\{signal="metrics"\} 5$/m);
  const after = await metrics.render('text');
  assert.match(after, /^# TYPE vigil_points_accepted_total counter$/m);
  assert.match(after, /^vigil_points_accepted_total\{signal="metrics"\} 5$/m);
  assert.doesNotMatch(after, /^vigil_points_accepted\{/m);
});

test('concurrent text and OpenMetrics renders each get their own format', async () => {
  const metrics = new SelfMetrics(sources);
  metrics.pointsAccepted.inc({ signal: 'metrics' }, 1);
  const [om, text] = await Promise.all([metrics.render('openmetrics'), metrics.render('text')]);
  assert.match(om, /^# TYPE vigil_points_accepted counter$/m);
  assert.match(text, /^# TYPE vigil_points_accepted_total counter$/m);
});

// prom-client's event-loop lag gauges are NaN until the monitor has a sample (just after start);
// prom-client wrote them as `Nan`, the read model as `NaN`. No data is no sample, never NaN.
test('regression: no NaN self-metric right after start (event-loop lag before its first sample)', async () => {
  const metrics = new SelfMetrics(sources);
  const families = await metrics.collect();
  const nan = families.flatMap((f) => [...f.series].filter((s) => Number.isNaN(s.value)).map((s) => `${f.name}${s.labelText}`));
  assert.deepEqual(nan, []);
  assert.ok(families.some((f) => f.name === 'vigil_points_accepted'), 'the families themselves are there');
});
