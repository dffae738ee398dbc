// Valid OTLP requests the fuzzer starts from, encoded by protobufjs from the repository's .proto
// files (the oracle the decoder tests use too), in both protobuf and OTLP/JSON form.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

// Compiled to dist/collectors/worker/fuzz/, so the sources' proto/ folder is four levels up.
const PROTO_ROOT = fileURLToPath(new URL('../../../../proto/', import.meta.url));

/** One valid request of the corpus. */
export interface Seed {
  signal: 'metrics' | 'traces';
  name: string;
  protobuf: Uint8Array;
  /** The same request as OTLP/JSON text (lowerCamelCase, hex ids). */
  json: string;
}

let cached: Seed[] | undefined;

const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
const str = (s: string) => ({ stringValue: s });

function resource(service: string) {
  return {
    attributes: [
      kv('service.name', str(service)),
      kv('service.namespace', str('fuzz')),
      kv('service.instance.id', str('i-1')),
      kv('host.cores', { intValue: 8 }),
      kv('tags', { arrayValue: { values: [str('a'), { boolValue: true }, { doubleValue: 1.5 }] } }),
      kv('nested', { kvlistValue: { values: [kv('k', str('v'))] } }),
      kv('raw', { bytesValue: Buffer.from([0, 1, 2, 255]) }),
    ],
  };
}

const NOW_NS = 1_700_000_000_000_000_000n;
const ns = (offsetMs: number) => (NOW_NS + BigInt(offsetMs) * 1_000_000n).toString();

function metricsRequests(): Record<string, unknown>[] {
  const points = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ attributes: [kv('route', str(`/r${i}`)), kv('code', { intValue: 200 + i })], startTimeUnixNano: ns(-1000), timeUnixNano: ns(0), asInt: String(i + 1) }));
  return [
    {
      resourceMetrics: [
        {
          resource: resource('fuzz-sum'),
          scopeMetrics: [
            {
              scope: { name: 'fuzz', version: '1.0', attributes: [kv('s', str('x'))] },
              metrics: [
                { name: 'requests', description: 'Requests served.', unit: '{request}', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: points(3) } },
                { name: 'queue.depth', unit: 'By', gauge: { dataPoints: [{ timeUnixNano: ns(0), asDouble: 12.5, attributes: [kv('q', str('main'))] }] } },
                { name: 'up.down', sum: { aggregationTemporality: 2, isMonotonic: false, dataPoints: [{ timeUnixNano: ns(0), asInt: '-4', flags: 0 }] } },
              ],
            },
          ],
        },
      ],
    },
    {
      resourceMetrics: [
        {
          resource: resource('fuzz-histo'),
          scopeMetrics: [
            {
              scope: { name: 'fuzz' },
              metrics: [
                {
                  name: 'http.server.duration',
                  unit: 'ms',
                  histogram: {
                    aggregationTemporality: 1,
                    dataPoints: [
                      { attributes: [kv('route', str('/a'))], startTimeUnixNano: ns(-1000), timeUnixNano: ns(0), count: '10', sum: 123.4, bucketCounts: ['1', '2', '3', '4'], explicitBounds: [5, 10, 50], min: 0.5, max: 70 },
                    ],
                  },
                },
                {
                  name: 'latency.exp',
                  unit: 's',
                  exponentialHistogram: {
                    aggregationTemporality: 2,
                    dataPoints: [
                      { startTimeUnixNano: ns(-1000), timeUnixNano: ns(0), count: '9', sum: 3.5, scale: 4, zeroCount: '1', positive: { offset: -3, bucketCounts: ['1', '2', '3'] }, negative: { offset: 1, bucketCounts: ['2'] } },
                    ],
                  },
                },
                {
                  name: 'rpc.summary',
                  summary: { dataPoints: [{ timeUnixNano: ns(0), count: '4', sum: 8, quantileValues: [{ quantile: 0.5, value: 1 }, { quantile: 0.99, value: 4 }] }] },
                },
              ],
            },
          ],
        },
      ],
    },
  ];
}

function tracesRequests(): Record<string, unknown>[] {
  const span = (i: number, kind: number, status: number) => ({
    traceId: Buffer.alloc(16, i + 1).toString('hex'),
    spanId: Buffer.alloc(8, i + 1).toString('hex'),
    parentSpanId: i > 0 ? Buffer.alloc(8, i).toString('hex') : '',
    name: `GET /items/${i % 3}`,
    kind,
    startTimeUnixNano: ns(-50 * (i + 1)),
    endTimeUnixNano: ns(0),
    attributes: [kv('http.response.status_code', { intValue: status === 2 ? 500 : 200 }), kv('http.route', str('/items/:id'))],
    events: [{ timeUnixNano: ns(-1), name: 'ev', attributes: [kv('e', str('1'))] }],
    links: [{ traceId: Buffer.alloc(16, 9).toString('hex'), spanId: Buffer.alloc(8, 9).toString('hex') }],
    status: { code: status, message: status === 2 ? 'boom' : '' },
  });
  return [
    {
      resourceSpans: [
        {
          resource: resource('fuzz-traces'),
          scopeSpans: [{ scope: { name: 'fuzz' }, spans: [span(0, 2, 0), span(1, 3, 1), span(2, 2, 2), span(3, 1, 0)] }],
        },
      ],
    },
  ];
}

function loadTypes(): { metrics: protobuf.Type; traces: protobuf.Type } {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
  root.loadSync(['opentelemetry/proto/collector/metrics/v1/metrics_service.proto', 'opentelemetry/proto/collector/trace/v1/trace_service.proto']);
  root.resolveAll();
  return {
    metrics: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
    traces: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
  };
}

/** Turns OTLP/JSON hex ids into the base64 protobufjs's fromObject expects for bytes. */
function forProtobufjs(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => forProtobufjs(v));
  if (value !== null && typeof value === 'object') {
    if (Buffer.isBuffer(value)) return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, forProtobufjs(v, k)]));
  }
  if (typeof value === 'string' && /^(traceId|spanId|parentSpanId)$/.test(key)) return Buffer.from(value, 'hex');
  return value;
}

/** For JSON: bytes values (not ids) as base64, as the OTLP JSON mapping says. */
function forJson(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(forJson);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, forJson(v)]));
  return value;
}

/** The corpus: every seed request, encoded once. */
export function corpus(): Seed[] {
  if (cached !== undefined) return cached;
  const types = loadTypes();
  const seeds: Seed[] = [];
  const add = (signal: 'metrics' | 'traces', name: string, request: Record<string, unknown>) => {
    const type = types[signal];
    const message = type.fromObject(forProtobufjs(request) as Record<string, unknown>);
    const problem = type.verify(message);
    if (problem !== null) throw new Error(`fuzz seed ${name} is invalid: ${problem}`);
    seeds.push({ signal, name, protobuf: type.encode(message).finish(), json: JSON.stringify(forJson(request)) });
  };
  metricsRequests().forEach((r, i) => add('metrics', `metrics-${i}`, r));
  tracesRequests().forEach((r, i) => add('traces', `traces-${i}`, r));
  cached = seeds;
  return seeds;
}
