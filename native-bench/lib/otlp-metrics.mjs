// The ingest workload: ExportMetricsServiceRequest payloads over a fixed, bounded series pool,
// encoded either with protobufjs from ../proto (when it is there) or with a small hand writer.
// Both encoders take the same protobufjs-shaped object (camelCase, 64-bit values as decimal strings).
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository's OTLP .proto root (written by the proto/ owners). */
export const PROTO_ROOT = join(here, '..', '..', 'proto');
/** The service definition the protobufjs encoder loads. */
export const METRICS_SERVICE_PROTO = join(PROTO_ROOT, 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto');
/** Fully qualified request type. */
export const REQUEST_TYPE = 'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest';
/** gRPC method path of OTLP metrics Export. */
export const METRICS_EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
/** gRPC method path of OTLP traces Export. */
export const TRACES_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

const SERVICES = ['gateway', 'checkout', 'cart', 'catalog', 'payments', 'shipping', 'users', 'search', 'recommendations', 'auth'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const ROUTES = [
  '/', '/health', '/login', '/logout', '/cart', '/cart/items', '/cart/items/{id}', '/checkout', '/orders',
  '/orders/{id}', '/products', '/products/{id}', '/products/{id}/reviews', '/search', '/users/{id}',
  '/users/{id}/addresses', '/payments', '/payments/{id}', '/shipments/{id}', '/recommendations',
];
const STATUSES = [200, 201, 400, 404, 500];
/** Attribute combinations per service: method × route × status. */
const COMBOS = METHODS.length * ROUTES.length * STATUSES.length; // 400
const HISTOGRAM_BOUNDS = [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000];
const AGG_DELTA = 1;
const AGG_CUMULATIVE = 2;

/** The metrics every service reports; each has one series per attribute combination. */
const METRICS = [
  { name: 'http.server.request.count', description: 'HTTP requests served.', unit: '{request}', kind: 'sum', temporality: AGG_CUMULATIVE, monotonic: true, int: true, extra: [] },
  { name: 'rpc.client.calls', description: 'Outgoing RPCs.', unit: '{call}', kind: 'sum', temporality: AGG_DELTA, monotonic: true, int: true, extra: [['rpc.system', 'grpc']] },
  { name: 'http.server.request.body.size', description: 'Request body bytes received.', unit: 'By', kind: 'sum', temporality: AGG_CUMULATIVE, monotonic: true, int: false, extra: [['http.scheme', 'https']] },
  { name: 'http.server.queue.utilization', description: 'Fraction of the request queue in use.', unit: '1', kind: 'gauge', int: false, extra: [['http.scheme', 'https'], ['net.protocol.version', '1.1']] },
  { name: 'http.server.duration', description: 'Time to serve a request.', unit: 'ms', kind: 'histogram', temporality: AGG_CUMULATIVE, extra: [] },
];
/** Series one service owns. */
const SERIES_PER_SERVICE = COMBOS * METRICS.length; // 2000

/** Size of the series pool for a given number of services. */
export function seriesPoolSize(services = SERVICES.length) {
  return services * SERIES_PER_SERVICE;
}

const str = (key, value) => ({ key, value: { stringValue: value } });
const int = (key, value) => ({ key, value: { intValue: String(value) } });

function comboAttributes(combo) {
  const status = STATUSES[combo % STATUSES.length];
  const route = ROUTES[Math.floor(combo / STATUSES.length) % ROUTES.length];
  const method = METHODS[Math.floor(combo / (STATUSES.length * ROUTES.length))];
  return [str('http.method', method), str('http.route', route), int('http.status_code', status)];
}

/**
 * Builds payload `index` as a protobufjs-shaped object. Payload i belongs to service i mod S
 * and covers `points` consecutive series of that service's 2000 (wrapping), so 40 payloads of 500
 * points cover the 20k-series pool exactly once; later payloads revisit it with new values.
 */
export function buildRequestObject(index, { points = 500, services = SERVICES.length, baseTimeNs = 1_700_000_000_000_000_000n } = {}) {
  const serviceIndex = index % services;
  const round = Math.floor(index / services);
  const service = SERVICES[serviceIndex % SERVICES.length] + (serviceIndex >= SERVICES.length ? `-${Math.floor(serviceIndex / SERVICES.length)}` : '');
  const offset = (round * points) % SERIES_PER_SERVICE;
  const time = String(baseTimeNs + BigInt(round) * 10_000_000_000n);
  const start = String(baseTimeNs - 3_600_000_000_000n);

  // Group this payload's series by metric, keeping the metric order stable.
  const byMetric = METRICS.map(() => []);
  for (let i = 0; i < points; i++) {
    const series = (offset + i) % SERIES_PER_SERVICE;
    byMetric[series % METRICS.length].push(Math.floor(series / METRICS.length));
  }
  const metrics = [];
  METRICS.forEach((def, m) => {
    const combos = byMetric[m];
    if (combos.length === 0) return;
    const dataPoints = combos.map((combo) => {
      const attributes = [...comboAttributes(combo), ...def.extra.map(([k, v]) => str(k, v))];
      const seed = combo * 7 + round * 13 + serviceIndex;
      if (def.kind === 'histogram') {
        const bucketCounts = HISTOGRAM_BOUNDS.map((_, b) => String((seed + b * 3) % 17)).concat(String(seed % 5));
        const count = bucketCounts.reduce((a, c) => a + Number(c), 0);
        return { attributes, startTimeUnixNano: start, timeUnixNano: time, count: String(count), sum: count * 42.5, bucketCounts, explicitBounds: HISTOGRAM_BOUNDS };
      }
      const point = { attributes, timeUnixNano: time };
      if (def.kind === 'sum') point.startTimeUnixNano = def.temporality === AGG_DELTA ? String(BigInt(time) - 10_000_000_000n) : start;
      if (def.int) point.asInt = String(def.temporality === AGG_DELTA ? (seed % 50) + 1 : 1000 + seed * (round + 1));
      else point.asDouble = def.kind === 'gauge' ? (seed % 100) / 100 : 4096.5 * (seed + round + 1);
      return point;
    });
    const metric = { name: def.name, description: def.description, unit: def.unit };
    if (def.kind === 'gauge') metric.gauge = { dataPoints };
    else if (def.kind === 'sum') metric.sum = { dataPoints, aggregationTemporality: def.temporality, isMonotonic: def.monotonic };
    else metric.histogram = { dataPoints, aggregationTemporality: def.temporality };
    metrics.push(metric);
  });

  return {
    resourceMetrics: [{
      resource: {
        attributes: [
          str('service.name', service),
          str('service.instance.id', `${service}-${(serviceIndex * 2654435761 >>> 0).toString(16)}`),
          str('host.name', `node-${serviceIndex % 3}`),
        ],
      },
      scopeMetrics: [{ scope: { name: 'vigil.native-bench', version: '1.0.0' }, metrics }],
    }],
  };
}

/** Data points in a request object (a histogram point counts as one). */
export function countPoints(request) {
  let n = 0;
  for (const rm of request.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) n += (m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram ?? m.summary)?.dataPoints?.length ?? 0;
    }
  }
  return n;
}

