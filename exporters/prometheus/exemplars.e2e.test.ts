// Span exemplars against the real tools: `promtool check metrics` accepts the span families in text
// 0.0.4 and OpenMetrics 1.0, and a real Prometheus with `--enable-feature=exemplar-storage` scrapes
// the OpenMetrics exemplars and returns them from /api/v1/query_exemplars with the pushed trace ids.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { pollUntil } from '../../test-support/wait.js';
import { HAVE_PROMETHEUS, startPrometheus } from '../../test-support/prometheus.js';
import type { TestPrometheus } from '../../test-support/prometheus.js';

const HAVE_PROMTOOL = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error === undefined;

/** prom-client's default process gauges end in _total (see promtool.e2e.test.ts); nothing else may be reported. */
const ALLOWED_LINT = new Set(['handles', 'requests', 'resources'].map((r) => `vigil_nodejs_active_${r}_total non-counter metrics should not have "_total" suffix`));

/** Pushes `n` server spans (every 4th an error) and returns their hex trace ids. */
async function pushSpans(daemon: TestDaemon, n: number): Promise<Set<string>> {
  const exporter = new OTLPTraceExporter({ url: `http://${daemon.grpcTarget}` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'exemplars', 'service.instance.id': 'pod-9' }),
    spanProcessors: [new BatchSpanProcessor({ exporter, maxQueueSize: n * 2 })],
  });
  const tracer = provider.getTracer('exemplars-e2e');
  const traceIds = new Set<string>();
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const durationMs = 1 + ((i * 37) % 3000);
    const span = tracer.startSpan('GET /item', { kind: SpanKind.SERVER, startTime: now - durationMs - 10 });
    if (i % 4 === 0) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end(now - 10);
    traceIds.add(span.spanContext().traceId);
  }
  await provider.forceFlush();
  await provider.shutdown();
  return traceIds;
}

describe('span exemplars', () => {
  let daemon: TestDaemon;
  let traceIds: Set<string>;

  before(async () => {
    daemon = await startTestDaemon();
    traceIds = await pushSpans(daemon, 200);
  });
  after(async () => {
    await daemon?.stop();
  });

  // promtool 2.42 lints with the text-format parser only (no OpenMetrics exemplar syntax, and
  // OpenMetrics counters' HELP names the family without _total): the text format is linted here;
  // the OpenMetrics exposition with exemplars is parsed by the real Prometheus scrape below.
  it('pass promtool check metrics', { skip: HAVE_PROMTOOL ? false : 'promtool is not on PATH' }, async () => {
    for (const accept of ['text/plain;version=0.0.4']) {
      const exposition = await scrape(daemon.metricsBase, accept);
      assert.match(exposition, /^traces_span_metrics_calls_total\{/m);
      const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 20_000 });
      const lines = `${run.stdout}\n${run.stderr}`.split('\n').filter((l) => l.trim() !== '');
      assert.deepEqual(lines.filter((l) => !ALLOWED_LINT.has(l.trim())), [], `${accept}: promtool reports nothing but allowed lint`);
      assert.ok(run.status === 0 || run.status === 3, `${accept}: no parse error (exit ${run.status})`);
    }
  });

  describe('scraped by Prometheus with exemplar storage', { skip: HAVE_PROMETHEUS ? false : 'prometheus is not on PATH' }, () => {
    let prometheus: TestPrometheus | undefined;
    let promBase = '';

    before(async () => {
      prometheus = await startPrometheus(daemon.metricsBase.replace('http://', ''), ['--enable-feature=exemplar-storage']);
      promBase = prometheus.base;
    });

    after(async () => {
      await prometheus?.stop();
    });

    it('stores the bucket and counter exemplars with the pushed trace ids', { timeout: 60_000 }, async () => {
      interface ExemplarSeries { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string>; value: string; timestamp: number }[] }
      const queryExemplars = async (query: string): Promise<ExemplarSeries[]> => {
        const end = Date.now() / 1000 + 60;
        const res = await fetch(`${promBase}/api/v1/query_exemplars?query=${encodeURIComponent(query)}&start=${end - 3600}&end=${end}`);
        const body = (await res.json()) as { status: string; error?: string; data: ExemplarSeries[] };
        if (body.status !== 'success') throw new Error(`query_exemplars ${query}: ${body.error}`);
        return body.data;
      };
      const buckets = await pollUntil('bucket exemplars in Prometheus', 30_000, async () => {
        const data = await queryExemplars('traces_span_metrics_duration_seconds_bucket{service_name="exemplars"}');
        return data.length > 0 ? data : undefined;
      });
      let seen = 0;
      for (const series of buckets) {
        const le = series.seriesLabels['le'] === '+Inf' ? Infinity : Number(series.seriesLabels['le']);
        for (const exemplar of series.exemplars) {
          seen++;
          assert.ok(traceIds.has(exemplar.labels['trace_id']!), `exemplar trace_id ${exemplar.labels['trace_id']} was pushed`);
          assert.match(exemplar.labels['span_id']!, /^[0-9a-f]{16}$/);
          assert.ok(Number(exemplar.value) <= le, 'exemplar value within its bucket');
        }
      }
      assert.ok(seen >= 5, `bucket exemplars stored: ${seen}`);
      const calls = await pollUntil('counter exemplars in Prometheus', 10_000, async () => {
        const data = await queryExemplars('traces_span_metrics_calls_total{service_name="exemplars"}');
        return data.length === 2 ? data : undefined;
      });
      for (const series of calls) assert.ok(traceIds.has(series.exemplars[0]!.labels['trace_id']!));
      const targets = (await (await fetch(`${promBase}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string; lastError: string }[] } };
      assert.deepEqual(targets.data.activeTargets.map((t) => [t.health, t.lastError]), [['up', '']], 'the OpenMetrics scrape with exemplars parses cleanly');
      // Out-of-order or invalid exemplars would be counted here; there must be none.
      const res = await fetch(`${promBase}/api/v1/query?query=${encodeURIComponent('prometheus_tsdb_exemplar_out_of_order_exemplars_total')}`);
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      assert.equal(body.data.result[0]?.value[1] ?? '0', '0');
    });
  });
});
