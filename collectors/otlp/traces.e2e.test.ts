// End to end with the real OpenTelemetry JS trace SDK and its OTLP/gRPC exporter as the client:
// spans with durations drawn from a known distribution and a known error share come out as exact
// call counts and bucket counts, HDR percentiles within their precision of the exact percentiles
// (computed by sorting the same durations), and OpenMetrics exemplars carrying the spans' ids.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { samplesWith, valueWith } from '../../test-support/exposition.js';
import { random } from '../../test-support/random.js';

const SPANS = 2000;
/** Every 10th span fails: an exact error share of 10 %. */
const ERROR_EVERY = 10;
const BUCKETS = [0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15];
/** HDR at the default 2 significant digits: a reported value is within 1 % of a recorded one. */
const HDR_RELATIVE_ERROR = 0.01;
const OPENMETRICS = 'application/openmetrics-text;version=1.0.0';


/** Durations in whole nanoseconds, log-uniform between 500 µs and 8 s. */
function durationsNs(n: number, seed: number): number[] {
  const rand = random(seed);
  const lo = Math.log(5e5);
  const hi = Math.log(8e9);
  return Array.from({ length: n }, () => Math.round(Math.exp(lo + rand() * (hi - lo))));
}

/** The nearest-rank percentile of sorted values: the smallest value with at least q·n values at or below it. */
function exactPercentile(sorted: number[], q: number): number {
  // q·n in floating point can land a hair above an integer (0.9·2000 → 1800.0000000000002).
  return sorted[Math.max(1, Math.ceil(q * sorted.length - 1e-9)) - 1]!;
}