// ---- hand encoder ---------------------------------------------------------------------------

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;

/** A minimal protobuf writer: growable buffer, nested messages encoded then length-prefixed. */
class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;

  #ensure(n) {
    if (this.#pos + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#pos + n));
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  varint(value) {
    let v = BigInt.asUintN(64, BigInt(value));
    this.#ensure(10);
    while (v >= 0x80n) {
      this.#buf[this.#pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#buf[this.#pos++] = Number(v);
  }

  tag(field, wire) {
    this.varint((field << 3) | wire);
  }

  rawFixed64(value) {
    this.#ensure(8);
    this.#view.setBigUint64(this.#pos, BigInt.asUintN(64, BigInt(value)), true);
    this.#pos += 8;
  }

  rawDouble(value) {
    this.#ensure(8);
    this.#view.setFloat64(this.#pos, value, true);
    this.#pos += 8;
  }

  rawBytes(bytes) {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  fixed64(field, value) {
    this.tag(field, WIRE_I64);
    this.rawFixed64(value);
  }

  double(field, value) {
    this.tag(field, WIRE_I64);
    this.rawDouble(value);
  }

  uint(field, value) {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  string(field, value) {
    this.bytes(field, new TextEncoder().encode(value));
  }

  bytes(field, bytes) {
    this.tag(field, WIRE_LEN);
    this.varint(bytes.length);
    this.rawBytes(bytes);
  }

  /** Writes a nested message produced by `fill` on a fresh writer. */
  message(field, fill) {
    const sub = new Writer();
    fill(sub);
    this.bytes(field, sub.finish());
  }

  finish() {
    return this.#buf.slice(0, this.#pos);
  }
}

function writeAnyValue(w, v) {
  if (v.stringValue !== undefined) w.string(1, v.stringValue);
  else if (v.intValue !== undefined) w.uint(3, v.intValue);
  else if (v.doubleValue !== undefined) w.double(4, v.doubleValue);
  else if (v.boolValue !== undefined) w.uint(2, v.boolValue ? 1 : 0);
}

function writeKeyValues(w, field, attributes) {
  for (const kv of attributes ?? []) {
    w.message(field, (s) => {
      s.string(1, kv.key);
      s.message(2, (a) => writeAnyValue(a, kv.value));
    });
  }
}

function writeNumberDataPoint(w, p) {
  if (p.startTimeUnixNano !== undefined) w.fixed64(2, p.startTimeUnixNano);
  w.fixed64(3, p.timeUnixNano);
  if (p.asDouble !== undefined) w.double(4, p.asDouble);
  if (p.asInt !== undefined) w.fixed64(6, p.asInt); // sfixed64: same bytes as fixed64 (two's complement)
  writeKeyValues(w, 7, p.attributes);
}

function writeHistogramDataPoint(w, p) {
  if (p.startTimeUnixNano !== undefined) w.fixed64(2, p.startTimeUnixNano);
  w.fixed64(3, p.timeUnixNano);
  w.fixed64(4, p.count);
  if (p.sum !== undefined) w.double(5, p.sum);
  if (p.bucketCounts?.length) w.message(6, (s) => p.bucketCounts.forEach((c) => s.rawFixed64(c)));
  if (p.explicitBounds?.length) w.message(7, (s) => p.explicitBounds.forEach((b) => s.rawDouble(b)));
  writeKeyValues(w, 9, p.attributes);
}

function writeMetric(w, m) {
  w.string(1, m.name);
  if (m.description) w.string(2, m.description);
  if (m.unit) w.string(3, m.unit);
  if (m.gauge) {
    w.message(5, (g) => m.gauge.dataPoints.forEach((p) => g.message(1, (d) => writeNumberDataPoint(d, p))));
  } else if (m.sum) {
    w.message(7, (s) => {
      m.sum.dataPoints.forEach((p) => s.message(1, (d) => writeNumberDataPoint(d, p)));
      if (m.sum.aggregationTemporality) s.uint(2, m.sum.aggregationTemporality);
      if (m.sum.isMonotonic) s.uint(3, 1);
    });
  } else if (m.histogram) {
    w.message(9, (h) => {
      m.histogram.dataPoints.forEach((p) => h.message(1, (d) => writeHistogramDataPoint(d, p)));
      if (m.histogram.aggregationTemporality) h.uint(2, m.histogram.aggregationTemporality);
    });
  } else {
    throw new Error(`hand encoder: metric ${m.name} has no supported data (gauge, sum, histogram)`);
  }
}

/** Encodes a request object with the hand writer (no schema needed). */
export function encodeRequestHand(request) {
  const w = new Writer();
  for (const rm of request.resourceMetrics) {
    w.message(1, (r) => {
      if (rm.resource) r.message(1, (res) => writeKeyValues(res, 1, rm.resource.attributes));
      for (const sm of rm.scopeMetrics) {
        r.message(2, (s) => {
          if (sm.scope) {
            s.message(1, (sc) => {
              if (sm.scope.name) sc.string(1, sm.scope.name);
              if (sm.scope.version) sc.string(2, sm.scope.version);
            });
          }
          for (const m of sm.metrics) s.message(2, (mw) => writeMetric(mw, m));
        });
      }
    });
  }
  return Buffer.from(w.finish());
}

// ---- protobufjs encoder ---------------------------------------------------------------------

/** Loads the request type from the repository's .proto files; null when they are not there yet. */
export async function loadRequestType(protoFile = METRICS_SERVICE_PROTO, protoRoot = PROTO_ROOT) {
  if (!existsSync(protoFile)) return null;
  const { default: protobuf } = await import('protobufjs');
  const root = new protobuf.Root();
  // Imports in the OTLP protos are relative to the proto root ("opentelemetry/proto/...").
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(protoRoot, target));
  root.loadSync(protoFile, { keepCase: false });
  return root.lookupType(REQUEST_TYPE);
}

/**
 * Returns `{ encode, name }` for `--encoder auto|protobufjs|hand`: auto prefers protobufjs with the
 * repository's .proto files and falls back to the hand writer while they are missing.
 */
export async function selectEncoder(choice = 'auto') {
  if (choice !== 'hand') {
    const type = await loadRequestType().catch((err) => {
      if (choice === 'protobufjs') throw err;
      process.stderr.write(`native-bench: cannot load ${METRICS_SERVICE_PROTO} (${err.message}); using the hand encoder\n`);
      return null;
    });
    if (type) return { name: 'protobufjs', encode: (obj) => Buffer.from(type.encode(type.fromObject(obj)).finish()) };
    if (choice === 'protobufjs') throw new Error(`--encoder protobufjs: ${METRICS_SERVICE_PROTO} does not exist`);
  }
  return { name: 'hand', encode: encodeRequestHand };
}
