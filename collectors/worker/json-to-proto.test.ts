// OTLP/JSON → protobuf against the OpenTelemetry SDK's own serializers as the oracle: the SDK's
// JSON body, re-encoded, decodes (protobufjs) to the same message as the SDK's protobuf body, for
// metrics and traces. Then the refusals, each naming its JSON path.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { JsonMetricsSerializer, JsonTraceSerializer, ProtobufMetricsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { AggregationTemporality, AggregationType, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { MalformedPayloadError } from '../errors.js';
import { otlpJsonToProtobuf } from './json-to-proto.js';

const PROTO_ROOT = fileURLToPath(new URL('../../../proto/', import.meta.url));
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
root.loadSync(['opentelemetry/proto/collector/metrics/v1/metrics_service.proto', 'opentelemetry/proto/collector/trace/v1/trace_service.proto'], { keepCase: true });
root.resolveAll();
const METRICS_REQUEST = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
const TRACE_REQUEST = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');

const decode = (type: protobuf.Type, bytes: Uint8Array): unknown =>
  type.toObject(type.decode(bytes), { longs: String, bytes: String, defaults: false, oneofs: true });

const resource = resourceFromAttributes({ 'service.name': 'json-test', 'service.instance.id': 'i-1', 'host.cpus': 8, 'feature.on': true, ratio: 0.5 });

async function sdkMetrics() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource,
    readers: [reader],
    views: [{ instrumentName: 'exp.sizes', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('json-scope', '0.1.0');
  meter.createCounter('requests', { unit: '{request}', description: 'Requests.' }).add(3, { route: '/a', code: 200, ok: true, list: ['x', 'y'] });
  meter.createCounter('bytes.sent').add(1.5);
  meter.createUpDownCounter('queue.depth').add(-4);
  meter.createGauge('temp', { unit: 'Cel' }).record(-12.25, { room: 'b' });
  const h = meter.createHistogram('latency', { unit: 'ms', advice: { explicitBucketBoundaries: [1, 10, 100] } });
  for (const v of [0.5, 5, 50, 500]) h.record(v);
  const e = meter.createHistogram('exp.sizes', { unit: 'By' });
  for (const v of [-3, 0, 1, 2, 1000]) e.record(v);
  await provider.forceFlush();
  const [collected] = exporter.getMetrics();
  await provider.shutdown();
  return collected!;
}

async function sdkSpans() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('json-scope', '0.1.0');
  tracer.startActiveSpan('parent', { kind: SpanKind.SERVER, attributes: { 'http.route': '/x', 'http.status_code': 500 } }, (parent) => {
    const child = tracer.startSpan('child', { kind: SpanKind.CLIENT });
    child.addEvent('retry', { attempt: 2 });
    child.addLink({ context: parent.spanContext(), attributes: { why: 'test' } });
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    child.end();
    parent.end();
  });
  await provider.forceFlush();
  const spans = exporter.getFinishedSpans();
  await provider.shutdown();
  return spans;
}

