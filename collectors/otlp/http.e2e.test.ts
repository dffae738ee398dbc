// OTLP/HTTP end to end: the real OTel SDK exporter (JSON) and the SDK's protobuf serializer push the
// same data to two daemons, whose /metrics must then be identical; then every kind of bad request
// gets the documented HTTP status, body and counters, and never disturbs the next good request.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ProtobufMetricsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { AggregationTemporality, AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { valueWith } from '../../test-support/exposition.js';
import { counterRequest, decodePartialSuccess, encodeMetricsRequest, otlpMetricsTypes } from '../../test-support/otlp-proto.js';
import { pseudoRandomBytes, unknownBytesField } from '../../test-support/bytes.js';

const RESOURCE = { 'service.name': 'checkout', 'service.namespace': 'shop', 'service.instance.id': 'pod-1', 'host.cpus': 4 };

/** The OTLP/HTTP protobuf exporter, as @opentelemetry/exporter-metrics-otlp-proto builds it: the SDK's serializer, POSTed. */
class ProtobufHttpMetricExporter implements PushMetricExporter {
  constructor(readonly url: string) {}
  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    const body = Buffer.from(ProtobufMetricsSerializer.serializeRequest(metrics)!);
    fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body }).then(
      (res) => done({ code: res.status === 200 ? ExportResultCode.SUCCESS : ExportResultCode.FAILED, error: res.status === 200 ? undefined : new Error(String(res.status)) } as ExportResult),
      (error: Error) => done({ code: ExportResultCode.FAILED, error }),
    );
  }
  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.CUMULATIVE;
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** The same for spans. */
class ProtobufHttpTraceExporter implements SpanExporter {
  constructor(readonly url: string) {}
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
    fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body }).then(
      (res) => done({ code: res.status === 200 ? ExportResultCode.SUCCESS : ExportResultCode.FAILED } as ExportResult),
      (error: Error) => done({ code: ExportResultCode.FAILED, error }),
    );
  }
  async shutdown(): Promise<void> {}
}

