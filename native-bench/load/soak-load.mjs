#!/usr/bin/env node
// Open-loop OTLP/gRPC load for the soak: a fixed rate of ExportMetricsServiceRequest and
// ExportTraceServiceRequest calls (raw grpc-js clients, identity serializers, payloads encoded
// before they are timed), for as long as the harness keeps it running.
//
//   node load/soak-load.mjs --target 127.0.0.1:4317 --metrics-rps 20 --traces-rps 10
//                           [--points-per-request 500] [--services 10] [--report-seconds 60]
//                           [--max-inflight 64] [--exit-with-stdin]
//
// Open loop, unlike load/grpc-metrics.mjs: calls start on a 10 ms tick whatever the latency, so a
// daemon that slows down shows it in Export latency instead of in a lower rate. A call that would
// exceed --max-inflight per signal is not sent and counted as `skipped` (the daemon fell behind).
// Span payloads are re-encoded with the current time every minute, so SLO minutes stay current.
//
// stdout, one JSON object per line:
//   {"event":"ready"}
//   {"event":"report","atMs",...,"metrics":{sent,ok,errors,skipped,p50,p99,max},"traces":{...}}
//   {"event":"totals","metrics":{okItems,...},"traces":{...}}   (on SIGTERM or a "stop" line on stdin)
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import grpc from '@grpc/grpc-js';
import { buildRequestObject, selectEncoder, METRICS_EXPORT_PATH, TRACES_EXPORT_PATH } from '../lib/otlp-metrics.mjs';
import { buildTraceRequestObject, traceEncoder } from '../lib/otlp-traces.mjs';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: '127.0.0.1:4317' },
    'metrics-rps': { type: 'string', default: '10' },
    'traces-rps': { type: 'string', default: '10' },
    'points-per-request': { type: 'string', default: '500' },
    'spans-per-request': { type: 'string', default: '500' },
    services: { type: 'string', default: '10' },
    payloads: { type: 'string', default: '40' },
    'report-seconds': { type: 'string', default: '60' },
    'max-inflight': { type: 'string', default: '64' },
    'deadline-ms': { type: 'string', default: '10000' },
    'exit-with-stdin': { type: 'boolean', default: false },
  },
});
const num = (name) => {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v < 0) fail(`--${name}: a number ≥ 0 (got ${args[name]})`);
  return v;
};
const metricsRps = num('metrics-rps');
const tracesRps = num('traces-rps');
const pointsPerRequest = num('points-per-request');
const spansPerRequest = num('spans-per-request');
const services = num('services');
const payloadCount = num('payloads');
const reportMs = num('report-seconds') * 1000;
const maxInflight = num('max-inflight');
const deadlineMs = num('deadline-ms');
const TICK_MS = 10;
const TRACE_REFRESH_MS = 60_000;

function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}
function fail(message) {
  process.stderr.write(`soak-load: ${message}\n`);
  process.exit(2);
}

const metricsEncoder = await selectEncoder('auto');
const spansEncoder = await traceEncoder();
// Metrics: a fixed pool (services × 2,000 series), revisited with the same payloads, as bench:ingest.
const metricPayloads = Array.from({ length: payloadCount }, (_, i) => metricsEncoder.encode(buildRequestObject(i, { points: pointsPerRequest, services })));
const traceCount = Math.min(payloadCount, 20);
let tracePayloads = [];
let traceBuild = 0;
function buildTraces() {
  const baseTimeNs = BigInt(Date.now() - 1000) * 1_000_000n;
  // Fresh ids per build (the index seeds them), current timestamps.
  tracePayloads = Array.from({ length: traceCount }, (_, i) => spansEncoder.encode(buildTraceRequestObject(traceBuild * traceCount + i, { spans: spansPerRequest, services, baseTimeNs })));
  traceBuild++;
}
buildTraces();

