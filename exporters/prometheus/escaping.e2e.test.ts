// Hostile names, attribute keys and values through every way in (the real OTel SDK exporters over
// gRPC and OTLP/HTTP JSON, and raw protobuf with bytes no SDK would send), checked in both
// exposition formats by exact lines, by promtool, and by a real Prometheus reading them back.
// Decisions tested here (docs/errors.md, "Names, labels and hostile text"): invalid UTF-8 in a
// protobuf string becomes U+FFFD; an attribute named like a label the renderer adds (`le` on a
// histogram, `quantile`, `window`) becomes `exported_<name>`; an empty key or value is dropped.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as HttpExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { parseSamples } from '../../test-support/exposition.js';
import { rawExport } from '../../test-support/grpc-client.js';
import { attributes, decodePartialSuccess, encodeMetricsRequest } from '../../test-support/otlp-proto.js';
import { HAVE_PROMETHEUS, startPrometheus } from '../../test-support/prometheus.js';
import type { TestPrometheus } from '../../test-support/prometheus.js';
import { pollUntil } from '../../test-support/wait.js';

const OPENMETRICS = 'application/openmetrics-text;version=1.0.0';
const TEXT = 'text/plain;version=0.0.4';
const HAVE_PROMTOOL = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error === undefined;

/** Every character either format gives a meaning to, in one value. */
const HOSTILE = 'a"b\\c\nd}{e=f,g# h';
const HOSTILE_ESCAPED = 'a\\"b\\\\c\\nd}{e=f,g# h';
const LONG = `${'x'.repeat(20_000)}"${'y'.repeat(20_000)}`;
const LONG_ESCAPED = `${'x'.repeat(20_000)}\\"${'y'.repeat(20_000)}`;

/** The attributes every SDK-sent counter carries. */
const SDK_ATTRIBUTES = { path: HOSTILE, '# comment key': '# not a comment', 'k"}{=,\\': 'v', long: LONG };
/** How those come out, label names sorted (job and otel_scope_name added). */
function sdkLabels(service: string): string {
  return `{_comment_key="# not a comment",job="${service}",k_="v",long="${LONG_ESCAPED}",otel_scope_name="escaping",path="${HOSTILE_ESCAPED}"}`;
}

/** Raw protobuf: a hostile metric name, description and unit, invalid UTF-8, empty key, reserved labels. */
function rawRequest(): Buffer {
  const nowNs = Date.now() * 1e6;
  const request = encodeMetricsRequest({
    resource_metrics: [
      {
        resource: { attributes: attributes({ 'service.name': 'raw"\\\n}' }) },
        scope_metrics: [
          {
            scope: { name: 'escaping' },
            metrics: [
              {
                name: 'evil{a="1"}\n# EOF',
                description: 'help "quoted" \\ back\nnext # line',
                unit: '{req"}',
                sum: {
                  aggregation_temporality: 2,
                  is_monotonic: true,
                  data_points: [{ attributes: attributes({ bad: 'UTF8-AAAA', '': 'empty key', empty: '', __name__: 'n' }), start_time_unix_nano: nowNs - 1e9, time_unix_nano: nowNs, as_int: 5 }],
                },
              },
              {
                name: '9 lives',
                histogram: {
                  aggregation_temporality: 2,
                  data_points: [{ attributes: attributes({ le: 'x"}', quantile: '0.5', window: '1y' }), start_time_unix_nano: nowNs - 1e9, time_unix_nano: nowNs, count: 2, sum: 3, bucket_counts: [1, 1], explicit_bounds: [1] }],
                },
              },
              { name: '{}', gauge: { data_points: [{ attributes: attributes({ a: '1' }), time_unix_nano: nowNs, as_double: 1.5 }] } },
            ],
          },
        ],
      },
    ],
  });
  // Invalid UTF-8 no encoder would produce: a lone continuation byte, 0xFF, and a truncated sequence.
  const at = request.indexOf(Buffer.from('AAAA'));
  Buffer.from([0x80, 0xff, 0xc3, 0x28]).copy(request, at);
  return request;
}

