#!/usr/bin/env node
// Sends each of N distinct series exactly once over OTLP/gRPC, for the memory benchmark.
//
//   node load/distinct-series.mjs --target 127.0.0.1:4317 --kind counters --from 0 --to 100000
//   node load/distinct-series.mjs --target 127.0.0.1:4317 --kind spans --to 2000 --values-per-series 100
//
// counters: series i is the cumulative int counter `bench.requests` with point attributes
//   http.route (1 of 20), http.status_code (1 of 5) and client.id = "client-<i>" (distinct), under
//   resource (request number mod 10) (service.name, service.instance.id; no other resource attribute, so no target_info series):
//   6 labels after translation (job, instance, otel_scope_name, http_route, http_status_code, client_id), one unique.
//   Requests carry --points-per-request points, encoded by a small specialised writer (no protobufjs).
// spans: span series i is span name "op-<i>" of service "svc-<i mod 10>", kind SERVER, status UNSET;
//   it gets --values-per-series spans whose durations are lognormal (median 20 ms, σ --sigma).
//
// stdout: one JSON line at the end, {"event":"result", okRequests, okItems, errors, errorsByCode, seconds}.
import { parseArgs } from 'node:util';
import grpc from '@grpc/grpc-js';
import { METRICS_EXPORT_PATH, TRACES_EXPORT_PATH } from '../lib/otlp-metrics.mjs';
import { traceEncoder } from '../lib/otlp-traces.mjs';
import { exitWhenParentGone } from '../lib/child-guard.mjs';
import { random } from '../lib/random.mjs';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: '127.0.0.1:4317' },
    kind: { type: 'string', default: 'counters' },
    from: { type: 'string', default: '0' },
    to: { type: 'string', default: '100000' },
    'points-per-request': { type: 'string', default: '2000' },
    'values-per-series': { type: 'string', default: '100' },
    sigma: { type: 'string', default: '0.8' },
    concurrency: { type: 'string', default: '4' },
    'deadline-ms': { type: 'string', default: '30000' },
  },
});
const from = Number(args.from);
const to = Number(args.to);
const perRequest = Number(args['points-per-request']);
const valuesPerSeries = Number(args['values-per-series']);
const sigma = Number(args.sigma);
const concurrency = Number(args.concurrency);
for (const [name, v] of Object.entries({ from, to, perRequest, valuesPerSeries, sigma, concurrency })) {
  if (!Number.isFinite(v) || v < 0) fail(`invalid ${name}: ${v}`);
}
if (!['counters', 'spans'].includes(args.kind)) fail(`--kind: counters or spans (got ${args.kind})`);
const SERVICES = 10;

function fail(message) {
  process.stderr.write(`distinct-series: ${message}\n`);
  process.exit(2);
}

// ---- a minimal protobuf writer for the counter requests ----
function varint(n) {
  const out = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
const field = (no, ...parts) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([varint((no << 3) | 2), varint(body.length), body]);
};
const fixed64 = (no, big) => {
  const b = Buffer.alloc(9);
  b[0] = (no << 3) | 1;
  b.writeBigUInt64LE(BigInt.asUintN(64, big), 1);
  return b;
};
const text = (no, s) => field(no, Buffer.from(s));
const strAttr = (key, value) => field(7, text(1, key), field(2, text(1, value)));
const intAttr = (key, value) => field(7, text(1, key), field(2, Buffer.concat([varint(3 << 3), varint(value)])));
const ROUTES = ['/', '/health', '/login', '/logout', '/cart', '/cart/items', '/checkout', '/orders', '/orders/{id}', '/products',
  '/products/{id}', '/search', '/users/{id}', '/payments', '/payments/{id}', '/shipments/{id}', '/recommendations', '/reviews', '/addresses', '/sessions'];
const STATUSES = [200, 201, 400, 404, 500];
const nowNs = BigInt(Date.now()) * 1_000_000n;
const startField = fixed64(2, nowNs - 3_600_000_000_000n);
const timeField = fixed64(3, nowNs);

