// The span workload: ExportTraceServiceRequest payloads over a fixed, bounded span-series pool,
// encoded with protobufjs from ../proto (the trace decoder's oracle; no hand writer here).
import { isAbsolute, join } from 'node:path';
import { PROTO_ROOT } from './otlp-metrics.mjs';
import { random } from './random.mjs';

export const TRACES_SERVICE_PROTO = join(PROTO_ROOT, 'opentelemetry/proto/collector/trace/v1/trace_service.proto');
export const TRACE_REQUEST_TYPE = 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest';

const SERVICES = ['gateway', 'checkout', 'cart', 'catalog', 'payments', 'shipping', 'users', 'search', 'recommendations', 'auth'];
const OPERATIONS = [
  'GET /', 'GET /health', 'POST /login', 'GET /cart', 'POST /cart/items', 'GET /checkout', 'POST /orders', 'GET /orders/{id}',
  'GET /products', 'GET /products/{id}', 'GET /search', 'GET /users/{id}', 'POST /payments', 'GET /shipments/{id}',
  'SELECT orders', 'SELECT products', 'redis GET', 'redis SET', 'kafka publish', 'grpc Charge',
];
/** SERVER for the HTTP operations, CLIENT for the database/cache/RPC ones, PRODUCER for kafka. */
const KIND_OF = (op) => (op.startsWith('kafka') ? 4 : /^(SELECT|redis|grpc)/.test(op) ? 3 : 2);
/** Span series: services × operations × {UNSET, ERROR} (the status OK is never set here). */
export function spanSeriesPoolSize(services = SERVICES.length) {
  return services * OPERATIONS.length * 2;
}


function bytes(rand, n) {
  return Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
}

const str = (key, value) => ({ key, value: { stringValue: value } });
const int = (key, value) => ({ key, value: { intValue: String(value) } });

/**
 * Request `index`: `spans` spans spread over 5 services (one resource each), durations
 * log-uniform 100 µs … 3 s, 3 % errors, 4–5 attributes per span, fresh trace and span ids.
 */
export function buildTraceRequestObject(index, { spans = 500, services = SERVICES.length, baseTimeNs = 1_700_000_000_000_000_000n } = {}) {
  const rand = random(index + 1);
  const perRequest = Math.min(5, services);
  const resourceSpans = [];
  for (let r = 0; r < perRequest; r++) {
    const service = SERVICES[(index * perRequest + r) % services];
    const count = Math.floor(spans / perRequest) + (r < spans % perRequest ? 1 : 0);
    const list = [];
    for (let i = 0; i < count; i++) {
      const op = OPERATIONS[Math.floor(rand() * OPERATIONS.length)];
      const durationNs = BigInt(Math.round(Math.exp(Math.log(1e5) + rand() * (Math.log(3e9) - Math.log(1e5)))));
      const start = baseTimeNs + BigInt(Math.floor(rand() * 1e9));
      const error = rand() < 0.03;
      const attributes = op.includes('/') ? [str('http.request.method', op.split(' ')[0]), str('http.route', op.split(' ')[1]), int('http.response.status_code', error ? 500 : 200), str('url.scheme', 'https')]
        : [str('db.system', op.startsWith('SELECT') ? 'postgresql' : op.startsWith('redis') ? 'redis' : 'other'), str('server.address', 'db-1'), int('server.port', 5432), str('network.transport', 'tcp'), str('peer.service', 'backend')];
      list.push({
        traceId: bytes(rand, 16),
        spanId: bytes(rand, 8),
        parentSpanId: bytes(rand, 8),
        name: op,
        kind: KIND_OF(op),
        startTimeUnixNano: start.toString(),
        endTimeUnixNano: (start + durationNs).toString(),
        attributes,
        status: error ? { code: 2, message: 'internal error' } : {},
      });
    }
    resourceSpans.push({
      resource: { attributes: [str('service.name', service), str('service.instance.id', `${service}-0`), str('host.name', 'bench-host')] },
      scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.50.0' }, spans: list }],
    });
  }
  return { resourceSpans };
}

/** Spans in a request object. */
export function countSpans(request) {
  let n = 0;
  for (const rs of request.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

/** `{ encode, name }` for trace requests (protobufjs from the repository's .proto files). */
export async function traceEncoder() {
  const { default: protobuf } = await import('protobufjs');
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(PROTO_ROOT, target));
  root.loadSync(TRACES_SERVICE_PROTO, { keepCase: false });
  const type = root.lookupType(TRACE_REQUEST_TYPE);
  return { name: 'protobufjs', encode: (obj) => Buffer.from(type.encode(type.fromObject(obj)).finish()) };
}