describe('OTLP/JSON → protobuf', () => {
  it('gives the message the SDK protobuf serializer writes, for metrics', async () => {
    const rm = await sdkMetrics();
    const json = JsonMetricsSerializer.serializeRequest(rm)!;
    const proto = ProtobufMetricsSerializer.serializeRequest(rm)!;
    const converted = otlpJsonToProtobuf('metrics', json);
    assert.deepEqual(decode(METRICS_REQUEST, converted), decode(METRICS_REQUEST, proto));
  });

  it('gives the message the SDK protobuf serializer writes, for traces (hex ids, enums)', async () => {
    const spans = await sdkSpans();
    const json = JsonTraceSerializer.serializeRequest(spans)!;
    const proto = ProtobufTraceSerializer.serializeRequest(spans)!;
    assert.match(Buffer.from(json).toString(), /"traceId":"[0-9a-f]{32}"/, 'the SDK writes hex ids');
    const converted = otlpJsonToProtobuf('traces', json);
    assert.deepEqual(decode(TRACE_REQUEST, converted), decode(TRACE_REQUEST, proto));
  });

  it('takes int64 as strings or numbers, snake_case keys, NaN strings, and ignores unknown keys and nulls', () => {
    const point = (extra: Record<string, unknown>) => ({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: [{ timeUnixNano: '1700000000000000001', ...extra }] } }] }] }] });
    const viaString = decode(METRICS_REQUEST, otlpJsonToProtobuf('metrics', Buffer.from(JSON.stringify(point({ asInt: '-9007199254740993' })))));
    const expected = { resource_metrics: [{ scope_metrics: [{ metrics: [{ name: 'm', data: 'gauge', gauge: { data_points: [{ time_unix_nano: '1700000000000000001', as_int: '-9007199254740993', value: 'as_int' }] } }] }] }] };
    assert.deepEqual(viaString, expected);
    const snake = JSON.stringify({ resource_metrics: [{ scope_metrics: [{ metrics: [{ name: 'm', gauge: { data_points: [{ time_unix_nano: 1700000000000000001n.toString(), as_int: '-9007199254740993', future_field: 1 }] } }] }], unknown: { deep: [1] } }] });
    assert.deepEqual(decode(METRICS_REQUEST, otlpJsonToProtobuf('metrics', Buffer.from(snake))), expected);
    const nan = decode(METRICS_REQUEST, otlpJsonToProtobuf('metrics', Buffer.from(JSON.stringify(point({ asDouble: 'NaN', flags: null, attributes: null }))))) as typeof expected;
    const nanPoint = (nan.resource_metrics[0]!.scope_metrics[0]!.metrics[0]!.gauge.data_points[0] as unknown as { as_double: number });
    assert.ok(Number.isNaN(nanPoint.as_double));
    const asNumber = decode(METRICS_REQUEST, otlpJsonToProtobuf('metrics', Buffer.from(JSON.stringify(point({ asInt: 42 }))))) as typeof expected;
    assert.equal(asNumber.resource_metrics[0]!.scope_metrics[0]!.metrics[0]!.gauge.data_points[0]!.as_int, '42');
  });

  it('writes an empty request for {}', () => {
    assert.equal(otlpJsonToProtobuf('metrics', Buffer.from('{}')).length, 0);
  });

  const refusals: [string, string, RegExp][] = [
    ['not JSON', '{"resourceMetrics": [', /^invalid OTLP\/JSON: .*JSON/],
    ['not an object', '[1]', /^invalid OTLP\/JSON at \(the request\): must be an object \(got an array\)$/],
    ['a list that is not', '{"resourceMetrics": {}}', /at resourceMetrics: must be an array \(got an object\)$/],
    [
      'a bad int64',
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[{},{"asInt":"12x"}]}}]}]}]}',
      /at resourceMetrics\[0\]\.scopeMetrics\[0\]\.metrics\[0\]\.sum\.dataPoints\[1\]\.asInt: must be a 64-bit integer, as a decimal string or a number \(got "12x"\)$/,
    ],
    [
      'an enum name',
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA"}}]}]}]}',
      /metrics\[0\]\.sum\.aggregationTemporality: must be an integer enum value/,
    ],
    ['a string that is a number', '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":5}]}]}]}', /metrics\[0\]\.name: must be a string \(got 5\)$/],
    ['a fractional count', '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"count":1.5}]}}]}]}]}', /dataPoints\[0\]\.count: must be an unsigned 64-bit integer/],
    ['a negative fixed64', '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"bucketCounts":["1","-1"]}]}}]}]}]}', /dataPoints\[0\]\.bucketCounts\[1\]: must be an unsigned 64-bit integer/],
    ['a base64 trace id', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"AAECAwQFBgcICQoLDA0ODw=="}]}]}]}', /spans\[0\]\.traceId: must be a hex string/],
    ['a null in a list', '{"resourceMetrics":[null]}', /at resourceMetrics\[0\]: must not be null/],
    ['a bool as a string', '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"isMonotonic":"true"}}]}]}]}', /sum\.isMonotonic: must be true or false/],
  ];
  for (const [what, body, message] of refusals) {
    it(`refuses ${what} with a MalformedPayloadError naming where`, () => {
      const signal = body.includes('resourceSpans') ? 'traces' : 'metrics';
      assert.throws(() => otlpJsonToProtobuf(signal, Buffer.from(body)), (err: unknown) => {
        assert.ok(err instanceof MalformedPayloadError, String(err));
        assert.equal(err.reason, 'malformed');
        assert.match(err.message, message);
        return true;
      });
    });
  }

  it('refuses a body that is not UTF-8', () => {
    assert.throws(() => otlpJsonToProtobuf('metrics', Uint8Array.from([0x7b, 0xff, 0x7d])), /not valid UTF-8/);
  });

  it('writes lengths over 127 bytes as minimal varints (nested bodies moved, not padded)', () => {
    const name = 'n'.repeat(300);
    const bytes = otlpJsonToProtobuf('metrics', Buffer.from(JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name }] }] }] })));
    const reencoded = METRICS_REQUEST.encode(METRICS_REQUEST.decode(bytes)).finish();
    assert.deepEqual(Buffer.from(bytes), Buffer.from(reencoded));
  });
});
