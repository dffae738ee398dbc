// The worker entry through a real piscina pool: options via workerData, the records buffer
// transferred, malformed payloads answered with a DecodeFailure.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Piscina } from 'piscina';
import type { MetricBatch, MetricTask, MetricTaskResult } from './batch.js';
import { RecordKind } from './batch.js';

// ExportMetricsServiceRequest{resource_metrics{scope_metrics{metrics{name "m", exponential_histogram{
// temporality CUMULATIVE, data_points{count 4, scale 3, positive{offset 0, counts [1, 1, 1, 1]}}}}}}}
const ld = (field: number, body: number[]): number[] => [field * 8 + 2, body.length, ...body];
const point = [0x21, 4, 0, 0, 0, 0, 0, 0, 0, 0x30, 0x06, ...ld(8, [0x08, 0x00, ...ld(2, [1, 1, 1, 1])])];
const metric = [...ld(1, [0x6d]), ...ld(10, [0x10, 0x02, ...ld(1, point)])];
const payload = Uint8Array.from(ld(1, ld(2, ld(2, metric))));

describe('worker entry', () => {
  const pool = new Piscina({
    filename: new URL('./worker.js', import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    workerData: { expMaxScale: 1 },
  });
  after(() => pool.close());
  const run = (task: MetricTask): Promise<MetricTaskResult> => pool.run(task) as Promise<MetricTaskResult>;

  it('returns a batch with transferred records, downscaled per workerData', async () => {
    const bytes = payload;
    const result = await run({ signal: 'metrics', payload: bytes, generation: 1, forceDefinitions: false });
    assert.ok(!('failed' in result), JSON.stringify(result));
    const batch = result as MetricBatch;
    assert.ok(batch.records instanceof Float64Array);
    assert.equal(batch.records.length, batch.length);
    assert.equal(batch.records[0], RecordKind.ExpHistogram);
    assert.equal(batch.records[7], 1, 'scale 3 downscaled to expMaxScale 1');
    assert.deepEqual(Array.from(batch.records.subarray(9, 13)), [0, 1, 4, 0], 'four buckets merged into one');
    assert.equal(batch.definitions.length, 1);
    const again = (await run({ signal: 'metrics', payload: bytes, generation: 1, forceDefinitions: false })) as MetricBatch;
    assert.equal(again.definitions.length, 0, 'the worker remembers what it described');
  });

  it('answers malformed payloads with a DecodeFailure', async () => {
    const result = await run({ signal: 'metrics', payload: Uint8Array.from([0x0a, 0x05, 0x00]), generation: 1, forceDefinitions: false });
    assert.deepEqual(result, { failed: true, reason: 'malformed', message: 'length 5 overruns the 1 bytes left at byte 1 (in resource_metrics)' });
  });
});
