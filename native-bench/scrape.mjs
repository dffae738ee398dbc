#!/usr/bin/env node
// bench:scrape — time to render and serve /metrics for ~100k series (counters, gauges, 2k
// histograms), Vigil against prom-client holding the same series, in the same run.
//
// 1. Vigil: start `bin/vigil.js start` (percentiles off, so it exposes exactly the workload's
//    series; series.limit above the workload), push the workload (lib/scrape-series.mjs) over
//    OTLP/gRPC, wait until vigil_points_accepted_total counts every point, then time N scrapes of
//    /metrics after a warm-up, for text 0.0.4, OpenMetrics and text + gzip: wall time to the
//    last body byte (median, p99), body bytes, and daemon CPU per scrape (/proc/<pid>/stat).
// 2. prom-client (peer/prom-client-metrics.mjs, its own process): the same series built from the
//    same description; `register.metrics()` timed in-process, then node:http scraped the same way.
// 3. Both expositions are parsed (lib/prom-text.mjs) and must hold the same series and values.
// Ratio = prom-client time ÷ Vigil time (higher is better). Writes results/scrape.json; exits
// non-zero if a point is lost, the series differ, or a scrape fails.
//
//   npm run bench:scrape -- [--quick] [--series 100000] [--histograms 2000] [--scrapes 30]
//                           [--warmup 3] [--percentiles] [--skip-build]
import { parseArgs } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { cpuSeconds, freePort, isRunning, spawnChild, stopChild, waitForHttp200, waitForLine } from './lib/proc.mjs';
import { runMain } from './lib/ingest-run.mjs';
import { buildIfNeeded, benchDir, commandLine, figure, repoRoot, writeResult } from './lib/result.mjs';
import { compareSeries, seriesMap, sumSamples } from './lib/prom-text.mjs';
import { selectEncoder, countPoints, METRICS_EXPORT_PATH } from './lib/otlp-metrics.mjs';
import { scrapeWorkload, workloadRequests, workloadSampleNames } from './lib/scrape-series.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    series: { type: 'string' },
    histograms: { type: 'string' },
    scrapes: { type: 'string' },
    warmup: { type: 'string', default: '3' },
    percentiles: { type: 'boolean', default: false },
    'skip-build': { type: 'boolean', default: false },
    host: { type: 'string', default: '127.0.0.1' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(`${(await import('node:fs')).readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n')}\n`);
  process.exit(0);
}
const seriesCount = Number(args.series ?? (args.quick ? 10_400 : 100_000));
const histogramCount = Number(args.histograms ?? (args.quick ? 400 : 2000));
const scrapes = Number(args.scrapes ?? (args.quick ? 8 : 30));
const warmup = Number(args.warmup);
const workload = scrapeWorkload({ series: seriesCount, histograms: histogramCount });
const TARGET_SPEEDUP = 5;

const t0 = Date.now();
function log(message) {
  process.stderr.write(`bench:scrape: [${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}\n`);
}