function counterRequest(first, count) {
  const service = Math.floor(first / perRequest) % SERVICES;
  const points = [];
  for (let i = first; i < first + count; i++) {
    points.push(field(1, startField, timeField, fixed64(6, BigInt(1000 + (i % 997))),
      strAttr('http.route', ROUTES[i % ROUTES.length]), intAttr('http.status_code', STATUSES[(i >> 2) % STATUSES.length]), strAttr('client.id', `client-${i}`)));
  }
  const sum = field(7, ...points, Buffer.from([(2 << 3) | 0, 2, (3 << 3) | 0, 1])); // cumulative, monotonic
  const metric = field(2, text(1, 'bench.requests'), text(2, 'Requests, one series per client.'), text(3, '{request}'), sum);
  const scope = field(2, field(1, text(1, 'vigil.native-bench.memory')), metric);
  const keyValue = (key, value) => field(1, text(1, key), field(2, text(1, value)));
  const resource = field(1, keyValue('service.name', `svc-${service}`), keyValue('service.instance.id', `svc-${service}-0`));
  return field(1, resource, scope);
}

// ---- span requests (protobufjs, the trace decoder's oracle) ----
const spanEncoder = args.kind === 'spans' ? await traceEncoder() : null;
const rand = random(42);
const gaussian = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
/** Spans for `series` [first, first+count) with `values` spans each, grouped by service. */
function spanRequest(first, count) {
  const byService = new Map();
  for (let i = first; i < first + count; i++) {
    const service = `svc-${i % SERVICES}`;
    if (!byService.has(service)) byService.set(service, []);
    for (let v = 0; v < valuesPerSeries; v++) {
      const durationNs = BigInt(Math.max(1000, Math.round(20e6 * Math.exp(sigma * gaussian()))));
      const start = nowNs - 60_000_000_000n + BigInt(Math.floor(rand() * 30e9));
      byService.get(service).push({
        traceId: Buffer.from(Array.from({ length: 16 }, () => Math.floor(rand() * 256))),
        spanId: Buffer.from(Array.from({ length: 8 }, () => Math.floor(rand() * 256))),
        name: `op-${i}`, kind: 2, startTimeUnixNano: start.toString(), endTimeUnixNano: (start + durationNs).toString(), status: {},
      });
    }
  }
  return spanEncoder.encode({
    resourceSpans: [...byService].map(([service, spans]) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [{ scope: { name: 'vigil.native-bench.memory' }, spans }],
    })),
  });
}

// ---- send ----
const spans = args.kind === 'spans';
const seriesPerRequest = spans ? Math.max(1, Math.floor(perRequest / valuesPerSeries)) : perRequest;
const itemsPerSeries = spans ? valuesPerSeries : 1;
const client = new grpc.Client(args.target, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
await new Promise((resolve) => client.waitForReady(Date.now() + 10_000, (err) => (err ? fail(`${args.target} not ready: ${err.message}`) : resolve())));
const identity = (b) => b;
let next = from;
let okRequests = 0;
let okItems = 0;
let errors = 0;
const errorsByCode = {};
const started = Date.now();

function sendOne() {
  if (next >= to) return Promise.resolve(false);
  const first = next;
  const count = Math.min(seriesPerRequest, to - first);
  next += count;
  const payload = spans ? spanRequest(first, count) : counterRequest(first, count);
  return new Promise((resolve) => {
    client.makeUnaryRequest(spans ? TRACES_EXPORT_PATH : METRICS_EXPORT_PATH, identity, identity, payload, { deadline: Date.now() + Number(args['deadline-ms']) }, (err) => {
      if (err) {
        errors++;
        errorsByCode[err.code] = (errorsByCode[err.code] ?? 0) + 1;
      } else {
        okRequests++;
        okItems += count * itemsPerSeries;
      }
      resolve(true);
    });
  });
}
async function lane() {
  while (await sendOne());
}
await Promise.all(Array.from({ length: concurrency }, lane));
client.close();
process.stdout.write(`${JSON.stringify({ event: 'result', kind: args.kind, from, to, okRequests, okItems, errors, errorsByCode, seconds: (Date.now() - started) / 1000 })}\n`);
exitWhenParentGone(() => process.exit(1));
process.exit(errors > 0 ? 1 : 0);
