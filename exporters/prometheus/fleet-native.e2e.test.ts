// The fleet view: three vigild replicas scraped in protobuf by a real Prometheus 2.42 started with
// --enable-feature=native-histograms, spans sent round-robin to them by the real OTel SDK trace
// exporter. The fleet-wide p99 of span durations comes out of PromQL within one bucket of the exact
// p99 of every span sent (summaries can never give that), histogram_count is exact, the SLO event
// counters summed over the replicas are the exact good/bad counts, and OTLP exponential histograms
// pushed to each replica merge in Prometheus as native histograms too.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { HrTime } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import * as YAML from 'yaml';
import { validateConfig } from '../../daemon/config/index.js';
import { startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { HAVE_PROMETHEUS, startPrometheus } from '../../test-support/prometheus.js';
import type { TestPrometheus } from '../../test-support/prometheus.js';
import { random } from '../../test-support/random.js';
import { pollUntil } from '../../test-support/wait.js';

const SLO_YAML = `
components:
  - { id: api, name: API }
slos:
  - id: pay-availability
    component: api
    objective: 99.9
    window: 30d
    indicator: { availability: { spans: { service: checkout } } }
  - id: pay-latency
    component: api
    objective: 99
    window: 30d
    indicator: { latency: { spans: { service: checkout }, threshold: 250ms } }
`;
const THRESHOLD_SECONDS = 0.25;
const REPLICAS = 3;
const SPANS = 6000;
const SPAN_NAMES = ['POST /pay', 'GET /cart'];
/** The span-duration native histograms' default schema (spans.native_histogram_schema). */
const SCHEMA = 3;

interface Sent {
  seconds: number;
  failed: boolean;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('a fleet of three vigild scraped in protobuf by Prometheus with native histograms', { skip: HAVE_PROMETHEUS ? false : 'prometheus is not on PATH' }, () => {
  const daemons: TestDaemon[] = [];
  const senders: { provider: TracerProvider; tracer: ReturnType<TracerProvider['getTracer']> }[] = [];
  let prometheus: TestPrometheus | undefined;
  const began = Date.now();

  async function query(promql: string): Promise<Sample[]> {
    const res = await fetch(`${prometheus!.base}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { result: Sample[] } };
    if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
    return body.data.result;
  }

  async function scalar(promql: string): Promise<number | undefined> {
    const [first] = await query(promql);
    return first === undefined ? undefined : Number(first.value[1]);
  }

  before(async () => {
    const parsed = validateConfig(YAML.parse(SLO_YAML));
    if ('errors' in parsed) throw new Error(parsed.errors.join('\n'));
    for (let i = 0; i < REPLICAS; i++) {
      daemons.push(
        await startTestDaemon((config) => {
          config.components = parsed.config.components;
          config.slos = parsed.config.slos;
        }),
      );
    }
    for (const d of daemons) {
      const exporter = new OTLPTraceExporter({ url: `http://${d.grpcTarget}` });
      const provider = new TracerProvider({
        resource: resourceFromAttributes({ 'service.name': 'checkout' }),
        // The default queue of 2048 would drop spans of a burst silently.
        spanProcessors: [new BatchSpanProcessor({ exporter, maxQueueSize: 100_000, maxExportBatchSize: 512, scheduledDelayMillis: 50 })],
      });
      senders.push({ provider, tracer: provider.getTracer('fleet-e2e') });
    }
    prometheus = await startPrometheus(
      daemons.map((d) => d.metricsBase.replace('http://', '')),
      ['--enable-feature=native-histograms,exemplar-storage'],
    );
  });

  after(async () => {
    await Promise.allSettled(senders.map((s) => s.provider.shutdown()));
    await prometheus?.stop();
    await Promise.allSettled(daemons.map((d) => d.stop()));
  });

  /** Ends one SERVER span of exactly `micros` µs (HrTime, no float rounding), ending at `endSeconds`. */
  function send(replica: number, name: string, micros: number, failed: boolean, endSeconds: number): Sent {
    const endNs = BigInt(endSeconds) * 1_000_000_000n;
    const startNs = endNs - BigInt(micros) * 1000n;
    const time = (ns: bigint): HrTime => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
    const span = senders[replica]!.tracer.startSpan(name, { kind: SpanKind.SERVER, startTime: time(startNs) });
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end(time(endNs));
    return { seconds: micros / 1e6, failed };
  }

  it('fleet histogram_quantile within one bucket of the exact p99, exact histogram_count, SLO counters summing to the exact counts', { timeout: 180_000 }, async () => {
    // Every SLO's counters are there at 0 before any event, on every replica.
    const zeros = await pollUntil('vigil_slo_events_total scraped from every replica', 30_000, async () => {
      const r = await query('vigil_slo_events_total');
      return r.length === REPLICAS * 2 * 2 ? r : undefined;
    });
    assert.ok(zeros.every((s) => s.value[1] === '0'), JSON.stringify(zeros));

    const sent: Sent[] = [];
    const next = random(2026);
    // Log-uniform durations from 1 ms to 3 s in whole µs, none within 20 µs of the SLO threshold
    // (the decode's float arithmetic must not decide a span's side).
    const duration = (): number => {
      for (;;) {
        const micros = Math.round(Math.exp(Math.log(1000) + next() * (Math.log(3_000_000) - Math.log(1000))));
        if (Math.abs(micros - THRESHOLD_SECONDS * 1e6) > 20) return micros;
      }
    };
    const endSeconds = (): number => Math.floor(Date.now() / 1000);

    // Warm-up: every series (span name × status) on every replica, so each has a first sample in
    // Prometheus before the measured spans: rate() counts increases between samples.
    for (let r = 0; r < REPLICAS; r++) {
      for (const name of SPAN_NAMES) for (const failed of [false, true]) sent.push(send(r, name, duration(), failed, endSeconds()));
    }
    await Promise.all(senders.map((s) => s.provider.forceFlush()));
    const warmup = sent.length;
    await pollUntil('warm-up series scraped', 30_000, async () => ((await scalar('sum(histogram_count(traces_span_metrics_duration_seconds))')) === warmup ? true : undefined));

    // The measured spans, round-robin over the replicas.
    const measured: Sent[] = [];
    for (let i = 0; i < SPANS; i++) {
      const s = send(i % REPLICAS, SPAN_NAMES[i % SPAN_NAMES.length]!, duration(), next() < 0.05, endSeconds());
      measured.push(s);
      sent.push(s);
    }
    await Promise.all(senders.map((s) => s.provider.forceFlush()));

    // histogram_count is exact: every span sent, counted once, summed over the replicas.
    const total = await pollUntil('every span in Prometheus', 60_000, async () => {
      const n = await scalar('sum(histogram_count(traces_span_metrics_duration_seconds))');
      return n === sent.length ? n : undefined;
    });
    assert.equal(total, sent.length);
    assert.equal(await scalar('histogram_count(sum(traces_span_metrics_duration_seconds))'), sent.length);
    // Prometheus holds them as native histograms (2.42 ingests only the native one when both are there).
    assert.deepEqual(await query('traces_span_metrics_duration_seconds_bucket'), []);

    // The fleet p99 over a range covering the whole test, against the exact p99 of the spans that
    // range's increase holds (those sent after the warm-up samples).
    const range = Math.ceil((Date.now() - began) / 1000) + 60;
    const viaRate = await scalar(`histogram_quantile(0.99, sum(rate(traces_span_metrics_duration_seconds[${range}s])))`);
    assertWithinOneBucket(viaRate, exactQuantile(measured, 0.99), 'p99 via rate');
    // And of the cumulative histograms: every span sent.
    const cumulative = await scalar('histogram_quantile(0.99, sum(traces_span_metrics_duration_seconds))');
    assertWithinOneBucket(cumulative, exactQuantile(sent, 0.99), 'p99 of the cumulative histograms');
    const median = await scalar('histogram_quantile(0.5, sum(traces_span_metrics_duration_seconds))');
    assertWithinOneBucket(median, exactQuantile(sent, 0.5), 'p50 of the cumulative histograms');

    // SLO counters: summed over the replicas, the exact good and bad counts of every span sent.
    const expected: Record<string, number> = {
      'pay-availability/good': sent.filter((s) => !s.failed).length,
      'pay-availability/bad': sent.filter((s) => s.failed).length,
      'pay-latency/good': sent.filter((s) => s.seconds <= THRESHOLD_SECONDS).length,
      'pay-latency/bad': sent.filter((s) => s.seconds > THRESHOLD_SECONDS).length,
    };
    const counted = await pollUntil('SLO counters at the exact counts', 30_000, async () => {
      const r = await query('sum by (slo, outcome) (vigil_slo_events_total)');
      const got = Object.fromEntries(r.map((s) => [`${s.metric['slo']}/${s.metric['outcome']}`, Number(s.value[1])]));
      return Object.keys(expected).every((k) => got[k] === expected[k]) ? got : undefined;
    }).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}: expected ${JSON.stringify(expected)}, Prometheus has ${JSON.stringify(await query('sum by (slo, outcome) (vigil_slo_events_total)'))}`);
    });
    assert.deepEqual(counted, expected);

    // The classic buckets' exemplars (trace and span ids) reach Prometheus with the native histograms.
    const exemplars = await pollUntil('span exemplars in Prometheus', 30_000, async () => {
      const url = `${prometheus!.base}/api/v1/query_exemplars?query=traces_span_metrics_duration_seconds&start=${Math.floor(began / 1000) - 60}&end=${Math.ceil(Date.now() / 1000) + 60}`;
      const body = (await (await fetch(url)).json()) as { data: { exemplars: { labels: Record<string, string>; value: string }[] }[] };
      const all = body.data.flatMap((d) => d.exemplars);
      return all.length > 0 ? all : undefined;
    });
    for (const e of exemplars) {
      assert.match(e.labels['trace_id'] ?? '', /^[0-9a-f]{32}$/);
      assert.match(e.labels['span_id'] ?? '', /^[0-9a-f]{16}$/);
      const seconds = Number(e.value);
      assert.ok(sent.some((s) => Math.abs(s.seconds - seconds) < 1e-5), `exemplar value ${seconds} is a sent duration`);
    }

    // OTLP exponential histograms are native histograms in Prometheus too, and merge across replicas.
    const observed: number[] = [];
    for (const [r, d] of daemons.entries()) {
      const reader = new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `http://${d.grpcTarget}`, temporalityPreference: AggregationTemporality.CUMULATIVE }),
        exportIntervalMillis: 3_600_000,
      });
      const meters = new MeterProvider({
        resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.instance.id': `pod-${r}` }),
        readers: [reader],
        views: [{ instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
      });
      const sizes = meters.getMeter('fleet-e2e').createHistogram('payload.size', { unit: 'By' });
      for (let i = 0; i < 1000; i++) {
        const v = Math.round(Math.exp(Math.log(100) + next() * (Math.log(1e6) - Math.log(100))));
        sizes.record(v);
        observed.push(v);
      }
      await meters.shutdown();
    }
    await pollUntil('exponential histograms in Prometheus', 30_000, async () => ((await scalar('sum(histogram_count(payload_size_bytes))')) === observed.length ? true : undefined));
    assert.deepEqual(await query('payload_size_bytes_bucket'), [], 'stored as native histograms');
    const schema = 3; // series.exponential_max_scale's default: the workers keep at most scale 3
    const sorted = observed.sort((a, b) => a - b);
    const exactP90 = sorted[Math.ceil(0.9 * sorted.length) - 1]!;
    const p90 = await scalar('histogram_quantile(0.9, sum(payload_size_bytes))');
    const index = Math.ceil(Math.log2(exactP90) * 2 ** schema);
    const width = Math.pow(2, index / 2 ** schema) - Math.pow(2, (index - 1) / 2 ** schema);
    assert.ok(p90 !== undefined && Math.abs(p90 - exactP90) <= width, `payload p90: Prometheus ${p90}, exact ${exactP90}, bucket width ${width}`);

    // Prometheus asked for protobuf and got it, from every replica.
    const formats = await query('sum by (format) (vigil_scrape_duration_seconds_count{outcome="ok"})');
    assert.deepEqual(formats.map((s) => s.metric['format']), ['protobuf'], JSON.stringify(formats));
    const targets = (await (await fetch(`${prometheus!.base}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string; lastError: string }[] } };
    assert.equal(targets.data.activeTargets.length, REPLICAS);
    for (const t of targets.data.activeTargets) assert.deepEqual([t.health, t.lastError], ['up', '']);
  });
});

/** The nearest-rank quantile of the sent durations. */
function exactQuantile(spans: readonly Sent[], q: number): number {
  const sorted = spans.map((s) => s.seconds).sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

/** |got − exact| at most the width of the schema-3 bucket holding `exact`. */
function assertWithinOneBucket(got: number | undefined, exact: number, what: string): void {
  assert.ok(got !== undefined && Number.isFinite(got), `${what}: Prometheus answered ${got}`);
  const index = Math.ceil(Math.log2(exact) * 2 ** SCHEMA);
  const width = Math.pow(2, index / 2 ** SCHEMA) - Math.pow(2, (index - 1) / 2 ** SCHEMA);
  assert.ok(Math.abs(got - exact) <= width, `${what}: Prometheus ${got}, exact ${exact}, bucket width ${width}`);
}
