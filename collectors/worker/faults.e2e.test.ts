// Worker faults end to end: a decode worker that throws or dies mid-request (the test-only fault
// hook in worker.ts, enabled below) fails that request alone with a retryable answer; the pool
// replaces a dead worker and counts it; no acknowledged point is lost, and no series is refused
// as unknown because a definition went missing with the failed task.

// Worker threads copy the environment when they start: set it before the daemon exists.
process.env['NODE_ENV'] = 'test';
process.env['VIGIL_TEST_WORKER_FAULTS'] = '1';

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { sampleValue, scrape, startTestDaemon, sumSamples } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { rawExport } from '../../test-support/grpc-client.js';
import { attributes, encodeMetricsRequest, statusDetails } from '../../test-support/otlp-proto.js';

/** One delta counter point of `name`{series=`series`} worth `value`; `description` may carry a fault marker (not part of the series identity). */
function request(name: string, series: string, value: number, description = ''): Buffer {
  const nowNs = Date.now() * 1e6;
  return encodeMetricsRequest({
    resource_metrics: [
      {
        resource: { attributes: attributes({ 'service.name': 'faults' }) },
        scope_metrics: [
          {
            scope: { name: 'faults' },
            metrics: [
              {
                name,
                description,
                sum: { aggregation_temporality: 1, is_monotonic: true, data_points: [{ attributes: attributes({ series }), start_time_unix_nano: nowNs - 1e9, time_unix_nano: nowNs, as_int: value }] },
              },
            ],
          },
        ],
      },
    ],
  });
}

describe('decode worker faults', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon((c) => {
      c.workers.threads = 1;
    });
  });
  after(async () => {
    await d.stop();
  });

  it('a worker that dies fails only its own request (UNAVAILABLE + RetryInfo), is replaced and counted; queued requests and their points survive', async () => {
    assert.equal(sampleValue(await scrape(d.metricsBase), 'vigil_worker_restarts_total'), 0);
    assert.equal((await rawExport(d.grpcTarget, request('fault_probe', 'a', 1))).code, grpc.status.OK);
    // One worker: the poisoned request runs while the others wait in the pool's queue.
    const poisoned = rawExport(d.grpcTarget, request('fault_probe', 'a', 1000, 'vigil-test-fault:exit'));
    const others = Array.from({ length: 8 }, (_, i) => rawExport(d.grpcTarget, request('fault_probe', i % 2 === 0 ? 'a' : 'b', 1)));
    const dead = await poisoned;
    assert.equal(dead.code, grpc.status.UNAVAILABLE, dead.details);
    assert.ok((statusDetails(dead.metadata)?.retryDelayMs ?? 0) > 0, 'the refusal carries RetryInfo');
    const answers = await Promise.all(others);
    assert.deepEqual(answers.map((a) => grpc.status[a.code]), Array(8).fill('OK'));
    // A series first seen by the new worker, and the old ones again: the new worker describes them itself.
    for (const series of ['a', 'b', 'c']) assert.equal((await rawExport(d.grpcTarget, request('fault_probe', series, 1))).code, grpc.status.OK);

    const text = await scrape(d.metricsBase);
    assert.equal(sampleValue(text, 'vigil_worker_restarts_total'), 1);
    assert.equal(sampleValue(text, 'vigil_otlp_requests_rejected_total{signal="metrics",transport="grpc",reason="worker_failed"}'), 1);
    assert.equal(sumSamples(text, 'vigil_points_rejected_total'), 0, 'no point was refused (unknown_series) after the restart');
    // Acknowledged: 1 + 8 + 3 points of 1; the poisoned 1000 was never acknowledged.
    assert.equal(sumSamples(text, 'fault_probe_total'), 12);
  });

  it('a task that throws after claiming definitions is retryable, and its series is described again next time', async () => {
    const before = sampleValue(await scrape(d.metricsBase), 'vigil_worker_restarts_total');
    // fresh_series is first seen in the failing task: without forgetting what that task claimed,
    // the worker would never send its definition and the next request would be refused.
    const thrown = await rawExport(d.grpcTarget, request('fresh_series', 'x', 50, 'vigil-test-fault:throw'));
    assert.equal(thrown.code, grpc.status.UNAVAILABLE, thrown.details);
    const ok = await rawExport(d.grpcTarget, request('fresh_series', 'x', 2));
    assert.equal(ok.code, grpc.status.OK, ok.details);
    const text = await scrape(d.metricsBase);
    assert.equal(sampleValue(text, 'fresh_series_total{series="x",job="faults"}') ?? sumSamples(text, 'fresh_series_total'), 2);
    assert.equal(sumSamples(text, 'vigil_points_rejected_total'), 0);
    assert.equal(sampleValue(text, 'vigil_worker_restarts_total'), before, 'a thrown error does not replace the worker');
  });

  it('over OTLP/HTTP a worker death is 503 with Retry-After', async () => {
    const res = await fetch(`${d.otlpHttpBase}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(request('fault_probe', 'h', 1, 'vigil-test-fault:exit')) });
    await res.arrayBuffer();
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    const good = await fetch(`${d.otlpHttpBase}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(request('fault_probe', 'h', 1)) });
    await good.arrayBuffer();
    assert.equal(good.status, 200);
    assert.equal(sampleValue(await scrape(d.metricsBase), 'vigil_worker_restarts_total'), 2);
  });
});