const FORMATS = {
  text: { accept: undefined, gzip: false },
  openmetrics: { accept: 'application/openmetrics-text;version=1.0.0', gzip: false },
  'text+gzip': { accept: undefined, gzip: true },
  // What Prometheus asks for with --enable-feature=native-histograms.
  protobuf: { accept: 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited', gzip: false, binary: true },
};

// One keep-alive connection, as Prometheus keeps one per target.
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** GET url; resolves { ms, status, bytes, body? } with the time until the last body byte. */
function get(url, { accept, gzip, keepBody = false, binary = false }) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (accept) headers.accept = accept;
    if (gzip) headers['accept-encoding'] = 'gzip';
    const began = performance.now();
    const req = httpRequest(url, { agent, headers }, (res) => {
      const chunks = [];
      let bytes = 0;
      res.on('data', (c) => {
        bytes += c.length;
        if (keepBody) chunks.push(c);
      });
      res.on('end', () => resolve({ ms: performance.now() - began, status: res.statusCode, bytes, encoding: res.headers['content-encoding'], body: keepBody ? (binary ? Buffer.concat(chunks) : Buffer.concat(chunks).toString('utf8')) : undefined }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${url}: no answer in 30 s`)));
    req.on('error', reject);
    req.end();
  });
}

function stats(ms) {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const r = (x) => Math.round(x * 100) / 100;
  return { n: sorted.length, medianMs: r(at(0.5)), p99Ms: r(at(0.99)), minMs: r(sorted[0]), maxMs: r(sorted[sorted.length - 1]) };
}

/** Warm-up, then `scrapes` timed GETs per format; daemon CPU per scrape from /proc. */
async function timeScrapes(url, pid, formats) {
  const out = {};
  for (const [name, f] of Object.entries(formats)) {
    for (let i = 0; i < warmup; i++) {
      const r = await get(url, f);
      if (r.status !== 200) throw new Error(`GET ${url} (${name}) answered ${r.status}`);
    }
    const ms = [];
    let bytes = 0;
    const cpu0 = cpuSeconds(pid);
    for (let i = 0; i < scrapes; i++) {
      const r = await get(url, f);
      if (r.status !== 200) throw new Error(`GET ${url} (${name}) answered ${r.status}`);
      if (f.gzip && r.encoding !== 'gzip') throw new Error(`GET ${url} (${name}) was not gzipped`);
      ms.push(r.ms);
      bytes = r.bytes;
    }
    const cpuMs = ((cpuSeconds(pid) - cpu0) * 1000) / scrapes;
    out[name] = { ...stats(ms), bytes, serverCpuMsPerScrape: Math.round(cpuMs * 10) / 10 };
    log(`  ${name}: median ${out[name].medianMs} ms, p99 ${out[name].p99Ms} ms, ${bytes.toLocaleString('en-US')} bytes, ${out[name].serverCpuMsPerScrape} ms CPU/scrape`);
  }
  return out;
}

// ---- Vigil ----------------------------------------------------------------------------------

async function runVigil() {
  const [grpcPort, metricsPort, statusPort, httpPort] = [await freePort(args.host), await freePort(args.host), await freePort(args.host), await freePort(args.host)];
  const workDir = mkdtempSync(join(tmpdir(), 'vigil-bench-scrape-'));
  const configFile = join(workDir, 'vigil.yaml');
  writeFileSync(configFile, [
    'series:',
    `  limit: ${Math.max(200_000, seriesCount * 2)}`,
    '  staleness: 1h',
    'percentiles:',
    `  enabled: ${args.percentiles}`,
    'log:',
    '  level: warn',
    '',
  ].join('\n'));
  const metricsBase = `http://${args.host}:${metricsPort}`;
  const daemonArgs = [join(repoRoot, 'bin', 'vigil.js'), 'start', '--config', configFile, '--otlp-grpc', `${args.host}:${grpcPort}`, '--otlp-http', `${args.host}:${httpPort}`,
    '--metrics', `${args.host}:${metricsPort}`, '--status', `${args.host}:${statusPort}`, '--data-dir', join(workDir, 'data')];
  const logFile = join(benchDir, 'results', 'vigil-daemon-scrape.log');
  log(`starting Vigil (log: results/vigil-daemon-scrape.log)`);
  const child = spawnChild('vigil', process.execPath, daemonArgs, { cwd: workDir, log: logFile, guard: true });
  try {
    await waitForHttp200(child, `${metricsBase}/-/ready`, 30_000);
    const sent = await pushWorkload(`${args.host}:${grpcPort}`);
    await waitForCount(metricsBase, sent);
    log(`Vigil holds the workload (${sent.toLocaleString('en-US')} points); timing ${scrapes} scrapes per format after ${warmup} warm-up`);
    const text = (await get(`${metricsBase}/metrics`, { keepBody: true })).body;
    const protobufMetrics = countProtobufMetrics((await get(`${metricsBase}/metrics`, { ...FORMATS.protobuf, keepBody: true })).body);
    const timings = await timeScrapes(`${metricsBase}/metrics`, child.pid, FORMATS);
    if (!isRunning(child)) throw new Error('Vigil exited during the scrapes');
    return { text, protobufMetrics, timings, points: sent, config: { seriesLimit: Math.max(200_000, seriesCount * 2), percentiles: args.percentiles } };
  } finally {
    await stopChild(child);
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Sends every workload request (4 in flight); returns the points acknowledged. */
async function pushWorkload(address) {
  const encoder = await selectEncoder('auto');
  const clientConn = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  const identity = (b) => b;
  const pending = [...workloadRequests(workload)];
  let points = 0;
  const began = performance.now();
  const send = async () => {
    for (let req = pending.shift(); req !== undefined; req = pending.shift()) {
      const n = countPoints(req);
      const payload = encoder.encode(req);
      await new Promise((resolve, reject) => {
        clientConn.makeUnaryRequest(METRICS_EXPORT_PATH, identity, identity, payload, { deadline: Date.now() + 30_000 }, (err) => (err ? reject(new Error(`Export failed: ${err.message}`)) : resolve()));
      });
      points += n;
    }
  };
  await Promise.all([send(), send(), send(), send()]);
  clientConn.close();
  log(`pushed ${workload.services} requests, ${points.toLocaleString('en-US')} points in ${Math.round(performance.now() - began)} ms (${encoder.name})`);
  return points;
}

/** Metric messages per family name in a protobuf exposition (protobufjs, the repository's proto). */
function countProtobufMetrics(body) {
  const root = new protobuf.Root();
  root.loadSync(join(repoRoot, 'proto', 'prometheus', 'metric_family.proto'), { keepCase: true });
  const MetricFamily = root.lookupType('io.prometheus.client.MetricFamily');
  const reader = protobuf.Reader.create(body);
  const counts = new Map();
  while (reader.pos < reader.len) {
    const family = MetricFamily.decodeDelimited(reader);
    counts.set(family.name, family.metric.length);
  }
  return counts;
}

async function waitForCount(metricsBase, expected) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { body } = await get(`${metricsBase}/metrics`, { keepBody: true });
    const accepted = sumSamples(body, 'vigil_points_accepted_total', (l) => l.signal === undefined || l.signal === 'metrics') ?? 0;
    const rejected = sumSamples(body, 'vigil_points_rejected_total', (l) => l.signal === undefined || l.signal === 'metrics') ?? 0;
    if (rejected > 0) throw new Error(`Vigil rejected ${rejected} points`);
    if (accepted === expected) return;
    if (accepted > expected || Date.now() > deadline) throw new Error(`Vigil counted ${accepted} points, expected ${expected}`);
    await sleep(200);
  }
}

// ---- prom-client ----------------------------------------------------------------------------

async function runPeer() {
  const port = await freePort(args.host);
  log('starting prom-client peer (builds the same series, times register.metrics() in-process)');
  const child = spawnChild('prom-client peer', process.execPath, [join(benchDir, 'peer', 'prom-client-metrics.mjs'), '--listen', `${args.host}:${port}`, '--exit-with-stdin',
    '--series', String(seriesCount), '--histograms', String(histogramCount), '--renders', String(scrapes), '--warmup', String(warmup)], { stdout: 'lines' });
  try {
    const ready = await waitForLine(child, function listening(e) { return e.event === 'listening'; }, 600_000);
    const inProcess = { ...stats(ready.inProcessMs), bytes: ready.bytes };
    log(`  in-process register.metrics(): median ${inProcess.medianMs} ms, p99 ${inProcess.p99Ms} ms`);
    const url = `http://${args.host}:${port}/metrics`;
    const text = (await get(url, { keepBody: true })).body;
    const timings = await timeScrapes(url, child.pid, { text: FORMATS.text, 'text+gzip': FORMATS['text+gzip'] });
    return { text, timings, inProcess, buildMs: Math.round(ready.buildMs) };
  } finally {
    await stopChild(child, 5000);
  }
}

// ---- main -----------------------------------------------------------------------------------

async function main() {
  if (!args['skip-build']) buildIfNeeded(log);
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  log(`workload: ${seriesCount.toLocaleString('en-US')} series (${histogramCount} histograms, ${workload.services} services)`);
  const vigil = await runVigil();
  const peer = await runPeer();

  const names = workloadSampleNames();
  const keep = (name) => names.has(name);
  const vigilSeries = seriesMap(vigil.text, keep);
  const peerSeries = seriesMap(peer.text, keep);
  const diff = compareSeries(peerSeries, vigilSeries);
  const expectedSamples = (seriesCount - histogramCount) + histogramCount * (workload.histogramMetric ? 13 : 0);
  const sameSeries = diff.missingCount === 0 && diff.extraCount === 0 && diff.differingCount === 0 && peerSeries.size === expectedSamples;
  log(`series check: Vigil ${vigilSeries.size.toLocaleString('en-US')} samples, prom-client ${peerSeries.size.toLocaleString('en-US')}, expected ${expectedSamples.toLocaleString('en-US')}: ${sameSeries ? 'identical' : `DIFFERENT ${JSON.stringify(diff)}`}`);

  const v = vigil.timings;
  const p = peer.timings;
  const met = (ratio) => ratio >= TARGET_SPEEDUP;
  const figures = [
    figure({ name: `scrape ${seriesCount / 1000}k series, text 0.0.4 (median)`, value: v.text.medianMs, unit: 'ms', reference: 'prom-client, node:http, same series', referenceValue: p.text.medianMs, ratio: p.text.medianMs / v.text.medianMs, target: `≥ ${TARGET_SPEEDUP}× faster`, met: met(p.text.medianMs / v.text.medianMs), higherIsBetter: true }),
    figure({ name: `scrape ${seriesCount / 1000}k series, text 0.0.4 (p99)`, value: v.text.p99Ms, unit: 'ms', reference: 'prom-client, node:http, same series', referenceValue: p.text.p99Ms, ratio: p.text.p99Ms / v.text.p99Ms, higherIsBetter: true }),
    figure({ name: 'scrape vs prom-client register.metrics() in-process (median)', value: v.text.medianMs, unit: 'ms', reference: 'prom-client register.metrics(), no HTTP', referenceValue: peer.inProcess.medianMs, ratio: peer.inProcess.medianMs / v.text.medianMs, target: `≥ ${TARGET_SPEEDUP}× faster`, met: met(peer.inProcess.medianMs / v.text.medianMs), higherIsBetter: true }),
    figure({ name: 'server CPU per scrape, text 0.0.4', value: v.text.serverCpuMsPerScrape, unit: 'ms', reference: 'prom-client, node:http', referenceValue: p.text.serverCpuMsPerScrape, ratio: v.text.serverCpuMsPerScrape > 0 ? p.text.serverCpuMsPerScrape / v.text.serverCpuMsPerScrape : undefined, higherIsBetter: true }),
    figure({ name: 'scrape, text 0.0.4 + gzip (median)', value: v['text+gzip'].medianMs, unit: 'ms', reference: 'prom-client, node:http + zlib gzip', referenceValue: p['text+gzip'].medianMs, ratio: p['text+gzip'].medianMs / v['text+gzip'].medianMs, higherIsBetter: true }),
    figure({ name: 'scrape, OpenMetrics (median)', value: v.openmetrics.medianMs, unit: 'ms', reference: 'Vigil text 0.0.4, same run', referenceValue: v.text.medianMs, ratio: v.text.medianMs / v.openmetrics.medianMs, higherIsBetter: true }),
    figure({ name: 'exposition size, text 0.0.4', value: v.text.bytes, unit: 'bytes', reference: 'prom-client', referenceValue: p.text.bytes }),
    figure({ name: 'scrape, protobuf (median)', value: v.protobuf.medianMs, unit: 'ms', reference: 'Vigil text 0.0.4, same run', referenceValue: v.text.medianMs, ratio: v.text.medianMs / v.protobuf.medianMs, higherIsBetter: true }),
    figure({ name: 'server CPU per scrape, protobuf', value: v.protobuf.serverCpuMsPerScrape, unit: 'ms', reference: 'Vigil text 0.0.4, same run', referenceValue: v.text.serverCpuMsPerScrape, ratio: v.protobuf.serverCpuMsPerScrape > 0 ? v.text.serverCpuMsPerScrape / v.protobuf.serverCpuMsPerScrape : undefined, higherIsBetter: true }),
    figure({ name: 'exposition size, protobuf', value: v.protobuf.bytes, unit: 'bytes', reference: 'Vigil text 0.0.4, same run', referenceValue: v.text.bytes }),
  ];
  // The protobuf exposition holds every workload series (one Metric message per series).
  const workloadFamilies = new Set([...names].map((n) => n.replace(/_(bucket|sum|count)$/, '')));
  const protobufSeries = [...vigil.protobufMetrics].filter(([name]) => workloadFamilies.has(name)).reduce((a, [, n]) => a + n, 0);
  const protobufComplete = protobufSeries === seriesCount;
  log(`protobuf check: ${protobufSeries.toLocaleString('en-US')} workload series in the protobuf exposition, expected ${seriesCount.toLocaleString('en-US')}`);
  const ok = sameSeries && protobufComplete;
  const path = writeResult('scrape', {
    command: commandLine(`npm run bench:scrape`),
    ok,
    lost: diff.missingCount,
    figures,
    workload: { series: seriesCount, histograms: histogramCount, services: workload.services, points: vigil.points, samples: expectedSamples, scrapes, warmup },
    vigil: { config: vigil.config, scrapes: vigil.timings },
    promClient: { buildMs: peer.buildMs, inProcess: peer.inProcess, scrapes: peer.timings },
    seriesCheck: { identical: sameSeries, vigilSamples: vigilSeries.size, promClientSamples: peerSeries.size, ...diff },
  });
  const line = (f) => `${f.name}: Vigil ${f.value} ${f.unit}${f.referenceValue !== undefined ? `, ${f.reference} ${f.referenceValue}` : ''}${f.ratio !== undefined ? ` → ratio ${f.ratio}` : ''}${f.met !== undefined ? (f.met ? ' (target met)' : ' (target not met)') : ''}`;
  process.stdout.write(`${figures.map(line).join('\n')}\nwrote ${path}\n`);
  return ok ? 0 : 1;
}

runMain(main, log);
