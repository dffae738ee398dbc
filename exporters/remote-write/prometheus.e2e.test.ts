// remote_write into a real Prometheus 2.42 (--web.enable-remote-write-receiver
// --enable-feature=native-histograms,exemplar-storage): metrics and spans from the real OTel SDK
// reach it through vigild; PromQL reads back the exact values, the native histograms and the
// exemplars. Then the outages: Prometheus stopped and restarted (no gap), and the same with vigild
// killed with SIGKILL during the outage and restarted (the WAL is replayed). And the 2.42 trap:
// without the native-histograms flag it answers 500 forever; floats must keep flowing.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { scrape, spawnDaemon, startTestDaemon } from '../../test-support/daemon.js';
import type { ChildDaemon, TestDaemon } from '../../test-support/daemon.js';
import { samplesWith } from '../../test-support/exposition.js';
import { validateConfig } from '../../daemon/config/index.js';
import { HAVE_PROMETHEUS } from '../../test-support/prometheus.js';
import { freePort, pollUntil } from '../../test-support/wait.js';
import { query, rawSamples, receivingPrometheus } from './test-prometheus.js';
import type { ReceivingPrometheus } from './test-prometheus.js';

const skip = HAVE_PROMETHEUS ? false : 'prometheus is not on PATH';
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-rw-e2e-'));
  dirs.push(d);
  return d;
}

const RESOURCE = { 'service.name': 'shop', 'service.instance.id': 'pod-7' };

/** Pushes a counter (42), a gauge (0.75) and an exponential histogram of 1..100 through the SDK. */
async function pushMetrics(grpcTarget: string, counter = 42): Promise<void> {
  const exporter = new OTLPMetricExporter({ url: `http://${grpcTarget}`, temporalityPreference: AggregationTemporality.CUMULATIVE });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes(RESOURCE),
    readers: [reader],
    views: [{ instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize: 160 } } }],
  });
  const meter = provider.getMeter('rw-e2e', '1.0.0');
  meter.createCounter('orders').add(counter, { region: 'eu' });
  meter.createGauge('load').record(0.75);
  const sizes = meter.createHistogram('payload.size');
  for (let v = 1; v <= 100; v++) sizes.record(v);
  await provider.forceFlush();
  await provider.shutdown();
}

/** Pushes `n` server spans and returns their trace ids. */
async function pushSpans(grpcTarget: string, n: number): Promise<Set<string>> {
  const provider = new TracerProvider({
    resource: resourceFromAttributes(RESOURCE),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `http://${grpcTarget}` }), maxQueueSize: n * 2 })],
  });
  const tracer = provider.getTracer('rw-e2e');
  const ids = new Set<string>();
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const span = tracer.startSpan('GET /cart', { kind: SpanKind.SERVER, startTime: now - 5 - (i % 50) });
    span.end(now);
    ids.add(span.spanContext().traceId);
  }
  await provider.forceFlush();
  await provider.shutdown();
  return ids;
}

const num = (r: { value: [number, string] }[]): number | undefined => (r[0] === undefined ? undefined : Number(r[0].value[1]));

