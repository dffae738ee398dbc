// protobufjs as the tests' oracle for OTLP bytes: the repository's .proto files for requests and
// responses, and google.rpc.Status / RetryInfo for the grpc-status-details-bin trailer.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type * as grpc from '@grpc/grpc-js';

// Compiled to dist/test-support/, so the sources' proto/ folder is two levels up.
const PROTO_ROOT = fileURLToPath(new URL('../../proto/', import.meta.url));

/** The OTLP metrics messages, loaded with snake_case field names as in the .proto files. */
export interface OtlpMetricsTypes {
  request: protobuf.Type;
  response: protobuf.Type;
}

let cached: OtlpMetricsTypes | undefined;

/** Loads proto/opentelemetry/proto/collector/metrics/v1/metrics_service.proto (once). */
export function otlpMetricsTypes(): OtlpMetricsTypes {
  if (cached !== undefined) return cached;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
  root.loadSync('opentelemetry/proto/collector/metrics/v1/metrics_service.proto', { keepCase: true });
  root.resolveAll();
  cached = {
    request: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
    response: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse'),
  };
  return cached;
}

/** Encodes an ExportMetricsServiceRequest given as a plain object (snake_case keys). */
export function encodeMetricsRequest(request: Record<string, unknown>): Buffer {
  const { request: type } = otlpMetricsTypes();
  const message = type.fromObject(request);
  const problem = type.verify(message);
  if (problem !== null) throw new Error(`test request is invalid: ${problem}`);
  return Buffer.from(type.encode(message).finish());
}

/** `[{key, value: {string_value}}]` from a plain record. */
export function attributes(record: Record<string, string>): { key: string; value: { string_value: string } }[] {
  return Object.entries(record).map(([key, value]) => ({ key, value: { string_value: value } }));
}

/** Options of `counterRequest`. */
export interface CounterRequestOptions {
  name: string;
  value: number;
  /** Point attributes. */
  attributes?: Record<string, string>;
  /** Resource attributes; service.name defaults to 'raw-client'. */
  resource?: Record<string, string>;
  /** Delta (default) or cumulative temporality. */
  delta?: boolean;
}

