// The exposition checked by the real `promtool check metrics`, in text 0.0.4 and OpenMetrics 1.0,
// after a representative mix pushed by the real OpenTelemetry SDK: every instrument kind, an
// exponential histogram, awkward label values and the units the naming rules translate.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporality, AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { parseSamples, samplesWith, valueWith } from '../../test-support/exposition.js';

const OPENMETRICS = 'application/openmetrics-text;version=1.0.0';
/** A label value with every character the exposition formats escape. */
const AWKWARD = 'say "hi"\\path\\to\nsecond line';
const AWKWARD_ESCAPED = 'say \\"hi\\"\\\\path\\\\to\\nsecond line';

/** Runs `promtool check metrics` on `exposition` (stdin); returns its exit code and output lines. */
function promtoolCheck(exposition: string): { code: number | null; lines: string[] } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 20_000 });
  if (run.error) throw run.error;
  const lines = `${run.stdout}\n${run.stderr}`.split('\n').filter((l) => l.trim() !== '');
  return { code: run.status, lines };
}

/**
 * Lint findings promtool may report, each for a reason that is not a defect:
 * - "<family> use base unit "seconds" instead of "milliseconds"" for `http_server_duration_milliseconds`:
 *   the OTel "Prometheus and OpenMetrics compatibility" spec keeps the unit the instrument was
 *   created with (`ms` → `_milliseconds`); rescaling values to seconds is not Vigil's call, and the
 *   Collector's Prometheus exporter emits the same name;
 *   its HDR summary `http_server_duration_milliseconds_percentiles` keeps the histogram's unit likewise.
 * Nothing of Vigil's own (vigil_*) is allowed: prom-client's `vigil_nodejs_active_*_total` gauges,
 * once allowed here, are dropped by daemon/self-metrics.ts.
 */
const ALLOWED_LINT = new Set([
  'http_server_duration_milliseconds use base unit "seconds" instead of "milliseconds"',
  'http_server_duration_milliseconds_percentiles use base unit "seconds" instead of "milliseconds"',
]);

/** Asserts that promtool found nothing, or only allowed lint (exit 3); a parse error (exit 1) always fails. */
function assertLintClean(result: { code: number | null; lines: string[] }, allowed: (line: string) => boolean): void {
  assert.deepEqual(result.lines.filter((l) => !allowed(l)), [], 'promtool reports nothing but allowed lint');
  if (result.lines.length === 0) assert.equal(result.code, 0);
  else assert.equal(result.code, 3, 'exit 3: lint only, no parse error');
}