/** The exposition without Vigil's own vigil_* families (which count requests and so differ). */
function userFamilies(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^(# (HELP|TYPE|UNIT) )?vigil_/.test(line))
    .join('\n');
}

describe('OTLP/HTTP: protobuf and JSON bodies give identical results', () => {
  let viaProtobuf: TestDaemon;
  let viaJson: TestDaemon;
  before(async () => {
    [viaProtobuf, viaJson] = await Promise.all([startTestDaemon(), startTestDaemon()]);
  });
  after(async () => {
    await Promise.all([viaProtobuf?.stop(), viaJson?.stop()]);
  });

  it('metrics: the SDK JSON exporter (gzip) and the protobuf serializer give the same /metrics', { timeout: 30_000 }, async () => {
    const json = new OTLPMetricExporter({ url: `${viaJson.otlpHttpBase}/v1/metrics`, compression: 'gzip' as never, temporalityPreference: AggregationTemporality.CUMULATIVE });
    const provider = new MeterProvider({
      resource: resourceFromAttributes(RESOURCE),
      readers: [
        new PeriodicExportingMetricReader({ exporter: json, exportIntervalMillis: 3_600_000 }),
        new PeriodicExportingMetricReader({ exporter: new ProtobufHttpMetricExporter(`${viaProtobuf.otlpHttpBase}/v1/metrics`), exportIntervalMillis: 3_600_000 }),
      ],
      views: [{ instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize: 160 } } }],
    });
    const meter = provider.getMeter('e2e', '1.2.3');
    const requests = meter.createCounter('http.server.requests', { unit: '{request}', description: 'Requests "served".\nTwo lines.' });
    requests.add(3, { 'http.method': 'GET', 'http.status_code': 200, cached: true });
    requests.add(2, { 'http.method': 'POST', 'http.status_code': 500, cached: false });
    meter.createUpDownCounter('queue.depth', { unit: '{item}' }).add(-7);
    meter.createGauge('cpu.utilization', { unit: '1' }).record(0.125, { core: 3 });
    meter.createCounter('bytes.total', { unit: 'By' }).add(2 ** 40 + 0.5);
    const duration = meter.createHistogram('http.server.duration', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } });
    for (const v of [5, 50, 500, 5000]) duration.record(v, { route: '/pay' });
    const sizes = meter.createHistogram('payload.size', { unit: 'By' });
    for (const v of [0, 1, 2, 3, 4, 1000, 123456]) sizes.record(v);
    await provider.forceFlush();
    await provider.shutdown();

    const [fromProtobuf, fromJson] = await Promise.all([scrape(viaProtobuf.metricsBase), scrape(viaJson.metricsBase)]);
    assert.equal(valueWith(fromJson, 'http_server_requests_total', { http_method: 'GET', http_status_code: '200', cached: 'true' }), 3);
    assert.equal(valueWith(fromJson, 'queue_depth'), -7);
    assert.equal(valueWith(fromJson, 'http_server_duration_milliseconds_count', { route: '/pay' }), 4);
    assert.equal(valueWith(fromJson, 'payload_size_bytes_count'), 7);
    assert.equal(valueWith(fromJson, 'target_info', { host_cpus: '4' }), 1);
    assert.equal(userFamilies(fromJson), userFamilies(fromProtobuf));
    for (const [daemon, text] of [[viaJson, fromJson], [viaProtobuf, fromProtobuf]] as const) {
      assert.ok(valueWith(text, 'vigil_otlp_requests_total', { signal: 'metrics', transport: 'http', code: '200' })! >= 1, `${daemon.otlpHttpBase} counted its 200s`);
    }
  });

  it('traces: the SDK JSON exporter and the protobuf serializer give the same /metrics', { timeout: 30_000 }, async (t) => {
    const probe = await fetch(`${viaJson.otlpHttpBase}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await probe.arrayBuffer();
    if (probe.status === 404) {
      // Until the span pipeline lands, /v1/traces answers 404 (UNIMPLEMENTED); JSON trace bodies are covered by json-to-proto.test.ts.
      t.skip('traces are not received yet');
      return;
    }
    assert.equal(probe.status, 200);
    const provider = new TracerProvider({
      resource: resourceFromAttributes(RESOURCE),
      spanProcessors: [
        new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${viaJson.otlpHttpBase}/v1/traces` }) }),
        new BatchSpanProcessor({ exporter: new ProtobufHttpTraceExporter(`${viaProtobuf.otlpHttpBase}/v1/traces`) }),
      ],
    });
    const tracer = provider.getTracer('e2e');
    for (let i = 0; i < 20; i++) {
      const span = tracer.startSpan(i % 2 === 0 ? 'GET /a' : 'POST /b', { kind: SpanKind.SERVER, startTime: [1_700_000_000, 0] });
      if (i % 5 === 0) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end([1_700_000_000, (i + 1) * 1_000_000]);
    }
    await provider.forceFlush();
    await provider.shutdown();
    const [fromProtobuf, fromJson] = await Promise.all([scrape(viaProtobuf.metricsBase), scrape(viaJson.metricsBase)]);
    assert.match(fromJson, /^traces_span_metrics_calls_total\{/m);
    assert.equal(userFamilies(fromJson), userFamilies(fromProtobuf));
  });
});

// google.rpc.Status and RetryInfo, to read error bodies.
const RPC = protobuf.parse(`
syntax = "proto3";
message Any { string type_url = 1; bytes value = 2; }
message Duration { int64 seconds = 1; int32 nanos = 2; }
message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
`, { keepCase: true }).root;
const STATUS = RPC.lookupType('Status');

interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
  /** The google.rpc.Status message of an error answer, whichever encoding it came in. */
  message: string;
  details: string[];
}