/** The raw request's series: the exact lines in text 0.0.4, and in OpenMetrics where they differ. */
const RAW_TEXT_LINES = [
  '# HELP evil_a_1_EOF_total help "quoted" \\\\ back\\nnext # line',
  '# TYPE evil_a_1_EOF_total counter',
  'evil_a_1_EOF_total{_name_="n",bad="UTF8-\uFFFD\uFFFD\uFFFD(",job="raw\\"\\\\\\n}",otel_scope_name="escaping"} 5',
  '# TYPE _9_lives histogram',
  '_9_lives_bucket{exported_le="x\\"}",exported_quantile="0.5",exported_window="1y",job="raw\\"\\\\\\n}",otel_scope_name="escaping",le="1"} 1',
  '_9_lives_count{exported_le="x\\"}",exported_quantile="0.5",exported_window="1y",job="raw\\"\\\\\\n}",otel_scope_name="escaping"} 2',
  '_9_lives_percentiles{exported_le="x\\"}",exported_quantile="0.5",exported_window="1y",job="raw\\"\\\\\\n}",otel_scope_name="escaping",quantile="0.5",window="1m"} 1.00051625',
  '# TYPE _ gauge',
  '_{a="1",job="raw\\"\\\\\\n}",otel_scope_name="escaping"} 1.5',
];
const RAW_OPENMETRICS_LINES = [
  '# HELP evil_a_1_EOF help \\"quoted\\" \\\\ back\\nnext # line',
  '# TYPE evil_a_1_EOF counter',
  ...RAW_TEXT_LINES.filter((l) => !l.startsWith('# HELP evil') && !l.startsWith('# TYPE evil')),
];

async function pushThroughSdk(name: string, exporter: PushMetricExporter): Promise<void> {
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': name }),
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })],
  });
  provider.getMeter('escaping').createCounter(`escaping.${name}`).add(3, SDK_ATTRIBUTES);
  await provider.forceFlush();
  await provider.shutdown();
}

