// The hand encoder against protobufjs as the oracle: decode the hand-written bytes with a schema and
// compare with the source object. Uses the repository's .proto files when present, else a subset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { buildRequestObject, countPoints, encodeRequestHand, loadRequestType, seriesPoolSize, REQUEST_TYPE } from '../lib/otlp-metrics.mjs';

// Field numbers and types copied from opentelemetry-proto v1 (only what the workload uses).
const SUBSET = `
syntax = "proto3";
package opentelemetry.proto.collector.metrics.v1;
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; }
message InstrumentationScope { string name = 1; string version = 2; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; }
message Metric { string name = 1; string description = 2; string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9; } }
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message NumberDataPoint { repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; } }
message HistogramDataPoint { repeated KeyValue attributes = 9; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; optional double sum = 5; repeated fixed64 bucket_counts = 6; repeated double explicit_bounds = 7; }
`;

async function oracleType() {
  return (await loadRequestType()) ?? protobuf.parse(SUBSET).root.lookupType(REQUEST_TYPE);
}

const TO_OBJECT = { longs: String, enums: Number, defaults: false, oneofs: false };

test('hand-encoded payloads decode to the source object', async () => {
  const type = await oracleType();
  for (const index of [0, 1, 9, 10, 39, 57]) {
    const source = buildRequestObject(index, { points: 500 });
    const decoded = type.toObject(type.decode(encodeRequestHand(source)), TO_OBJECT);
    const expected = type.toObject(type.fromObject(source), TO_OBJECT);
    assert.deepEqual(decoded, expected, `payload ${index}`);
    assert.equal(countPoints(decoded), 500);
  }
});

test('hand encoder and protobufjs agree on bytes', async () => {
  const type = await oracleType();
  const source = buildRequestObject(3, { points: 100 });
  const viaLibrary = Buffer.from(type.encode(type.fromObject(source)).finish());
  // Field order may differ between encoders; equal length and equal decode is the contract.
  assert.equal(encodeRequestHand(source).length, viaLibrary.length);
});

test('40 payloads of 500 points cover the 20k series pool once', () => {
  assert.equal(seriesPoolSize(), 20_000);
  const seen = new Set();
  for (let i = 0; i < 40; i++) {
    const req = buildRequestObject(i, { points: 500 });
    const svc = req.resourceMetrics[0].resource.attributes[0].value.stringValue;
    for (const m of req.resourceMetrics[0].scopeMetrics[0].metrics) {
      for (const p of (m.gauge ?? m.sum ?? m.histogram).dataPoints) {
        const attrs = p.attributes.map((a) => `${a.key}=${JSON.stringify(a.value)}`).join(',');
        seen.add(`${svc}|${m.name}|${attrs}`);
      }
    }
  }
  assert.equal(seen.size, 20_000);
});
