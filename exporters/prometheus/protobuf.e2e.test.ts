// /metrics in protobuf from a running daemon fed by the real OTel SDK: the content type Prometheus
// expects, every family the text format shows, span durations and OTLP exponential histograms as
// native histograms beside their classic buckets, exemplars on the buckets, the SLO counters.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import * as YAML from 'yaml';
import { validateConfig } from '../../daemon/config/index.js';
import { scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { decodeMetricFamilies, nativeBuckets } from '../../test-support/otlp-proto.js';
import type { DecodedFamily } from '../../test-support/otlp-proto.js';
import { pollUntil } from '../../test-support/wait.js';

const PROTOBUF_ACCEPT = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';
const SLO_YAML = `
components: [{ id: api, name: API }]
slos:
  - { id: pay, component: api, objective: 99, window: 30d, indicator: { latency: { spans: { service: checkout }, threshold: 100ms } } }
`;

async function protobufScrape(base: string): Promise<{ contentType: string; families: DecodedFamily[] }> {
  const res = await fetch(`${base}/metrics`, { headers: { accept: PROTOBUF_ACCEPT } });
  assert.equal(res.status, 200);
  return { contentType: res.headers.get('content-type') ?? '', families: decodeMetricFamilies(new Uint8Array(await res.arrayBuffer())) };
}

describe('/metrics in the protobuf format', () => {
  let daemon: TestDaemon;
  const durationsMs = [3, 7, 12, 45, 80, 120, 250, 900];

  before(async () => {
    const parsed = validateConfig(YAML.parse(SLO_YAML));
    if ('errors' in parsed) throw new Error(parsed.errors.join('\n'));
    daemon = await startTestDaemon((config) => {
      config.components = parsed.config.components;
      config.slos = parsed.config.slos;
    });
    const traces = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout' }),
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `http://${daemon.grpcTarget}` }), maxQueueSize: 10_000 })],
    });
    const tracer = traces.getTracer('protobuf-e2e');
    const end = Date.now();
    for (const ms of durationsMs) {
      const span = tracer.startSpan('POST /pay', { kind: SpanKind.SERVER, startTime: end - ms });
      if (ms === 900) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(end);
    }
    await traces.shutdown();
    const reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: `http://${daemon.grpcTarget}`, temporalityPreference: AggregationTemporality.CUMULATIVE }),
      exportIntervalMillis: 3_600_000,
    });
    const meters = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.instance.id': 'pod-1' }),
      readers: [reader],
      views: [{ instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
    });
    const meter = meters.getMeter('protobuf-e2e');
    const sizes = meter.createHistogram('payload.size', { unit: 'By' });
    for (let i = 1; i <= 500; i++) sizes.record(i * 37);
    sizes.record(0);
    meter.createCounter('orders.placed').add(5, { region: 'eu "west"' });
    await meters.shutdown();
    await pollUntil('spans and points merged', 10_000, async () => {
      const text = await scrape(daemon.metricsBase);
      return text.includes('payload_size_bytes_count') && text.includes('traces_span_metrics_calls_total') ? true : undefined;
    });
  });

  after(async () => {
    await daemon.stop();
  });

  it('answers with the delimited MetricFamily content type and every family the text format shows', async () => {
    // Families only appear over time (prom-client's GC histogram gets its first sample at the first
    // GC of a kind), so text before ⊆ protobuf ⊆ text after (regression: a GC between two scrapes).
    // prom-client's event-loop lag mean and stddev read NaN (so are left out) when no delay was
    // sampled since its last collection, which two scrapes a few ms apart can see: not compared.
    const flapping = /^vigil_nodejs_eventloop_lag_(mean|stddev)_seconds$/;
    const textFamilies = async (): Promise<Set<string>> => {
      // Text families with at least one sample (text 0.0.4 names counter families with _total, as protobuf does).
      const out = new Set<string>();
      let current = '';
      for (const line of (await scrape(daemon.metricsBase)).split('\n')) {
        const m = /^# TYPE (\S+) /.exec(line);
        if (m !== null) current = m[1]!;
        else if (line !== '' && !line.startsWith('#') && !flapping.test(current)) out.add(current);
      }
      return out;
    };
    const before = await textFamilies();
    const { contentType, families } = await protobufScrape(daemon.metricsBase);
    const after = await textFamilies();
    assert.equal(contentType, 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited');
    const names = new Set(families.map((f) => f.name).filter((n) => !flapping.test(n)));
    assert.deepEqual([...before].filter((n) => !names.has(n)), [], 'families in text but not in protobuf');
    assert.deepEqual([...names].filter((n) => !after.has(n)), [], 'families in protobuf but not in text');
    const orders = families.find((f) => f.name === 'orders_placed_total')!;
    assert.deepEqual(orders.metric[0]!.label!.find((l) => l.name === 'region'), { name: 'region', value: 'eu "west"' });
    assert.equal(orders.metric[0]!.counter!.value, 5);
  });

  it('span durations: a native histogram at schema 3 beside the classic buckets, with exemplars', async () => {
    const { families } = await protobufScrape(daemon.metricsBase);
    const duration = families.find((f) => f.name === 'traces_span_metrics_duration_seconds')!;
    assert.equal(duration.type, 'HISTOGRAM');
    const metrics = duration.metric;
    const count = metrics.reduce((a, m) => a + m.histogram!.sample_count, 0);
    assert.equal(count, durationsMs.length);
    const native = new Map<number, number>();
    for (const m of metrics) {
      const h = m.histogram!;
      assert.equal(h.schema, 3);
      assert.ok(h.bucket!.length === 17, 'the 16 connector bounds and +Inf');
      for (const [i, c] of nativeBuckets(h.positive_span, h.positive_delta)) native.set(i, (native.get(i) ?? 0) + c);
    }
    // Each duration in the Prometheus bucket (2^((i-1)/8), 2^(i/8)] that holds it.
    const expected = new Map<number, number>();
    for (const ms of durationsMs) {
      const i = Math.ceil(Math.log2(ms / 1000) * 8);
      expected.set(i, (expected.get(i) ?? 0) + 1);
    }
    assert.deepEqual(new Map([...native].sort((a, b) => a[0] - b[0])), new Map([...expected].sort((a, b) => a[0] - b[0])));
    const exemplars = metrics.flatMap((m) => m.histogram!.bucket!.filter((b) => b.exemplar !== undefined).map((b) => b.exemplar!));
    // One exemplar per populated classic bucket of each series (status ERROR: only the 900 ms span).
    const bounds = [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000];
    const populated = new Set(durationsMs.map((ms) => `${ms === 900}/${bounds.findIndex((b) => ms <= b)}`));
    assert.equal(exemplars.length, populated.size);
    for (const e of exemplars) {
      assert.match(e.label!.find((l) => l.name === 'trace_id')!.value, /^[0-9a-f]{32}$/);
      assert.ok(e.timestamp!.seconds > 1_600_000_000);
    }
    const calls = families.find((f) => f.name === 'traces_span_metrics_calls_total')!;
    assert.ok(calls.metric.every((m) => m.counter!.exemplar !== undefined), 'the calls counter carries the newest span');
  });

  it('OTLP exponential histograms: native buckets that hold every observation, classic buckets alongside', async () => {
    const { families } = await protobufScrape(daemon.metricsBase);
    const h = families.find((f) => f.name === 'payload_size_bytes')!.metric[0]!.histogram!;
    assert.equal(h.sample_count, 501);
    assert.equal(h.zero_count, 1);
    // series.exponential_max_scale (default 3) bounds the scale the workers keep.
    assert.ok(h.schema !== undefined && h.schema <= 3, `schema ${h.schema}`);
    const buckets = nativeBuckets(h.positive_span, h.positive_delta);
    assert.equal([...buckets.values()].reduce((a, b) => a + b, 0), 500);
    const base = Math.pow(2, Math.pow(2, -h.schema!));
    for (let v = 37; v <= 500 * 37; v += 37) {
      const i = Math.ceil(Math.log(v) / Math.log(base) - 1e-9);
      assert.ok((buckets.get(i) ?? 0) > 0, `bucket ${i} holds ${v}`);
    }
    assert.equal(h.bucket!.at(-1)!.upper_bound, Infinity);
    assert.equal(h.bucket!.at(-1)!.cumulative_count, 501);
  });

  it('the SLO event counters, at their exact counts', async () => {
    const { families } = await protobufScrape(daemon.metricsBase);
    const events = families.find((f) => f.name === 'vigil_slo_events_total')!;
    const by = Object.fromEntries(events.metric.map((m) => [m.label!.find((l) => l.name === 'outcome')!.value, m.counter!.value ?? 0]));
    assert.deepEqual(by, { good: durationsMs.filter((ms) => ms <= 100).length, bad: durationsMs.filter((ms) => ms > 100).length });
  });
});