/** One request carrying one monotonic Sum point (an integer value). */
export function counterRequest(options: CounterRequestOptions): Buffer {
  const nowNs = Date.now() * 1e6;
  return encodeMetricsRequest({
    resource_metrics: [
      {
        resource: { attributes: attributes({ 'service.name': 'raw-client', ...options.resource }) },
        scope_metrics: [
          {
            scope: { name: 'vigil-test' },
            metrics: [
              {
                name: options.name,
                sum: {
                  aggregation_temporality: options.delta === false ? 2 : 1,
                  is_monotonic: true,
                  data_points: [
                    {
                      attributes: attributes(options.attributes ?? {}),
                      start_time_unix_nano: nowNs - 1e9,
                      time_unix_nano: nowNs,
                      as_int: options.value,
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  });
}

/** The decoded partial_success of an ExportMetricsServiceResponse (zeros when absent). */
export function decodePartialSuccess(response: Buffer | undefined): { rejected: number; message: string } {
  if (response === undefined || response.length === 0) return { rejected: 0, message: '' };
  const { response: type } = otlpMetricsTypes();
  const decoded = type.toObject(type.decode(response), { longs: Number, defaults: true }) as {
    partial_success?: { rejected_data_points?: number; error_message?: string };
  };
  return {
    rejected: decoded.partial_success?.rejected_data_points ?? 0,
    message: decoded.partial_success?.error_message ?? '',
  };
}

// Wire-compatible subsets of google/rpc/status.proto, error_details.proto, protobuf Any and Duration.
const RPC_TYPES = protobuf.parse(`
syntax = "proto3";
package vigil.test;
message Any { string type_url = 1; bytes value = 2; }
message Duration { int64 seconds = 1; int32 nanos = 2; }
message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
message RetryInfo { Duration retry_delay = 1; }
`, { keepCase: true }).root;

/** What grpc-status-details-bin said, if anything. */
export interface StatusDetails {
  code: number;
  message: string;
  /** type_url of every detail. */
  typeUrls: string[];
  /** RetryInfo.retry_delay in ms, when a RetryInfo detail is present. */
  retryDelayMs: number | undefined;
}

/** Decodes the google.rpc.Status in `grpc-status-details-bin`; undefined when the trailer is absent. */
export function statusDetails(metadata: grpc.Metadata | undefined): StatusDetails | undefined {
  const raw = metadata?.get('grpc-status-details-bin')[0];
  if (raw === undefined) return undefined;
  const statusType = RPC_TYPES.lookupType('vigil.test.Status');
  const retryInfoType = RPC_TYPES.lookupType('vigil.test.RetryInfo');
  const status = statusType.toObject(statusType.decode(Buffer.from(raw)), { longs: Number, defaults: true }) as {
    code: number;
    message: string;
    details: { type_url: string; value: Uint8Array }[];
  };
  let retryDelayMs: number | undefined;
  for (const detail of status.details) {
    if (detail.type_url !== 'type.googleapis.com/google.rpc.RetryInfo') continue;
    const info = retryInfoType.toObject(retryInfoType.decode(detail.value), { longs: Number, defaults: true }) as {
      retry_delay?: { seconds: number; nanos: number };
    };
    retryDelayMs = info.retry_delay === undefined ? 0 : info.retry_delay.seconds * 1000 + info.retry_delay.nanos / 1e6;
  }
  return { code: status.code, message: status.message, typeUrls: status.details.map((d) => d.type_url), retryDelayMs };
}

/** A decoded io.prometheus.client.MetricFamily (protobufjs object, snake_case, longs as numbers, enums as names). */
export interface DecodedFamily {
  name: string;
  help?: string;
  type: string;
  metric: DecodedMetric[];
}
/** A decoded Metric (only the fields the tests read are typed). */
export interface DecodedMetric {
  label?: { name: string; value: string }[];
  gauge?: { value: number };
  counter?: { value: number; exemplar?: DecodedExemplar };
  summary?: { sample_count: number; sample_sum?: number; quantile?: { quantile: number; value: number }[] };
  histogram?: {
    sample_count: number;
    sample_sum?: number;
    bucket?: { cumulative_count: number; upper_bound: number; exemplar?: DecodedExemplar }[];
    schema?: number;
    zero_threshold?: number;
    zero_count?: number;
    negative_span?: { offset?: number; length?: number }[];
    negative_delta?: number[];
    positive_span?: { offset?: number; length?: number }[];
    positive_delta?: number[];
  };
}
/** A decoded Exemplar. */
export interface DecodedExemplar {
  label?: { name: string; value: string }[];
  value: number;
  timestamp?: { seconds: number; nanos?: number };
}

let metricFamily: protobuf.Type | undefined;

/** Decodes a length-delimited stream of MetricFamily messages (the /metrics protobuf body) with protobufjs. */
export function decodeMetricFamilies(body: Uint8Array): DecodedFamily[] {
  if (metricFamily === undefined) {
    const root = new protobuf.Root();
    root.loadSync(join(PROTO_ROOT, 'prometheus/metric_family.proto'), { keepCase: true });
    root.resolveAll();
    metricFamily = root.lookupType('io.prometheus.client.MetricFamily');
  }
  const reader = protobuf.Reader.create(body);
  const out: DecodedFamily[] = [];
  while (reader.pos < reader.len) {
    const message = metricFamily.decodeDelimited(reader);
    out.push(metricFamily.toObject(message, { longs: Number, enums: String, defaults: false, arrays: false }) as DecodedFamily);
  }
  return out;
}

/** A native histogram's buckets as Prometheus index → count, from its spans and deltas. */
export function nativeBuckets(spans: { offset?: number; length?: number }[] | undefined, deltas: number[] | undefined): Map<number, number> {
  const out = new Map<number, number>();
  let index = 0;
  let count = 0;
  let d = 0;
  for (const [i, span] of (spans ?? []).entries()) {
    index = i === 0 ? (span.offset ?? 0) : index + (span.offset ?? 0);
    for (let k = 0; k < (span.length ?? 0); k++) {
      count += deltas![d++]!;
      if (count !== 0) out.set(index, count);
      index++;
    }
  }
  return out;
}
