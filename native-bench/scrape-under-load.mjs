#!/usr/bin/env node
// bench:scrape-under-load — OTLP/gRPC Export latency while Prometheus scrapes Vigil every second,
// against the same load with no scrapes, in the same run.
//
// Two phases, each on a fresh daemon (`bin/vigil.js start`, default config): the ingest load
// generator (load/grpc-metrics.mjs, as bench:ingest drives it: 32 calls in flight, 500-point
// requests) replays a pool of `--services` × 2,000 series. Phase "idle" only ingests; phase
// "scraped" also scrapes /metrics every `--interval` seconds the way Prometheus does (its Accept
// header preferring OpenMetrics, Accept-Encoding gzip, X-Prometheus-Scrape-Timeout-Seconds),
// from the warm-up to the end of the timed window. Reports Export p50/p99 of both phases and
// p99 scraped ÷ p99 idle (target ≤ 2). Every acknowledged point must be counted
// (vigil_points_accepted_total) and every scrape must answer 200, or the run fails.
// Writes results/scrape-under-load.json.
//
//   npm run bench:scrape-under-load -- [--quick] [--services 25] [--duration 10] [--warmup 3]
//                                      [--interval 1] [--concurrency 32] [--skip-build]
import { parseArgs } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { cpuSeconds, freePort, isRunning, spawnChild, stopChild, waitForHttp200, waitForLine } from './lib/proc.mjs';
import { runMain } from './lib/ingest-run.mjs';
import { buildIfNeeded, benchDir, commandLine, figure, repoRoot, writeResult } from './lib/result.mjs';
import { declares, sumSamples } from './lib/prom-text.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    services: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string', default: '3' },
    interval: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '32' },
    'points-per-request': { type: 'string', default: '500' },
    'skip-build': { type: 'boolean', default: false },
    host: { type: 'string', default: '127.0.0.1' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(`${readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n')}\n`);
  process.exit(0);
}
const services = Number(args.services ?? (args.quick ? 10 : 25));
const duration = Number(args.duration ?? (args.quick ? 4 : 10));
const warmup = Number(args.warmup);
const intervalMs = Number(args.interval) * 1000;
const pointsPerRequest = Number(args['points-per-request']);
const SERIES_PER_SERVICE = 2000;
// Payloads cover the pool exactly once, as in bench:ingest (40 × 500 points for 10 services).
const payloads = Math.ceil((services * SERIES_PER_SERVICE) / pointsPerRequest);
const TARGET_RATIO = 2;
/** What Prometheus 2.x/3.x sends when scraping (scrape_protocols default: OpenMetrics preferred). */
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

const t0 = Date.now();
function log(message) {
  process.stderr.write(`bench:scrape-under-load: [${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}\n`);
}

async function startVigil() {
  const [grpcPort, metricsPort, statusPort, httpPort] = [await freePort(args.host), await freePort(args.host), await freePort(args.host), await freePort(args.host)];
  const workDir = mkdtempSync(join(tmpdir(), 'vigil-bench-sul-'));
  const daemonArgs = [join(repoRoot, 'bin', 'vigil.js'), 'start', '--otlp-grpc', `${args.host}:${grpcPort}`, '--otlp-http', `${args.host}:${httpPort}`,
    '--metrics', `${args.host}:${metricsPort}`, '--status', `${args.host}:${statusPort}`, '--data-dir', join(workDir, 'data')];
  const child = spawnChild('vigil', process.execPath, daemonArgs, { cwd: workDir, log: join(benchDir, 'results', 'vigil-daemon-scrape-under-load.log'), guard: true });
  const metricsBase = `http://${args.host}:${metricsPort}`;
  await waitForHttp200(child, `${metricsBase}/-/ready`, 30_000);
  return { child, address: `${args.host}:${grpcPort}`, metricsBase, cleanup: () => rmSync(workDir, { recursive: true, force: true }) };
}