describe('remote_write into Prometheus 2.42', { skip }, () => {
  describe('values, native histograms and exemplars', () => {
    let prom: ReceivingPrometheus;
    let daemon: TestDaemon;
    let traceIds: Set<string>;

    before(async () => {
      prom = receivingPrometheus(tempDir(), await freePort());
      await prom.start();
      daemon = await startTestDaemon((c) => {
        // One SLO over the pushed spans, so vigil_slo_events_total has something to count.
        const slo = validateConfig({
          components: [{ id: 'shop' }],
          slos: [{ id: 'shop-availability', component: 'shop', objective: 99, window: '30d', indicator: { availability: { spans: { service: 'shop' } } } }],
        });
        if (!('config' in slo)) throw new Error(slo.errors.join('; '));
        c.components = slo.config.components;
        c.slos = slo.config.slos;
        c.remoteWrite = [{
          url: prom.writeUrl,
          intervalMs: 1000,
          headers: {},
          bearerToken: null,
          basicAuth: null,
          tls: null,
          queue: { shards: 2, maxSamplesPerSend: 500, timeoutMs: 5000, minBackoffMs: 30, maxBackoffMs: 1000 },
          wal: { maxBytes: 64 * 1024 ** 2, segmentBytes: 4 * 1024 ** 2, fsync: 'always' },
          // A metadata round every second (1m by default), so the test sees several.
          metadata: { send: true, intervalMs: 1000, maxPerSend: 50 },
        }];
      });
      await pushMetrics(daemon.grpcTarget);
      traceIds = await pushSpans(daemon.grpcTarget, 120);
    });
    after(async () => {
      await daemon?.stop();
      await prom?.stop();
    });

    it('Prometheus takes the metadata requests (2xx, none failed) and the samples keep arriving', { timeout: 60_000 }, async () => {
      const counter = (text: string, name: string): number => samplesWith(text, name).reduce((n, s) => n + s.value, 0);
      // Prometheus decodes the whole WriteRequest: a malformed metadata field would be a 400.
      const first = await pollUntil('metadata accepted by Prometheus', 20_000, async () => {
        const text = await scrape(daemon.metricsBase);
        return counter(text, 'vigil_remote_write_metadata_sent_total') > 50 ? text : undefined;
      });
      assert.equal(counter(first, 'vigil_remote_write_metadata_failed_total'), 0, 'no metadata request failed');
      // Samples sampled after those rounds still arrive.
      const afterRounds = Date.now() / 1000;
      await pollUntil('samples newer than the metadata rounds', 20_000, async () => ((num(await query(prom.base, 'max(timestamp(orders_total))')) ?? 0) > afterRounds ? true : undefined));
      // Rounds go on (one a second): wait for the next, however soon the samples came.
      const later = await pollUntil('a later metadata round', 20_000, async () => {
        const text = await scrape(daemon.metricsBase);
        return counter(text, 'vigil_remote_write_metadata_sent_total') > counter(first, 'vigil_remote_write_metadata_sent_total') ? text : undefined;
      });
      assert.equal(counter(later, 'vigil_remote_write_metadata_failed_total'), 0, 'no metadata request failed');
      assert.equal(counter(later, 'vigil_remote_write_samples_dropped_total'), 0);
    });

    it('PromQL reads back exactly what /metrics shows', { timeout: 60_000 }, async () => {
      await pollUntil('orders in Prometheus', 20_000, async () => num(await query(prom.base, 'orders_total')) === 42 ? true : undefined);
      assert.equal(num(await query(prom.base, 'orders_total{region="eu",job="shop",instance="pod-7"}')), 42);
      assert.equal(num(await query(prom.base, 'load')), 0.75);
      assert.equal(num(await query(prom.base, 'sum(traces_span_metrics_calls_total{service_name="shop"})')), 120);
      // Every sample of these families on /metrics is in Prometheus with the same value.
      const text = await scrape(daemon.metricsBase);
      let compared = 0;
      for (const name of ['orders_total', 'load', 'payload_size_bucket', 'payload_size_sum', 'payload_size_count', 'traces_span_metrics_duration_seconds_bucket', 'target_info']) {
        for (const s of samplesWith(text, name)) {
          const selector = `${name}{${Object.entries(s.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
          assert.equal(num(await query(prom.base, selector)), s.value, selector);
          compared++;
        }
      }
      assert.ok(compared > 30, `compared ${compared} samples`);
      // SLO-free daemon: its own vigil_* series go too.
      assert.ok((num(await query(prom.base, 'count({__name__=~"vigil_.+"})')) ?? 0) > 20);
      assert.equal(num(await query(prom.base, 'max(vigil_remote_write_shards)')), 2);
      // The SLO event counters go out too: every span pushed counted once, as good.
      await pollUntil('SLO events in Prometheus', 10_000, async () =>
        num(await query(prom.base, 'sum(vigil_slo_events_total{slo="shop-availability",outcome="good"})')) === 120 ? true : undefined);
      assert.equal(num(await query(prom.base, 'sum(vigil_slo_events_total{slo="shop-availability",outcome="bad"})')), 0);
    });

    it('sends exponential histograms as native histograms', { timeout: 30_000 }, async () => {
      await pollUntil('the native histogram', 20_000, async () => num(await query(prom.base, 'histogram_count(payload_size)')) === 100 ? true : undefined);
      assert.equal(num(await query(prom.base, 'histogram_sum(payload_size)')), 5050);
      const median = num(await query(prom.base, 'histogram_quantile(0.5, payload_size)'))!;
      // Schema 3 (series.exponential_max_scale): buckets are 2^(1/8) ≈ 9% wide.
      assert.ok(Math.abs(median - 50) <= 50 * 0.1, `median ${median}`);
      const p99 = num(await query(prom.base, 'histogram_quantile(0.99, payload_size)'))!;
      assert.ok(Math.abs(p99 - 99) <= 99 * 0.1, `p99 ${p99}`);
      // Span durations: the span store's own native histogram, beside the classic buckets.
      await pollUntil('span native histograms', 10_000, async () =>
        num(await query(prom.base, 'histogram_count(sum(traces_span_metrics_duration_seconds{service_name="shop"}))')) === 120 ? true : undefined);
      const spanMedian = num(await query(prom.base, 'histogram_quantile(0.5, sum(traces_span_metrics_duration_seconds{service_name="shop"}))'))!;
      // The exact median of the durations pushed (5 + i % 50 ms), within a schema-3 bucket (9% wide).
      const durations = Array.from({ length: 120 }, (_, i) => (5 + (i % 50)) / 1000).sort((a, b) => a - b);
      const exact = durations[59]!;
      assert.ok(Math.abs(spanMedian - exact) <= exact * 0.1, `span median ${spanMedian} vs exact ${exact}`);
    });

    it('sends span exemplars with the pushed trace ids', { timeout: 30_000 }, async () => {
      const found = await pollUntil('exemplars in Prometheus', 20_000, async () => {
        const end = Date.now() / 1000 + 60;
        const res = await fetch(`${prom.base}/api/v1/query_exemplars?query=${encodeURIComponent('traces_span_metrics_duration_seconds_bucket{service_name="shop"}')}&start=${end - 3600}&end=${end}`);
        const body = (await res.json()) as { data: { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string>; value: string }[] }[] };
        return body.data.length > 0 ? body.data : undefined;
      });
      let n = 0;
      for (const series of found) {
        const le = series.seriesLabels['le'] === '+Inf' ? Infinity : Number(series.seriesLabels['le']);
        for (const e of series.exemplars) {
          n++;
          assert.ok(traceIds.has(e.labels['trace_id']!), 'a pushed trace id');
          assert.ok(Number(e.value) <= le);
        }
      }
      assert.ok(n >= 1);
      const sent = await pollUntil('exemplars counted', 5000, async () => {
        const v = num(await query(prom.base, 'sum(vigil_remote_write_exemplars_sent_total)'));
        return v !== undefined && v > 0 ? v : undefined;
      });
      assert.ok(sent >= n);
    });
  });

  describe('outages', () => {
    it('Prometheus stopped and restarted: every interval of the outage arrives, no gap', { timeout: 90_000 }, async () => {
      const prom = receivingPrometheus(tempDir(), await freePort());
      await prom.start();
      const daemon = await startTestDaemon((c) => {
        c.remoteWrite = [endpoint(prom.writeUrl)];
      });
      try {
        await pushMetrics(daemon.grpcTarget);
        await pollUntil('orders in Prometheus', 20_000, async () => num(await query(prom.base, 'orders_total')) === 42 ? true : undefined);
        await prom.stop();
        const downAt = Date.now();
        await new Promise((r) => setTimeout(r, 6000));
        const upAt = Date.now();
        await prom.start();
        await pollUntil('the backlog delivered', 30_000, async () => {
          const samples = await rawSamples(prom.base, 'orders_total[2m]', Date.now() / 1000);
          const last = samples[0]?.values.at(-1)?.[0] ?? 0;
          return last > upAt ? true : undefined;
        });
        assertNoGap(await rawSamples(prom.base, 'orders_total[2m]', Date.now() / 1000), downAt, upAt);
      } finally {
        await daemon.stop();
        await prom.stop();
      }
    });

    it('a series evicted as stale leaves Prometheus at once: a staleness marker, not the 5-minute lookback', { timeout: 60_000 }, async () => {
      const prom = receivingPrometheus(tempDir(), await freePort());
      await prom.start();
      const daemon = await startTestDaemon((c) => {
        c.series.stalenessMs = 3000;
        c.remoteWrite = [endpoint(prom.writeUrl)];
      });
      try {
        await pushMetrics(daemon.grpcTarget);
        await pollUntil('orders in Prometheus', 20_000, async () => num(await query(prom.base, 'orders_total')) === 42 ? true : undefined);
        // Nothing more is pushed: the store evicts the series after 3 s, the next sampling sends the marker.
        await pollUntil('orders gone from /metrics', 15_000, async () => (samplesWith(await scrape(daemon.metricsBase), 'orders_total').length === 0 ? true : undefined));
        const goneAt = Date.now();
        await pollUntil('orders gone from an instant query', 10_000, async () => ((await query(prom.base, 'orders_total')).length === 0 ? true : undefined));
        assert.ok(Date.now() - goneAt < 10_000, 'gone within seconds, far inside the 5-minute lookback');
        // The samples sent before are all still there (a range selector skips the marker), and
        // Vigil's own series, still exposed, still answer.
        const before = await rawSamples(prom.base, 'orders_total[2m]', Date.now() / 1000);
        assert.ok(before[0]!.values.length >= 2 && before[0]!.values.every(([, v]) => v === 42));
        assert.ok((await query(prom.base, 'vigil_remote_write_shards')).length > 0);
      } finally {
        await daemon.stop();
        await prom.stop();
      }
    });

    it('vigild killed with SIGKILL during the outage: the WAL is replayed after the restart', { timeout: 120_000 }, async () => {
      const prom = receivingPrometheus(tempDir(), await freePort());
      await prom.start();
      const dataDir = tempDir();
      const configFile = join(dataDir, 'vigil.yaml');
      writeFileSync(configFile, [
        'remote_write:',
        `  - url: ${prom.writeUrl}`,
        '    interval: 1s',
        '    queue: { min_backoff: 30ms, max_backoff: 500ms, timeout: 2s }',
        '',
      ].join('\n'));
      let child: ChildDaemon | null = await spawnDaemon(['--config', configFile], dataDir);
      try {
        await pushMetrics(child.grpcTarget);
        await pollUntil('orders in Prometheus', 20_000, async () => num(await query(prom.base, 'orders_total')) === 42 ? true : undefined);
        await prom.stop();
        const downAt = Date.now();
        await new Promise((r) => setTimeout(r, 5000));
        child.child.kill('SIGKILL');
        await child.exited;
        const killedAt = Date.now();
        child = await spawnDaemon(['--config', configFile], dataDir);
        assert.match(child.stdout(), /replays the WAL/);
        await prom.start();
        await pollUntil('the replayed outage', 30_000, async () => {
          const samples = await rawSamples(prom.base, 'orders_total[2m]', Date.now() / 1000);
          const last = samples[0]?.values.at(-1)?.[0] ?? 0;
          return last > killedAt - 1500 ? true : undefined;
        });
        const samples = await rawSamples(prom.base, 'orders_total[2m]', Date.now() / 1000);
        assertNoGap(samples, downAt, killedAt - 1500);
        assert.ok(samples[0]!.values.every(([, v]) => v === 42));
      } finally {
        child?.child.kill('SIGKILL');
        await child?.exited;
        await prom.stop();
      }
    });
  });

  it('Prometheus without native histograms: the fix is logged once, floats keep flowing', { timeout: 60_000 }, async () => {
    const prom = receivingPrometheus(tempDir(), await freePort(), ['--web.enable-remote-write-receiver']);
    await prom.start();
    const dataDir = tempDir();
    const configFile = join(dataDir, 'vigil.yaml');
    writeFileSync(configFile, ['remote_write:', `  - url: ${prom.writeUrl}`, '    interval: 1s', ''].join('\n'));
    const child = await spawnDaemon(['--config', configFile], dataDir);
    try {
      await pushMetrics(child.grpcTarget);
      await pollUntil('orders in Prometheus', 20_000, async () => num(await query(prom.base, 'orders_total')) === 42 ? true : undefined);
      await pollUntil('classic buckets in Prometheus', 10_000, async () => num(await query(prom.base, 'payload_size_count')) === 100 ? true : undefined);
      // Several more intervals: still flowing, and the warning is not repeated.
      const before = num(await query(prom.base, 'sum(vigil_remote_write_samples_sent_total)'))!;
      await new Promise((r) => setTimeout(r, 3000));
      const later = await pollUntil('more samples', 10_000, async () => {
        const v = num(await query(prom.base, 'sum(vigil_remote_write_samples_sent_total)'))!;
        return v > before ? v : undefined;
      });
      assert.ok(later > before);
      assert.equal(child.stdout().split('\n').filter((l) => l.includes('--enable-feature=native-histograms')).length, 1);
      const metrics = await scrape(child.metricsBase);
      assert.ok((samplesWith(metrics, 'vigil_remote_write_samples_dropped_total', { reason: 'native_histograms_disabled' })[0]?.value ?? 0) >= 1);
      assert.equal(samplesWith(metrics, 'vigil_remote_write_pending_samples')[0]?.value !== undefined, true);
    } finally {
      child.child.kill('SIGKILL');
      await child.exited;
      await prom.stop();
    }
  });
});

function endpoint(url: string) {
  return {
    url,
    intervalMs: 1000,
    headers: {},
    bearerToken: null,
    basicAuth: null,
    tls: null,
    queue: { shards: 2, maxSamplesPerSend: 500, timeoutMs: 2000, minBackoffMs: 30, maxBackoffMs: 500 },
    wal: { maxBytes: 64 * 1024 ** 2, segmentBytes: 4 * 1024 ** 2, fsync: 'always' as const },
  };
}

/** One series, sampled every second from before `fromMs` to after `toMs`, without a gap over 2.5 s. */
function assertNoGap(series: { values: [number, number][] }[], fromMs: number, toMs: number): void {
  assert.equal(series.length, 1, 'one series');
  const times = series[0]!.values.map(([t]) => t);
  assert.ok(times[0]! < fromMs, 'samples before the outage');
  assert.ok(times.at(-1)! > toMs, 'samples after the outage');
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! <= 2500, `gap of ${times[i]! - times[i - 1]!} ms at ${new Date(times[i - 1]!).toISOString()}`);
  const during = times.filter((t) => t > fromMs && t < toMs).length;
  assert.ok(during >= Math.floor((toMs - fromMs) / 1000) - 1, `${during} samples during the ${toMs - fromMs} ms outage`);
}
