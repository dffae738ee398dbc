// End to end with the real OpenTelemetry JS SDK and its OTLP/gRPC exporter as the client:
// every instrument kind, cumulative and delta temporality, checked value by value on /metrics.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporality, AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { sampleValue, scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';

const RESOURCE = {
  'service.name': 'checkout',
  'service.namespace': 'shop',
  'service.instance.id': 'pod-1',
  'deployment.environment': 'test',
};
const SCOPE = 'otel_scope_name="e2e",otel_scope_version="1.2.3"';
const TARGET = 'instance="pod-1",job="shop/checkout"';

function meterProvider(daemon: TestDaemon, temporality: AggregationTemporality, serviceName = 'checkout'): { provider: MeterProvider; reader: PeriodicExportingMetricReader } {
  const exporter = new OTLPMetricExporter({ url: `http://${daemon.grpcTarget}`, temporalityPreference: temporality });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ ...RESOURCE, 'service.name': serviceName }),
    readers: [reader],
    views: [{ instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize: 160 } } }],
  });
  return { provider, reader };
}

describe('OTLP/gRPC metrics from the OpenTelemetry SDK', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon();
  });
  after(async () => {
    await daemon.stop();
  });

  it('shows every cumulative instrument with OTel-spec names, labels and values', async () => {
    const { provider } = meterProvider(daemon, AggregationTemporality.CUMULATIVE);
    const meter = provider.getMeter('e2e', '1.2.3');
    const requests = meter.createCounter('http.server.requests', { unit: '{request}', description: 'Requests served.' });
    requests.add(3, { 'http.method': 'GET' });
    requests.add(2, { 'http.method': 'POST' });
    const depth = meter.createUpDownCounter('queue.depth', { unit: '{item}' });
    depth.add(5);
    depth.add(-2);
    meter.createGauge('cpu.utilization', { unit: '1' }).record(0.25);
    const duration = meter.createHistogram('http.server.duration', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } });
    for (const v of [5, 50, 500]) duration.record(v, { route: '/pay' });
    const sizes = meter.createHistogram('payload.size', { unit: 'By' });
    for (const v of [1, 2, 3, 4, 1000]) sizes.record(v);
    await provider.forceFlush();
    await provider.shutdown();

    const text = await scrape(daemon.metricsBase);
    assert.match(text, /^# HELP http_server_requests_total Requests served\.$/m);
    assert.match(text, /^# TYPE http_server_requests_total counter$/m);
    assert.equal(sampleValue(text, `http_server_requests_total{http_method="GET",${TARGET},${SCOPE}}`), 3);
    assert.equal(sampleValue(text, `http_server_requests_total{http_method="POST",${TARGET},${SCOPE}}`), 2);
    assert.match(text, /^# TYPE queue_depth gauge$/m);
    assert.equal(sampleValue(text, `queue_depth{${TARGET},${SCOPE}}`), 3);
    assert.equal(sampleValue(text, `cpu_utilization_ratio{${TARGET},${SCOPE}}`), 0.25);
    assert.match(text, /^# TYPE http_server_duration_milliseconds histogram$/m);
    const h = `${TARGET},otel_scope_name="e2e",otel_scope_version="1.2.3",route="/pay"`;
    assert.equal(sampleValue(text, `http_server_duration_milliseconds_bucket{${h},le="10"}`), 1);
    assert.equal(sampleValue(text, `http_server_duration_milliseconds_bucket{${h},le="100"}`), 2);
    assert.equal(sampleValue(text, `http_server_duration_milliseconds_bucket{${h},le="+Inf"}`), 3);
    assert.equal(sampleValue(text, `http_server_duration_milliseconds_sum{${h}}`), 555);
    assert.equal(sampleValue(text, `http_server_duration_milliseconds_count{${h}}`), 3);
    // The exponential histogram comes out as a classic one: count and sum exact, buckets cumulative.
    assert.equal(sampleValue(text, `payload_size_bytes_count{${TARGET},${SCOPE}}`), 5);
    assert.equal(sampleValue(text, `payload_size_bytes_sum{${TARGET},${SCOPE}}`), 1010);
    assert.equal(sampleValue(text, `payload_size_bytes_bucket{${TARGET},${SCOPE},le="+Inf"}`), 5);
    const buckets = [...text.matchAll(/^payload_size_bytes_bucket\{[^}]*le="([^"+]+)"\} (\S+)$/gm)].map((m) => [Number(m[1]), Number(m[2])] as const);
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(buckets[i]![0] > buckets[i - 1]![0], 'le bounds ascend');
      assert.ok(buckets[i]![1] >= buckets[i - 1]![1], 'bucket counts are cumulative');
    }
    const at = (le: number): number => buckets.filter(([b]) => b < le).at(-1)?.[1] ?? 0;
    assert.equal(buckets.find(([b]) => b >= 4)![1] - at(1), 4, 'four values in (1, ~4]');
    // target_info carries the resource attributes that are not job/instance.
    assert.equal(sampleValue(text, `target_info{deployment_environment="test",${TARGET}}`), 1);
  });

  it('turns delta sums and histograms into cumulative series', async () => {
    const { provider } = meterProvider(daemon, AggregationTemporality.DELTA, 'billing');
    const meter = provider.getMeter('e2e', '1.2.3');
    const counter = meter.createCounter('jobs.done');
    const latency = meter.createHistogram('job.latency', { unit: 's', advice: { explicitBucketBoundaries: [1] } });
    counter.add(3);
    latency.record(0.5);
    await provider.forceFlush();
    counter.add(4);
    latency.record(2);
    latency.record(0.25);
    await provider.forceFlush();
    await provider.shutdown();

    const text = await scrape(daemon.metricsBase);
    const labels = `instance="pod-1",job="shop/billing",${SCOPE}`;
    assert.equal(sampleValue(text, `jobs_done_total{${labels}}`), 7);
    assert.equal(sampleValue(text, `job_latency_seconds_bucket{${labels},le="1"}`), 2);
    assert.equal(sampleValue(text, `job_latency_seconds_bucket{${labels},le="+Inf"}`), 3);
    assert.equal(sampleValue(text, `job_latency_seconds_sum{${labels}}`), 2.75);
  });

  it('counts what it accepted in its own metrics', async () => {
    const text = await scrape(daemon.metricsBase);
    assert.ok(sampleValue(text, 'vigil_points_accepted_total{signal="metrics"}')! >= 9);
    assert.equal(sampleValue(text, 'vigil_points_rejected_total{signal="metrics"}'), undefined);
    assert.ok(sampleValue(text, 'vigil_otlp_requests_total{signal="metrics",transport="grpc",code="OK"}')! >= 3);
  });

  it('serves OpenMetrics with counter families named without _total and a # EOF', async () => {
    const text = await scrape(daemon.metricsBase, 'application/openmetrics-text;version=1.0.0');
    assert.match(text, /^# TYPE http_server_requests counter$/m);
    assert.match(text, /^http_server_requests_total\{/m);
    assert.match(text, /^# TYPE target info$/m);
    assert.match(text, /^# UNIT http_server_duration_milliseconds milliseconds$/m);
    assert.ok(text.endsWith('# EOF\n'));
  });
});