/** One Prometheus-style scrape; resolves { ms, status, bytes (decompressed), wireBytes }. */
function scrapeOnce(url, agent) {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    const req = httpRequest(url, { agent, headers: { accept: PROMETHEUS_ACCEPT, 'accept-encoding': 'gzip', 'x-prometheus-scrape-timeout-seconds': '10' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const wire = Buffer.concat(chunks);
        const body = res.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
        resolve({ ms: performance.now() - began, status: res.statusCode, bytes: body.length, wireBytes: wire.length, contentType: res.headers['content-type'] });
      });
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('scrape: no answer in 10 s')));
    req.on('error', reject);
    req.end();
  });
}

/** Scrapes every interval (a scrape still running delays the next, as Prometheus does) until stopped. */
function startScraper(url) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const results = [];
  let stopped = false;
  let timer;
  let current = Promise.resolve();
  const tick = () => {
    if (stopped) return;
    const began = performance.now();
    current = scrapeOnce(url, agent).then((r) => results.push(r), (err) => results.push({ error: err.message })).finally(() => {
      if (!stopped) timer = setTimeout(tick, Math.max(0, intervalMs - (performance.now() - began)));
    });
  };
  tick();
  return {
    results,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
      agent.destroy();
    },
  };
}

async function verifyCounts(metricsBase, expected) {
  const deadline = Date.now() + 15_000;
  const metricsSignal = (l) => l.signal === undefined || l.signal === 'metrics';
  let seen;
  for (;;) {
    const res = await fetch(`${metricsBase}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${text.slice(0, 200)}`);
    if (!declares(text, 'vigil_points_accepted_total')) throw new Error('/metrics does not export vigil_points_accepted_total');
    const accepted = sumSamples(text, 'vigil_points_accepted_total', metricsSignal) ?? 0;
    const rejected = sumSamples(text, 'vigil_points_rejected_total', metricsSignal) ?? 0;
    seen = { expected, accepted, rejected };
    if (accepted + rejected >= expected || Date.now() > deadline) break;
    await sleep(200);
  }
  seen.ok = seen.accepted === expected && seen.rejected === 0;
  return seen;
}

async function runPhase(name, withScrapes) {
  log(`[${name}] starting Vigil`);
  const server = await startVigil();
  try {
    const load = spawnChild('load generator', process.execPath, [
      join(benchDir, 'load', 'grpc-metrics.mjs'), '--target', server.address, '--exit-with-stdin', '--duration', String(duration), '--warmup', String(warmup),
      '--concurrency', args.concurrency, '--points-per-request', String(pointsPerRequest), '--payloads', String(payloads), '--services', String(services),
    ], { stdout: 'lines' });
    let scraper = null;
    let cpuStart = null;
    let cpuEnd = null;
    let scrapesAtStart = 0;
    let scrapesAtEnd = 0;
    load.lines.on('line', (line) => {
      let e;
      try {
        e = JSON.parse(line);
      } catch {
        return;
      }
      if (e.event === 'warmup-start' && withScrapes) scraper = startScraper(`${server.metricsBase}/metrics`);
      else if (e.event === 'timed-start') {
        cpuStart = cpuSeconds(server.child.pid);
        scrapesAtStart = scraper?.results.length ?? 0;
      } else if (e.event === 'timed-end') {
        cpuEnd = cpuSeconds(server.child.pid);
        scrapesAtEnd = scraper?.results.length ?? 0;
      }
    });
    log(`[${name}] load: ${services * SERIES_PER_SERVICE} series, ${args.concurrency} in flight, ${warmup}s warm-up + ${duration}s${withScrapes ? `, scraping every ${intervalMs / 1000}s` : ''}`);
    const result = await waitForLine(load, function result(e) { return e.event === 'result'; }, (warmup + duration) * 1000 + 90_000);
    await scraper?.stop();
    const exit = await load.exited;
    if (exit.code !== 0) throw new Error(`load generator exited with ${JSON.stringify(exit)}`);
    if (!isRunning(server.child)) throw new Error('Vigil exited during the load');
    const counts = await verifyCounts(server.metricsBase, result.okPointsTotal);
    const scrapes = scraper?.results ?? [];
    const failedScrapes = scrapes.filter((s) => s.error !== undefined || s.status !== 200);
    const okScrapes = scrapes.filter((s) => s.status === 200);
    const scrapeMs = okScrapes.map((s) => s.ms).sort((a, b) => a - b);
    const r = (x) => (x === undefined ? null : Math.round(x * 100) / 100);
    const summary = {
      exportLatencyMs: result.latencyMs,
      requestsPerSecond: Math.round(result.requests / result.elapsedSeconds),
      pointsPerSecond: Math.round(result.points / result.elapsedSeconds),
      errorsByCode: result.errorsByCode,
      serverCpuUtilization: cpuStart !== null && cpuEnd !== null ? r((cpuEnd - cpuStart) / result.elapsedSeconds) : null,
      counts,
      scrapes: withScrapes ? {
        total: scrapes.length,
        inTimedWindow: scrapesAtEnd - scrapesAtStart,
        failed: failedScrapes.length,
        failures: failedScrapes.slice(0, 5),
        medianMs: r(scrapeMs[Math.floor(scrapeMs.length / 2)]),
        maxMs: r(scrapeMs[scrapeMs.length - 1]),
        bytes: okScrapes.at(-1)?.bytes ?? null,
        gzipBytes: okScrapes.at(-1)?.wireBytes ?? null,
        contentType: okScrapes.at(-1)?.contentType ?? null,
      } : null,
    };
    log(`[${name}] Export p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, ${summary.pointsPerSecond.toLocaleString('en-US')} points/s; counts ${counts.ok ? 'ok' : JSON.stringify(counts)}${withScrapes ? `; ${scrapes.length} scrapes (median ${summary.scrapes.medianMs} ms, max ${summary.scrapes.maxMs} ms, ${summary.scrapes.bytes} bytes), ${failedScrapes.length} failed` : ''}`);
    return summary;
  } finally {
    await stopChild(server.child);
    server.cleanup();
  }
}