describe('exposition accepted by promtool', () => {
  let daemon: TestDaemon;
  let text = '';
  let openMetrics = '';

  before(async () => {
    daemon = await startTestDaemon();
    const exporter = new OTLPMetricExporter({ url: `http://${daemon.grpcTarget}`, temporalityPreference: AggregationTemporality.CUMULATIVE });
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'promtool', 'service.namespace': 'e2e', 'service.instance.id': 'i-1', 'host.name': 'box "1"' }),
      readers: [reader],
      views: [{ instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize: 160 } } }],
    });
    const meter = provider.getMeter('promtool-e2e', '0.1.0');
    const requests = meter.createCounter('http.server.requests', { unit: '{request}', description: 'Requests served, with "quotes" and a \\ backslash.' });
    requests.add(3, { path: AWKWARD });
    requests.add(1, { path: '/plain' });
    const depth = meter.createUpDownCounter('queue.depth', { unit: '{item}', description: 'Items waiting.' });
    depth.add(7);
    depth.add(-3);
    meter.createGauge('cpu.utilization', { unit: '1', description: 'CPU busy share.' }).record(0.5, { cpu: '0' });
    const duration = meter.createHistogram('http.server.duration', { unit: 'ms', description: 'Request time.', advice: { explicitBucketBoundaries: [5, 50, 500] } });
    for (const v of [1, 20, 200, 2000]) duration.record(v, { path: AWKWARD });
    const sizes = meter.createHistogram('payload.size', { unit: 'By', description: 'Payload sizes.' });
    for (const v of [0, 1, 3, 100, 4096]) sizes.record(v);
    await provider.forceFlush();
    await provider.shutdown();

    text = await scrape(daemon.metricsBase);
    openMetrics = await scrape(daemon.metricsBase, OPENMETRICS);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('has every pushed family, with OTel-spec names', () => {
    const samples = parseSamples(text);
    for (const name of ['http_server_requests_total', 'queue_depth', 'cpu_utilization_ratio', 'http_server_duration_milliseconds_bucket', 'payload_size_bytes_bucket', 'target_info']) {
      assert.ok(samples.some((s) => s.name === name), `${name} is exposed`);
    }
  });

  it('regression: promtool finds nothing at all in the self-metrics (vigil_nodejs_active_*_total were gauges)', () => {
    // Only the vigil_* families: no lint is allowed there, in either format.
    const own = (exposition: string): string => {
      const lines = exposition.split('\n');
      return `${lines.filter((l) => /^(?:# (?:HELP|TYPE) )?vigil_/.test(l)).join('\n')}\n`;
    };
    const result = promtoolCheck(own(text));
    assert.deepEqual(result.lines, []);
    assert.equal(result.code, 0);
    assert.doesNotMatch(text, /^# TYPE vigil_nodejs_active_\w+_total gauge$/m);
    assert.match(text, /^# TYPE vigil_nodejs_active_handles gauge$/m, 'the per-type gauges stay');
  });

  it('passes promtool check metrics in text 0.0.4', () => {
    assertLintClean(promtoolCheck(text), (line) => ALLOWED_LINT.has(line));
  });

  it('passes promtool check metrics in OpenMetrics, apart from what its 0.0.4 parser cannot read', () => {
    assert.ok(openMetrics.endsWith('# EOF\n'), 'ends with # EOF');
    // promtool 2.42's `check metrics` parses with the text 0.0.4 parser (expfmt.TextParser), which
    // stops at two things OpenMetrics 1.0 defines: the `info` type (`# TYPE target info`) and `\"`
    // in HELP text (OpenMetrics escapes quotes there, 0.0.4 does not). Both are taken out of what it
    // sees; the next test runs the real OpenMetrics parser on the unaltered body. And since an
    // OpenMetrics counter family is named without `_total` but its samples with it, the 0.0.4 parser
    // takes `<family>_total` for another family without HELP: "<family>_total no help text" is
    // allowed for declared counters that do have a HELP line.
    const infoFamilies = new Set([...openMetrics.matchAll(/^# TYPE (\S+) info$/gm)].map((m) => m[1]!));
    assert.deepEqual([...infoFamilies], ['target'], 'target_info is the only info family');
    const for004 = openMetrics
      .split('\n')
      .filter((line) => {
        const family = /^# (?:HELP|TYPE|UNIT) (\S+)/.exec(line)?.[1] ?? /^(\S+)_info[{ ]/.exec(line)?.[1];
        return family === undefined || !infoFamilies.has(family);
      })
      .map((line) => (line.startsWith('# HELP ') ? line.replaceAll('\\"', '"') : line))
      .join('\n');
    const counters = new Set([...openMetrics.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => m[1]!));
    const helped = new Set([...openMetrics.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]!));
    assertLintClean(promtoolCheck(for004), (line) => {
      if (ALLOWED_LINT.has(line)) return true;
      const family = /^(\S+)_total no help text$/.exec(line)?.[1];
      return family !== undefined && counters.has(family) && helped.has(family);
    });
  });

  it('is read by the OpenMetrics parser of promtool (tsdb create-blocks-from openmetrics)', () => {
    // The one promtool command that parses OpenMetrics for real (info, UNIT suffix rule, escapes,
    // # EOF). Backfilling needs a timestamp on every sample; that is the only change made.
    const stamped = openMetrics
      .split('\n')
      .map((line) => (line === '' || line.startsWith('#') ? line : `${line} 1700000000`))
      .join('\n');
    const dir = mkdtempSync(join(tmpdir(), 'vigil-promtool-'));
    try {
      const input = join(dir, 'exposition.om');
      writeFileSync(input, stamped);
      const run = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', input, join(dir, 'blocks')], { encoding: 'utf8', timeout: 30_000 });
      if (run.error) throw run.error;
      assert.equal(run.status, 0, `promtool: ${run.stdout}${run.stderr}`);
      const samples = parseSamples(openMetrics).length;
      assert.match(run.stdout, new RegExp(`\\s${samples}\\s+\\d+\\s+${samples}\\s`), `all ${samples} samples became series: ${run.stdout}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has the same samples in both formats', () => {
    const key = (s: { name: string; labels: Record<string, string>; value: number }): string =>
      `${s.name}${JSON.stringify(Object.entries(s.labels).sort())} ${s.value}`;
    // Self-metrics move between the two scrapes; compare the pushed series only.
    const pushed = (exposition: string): string[] => parseSamples(exposition).filter((s) => !s.name.startsWith('vigil_')).map(key).sort();
    assert.deepEqual(pushed(openMetrics), pushed(text));
  });

  it('escapes quotes, backslashes and newlines in label values, and reads them back', () => {
    for (const [format, exposition] of [['text', text], ['openmetrics', openMetrics]] as const) {
      const line = samplesWith(exposition, 'http_server_requests_total', { path: AWKWARD })[0]?.line;
      assert.ok(line !== undefined, `${format}: the awkward series is exposed and its label value reads back unchanged`);
      assert.ok(line.includes(`path="${AWKWARD_ESCAPED}"`), `${format}: escaped as \\" \\\\ \\n: ${line}`);
      assert.ok(!line.includes('\n'), `${format}: one line`);
      assert.equal(valueWith(exposition, 'http_server_requests_total', { path: AWKWARD }), 3);
      assert.equal(valueWith(exposition, 'http_server_duration_milliseconds_count', { path: AWKWARD }), 4);
    }
    // HELP text: text 0.0.4 escapes only backslash and newline; OpenMetrics also the quote.
    assert.match(text, /^# HELP http_server_requests_total Requests served, with "quotes" and a \\\\ backslash\.$/m);
    assert.match(openMetrics, /^# HELP http_server_requests Requests served, with \\"quotes\\" and a \\\\ backslash\.$/m);
  });

  it('translates the units ms, By, 1 and {request}', () => {
    assert.match(openMetrics, /^# UNIT http_server_duration_milliseconds milliseconds$/m);
    assert.match(openMetrics, /^# UNIT payload_size_bytes bytes$/m);
    assert.match(openMetrics, /^# UNIT cpu_utilization_ratio ratio$/m);
    assert.doesNotMatch(openMetrics, /^# UNIT http_server_requests/m, 'an annotation unit has no UNIT line');
    assert.equal(valueWith(text, 'cpu_utilization_ratio', { cpu: '0' }), 0.5);
    assert.equal(valueWith(text, 'queue_depth'), 4);
    assert.equal(valueWith(text, 'payload_size_bytes_count'), 5);
    assert.equal(valueWith(text, 'payload_size_bytes_sum'), 4200);
  });
});
