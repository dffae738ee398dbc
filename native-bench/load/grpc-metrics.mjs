#!/usr/bin/env node
// OTLP/gRPC load generator: pre-encodes N distinct ExportMetricsServiceRequest payloads (or, with
// `--signal traces`, ExportTraceServiceRequest payloads of --points-per-request spans each),
// then keeps C Export calls in flight (raw grpc-js Client, identity serializers, so the client does
// no protobuf work while timing) through a warm-up and a timed window.
//
//   node load/grpc-metrics.mjs --target 127.0.0.1:4317 [--duration 10] [--warmup 2] [--concurrency 32]
//
// stdout is a line protocol for the harness, one JSON object per line:
//   {"event":"built",...}  {"event":"timed-start"}  {"event":"timed-end"}  {"event":"result",...}
// The harness samples the server's CPU on timed-start and timed-end. Logs go to stderr.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import grpc from '@grpc/grpc-js';
import { buildRequestObject, countPoints, selectEncoder, seriesPoolSize, METRICS_EXPORT_PATH, TRACES_EXPORT_PATH } from '../lib/otlp-metrics.mjs';
import { buildTraceRequestObject, countSpans, spanSeriesPoolSize, traceEncoder } from '../lib/otlp-traces.mjs';
import { exitWhenParentGone } from '../lib/child-guard.mjs';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: '127.0.0.1:4317' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '32' },
    'points-per-request': { type: 'string', default: '500' },
    payloads: { type: 'string', default: '40' },
    services: { type: 'string', default: '10' },
    connections: { type: 'string', default: '1' },
    encoder: { type: 'string', default: 'auto' },
    'deadline-ms': { type: 'string', default: '10000' },
    'exit-with-stdin': { type: 'boolean', default: false },
    signal: { type: 'string', default: 'metrics' },
  },
});
const traces = args.signal === 'traces';
if (!traces && args.signal !== 'metrics') fail(`--signal: metrics or traces (got ${args.signal})`);
const EXPORT_PATH = traces ? TRACES_EXPORT_PATH : METRICS_EXPORT_PATH;

const durationMs = Number(args.duration) * 1000;
const warmupMs = Number(args.warmup) * 1000;
const concurrency = Number(args.concurrency);
const pointsPerRequest = Number(args['points-per-request']);
const payloadCount = Number(args.payloads);
const services = Number(args.services);
const connections = Number(args.connections);
const deadlineMs = Number(args['deadline-ms']);
for (const [name, v] of Object.entries({ durationMs, warmupMs, concurrency, pointsPerRequest, payloadCount, services, connections, deadlineMs })) {
  if (!Number.isFinite(v) || v < 0 || (name !== 'warmupMs' && v === 0)) fail(`invalid ${name}: ${v}`);
}

function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}
function fail(message) {
  process.stderr.write(`grpc-metrics: ${message}\n`);
  process.exit(2);
}

// ---- payloads, built once before anything is timed ----
const encoder = traces ? await traceEncoder() : await selectEncoder(args.encoder);
const baseTimeNs = BigInt(Date.now()) * 1_000_000n;
const payloads = [];
let payloadBytes = 0;
for (let i = 0; i < payloadCount; i++) {
  const request = traces ? buildTraceRequestObject(i, { spans: pointsPerRequest, services, baseTimeNs }) : buildRequestObject(i, { points: pointsPerRequest, services, baseTimeNs });
  const items = traces ? countSpans(request) : countPoints(request);
  if (items !== pointsPerRequest) fail(`payload ${i} has ${items} items, expected ${pointsPerRequest}`);
  const bytes = encoder.encode(request);
  payloads.push(bytes);
  payloadBytes += bytes.length;
}
emit({
  event: 'built', encoder: encoder.name, payloads: payloadCount, pointsPerRequest,
  meanPayloadBytes: Math.round(payloadBytes / payloadCount), seriesPool: Math.min(traces ? spanSeriesPoolSize(services) : seriesPoolSize(services), payloadCount * pointsPerRequest), signal: args.signal,
});

// ---- clients ----
const identity = (buffer) => buffer;
// A local subchannel pool per client gives each its own HTTP/2 connection.
const clients = Array.from({ length: connections }, () => new grpc.Client(args.target, grpc.credentials.createInsecure(), {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.max_send_message_length': 16 * 1024 * 1024,
}));
await Promise.all(clients.map((c) => new Promise((resolve, reject) => {
  c.waitForReady(Date.now() + 10_000, (err) => (err ? reject(new Error(`${args.target} not ready: ${err.message}`)) : resolve()));
}))).catch((err) => fail(err.message));

// ---- state ----
const Phase = { Warmup: 0, Timed: 1, Drain: 2 };
let phase = Phase.Warmup;
let latencies = new Float64Array(1 << 20);
let timedCount = 0; // OK requests completed inside the timed window (latencies[0..timedCount))
let timedErrors = 0;
let okRequests = 0; // every OK, warm-up and drain included: what the daemon must have counted
const errorsByCode = {};
let next = 0;
let inFlight = 0;
let timedStart = 0;
let timedEnd = 0;
let cpuStart;
let cpuTimed;

const codeName = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

function issue(slot) {
  if (phase === Phase.Drain) return;
  const client = clients[slot % connections];
  const payload = payloads[next++ % payloadCount];
  const started = performance.now();
  inFlight++;
  client.makeUnaryRequest(EXPORT_PATH, identity, identity, payload, { deadline: Date.now() + deadlineMs }, (err) => {
    inFlight--;
    const now = performance.now();
    if (err) {
      const name = codeName[err.code] ?? String(err.code);
      errorsByCode[name] = (errorsByCode[name] ?? 0) + 1;
      if (phase === Phase.Timed) timedErrors++;
    } else {
      okRequests++;
      if (phase === Phase.Timed) {
        if (timedCount === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[timedCount++] = now - started;
      }
    }
    if (phase === Phase.Drain) {
      if (inFlight === 0) finish();
    } else {
      issue(slot);
    }
  });
}

setTimeout(() => {
  phase = Phase.Timed;
  timedStart = performance.now();
  cpuStart = process.cpuUsage();
  emit({ event: 'timed-start' });
  setTimeout(() => {
    phase = Phase.Drain;
    timedEnd = performance.now();
    cpuTimed = process.cpuUsage(cpuStart);
    emit({ event: 'timed-end' });
    if (inFlight === 0) finish();
    else setTimeout(() => fail(`${inFlight} requests still in flight ${deadlineMs} ms after the timed window`), deadlineMs + 1000).unref();
  }, durationMs);
}, warmupMs);

for (let slot = 0; slot < concurrency; slot++) issue(slot);
emit({ event: 'warmup-start' });

function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  const sorted = latencies.subarray(0, timedCount).sort();
  const elapsedSeconds = (timedEnd - timedStart) / 1000;
  const round = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  emit({
    event: 'result',
    target: args.target,
    encoder: encoder.name,
    concurrency,
    connections,
    pointsPerRequest,
    payloads: payloadCount,
    elapsedSeconds,
    requests: timedCount,
    points: timedCount * pointsPerRequest,
    errors: timedErrors,
    errorsByCode,
    latencyMs: { p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)), max: round(sorted[timedCount - 1] ?? null) },
    // Everything acknowledged with OK over the whole run (warm-up and drain included).
    okRequestsTotal: okRequests,
    okPointsTotal: okRequests * pointsPerRequest,
    loadgenCpuSeconds: (cpuTimed.user + cpuTimed.system) / 1e6,
  });
  for (const c of clients) c.close();
  process.exit(0);
}

exitWhenParentGone(() => process.exit(1));
