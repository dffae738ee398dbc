// A real Prometheus server scrapes the daemon: values pushed with the OpenTelemetry SDK come out of
// PromQL with the pushed job/instance labels intact.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { pollUntil } from '../../test-support/wait.js';
import { HAVE_PROMETHEUS, startPrometheus } from '../../test-support/prometheus.js';
import type { TestPrometheus } from '../../test-support/prometheus.js';


interface QueryResult {
  metric: Record<string, string>;
  value: [number, string];
}

describe('scraped by a real Prometheus', { skip: HAVE_PROMETHEUS ? false : 'prometheus is not on PATH' }, () => {
  let daemon: TestDaemon;
  let prometheus: TestPrometheus | undefined;
  let promBase = '';

  async function query(promql: string): Promise<QueryResult[]> {
    const res = await fetch(`${promBase}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: QueryResult[] } };
    if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
    return body.data.result;
  }

  before(async () => {
    daemon = await startTestDaemon();
    prometheus = await startPrometheus(daemon.metricsBase.replace('http://', ''));
    promBase = prometheus.base;
  });

  after(async () => {
    await prometheus?.stop();
    await daemon?.stop();
  });

  it('sees the pushed counter with the pushed job and instance labels', { timeout: 60_000 }, async () => {
    const exporter = new OTLPMetricExporter({ url: `http://${daemon.grpcTarget}`, temporalityPreference: AggregationTemporality.CUMULATIVE });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.namespace': 'shop', 'service.instance.id': 'pod-7', 'deployment.environment': 'ci' }),
      readers: [reader],
    });
    provider.getMeter('scrape-e2e').createCounter('orders.placed', { description: 'Orders placed.' }).add(42, { region: 'eu' });
    await provider.forceFlush();
    await provider.shutdown();

    const up = await pollUntil('up{job="vigil"} == 1', 30_000, async () => {
      const result = await query('up{job="vigil"}');
      return result[0]?.value[1] === '1' ? result[0] : undefined;
    });
    assert.equal(up.metric['instance'], daemon.metricsBase.replace('http://', ''));

    const series = await pollUntil('orders_placed_total in Prometheus', 30_000, async () => {
      const result = await query('orders_placed_total');
      return result.length > 0 ? result : undefined;
    });
    assert.equal(series.length, 1, JSON.stringify(series));
    const [only] = series;
    assert.equal(only!.value[1], '42');
    assert.equal(only!.metric['job'], 'shop/checkout', 'the pushed job survives');
    assert.equal(only!.metric['instance'], 'pod-7', 'the pushed instance survives');
    assert.equal(only!.metric['region'], 'eu');
    assert.equal(only!.metric['exported_job'], undefined, 'no exported_job with honor_labels');

    // The resource's info series (an OpenMetrics `info` family: Prometheus negotiates OpenMetrics)
    // and the daemon's own series came through the same scrape.
    const targetInfo = await query('target_info{job="shop/checkout",instance="pod-7",deployment_environment="ci"}');
    assert.equal(targetInfo.length, 1, JSON.stringify(await query('{__name__=~"target.*"}')));
    const own = await query('vigil_points_accepted_total{job="vigil"}');
    assert.ok(Number(own[0]?.value[1]) >= 1, JSON.stringify(own));
    // Prometheus asked for OpenMetrics and got it (it is the only scraper here).
    // A scrape is observed after it is rendered, so it shows up from the next scrape on.
    const byFormat = await pollUntil('vigil_scrape_duration_seconds_count in Prometheus', 10_000, async () => {
      const result = await query('sum by (format) (vigil_scrape_duration_seconds_count{job="vigil",outcome="ok"})');
      return result.length > 0 ? result : undefined;
    });
    assert.deepEqual(byFormat.map((r) => r.metric['format']), ['openmetrics'], JSON.stringify(byFormat));

    // Prometheus scraped without trouble: no scrape error on the target.
    const targets = (await (await fetch(`${promBase}/api/v1/targets`)).json()) as {
      data: { activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] };
    };
    const target = targets.data.activeTargets.find((t) => t.labels['job'] === 'vigil');
    assert.equal(target?.health, 'up');
    assert.equal(target?.lastError, '');
  });
});