async function post(base: string, body: Uint8Array | string, headers: Record<string, string>, path = '/v1/metrics', method = 'POST'): Promise<Answer> {
  const payload = typeof body === 'string' ? body : Buffer.from(body);
  const res = await fetch(`${base}${path}`, { method, headers, ...(method === 'GET' ? {} : { body: payload }) });
  const bytes = Buffer.from(await res.arrayBuffer());
  let message = '';
  let details: string[] = [];
  if (res.status !== 200) {
    if (res.headers.get('content-type') === 'application/json') {
      const status = JSON.parse(bytes.toString()) as { message: string; details?: { '@type': string }[] };
      message = status.message;
      details = (status.details ?? []).map((d) => d['@type']);
    } else {
      const status = STATUS.toObject(STATUS.decode(bytes), { defaults: true }) as { message: string; details: { type_url: string }[] };
      message = status.message;
      details = status.details.map((d) => d.type_url);
    }
  }
  return { status: res.status, headers: res.headers, body: bytes, message, details };
}

const PROTOBUF = { 'content-type': 'application/x-protobuf' };
const JSON_TYPE = { 'content-type': 'application/json' };
const MAX_MESSAGE_BYTES = 64 * 1024;
// Below the size limit on purpose (startTestDaemon skips validation), so one request can exceed it.
const MAX_INFLIGHT_BYTES = 8 * 1024;
const HTTP = { signal: 'metrics', transport: 'http' };

