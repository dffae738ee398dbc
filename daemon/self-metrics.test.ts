import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SelfMetrics, type SelfMetricSources } from './self-metrics.js';

const zero = (): number => 0;
const sources: SelfMetricSources = {
  inflightBytes: zero, inflightLimitBytes: zero, workerThreads: zero, workerQueue: zero, workerUtilization: zero, workerRestarts: zero,
  activeSeries: zero, seriesLimit: zero, seriesEvicted: zero, hashCollisions: zero, hdrBytes: zero, hdrSeries: zero,
  memoryUsed: zero, memorySoftLimit: zero, memoryHardLimit: zero, memoryState: zero,
};

// One prom-client registry feeds the read model, which writes text, OpenMetrics and protobuf; a
// second registry for OpenMetrics used to run every default collector twice per process.
test('collect() gives each counter once, named without _total, with its value', async () => {
  const metrics = new SelfMetrics(sources);
  metrics.pointsAccepted.inc({ signal: 'metrics' }, 5);
  const families = await metrics.collect();
  const accepted = families.filter((f) => f.name === 'vigil_points_accepted');
  assert.equal(accepted.length, 1);
  assert.equal(accepted[0]!.type, 'counter');
  const values = [...accepted[0]!.series].map((s) => [s.labelText, s.value]);
  assert.deepEqual(values, [['{signal="metrics"}', 5]]);
  const names = families.map((f) => f.name);
  assert.equal(new Set(names).size, names.length, 'no family twice');
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