const client = new grpc.Client(args.target, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 16 * 1024 * 1024 });
await new Promise((resolve) => {
  client.waitForReady(Date.now() + 10_000, (err) => (err ? fail(`${args.target} not ready: ${err.message}`) : resolve()));
});
const identity = (b) => b;
const codeName = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

/** One signal's sender and counters; `window` is reset at every report, `totals` never. */
function lane(name, path, rps, items, payloads) {
  const l = {
    name, rps, inflight: 0, credit: 0, next: 0,
    window: { sent: 0, ok: 0, errors: 0, skipped: 0, latencies: [] },
    totals: { sent: 0, ok: 0, okItems: 0, errors: 0, skipped: 0, errorsByCode: {} },
  };
  l.send = () => {
    if (l.inflight >= maxInflight) {
      l.window.skipped++;
      l.totals.skipped++;
      return;
    }
    const list = payloads();
    const payload = list[l.next++ % list.length];
    const started = performance.now();
    l.inflight++;
    l.window.sent++;
    l.totals.sent++;
    client.makeUnaryRequest(path, identity, identity, payload, { deadline: Date.now() + deadlineMs }, (err) => {
      l.inflight--;
      if (err) {
        const code = codeName[err.code] ?? String(err.code);
        l.window.errors++;
        l.totals.errors++;
        l.totals.errorsByCode[code] = (l.totals.errorsByCode[code] ?? 0) + 1;
        return;
      }
      l.window.ok++;
      l.totals.ok++;
      l.totals.okItems += items;
      l.window.latencies.push(performance.now() - started);
    });
  };
  return l;
}

const lanes = [
  lane('metrics', METRICS_EXPORT_PATH, metricsRps, pointsPerRequest, () => metricPayloads),
  lane('traces', TRACES_EXPORT_PATH, tracesRps, spansPerRequest, () => tracePayloads),
];

let last = performance.now();
const tick = setInterval(() => {
  const now = performance.now();
  const elapsed = now - last;
  last = now;
  for (const l of lanes) {
    // Credit accrues with real elapsed time, so a late tick sends what it owes.
    l.credit += (l.rps * elapsed) / 1000;
    while (l.credit >= 1) {
      l.credit -= 1;
      l.send();
    }
  }
}, TICK_MS);

const refresh = setInterval(buildTraces, TRACE_REFRESH_MS);

function quantile(sorted, q) {
  return sorted.length === 0 ? null : Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] * 1000) / 1000;
}

const report = setInterval(() => {
  const out = { event: 'report', atMs: Date.now() };
  for (const l of lanes) {
    const sorted = Float64Array.from(l.window.latencies).sort();
    out[l.name] = { sent: l.window.sent, ok: l.window.ok, errors: l.window.errors, skipped: l.window.skipped, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: quantile(sorted, 1) };
    l.window = { sent: 0, ok: 0, errors: 0, skipped: 0, latencies: [] };
  }
  emit(out);
}, reportMs);

let stopping = false;
/** Stops sending, waits for the calls in flight, prints the totals and exits. */
function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(tick);
  clearInterval(refresh);
  clearInterval(report);
  const done = () => {
    const out = { event: 'totals' };
    for (const l of lanes) out[l.name] = l.totals;
    emit(out);
    client.close();
    process.exit(0);
  };
  const poll = setInterval(() => {
    if (lanes.every((l) => l.inflight === 0)) {
      clearInterval(poll);
      done();
    }
  }, 20);
  setTimeout(() => {
    process.stderr.write(`soak-load: calls still in flight ${deadlineMs} ms after stop\n`);
    done();
  }, deadlineMs + 1000).unref();
}
process.on('SIGTERM', stop);
emit({ event: 'ready', metricPayloadBytes: metricPayloads[0].length, tracePayloadBytes: tracePayloads[0].length });
if (args['exit-with-stdin']) {
  const input = createInterface({ input: process.stdin });
  input.on('line', (line) => {
    if (line.trim() === 'stop') stop();
  });
  // The harness died: stop sending at once.
  input.on('close', () => {
    if (!stopping) process.exit(1);
  });
}