describe('OTLP/HTTP bad input', () => {
  let daemon: TestDaemon;
  let goodSent = 0;
  before(async () => {
    daemon = await startTestDaemon((config) => {
      config.otlp.http.maxMessageBytes = MAX_MESSAGE_BYTES;
      config.otlp.maxInflightBytes = MAX_INFLIGHT_BYTES;
    });
  });
  after(async () => {
    await daemon?.stop();
  });

  async function assertStillHealthy(context: string): Promise<void> {
    const answer = await post(daemon.otlpHttpBase, counterRequest({ name: 'good.requests', value: 1, attributes: { stream: 'probe' } }), PROTOBUF);
    assert.equal(answer.status, 200, `good request after ${context}: ${answer.message}`);
    assert.equal(answer.headers.get('content-type'), 'application/x-protobuf');
    assert.equal(answer.body.length, 0, 'a full success is an empty ExportMetricsServiceResponse');
    goodSent++;
    assert.equal(valueWith(await scrape(daemon.metricsBase), 'good_requests_total', { stream: 'probe' }), goodSent, `good point after ${context}`);
  }

  async function counters(): Promise<(name: string, labels: Record<string, string>) => number> {
    const text = await scrape(daemon.metricsBase);
    return (name, labels) => valueWith(text, name, labels) ?? 0;
  }

  /** Sends each request, checks its answer, checks a good one still works, and that the counters moved by one per request. */
  async function refuseEach(
    what: string,
    requests: { body: Uint8Array | string; headers: Record<string, string>; path?: string; method?: string }[],
    expected: { status: number; reason?: string; retryAfter?: boolean; message: RegExp },
  ): Promise<Answer[]> {
    const before = await counters();
    const answers: Answer[] = [];
    for (const [i, r] of requests.entries()) {
      const answer = await post(daemon.otlpHttpBase, r.body, r.headers, r.path, r.method);
      assert.equal(answer.status, expected.status, `${what} #${i}: ${answer.message}`);
      assert.match(answer.message, expected.message, `${what} #${i}: the body is a google.rpc.Status naming the problem`);
      const jsonRequest = r.headers['content-type'] === 'application/json';
      assert.equal(answer.headers.get('content-type'), jsonRequest ? 'application/json' : 'application/x-protobuf', 'answered in the request encoding');
      if (expected.retryAfter === true) {
        assert.equal(answer.headers.get('retry-after'), '1');
        assert.deepEqual(answer.details, ['type.googleapis.com/google.rpc.RetryInfo']);
      } else {
        assert.equal(answer.headers.get('retry-after'), null, 'no Retry-After on a permanent error');
      }
      answers.push(answer);
      await assertStillHealthy(`${what} #${i}`);
    }
    const now = await counters();
    if (expected.reason !== undefined) {
      const labels = { ...HTTP, reason: expected.reason };
      assert.equal(now('vigil_otlp_requests_rejected_total', labels) - before('vigil_otlp_requests_rejected_total', labels), requests.length, `rejected_total{reason="${expected.reason}"}`);
    }
    const codeLabels = { ...HTTP, code: String(expected.status) };
    assert.equal(now('vigil_otlp_requests_total', codeLabels) - before('vigil_otlp_requests_total', codeLabels), requests.length, `requests_total{code="${expected.status}"}`);
    return answers;
  }

  it('accepts a good protobuf request, and a good JSON request with a JSON answer', { timeout: 15_000 }, async () => {
    await assertStillHealthy('start');
    const body = JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'json.gauge', gauge: { dataPoints: [{ asInt: '17', timeUnixNano: String(Date.now() * 1e6) }] } }] }] }] });
    const answer = await post(daemon.otlpHttpBase, body, { 'content-type': 'application/json; charset=utf-8' });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('content-type'), 'application/json');
    assert.equal(answer.body.toString(), '{}');
    assert.equal(valueWith(await scrape(daemon.metricsBase), 'json_gauge'), 17);
  });

  it('answers partial success in the request encoding', { timeout: 15_000 }, async () => {
    const metric = (name: string) => ({ name, histogram: { aggregationTemporality: 2, dataPoints: [{ count: '2', bucketCounts: ['1'], explicitBounds: [1, 2] }] } });
    const body = JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [metric('bad.histogram')] }] }] });
    const json = await post(daemon.otlpHttpBase, body, JSON_TYPE);
    assert.equal(json.status, 200);
    const partial = JSON.parse(json.body.toString()) as { partialSuccess: { rejectedDataPoints: string; errorMessage: string } };
    assert.equal(partial.partialSuccess.rejectedDataPoints, '1');
    assert.match(partial.partialSuccess.errorMessage, /invalid_histogram/);
    const snakeCase = { name: 'bad.histogram', histogram: { aggregation_temporality: 2, data_points: [{ count: 2, bucket_counts: [1], explicit_bounds: [1, 2] }] } };
    const proto = await post(daemon.otlpHttpBase, encodeMetricsRequest({ resource_metrics: [{ scope_metrics: [{ metrics: [snakeCase] }] }] }), PROTOBUF);
    assert.equal(proto.status, 200);
    assert.equal(decodePartialSuccess(proto.body).rejected, 1);
  });

  it('accepts a gzip-compressed body', { timeout: 15_000 }, async () => {
    const answer = await post(daemon.otlpHttpBase, gzipSync(counterRequest({ name: 'gzipped.requests', value: 3 })), { ...PROTOBUF, 'content-encoding': 'gzip' });
    assert.equal(answer.status, 200, answer.message);
    assert.equal(valueWith(await scrape(daemon.metricsBase), 'gzipped_requests_total'), 3);
  });

  it('answers malformed JSON with 400 and a message naming where', { timeout: 30_000 }, async () => {
    const answers = await refuseEach(
      'malformed JSON',
      [
        { body: '{"resourceMetrics": [', headers: JSON_TYPE },
        { body: '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[{"asInt":"x"}]}}]}]}]}', headers: JSON_TYPE },
        { body: gzipSync('{"resourceMetrics": 5}'), headers: { ...JSON_TYPE, 'content-encoding': 'gzip' } },
      ],
      { status: 400, reason: 'malformed', message: /^invalid OTLP\/JSON/ },
    );
    assert.match(answers[1]!.message, /resourceMetrics\[0\]\.scopeMetrics\[0\]\.metrics\[0\]\.sum\.dataPoints\[0\]\.asInt: must be a 64-bit integer/);
    assert.match(answers[2]!.message, /at resourceMetrics: must be an array \(got 5\)/);
  });

  it('answers random bytes as protobuf, and a corrupt gzip body, with 400', { timeout: 30_000 }, async () => {
    const { request } = otlpMetricsTypes();
    const payloads: Buffer[] = [];
    for (let seed = 1; payloads.length < 3; seed++) {
      const bytes = pseudoRandomBytes(seed, 16 + ((seed * 37) % 400));
      try {
        request.decode(bytes);
      } catch {
        payloads.push(bytes);
      }
    }
    await refuseEach('random bytes', payloads.map((body) => ({ body, headers: PROTOBUF })), { status: 400, reason: 'malformed', message: /./ });
    await refuseEach('corrupt gzip', [{ body: Buffer.from('not gzip'), headers: { ...PROTOBUF, 'content-encoding': 'gzip' } }], { status: 400, reason: 'malformed', message: /^invalid gzip body/ });
  });

  it('answers a body over the size limit with 413', { timeout: 30_000 }, async () => {
    await refuseEach('oversize body', [{ body: Buffer.alloc(MAX_MESSAGE_BYTES + 1), headers: PROTOBUF }, { body: '['.repeat(MAX_MESSAGE_BYTES * 3), headers: JSON_TYPE }], {
      status: 413,
      reason: 'too_large',
      message: /larger than otlp\.http\.max_message_size \(65536 bytes\)/,
    });
  });

  it('answers a gzip bomb with 413 without inflating it whole', { timeout: 60_000 }, async () => {
    // 4 MiB of zeros: about 4 KiB on the wire, under the size limit and the budget; 64 times the limit inflated.
    const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024));
    assert.ok(bomb.length < MAX_INFLIGHT_BYTES, `the bomb (${bomb.length} bytes) passes the wire limit and the budget`);
    const before = process.memoryUsage().arrayBuffers;
    await refuseEach('gzip bomb', [{ body: bomb, headers: { ...PROTOBUF, 'content-encoding': 'gzip' } }], { status: 413, reason: 'too_large', message: /gzip-inflated body is larger/ });
    // zlib stops at the limit: nothing near 64 MiB was ever held (retained external memory stays small).
    assert.ok(process.memoryUsage().arrayBuffers - before < 2 * 1024 * 1024, 'the inflated bomb was not kept');
  });

  it('answers an unsupported Content-Type or Content-Encoding with 415', { timeout: 30_000 }, async () => {
    await refuseEach(
      'unsupported media type',
      [
        { body: 'x', headers: { 'content-type': 'text/plain' } },
        { body: counterRequest({ name: 'x', value: 1 }), headers: { 'content-type': 'application/grpc' } },
        { body: 'x', headers: { ...PROTOBUF, 'content-encoding': 'br' } },
      ],
      { status: 415, reason: 'unsupported_media_type', message: /unsupported Content-(Type|Encoding)/ },
    );
  });

  it('answers GET on an OTLP path with 405 and Allow: POST', { timeout: 15_000 }, async () => {
    const [answer] = await refuseEach('GET', [{ body: '', headers: {}, method: 'GET' }], { status: 405, message: /GET is not allowed on \/v1\/metrics/ });
    assert.equal(answer!.headers.get('allow'), 'POST');
  });

  it('answers an unknown path with 404', { timeout: 15_000 }, async () => {
    const answer = await post(daemon.otlpHttpBase, counterRequest({ name: 'x', value: 1 }), PROTOBUF, '/v1/logs');
    assert.equal(answer.status, 404);
    assert.match(answer.message, /no OTLP\/HTTP endpoint at \/v1\/logs/);
    await assertStillHealthy('404');
  });

  it('answers a request over the in-flight budget with 429, Retry-After and RetryInfo', { timeout: 30_000 }, async () => {
    // Valid requests padded past the whole (shared) budget with an unknown field: never admitted,
    // whether the size is known from Content-Length or only after gzip inflation.
    const oversized = Buffer.concat([counterRequest({ name: 'over.budget', value: 1 }), unknownBytesField(2 * MAX_INFLIGHT_BYTES)]);
    await refuseEach(
      'over the in-flight budget',
      [
        { body: oversized, headers: PROTOBUF },
        { body: gzipSync(oversized), headers: { ...PROTOBUF, 'content-encoding': 'gzip' } },
        { body: JSON.stringify({ resourceMetrics: [], padding: 'x'.repeat(2 * MAX_INFLIGHT_BYTES) }), headers: JSON_TYPE },
      ],
      { status: 429, reason: 'inflight_budget', retryAfter: true, message: /over the in-flight budget/ },
    );
    assert.equal(valueWith(await scrape(daemon.metricsBase), 'over_budget_total'), undefined, 'the refused point is not merged');
  });
});