describe('hostile names and label values, through every way in, in both formats', () => {
  let d: TestDaemon;
  let text: string;
  let openMetrics: string;
  before(async () => {
    d = await startTestDaemon();
    await pushThroughSdk('grpc', new GrpcExporter({ url: `http://${d.grpcTarget}`, temporalityPreference: AggregationTemporality.CUMULATIVE }));
    await pushThroughSdk('http_json', new HttpExporter({ url: `${d.otlpHttpBase}/v1/metrics`, temporalityPreference: AggregationTemporality.CUMULATIVE }));
    const answer = await rawExport(d.grpcTarget, rawRequest());
    assert.equal(answer.code, 0, answer.details);
    assert.deepEqual(decodePartialSuccess(answer.response), { rejected: 0, message: '' });
    text = await scrape(d.metricsBase, TEXT);
    openMetrics = await scrape(d.metricsBase, OPENMETRICS);
  });
  after(async () => {
    await d.stop();
  });

  it('renders the SDK-sent series with every special character escaped, one line each', () => {
    for (const [format, exposition] of [['text', text], ['openmetrics', openMetrics]] as const) {
      const lines = exposition.split('\n');
      for (const name of ['grpc', 'http_json']) {
        assert.ok(lines.includes(`escaping_${name}_total${sdkLabels(name)} 3`), `${format}: escaping_${name}_total`);
      }
      // Nothing pushed starts a line with '#' other than HELP/TYPE/UNIT/EOF comments.
      assert.deepEqual(lines.filter((l) => l.startsWith('#') && !/^# (HELP|TYPE|UNIT|EOF)/.test(l)), [], format);
    }
  });

  it('renders the raw series: sanitised names, escaped HELP, U+FFFD for invalid UTF-8, reserved labels renamed, empty key dropped', () => {
    const textLines = text.split('\n');
    for (const line of RAW_TEXT_LINES) assert.ok(textLines.includes(line), `text: ${line}`);
    const omLines = openMetrics.split('\n');
    for (const line of RAW_OPENMETRICS_LINES) assert.ok(omLines.includes(line), `openmetrics: ${line}`);
    assert.ok(omLines.includes('evil_a_1_EOF_total{_name_="n",bad="UTF8-\uFFFD\uFFFD\uFFFD(",job="raw\\"\\\\\\n}",otel_scope_name="escaping"} 5'));
    assert.ok(!text.includes('empty key'), 'the attribute with an empty key is dropped');
    // Every sample line reads back (the parser throws on a line it cannot read).
    const samples = parseSamples(openMetrics).filter((s) => !s.name.startsWith('vigil_'));
    assert.deepEqual(samples.map((s) => s.name).filter((n) => !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(n)), []);
    for (const s of samples) for (const key of Object.keys(s.labels)) assert.match(key, /^[a-zA-Z_][a-zA-Z0-9_]*$/);
  });

  it('refuses an OTLP/JSON body that is not UTF-8 (it is not JSON) with 400 naming the problem', async () => {
    const body = Buffer.concat([Buffer.from('{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":{"stringValue":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}]}}]}')]);
    const res = await fetch(`${d.otlpHttpBase}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: new Uint8Array(body) });
    assert.equal(res.status, 400);
    const answer = (await res.json()) as { code: number; message: string };
    assert.equal(answer.code, 3, 'INVALID_ARGUMENT');
    assert.match(answer.message, /UTF-8/);
  });

  it('passes promtool check metrics (text 0.0.4) and its OpenMetrics parser', { skip: HAVE_PROMTOOL ? false : 'promtool is not on PATH' }, () => {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
    // Lint findings about names (no HELP on a family the sender gave no description) are not
    // parse errors; a parse error has exit code 1 and says "error while linting".
    assert.ok(check.status === 0 || check.status === 3, `promtool check metrics exit ${check.status}: ${check.stdout}${check.stderr}`);
    assert.doesNotMatch(`${check.stdout}${check.stderr}`, /error while linting|parsing error/);
    const lint = `${check.stdout}${check.stderr}`.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('vigil_'));
    assert.deepEqual(lint.filter((l) => !/^\S+ no help text$/.test(l)), [], 'only "no help text" for families sent without a description');
    // The OpenMetrics parser: backfilling reads the unaltered body, with a timestamp on each sample.
    const dir = mkdtempSync(join(tmpdir(), 'vigil-escaping-'));
    try {
      const stamped = openMetrics.split('\n').map((l) => (l === '' || l.startsWith('#') ? l : `${l} 1700000000`)).join('\n');
      writeFileSync(join(dir, 'in.om'), stamped);
      const run = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'in.om'), join(dir, 'blocks')], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 0, `promtool tsdb create-blocks-from openmetrics: ${run.stdout}${run.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('scraped by a real Prometheus', { skip: HAVE_PROMETHEUS ? false : 'prometheus is not on PATH' }, () => {
    let prometheus: TestPrometheus;
    before(async () => {
      const { host, port } = d.daemon.addresses.prometheus;
      prometheus = await startPrometheus(`${host}:${port}`);
    });
    after(async () => {
      await prometheus?.stop();
    });

    async function query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
      return pollUntil(`Prometheus to have ${promql}`, 20_000, async () => {
        const res = await fetch(`${prometheus.base}/api/v1/query?query=${encodeURIComponent(promql)}`);
        const body = (await res.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
        return body.data.result.length > 0 ? body.data.result : undefined;
      });
    }

    it('reads every label value back exactly as sent (U+FFFD for the invalid bytes)', { timeout: 60_000 }, async () => {
      for (const name of ['grpc', 'http_json']) {
        const [series] = await query(`escaping_${name}_total`);
        assert.deepEqual(series!.metric, { __name__: `escaping_${name}_total`, _comment_key: '# not a comment', job: name, k_: 'v', long: LONG, otel_scope_name: 'escaping', path: HOSTILE, instance: series!.metric['instance']! });
        assert.equal(series!.value[1], '3');
      }
      const [evil] = await query('evil_a_1_EOF_total');
      assert.equal(evil!.metric['bad'], 'UTF8-\uFFFD\uFFFD\uFFFD(');
      assert.equal(evil!.metric['job'], 'raw"\\\n}');
      assert.equal(evil!.value[1], '5');
      const buckets = await query('_9_lives_bucket');
      assert.deepEqual(buckets.map((s) => s.metric['le']).sort(), ['+Inf', '1']);
      assert.ok(buckets.every((s) => s.metric['exported_le'] === 'x"}' && s.metric['exported_window'] === '1y'));
      const up = await query('up');
      assert.equal(up[0]!.value[1], '1', 'the scrape succeeded');
    });
  });
});