async function main() {
  if (!args['skip-build']) buildIfNeeded(log);
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  const idle = await runPhase('idle', false);
  const scraped = await runPhase('scraped', true);
  const p99Ratio = scraped.exportLatencyMs.p99 / idle.exportLatencyMs.p99;
  const p50Ratio = scraped.exportLatencyMs.p50 / idle.exportLatencyMs.p50;
  const figures = [
    figure({ name: 'Export p99 while scraped every second', value: scraped.exportLatencyMs.p99, unit: 'ms', reference: 'Export p99 without scrapes, same run', referenceValue: idle.exportLatencyMs.p99, ratio: p99Ratio, target: `≤ ${TARGET_RATIO}× idle`, met: p99Ratio <= TARGET_RATIO, higherIsBetter: false }),
    figure({ name: 'Export p50 while scraped every second', value: scraped.exportLatencyMs.p50, unit: 'ms', reference: 'Export p50 without scrapes, same run', referenceValue: idle.exportLatencyMs.p50, ratio: p50Ratio, higherIsBetter: false }),
    figure({ name: 'points/s while scraped every second', value: scraped.pointsPerSecond, unit: 'points/s', reference: 'points/s without scrapes, same run', referenceValue: idle.pointsPerSecond, higherIsBetter: true }),
    figure({ name: 'scrape duration under load (median)', value: scraped.scrapes.medianMs, unit: 'ms' }),
  ];
  const lost = (idle.counts.expected - idle.counts.accepted) + (scraped.counts.expected - scraped.counts.accepted);
  const ok = idle.counts.ok && scraped.counts.ok && scraped.scrapes.failed === 0 && scraped.scrapes.inTimedWindow > 0;
  const path = writeResult('scrape-under-load', {
    command: commandLine('npm run bench:scrape-under-load'),
    ok,
    lost,
    figures,
    workload: { series: services * SERIES_PER_SERVICE, services, payloads, pointsPerRequest, concurrency: Number(args.concurrency), warmupSeconds: warmup, durationSeconds: duration, scrapeIntervalSeconds: intervalMs / 1000, accept: PROMETHEUS_ACCEPT },
    idle,
    scraped,
  });
  for (const f of figures) process.stdout.write(`${f.name}: ${f.value} ${f.unit}${f.referenceValue !== undefined ? ` vs ${f.referenceValue} → ratio ${f.ratio}` : ''}${f.met !== undefined ? (f.met ? ' (target met)' : ' (target not met)') : ''}\n`);
  process.stdout.write(`wrote ${path}\n`);
  return ok ? 0 : 1;
}

runMain(main, log);