describe('OTLP/gRPC traces from the OpenTelemetry SDK', () => {
  let daemon: TestDaemon;
  const durations = durationsNs(SPANS, 42);
  const okSeconds: number[] = [];
  const errorSeconds: number[] = [];
  const labels = { service_name: 'checkout', span_name: 'GET /checkout', span_kind: 'SPAN_KIND_SERVER', http_route: '/checkout', job: 'shop/checkout', instance: 'pod-1' };

  before(async () => {
    daemon = await startTestDaemon((config) => {
      config.spans.dimensions = ['http.route'];
    });
    const exporter = new OTLPTraceExporter({ url: `http://${daemon.grpcTarget}` });
    // The default queue (2048) drops spans silently when they are ended faster than exported.
    const processor = new BatchSpanProcessor({ exporter, maxQueueSize: SPANS * 2, maxExportBatchSize: 500 });
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.namespace': 'shop', 'service.instance.id': 'pod-1' }),
      spanProcessors: [processor],
    });
    const tracer = provider.getTracer('traces-e2e', '1.0.0');
    // Recent start times (so exemplar timestamps look like real ones), in exact nanoseconds.
    const baseSeconds = Math.floor(Date.now() / 1000) - 30;
    durations.forEach((ns, i) => {
      const startNs = (i % 1000) * 1_000_000;
      const endNs = startNs + ns;
      const span = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER, startTime: [baseSeconds, startNs], attributes: { 'http.route': '/checkout' } });
      if (i % ERROR_EVERY === 0) span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
      span.end([baseSeconds + Math.floor(endNs / 1e9), endNs % 1e9]);
      (i % ERROR_EVERY === 0 ? errorSeconds : okSeconds).push(ns / 1e9);
    });
    await provider.forceFlush();
    await provider.shutdown();
    okSeconds.sort((a, b) => a - b);
    errorSeconds.sort((a, b) => a - b);
  });

  after(async () => {
    await daemon.stop();
  });

  it('counts every call and every error exactly', async () => {
    const text = await scrape(daemon.metricsBase);
    assert.equal(valueWith(text, 'traces_span_metrics_calls_total', { ...labels, status_code: 'STATUS_CODE_UNSET' }), SPANS - SPANS / ERROR_EVERY);
    assert.equal(valueWith(text, 'traces_span_metrics_calls_total', { ...labels, status_code: 'STATUS_CODE_ERROR' }), SPANS / ERROR_EVERY);
    assert.equal(valueWith(text, 'vigil_spans_received_total'), SPANS);
    assert.equal(valueWith(text, 'vigil_spans_accepted_total'), SPANS);
    assert.equal(samplesWith(text, 'vigil_spans_rejected_total').length, 0);
    assert.ok(valueWith(text, 'vigil_otlp_requests_total', { signal: 'traces', transport: 'grpc', code: 'OK' })! >= SPANS / 500);
  });

  it('fills the classic histogram bucket by bucket, and sum and count', async () => {
    const text = await scrape(daemon.metricsBase);
    for (const [status, values] of [['STATUS_CODE_UNSET', okSeconds], ['STATUS_CODE_ERROR', errorSeconds]] as const) {
      const series = { ...labels, status_code: status };
      for (const le of BUCKETS) {
        assert.equal(valueWith(text, 'traces_span_metrics_duration_seconds_bucket', { ...series, le: String(le) }), values.filter((v) => v <= le).length, `le=${le}`);
      }
      assert.equal(valueWith(text, 'traces_span_metrics_duration_seconds_bucket', { ...series, le: '+Inf' }), values.length);
      assert.equal(valueWith(text, 'traces_span_metrics_duration_seconds_count', series), values.length);
      const sum = values.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(valueWith(text, 'traces_span_metrics_duration_seconds_sum', series)! - sum) < 1e-9 * sum);
    }
  });

  it('reports every percentile within the HDR precision of the exact one, in every window', async () => {
    const text = await scrape(daemon.metricsBase);
    for (const [status, values] of [['STATUS_CODE_UNSET', okSeconds], ['STATUS_CODE_ERROR', errorSeconds]] as const) {
      for (const window of ['1m', '5m', '1h']) {
        const series = { ...labels, status_code: status, window };
        assert.equal(valueWith(text, 'traces_span_metrics_duration_seconds_percentiles_count', series), values.length);
        for (const q of [0.5, 0.9, 0.95, 0.99, 0.999]) {
          const reported = valueWith(text, 'traces_span_metrics_duration_seconds_percentiles', { ...series, quantile: String(q) });
          const exact = exactPercentile(values, q);
          assert.ok(reported !== undefined, `${status} q=${q} window=${window} is reported`);
          assert.ok(Math.abs(reported - exact) <= exact * HDR_RELATIVE_ERROR, `${status} q=${q} window=${window}: reported ${reported}, exact ${exact}`);
        }
      }
    }
  });

  it('attaches span exemplars to buckets and the calls counter in OpenMetrics only', async () => {
    const om = await scrape(daemon.metricsBase, OPENMETRICS);
    const bucketLines = om.split('\n').filter((l) => l.startsWith('traces_span_metrics_duration_seconds_bucket{'));
    const withExemplar = bucketLines.filter((l) => l.includes(' # {'));
    assert.ok(withExemplar.length >= 10, `bucket exemplars: ${withExemplar.length}`);
    for (const line of withExemplar) {
      const match = /le="([^"]+)"\} \S+ # \{trace_id="([0-9a-f]{32})",span_id="([0-9a-f]{16})"\} (\S+) (\S+)$/.exec(line);
      assert.ok(match, line);
      const le = match[1] === '+Inf' ? Infinity : Number(match[1]);
      const value = Number(match[4]);
      assert.ok(value <= le, `exemplar ${value} lies in its bucket le=${le}`);
      const lower = BUCKETS.filter((b) => b < le).at(-1) ?? -Infinity;
      assert.ok(value > lower, `exemplar ${value} is above the bucket below (${lower})`);
      assert.ok(Math.abs(Number(match[5]) - Date.now() / 1000) < 120, 'exemplar timestamp is the span end');
    }
    assert.match(om, /^traces_span_metrics_calls_total\{[^}]*status_code="STATUS_CODE_ERROR"[^}]*\} 200 # \{trace_id="[0-9a-f]{32}",span_id="[0-9a-f]{16}"\} 1 \d+\.\d{3}$/m);
    assert.match(om, /^# TYPE traces_span_metrics_calls counter$/m);
    assert.match(om, /^# UNIT traces_span_metrics_duration_seconds seconds$/m);
    const text = await scrape(daemon.metricsBase);
    assert.doesNotMatch(text, /^traces_span_metrics.* # \{/m, 'text 0.0.4 carries no exemplars');
    assert.match(text, /^# TYPE traces_span_metrics_calls_total counter$/m);
  });
});
