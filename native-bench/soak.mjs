#!/usr/bin/env node
// soak — one daemon under steady, mixed load for an hour (default), sampled every minute: does
// anything grow or slow down over time?
//
//   npm run bench -- --only soak [--minutes 60]          (not part of the default suite)
//   node soak.mjs [--minutes 60] [--warmup-minutes 10] [--sample-seconds 60] [--load-fraction 0.5]
//                 [--metrics-rate N] [--spans-rate N] [--capacity-seconds 8] [--ws-clients 500]
//                 [--scrape-interval 15] [--no-docs] [--chart FILE] [--docs FILE] [--skip-build] [--quick]
//
// 1. Starts `bin/vigil.js start` (10 components, 10 span SLOs, an admin token, log level warn,
//    SQLite in a temp data dir, flush every 1 s) on free loopback ports.
// 2. Capacity: the closed-loop generator (load/grpc-metrics.mjs, 32 calls in flight) for
//    --capacity-seconds on metrics, then on spans; each signal's items/s is its capacity. Skipped
//    for a signal whose --metrics-rate / --spans-rate is given (items per second).
// 3. Soak: load/soak-load.mjs sends both signals open-loop at --load-fraction of the machine:
//    each signal at fraction ÷ 2 of its own capacity (so the daemon's CPU is about half busy);
//    Prometheus-style scrapes of /metrics every --scrape-interval s; the status API under light
//    load: --ws-clients WebSocket clients on /ws held for the whole run, GET summary.json once a
//    second, an incident created through the admin API every minute (every client must receive
//    it) and resolved 30 s later.
// 4. Every --sample-seconds: the daemon's RSS and open fds (/proc), V8 heap used and external
//    memory (vigil_nodejs_*), event-loop delay p99 (vigil_nodejs_eventloop_lag_p99_seconds, the
//    worst 15 s scrape window of the minute), Export p50/p99 per signal (client side), active series.
// 5. Reports the slopes after the warm-up (least squares: RSS MiB/h, fds/h, heap, external) and the
//    p99s at the end against the start (mean of the first and of the last 5 samples after warm-up).
//    Targets: RSS < 1 MiB/h, no fd growth, p99 end ≤ 1.2× start. Every acknowledged point and span
//    must be counted by the daemon and every client must get every broadcast (`lost`), or it fails.
// Writes results/soak.json and results/soak-samples.jsonl; unless --no-docs, the chart
// (docs/soak.svg) and the figures between <!-- soak:begin --> and <!-- soak:end --> in
// docs/operations.md. `--quick` = 3 minutes, 1 minute warm-up, samples every 15 s.
import { parseArgs } from 'node:util';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { cpuSeconds, freePort, isRunning, memoryMaps, spawnChild, stopChild, waitForHttp200, waitForLine } from './lib/proc.mjs';
import { helpFromHeader, makeLog, runMain } from './lib/ingest-run.mjs';
import { samples, sumSamples } from './lib/prom-text.mjs';
import { benchDir, buildIfNeeded, figure, gitDescribe, machineInfo, repoRoot, resultsDir, writeResult } from './lib/result.mjs';
import { linearFit, smallMultiples } from './lib/svg-chart.mjs';
import { openFramedClient } from './lib/ws-framed.mjs';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string' },
    'warmup-minutes': { type: 'string' },
    'sample-seconds': { type: 'string' },
    'load-fraction': { type: 'string', default: '0.5' },
    'metrics-rate': { type: 'string' },
    'spans-rate': { type: 'string' },
    'capacity-seconds': { type: 'string', default: '8' },
    'ws-clients': { type: 'string', default: '500' },
    'scrape-interval': { type: 'string', default: '15' },
    chart: { type: 'string', default: join(repoRoot, 'docs', 'soak.svg') },
    docs: { type: 'string', default: join(repoRoot, 'docs', 'operations.md') },
    'no-docs': { type: 'boolean', default: false },
    'skip-build': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) helpFromHeader(import.meta.url);
const minutes = Number(args.minutes ?? (args.quick ? 3 : 60));
const warmupMinutes = Number(args['warmup-minutes'] ?? (minutes >= 30 ? 10 : Math.max(1, Math.floor(minutes / 3))));
const sampleSeconds = Number(args['sample-seconds'] ?? (minutes >= 10 ? 60 : 15));
const loadFraction = Number(args['load-fraction']);
const wsClients = Number(args['ws-clients']);
const scrapeIntervalMs = Number(args['scrape-interval']) * 1000;
for (const [k, v] of Object.entries({ minutes, warmupMinutes, sampleSeconds, loadFraction, wsClients, scrapeIntervalMs })) {
  if (!Number.isFinite(v) || v < 0 || (k !== 'warmupMinutes' && k !== 'wsClients' && v === 0)) {
    process.stderr.write(`soak: invalid ${k}: ${v}\n`);
    process.exit(2);
  }
}
if (warmupMinutes >= minutes) {
  process.stderr.write(`soak: --warmup-minutes (${warmupMinutes}) must be less than --minutes (${minutes})\n`);
  process.exit(2);
}
const log = makeLog('soak');
const HOST = '127.0.0.1';
const TOKEN = 'soak-admin-token-0123456789';
const ITEMS_PER_REQUEST = 500;
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const SPAN_SERVICES = ['gateway', 'checkout', 'cart', 'catalog', 'payments'];
const MIB = 1024 * 1024;
const round = (x, d = 2) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

function writeConfig(dir) {
  const components = SPAN_SERVICES.flatMap((s) => [`  - { id: ${s}, name: ${s}, group: Shop }`]);
  const slos = SPAN_SERVICES.flatMap((s) => [
    `  - { id: ${s}-availability, component: ${s}, objective: 99, window: 30d, indicator: { availability: { spans: { service: ${s} } } } }`,
    `  - { id: ${s}-latency, component: ${s}, objective: 90, window: 30d, indicator: { latency: { spans: { service: ${s} }, threshold: 250ms } } }`,
  ]);
  const file = join(dir, 'vigil.yaml');
  writeFileSync(file, ['log:', '  level: warn', 'status:', `  admin_tokens: [${TOKEN}]`, 'storage:', '  flush_interval: 1s',
    'components:', ...components, 'slos:', ...slos, ''].join('\n'));
  return file;
}

async function startVigil(workDir) {
  const ports = { grpc: await freePort(HOST), http: await freePort(HOST), metrics: await freePort(HOST), status: await freePort(HOST) };
  const config = writeConfig(workDir);
  const logFile = join(resultsDir, 'vigil-soak-daemon.log');
  const child = spawnChild('vigil', process.execPath, [join(repoRoot, 'bin', 'vigil.js'), 'start', '--config', config, '--data-dir', join(workDir, 'data'),
    '--otlp-grpc', `${HOST}:${ports.grpc}`, '--otlp-http', `${HOST}:${ports.http}`, '--metrics', `${HOST}:${ports.metrics}`, '--status', `${HOST}:${ports.status}`],
  { cwd: workDir, log: logFile, guard: true });
  const metricsBase = `http://${HOST}:${ports.metrics}`;
  await waitForHttp200(child, `${metricsBase}/-/ready`, 30_000);
  return { child, grpc: `${HOST}:${ports.grpc}`, metricsBase, statusBase: `http://${HOST}:${ports.status}`, statusPort: ports.status, logFile };
}

/** Closed-loop load for a few seconds: the signal's items/s at 32 calls in flight, and everything acknowledged. */
async function measureCapacity(vigil, signal) {
  const seconds = Number(args['capacity-seconds']);
  const load = spawnChild(`capacity (${signal})`, process.execPath, [join(benchDir, 'load', 'grpc-metrics.mjs'), '--target', vigil.grpc, '--exit-with-stdin',
    '--signal', signal, '--duration', String(seconds), '--warmup', '2', '--concurrency', '32', '--points-per-request', String(ITEMS_PER_REQUEST), '--payloads', '40'], { stdout: 'lines' });
  let cpu0 = 0;
  let cpu1 = 0;
  load.lines.on('line', (line) => {
    if (line.includes('"timed-start"')) cpu0 = cpuSeconds(vigil.child.pid);
    else if (line.includes('"timed-end"')) cpu1 = cpuSeconds(vigil.child.pid);
  });
  const r = await waitForLine(load, function result(e) { return e.event === 'result'; }, (seconds + 2) * 1000 + 60_000);
  await load.exited;
  const perSecond = r.points / r.elapsedSeconds;
  const errors = Object.values(r.errorsByCode).reduce((a, b) => a + b, 0);
  log(`capacity ${signal}: ${Math.round(perSecond).toLocaleString('en-US')} items/s at 32 in flight (daemon CPU ${round((cpu1 - cpu0) / r.elapsedSeconds)} cores, ${errors} errors)`);
  return { itemsPerSecond: Math.round(perSecond), daemonCores: round((cpu1 - cpu0) / r.elapsedSeconds), acknowledged: r.okPointsTotal, errorsByCode: r.errorsByCode };
}

function get(url, agent, headers = {}) {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    const req = httpRequest(url, { agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const wire = Buffer.concat(chunks);
        const body = res.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
        resolve({ status: res.statusCode, ms: performance.now() - began, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Calls `fn` every `ms` (a call still running delays the next) until stop() — which waits for it. */
function every(ms, fn) {
  let stopped = false;
  let timer;
  let current = Promise.resolve();
  const tick = () => {
    if (stopped) return;
    const began = performance.now();
    current = Promise.resolve().then(fn).catch(() => {}).finally(() => {
      if (!stopped) timer = setTimeout(tick, Math.max(0, ms - (performance.now() - began)));
    });
  };
  tick();
  return { async stop() { stopped = true; clearTimeout(timer); await current; } };
}

function procStatus(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1]), fds: readdirSync(`/proc/${pid}/fd`).length };
}

const first = (text, name) => samples(text, name)[0]?.value ?? null;

/** How long after the load stops the idle RSS is read (V8's idle-time collections have run by then). */
const IDLE_SAMPLE_MS = 20_000;

/** memoryMaps() in MiB, named for the samples. */
function mapsMiB(maps) {
  return { mainArenaMiB: round(maps.mainArena / MIB, 2), threadArenasMiB: round(maps.threadArenas / MIB, 2), otherAnonMiB: round(maps.otherAnon / MIB, 2), fileMiB: round(maps.file / MIB, 2) };
}

function quantileOf(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

async function main() {
  if (!args['skip-build']) buildIfNeeded(log);
  mkdirSync(resultsDir, { recursive: true });
  const samplesFile = join(resultsDir, 'soak-samples.jsonl');
  writeFileSync(samplesFile, '');
  const workDir = mkdtempSync(join(tmpdir(), 'vigil-soak-'));
  const problems = [];
  let vigil;
  try {
    log(`starting vigild (log: ${relative(process.cwd(), join(resultsDir, 'vigil-soak-daemon.log'))})`);
    vigil = await startVigil(workDir);

    // ---- capacity ----
    const capacity = {};
    capacity.metrics = args['metrics-rate'] ? { itemsPerSecond: Number(args['metrics-rate']), given: true, acknowledged: 0 } : await measureCapacity(vigil, 'metrics');
    capacity.traces = args['spans-rate'] ? { itemsPerSecond: Number(args['spans-rate']), given: true, acknowledged: 0 } : await measureCapacity(vigil, 'traces');
    const share = loadFraction / 2;
    const rates = {
      metricsRps: round((capacity.metrics.itemsPerSecond * (args['metrics-rate'] ? 1 : share)) / ITEMS_PER_REQUEST, 2),
      tracesRps: round((capacity.traces.itemsPerSecond * (args['spans-rate'] ? 1 : share)) / ITEMS_PER_REQUEST, 2),
    };
    log(`soak rate: ${rates.metricsRps} metrics req/s (${Math.round(rates.metricsRps * ITEMS_PER_REQUEST)} points/s) + ${rates.tracesRps} trace req/s (${Math.round(rates.tracesRps * ITEMS_PER_REQUEST)} spans/s), ${minutes} min, warm-up ${warmupMinutes} min`);

    // ---- status API clients ----
    const { hostname, port } = new URL(vigil.statusBase);
    const clients = [];
    for (let i = 0; i < wsClients; i += 100) {
      clients.push(...(await Promise.all(Array.from({ length: Math.min(100, wsClients - i) }, () => openFramedClient(hostname, Number(port), '/ws')))));
    }
    log(`${clients.length} WebSocket clients connected`);

    // ---- load ----
    const load = spawnChild('soak load', process.execPath, [join(benchDir, 'load', 'soak-load.mjs'), '--target', vigil.grpc, '--exit-with-stdin',
      '--metrics-rps', String(rates.metricsRps), '--traces-rps', String(rates.tracesRps), '--report-seconds', String(sampleSeconds),
      '--points-per-request', String(ITEMS_PER_REQUEST), '--spans-per-request', String(ITEMS_PER_REQUEST)], { stdout: 'lines' });
    await waitForLine(load, function ready(e) { return e.event === 'ready'; }, 60_000);

    // ---- scrapes, summary.json, admin writes ----
    const scrapeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const apiAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const scrapeStats = { ok: 0, failed: 0, ms: [] };
    let lastScrape = null;
    let eldWorst = null;
    const scraper = every(scrapeIntervalMs, async () => {
      try {
        const r = await get(`${vigil.metricsBase}/metrics`, scrapeAgent, { accept: PROMETHEUS_ACCEPT, 'accept-encoding': 'gzip', 'x-prometheus-scrape-timeout-seconds': '10' });
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
        scrapeStats.ok++;
        scrapeStats.ms.push(r.ms);
        lastScrape = r.text;
        const eld = first(r.text, 'vigil_nodejs_eventloop_lag_p99_seconds');
        if (eld !== null) eldWorst = Math.max(eldWorst ?? 0, eld);
      } catch (err) {
        scrapeStats.failed++;
        log(`scrape failed: ${err.message}`);
      }
    });
    const api = { ok: 0, failed: 0, ms: [] };
    const summaryPoller = every(1000, async () => {
      try {
        const r = await get(`${vigil.statusBase}/api/v2/summary.json`, apiAgent);
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
        api.ok++;
        api.ms.push(r.ms);
      } catch (err) {
        api.failed++;
        if (api.failed <= 5) log(`summary.json failed: ${err.message}`);
      }
    });
    const admin = { created: 0, resolved: 0, failed: 0, broadcasts: [] };
    /** Resolves the open incident 30 s after it was posted (or at once when the run ends). */
    let pendingResolve = null;
    const resolveNow = async () => {
      const p = pendingResolve;
      pendingResolve = null;
      if (p === null) return;
      clearTimeout(p.timer);
      try {
        await adminCall('POST', `/api/admin/incidents/${p.id}/updates`, { status: 'resolved', message: 'Resolved', components: { [p.service]: 'operational' } });
        admin.resolved++;
      } catch (err) {
        admin.failed++;
        log(`admin write failed: ${err.message}`);
      }
    };
    const adminCall = async (method, path, body) => {
      const res = await fetch(`${vigil.statusBase}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
      const json = await res.json().catch(() => null);
      if (res.status !== 201 && res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const adminWriter = every(60_000, async () => {
      const name = `soak-${Date.now()}`;
      const marker = Buffer.from(name);
      const got = new Promise((resolve) => {
        let n = 0;
        const began = performance.now();
        const timer = setTimeout(() => resolve({ received: n, ms: null }), 10_000);
        for (const c of clients) {
          c.marker = marker;
          c.onMarker = () => {
            if (++n === clients.length) {
              clearTimeout(timer);
              resolve({ received: n, ms: performance.now() - began });
            }
          };
        }
        if (clients.length === 0) resolve({ received: 0, ms: 0 });
      });
      try {
        const service = SPAN_SERVICES[admin.created % SPAN_SERVICES.length];
        const incident = await adminCall('POST', '/api/admin/incidents', { name, message: 'Soak test incident', components: { [service]: 'degraded_performance' } });
        admin.created++;
        const b = await got;
        admin.broadcasts.push(b);
        if (b.received < clients.length) log(`broadcast of ${name}: ${b.received}/${clients.length} clients`);
        await resolveNow();
        pendingResolve = { id: incident.id, service, timer: setTimeout(() => void resolveNow(), 30_000) };
      } catch (err) {
        admin.failed++;
        log(`admin write failed: ${err.message}`);
      }
    });

    // ---- sampling ----
    const started = Date.now();
    const rows = [];
    let sampling = Promise.resolve();
    let lastCpu = cpuSeconds(vigil.child.pid);
    let lastCpuAt = Date.now();
    const onReport = (line) => {
      let e;
      try {
        e = JSON.parse(line);
      } catch {
        return;
      }
      if (e.event !== 'report') return;
      sampling = sampling.then(async () => {
        if (!isRunning(vigil.child)) return;
        const proc = procStatus(vigil.child.pid);
        const maps = memoryMaps(vigil.child.pid);
        const cpu = cpuSeconds(vigil.child.pid);
        const now = Date.now();
        const text = lastScrape ?? '';
        const row = {
          minute: round((now - started) / 60_000, 3),
          rssMiB: round(proc.rss / MIB, 2),
          heapUsedMiB: round((first(text, 'vigil_nodejs_heap_size_used_bytes') ?? NaN) / MIB, 2),
          externalMiB: round((first(text, 'vigil_nodejs_external_memory_bytes') ?? NaN) / MIB, 2),
          // Where RSS is (see memoryMaps): a JavaScript leak shows in heap/external, a native one
          // or malloc holding freed memory in the arenas; live and in-flight are the daemon's own figures.
          ...mapsMiB(maps),
          liveMiB: round((first(text, 'vigil_memory_used_bytes') ?? NaN) / MIB, 2),
          inflightMiB: round((first(text, 'vigil_inflight_bytes') ?? NaN) / MIB, 2),
          load1: round(loadavg()[0], 2),
          fds: proc.fds,
          threads: proc.threads,
          eventLoopP99Ms: eldWorst === null ? null : round(eldWorst * 1000, 2),
          exportP99Ms: { metrics: e.metrics.p99, traces: e.traces.p99 },
          exportP50Ms: { metrics: e.metrics.p50, traces: e.traces.p50 },
          requests: { metrics: e.metrics.ok, traces: e.traces.ok },
          errors: { metrics: e.metrics.errors, traces: e.traces.errors },
          skipped: { metrics: e.metrics.skipped, traces: e.traces.skipped },
          series: first(text, 'vigil_active_series'),
          daemonCores: round((cpu - lastCpu) / ((now - lastCpuAt) / 1000), 2),
        };
        eldWorst = null;
        lastCpu = cpu;
        lastCpuAt = now;
        rows.push(row);
        appendFileSync(samplesFile, `${JSON.stringify(row)}\n`);
        log(`m${row.minute.toFixed(1)}: RSS ${row.rssMiB} MiB (main arena ${row.mainArenaMiB}, thread arenas ${row.threadArenasMiB}, other anon ${row.otherAnonMiB}), heap ${row.heapUsedMiB}, ext ${row.externalMiB}, load ${row.load1}, fds ${row.fds}, ELD p99 ${row.eventLoopP99Ms} ms, Export p99 ${row.exportP99Ms.metrics}/${row.exportP99Ms.traces} ms, series ${row.series}, CPU ${row.daemonCores}`);
      }).catch((err) => log(`sample failed: ${err.message}`));
    };
    load.lines.on('line', onReport);

    const endAt = started + minutes * 60_000;
    while (Date.now() < endAt + 2000) {
      if (!isRunning(vigil.child)) throw new Error(`vigild exited during the soak (${JSON.stringify(vigil.child.exitInfo)})`);
      if (!isRunning(load)) throw new Error(`the load generator exited during the soak (${JSON.stringify(load.exitInfo)})`);
      await sleep(Math.min(5000, Math.max(100, endAt + 2000 - Date.now())));
    }

    // ---- stop and count ----
    log('stopping the load');
    load.stdin.write('stop\n');
    const totals = await waitForLine(load, function totals(e) { return e.event === 'totals'; }, 30_000);
    load.lines.off('line', onReport);
    await Promise.all([scraper.stop(), summaryPoller.stop(), adminWriter.stop()]);
    await resolveNow();
    await sampling;
    scrapeAgent.destroy();
    apiAgent.destroy();
    const wsStillOpen = clients.filter((c) => !c.closed).length;
    const wsPings = clients.reduce((a, c) => a + c.pings, 0);
    for (const c of clients) c.socket.destroy();

    const expected = {
      points: capacity.metrics.acknowledged + totals.metrics.okItems,
      spans: capacity.traces.acknowledged + totals.traces.okItems,
    };
    const counted = await countAccepted(vigil.metricsBase, expected);
    const flushFailures = sumSamples(counted.text, 'vigil_storage_flush_failures_total') ?? null;
    // RSS once the load has stopped: memory still held then is either state (series, caches) or
    // memory the allocator keeps after a peak, never the requests themselves.
    await sleep(IDLE_SAMPLE_MS);
    const idle = { rssMiB: round(procStatus(vigil.child.pid).rss / MIB, 2), ...mapsMiB(memoryMaps(vigil.child.pid)), seconds: IDLE_SAMPLE_MS / 1000 };
    log(`idle ${idle.seconds} s after the load: RSS ${idle.rssMiB} MiB (main arena ${idle.mainArenaMiB}, thread arenas ${idle.threadArenasMiB}, other anon ${idle.otherAnonMiB})`);
    log(`counted: points ${counted.points}/${expected.points}, spans ${counted.spans}/${expected.spans}; SLO flush failures ${flushFailures}`);
    const stop = await stopChild(vigil.child, 15_000);
    log(`vigild stopped: ${JSON.stringify(stop)}`);
    if (stop.code !== 0) problems.push(`vigild exited with ${JSON.stringify(stop)} on SIGTERM`);

    // ---- analysis ----
    const steady = rows.filter((r) => r.minute > warmupMinutes);
    if (steady.length < 2) problems.push(`only ${steady.length} samples after the warm-up`);
    const fit = (key) => linearFit(steady.map((r) => [r.minute, typeof key === 'function' ? key(r) : r[key]]));
    const perHour = (f) => round(f.slope * 60, 3);
    const k = Math.max(1, Math.min(5, Math.floor(steady.length / 3)));
    const mean = (xs) => {
      const v = xs.filter((x) => x !== null && Number.isFinite(x));
      return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
    };
    const endVsStart = (get) => {
      const start = mean(steady.slice(0, k).map(get));
      const end = mean(steady.slice(-k).map(get));
      return { start: round(start), end: round(end), ratio: start ? round(end / start, 3) : null };
    };
    const fits = {
      rss: fit('rssMiB'), heap: fit('heapUsedMiB'), external: fit('externalMiB'), fds: fit('fds'), series: fit('series'),
      mainArena: fit('mainArenaMiB'), threadArenas: fit('threadArenasMiB'), otherAnon: fit('otherAnonMiB'), live: fit('liveMiB'),
    };
    const fdsSteady = steady.map((r) => r.fds);
    const fdGrowth = steady.length ? quantileOf(steady.slice(-k).map((r) => r.fds), 0.5) - quantileOf(steady.slice(0, k).map((r) => r.fds), 0.5) : null;
    const analysis = {
      samplesAfterWarmup: steady.length,
      comparedSamples: k,
      slopesPerHour: {
        rssMiB: perHour(fits.rss), heapUsedMiB: perHour(fits.heap), externalMiB: perHour(fits.external), fds: perHour(fits.fds), series: perHour(fits.series),
        mainArenaMiB: perHour(fits.mainArena), threadArenasMiB: perHour(fits.threadArenas), otherAnonMiB: perHour(fits.otherAnon), liveMiB: perHour(fits.live),
      },
      load1: { mean: round(mean(steady.map((r) => r.load1))), min: Math.min(...steady.map((r) => r.load1)), max: Math.max(...steady.map((r) => r.load1)) },
      inflightMiB: { max: Math.max(...steady.map((r) => r.inflightMiB ?? 0)) },
      idle,
      rssMiB: { first: steady[0]?.rssMiB ?? null, last: steady.at(-1)?.rssMiB ?? null, min: Math.min(...steady.map((r) => r.rssMiB)), max: Math.max(...steady.map((r) => r.rssMiB)) },
      fds: { first: steady[0]?.fds ?? null, last: steady.at(-1)?.fds ?? null, min: Math.min(...fdsSteady), max: Math.max(...fdsSteady), growth: fdGrowth },
      exportP99Ms: { metrics: endVsStart((r) => r.exportP99Ms.metrics), traces: endVsStart((r) => r.exportP99Ms.traces) },
      eventLoopP99Ms: endVsStart((r) => r.eventLoopP99Ms),
      series: { first: steady[0]?.series ?? null, last: steady.at(-1)?.series ?? null },
    };
    const broadcastsMissed = admin.broadcasts.reduce((a, b) => a + (clients.length - b.received), 0);
    const lost = Math.max(0, expected.points - counted.points) + Math.max(0, expected.spans - counted.spans) + broadcastsMissed;
    const errors = { metrics: totals.metrics.errorsByCode, traces: totals.traces.errorsByCode, skipped: { metrics: totals.metrics.skipped, traces: totals.traces.skipped } };
    if (totals.metrics.errors + totals.traces.errors > 0) problems.push(`Export errors during the soak: ${JSON.stringify(errors)}`);
    if (scrapeStats.failed > 0) problems.push(`${scrapeStats.failed} scrapes failed`);
    if (api.failed > 0) problems.push(`${api.failed} summary.json requests failed`);
    if (admin.failed > 0) problems.push(`${admin.failed} admin writes failed`);
    if (wsStillOpen < clients.length) problems.push(`${clients.length - wsStillOpen} WebSocket clients were disconnected (close codes ${[...new Set(clients.filter((c) => c.closed).map((c) => c.closeCode))].join(', ')})`);
    if (lost > 0) problems.push(`lost: ${expected.points - counted.points} points, ${expected.spans - counted.spans} spans, ${broadcastsMissed} broadcasts`);

    const RSS_TARGET = 1;
    const P99_TARGET = 1.2;
    const a = analysis;
    const figures = [
      figure({ name: `soak ${minutes} min: RSS slope after warm-up`, value: a.slopesPerHour.rssMiB, unit: 'MiB/h', reference: 'the 1 MiB/h bar', referenceValue: RSS_TARGET, target: '< 1 MiB/h', met: a.slopesPerHour.rssMiB < RSS_TARGET, higherIsBetter: false }),
      figure({ name: `soak ${minutes} min: open fds, end − start after warm-up`, value: a.fds.growth, unit: 'fds', reference: `fds after warm-up (${a.fds.first})`, referenceValue: a.fds.first, target: 'no growth (≤ 0)', met: a.fds.growth !== null && a.fds.growth <= 0, higherIsBetter: false }),
      figure({ name: `soak ${minutes} min: Export p99 (metrics), end`, value: a.exportP99Ms.metrics.end, unit: 'ms', reference: 'the same p99 at the start, after warm-up', referenceValue: a.exportP99Ms.metrics.start, target: '≤ 1.2× start', met: (a.exportP99Ms.metrics.ratio ?? Infinity) <= P99_TARGET, higherIsBetter: false }),
      figure({ name: `soak ${minutes} min: Export p99 (spans), end`, value: a.exportP99Ms.traces.end, unit: 'ms', reference: 'the same p99 at the start, after warm-up', referenceValue: a.exportP99Ms.traces.start, target: '≤ 1.2× start', met: (a.exportP99Ms.traces.ratio ?? Infinity) <= P99_TARGET, higherIsBetter: false }),
      figure({ name: `soak ${minutes} min: event-loop delay p99, end`, value: a.eventLoopP99Ms.end, unit: 'ms', reference: 'the same p99 at the start, after warm-up', referenceValue: a.eventLoopP99Ms.start, target: '≤ 1.2× start', met: (a.eventLoopP99Ms.ratio ?? Infinity) <= P99_TARGET, higherIsBetter: false }),
    ];
    const workload = {
      minutes, warmupMinutes, sampleSeconds, loadFraction, capacity, rates,
      pointsPerSecond: Math.round(rates.metricsRps * ITEMS_PER_REQUEST), spansPerSecond: Math.round(rates.tracesRps * ITEMS_PER_REQUEST),
      series: rows.at(-1)?.series ?? null, slos: SPAN_SERVICES.length * 2, wsClients: clients.length, scrapeIntervalSeconds: scrapeIntervalMs / 1000,
      summaryJsonPerSecond: 1, adminIncidentsPerMinute: 1,
      notRun: 'remote_write and probes: not in this branch of vigild yet, so not exercised',
    };
    const extras = {
      scrapes: { ok: scrapeStats.ok, failed: scrapeStats.failed, medianMs: round(quantileOf(scrapeStats.ms, 0.5)), p99Ms: round(quantileOf(scrapeStats.ms, 0.99)) },
      summaryJson: { ok: api.ok, failed: api.failed, medianMs: round(quantileOf(api.ms, 0.5)), p99Ms: round(quantileOf(api.ms, 0.99)) },
      webSocket: { clients: clients.length, stillOpen: wsStillOpen, pingsAnswered: wsPings },
      admin: { created: admin.created, resolved: admin.resolved, failed: admin.failed, broadcastsMissed, broadcastAllMs: { median: round(quantileOf(admin.broadcasts.map((b) => b.ms ?? Infinity), 0.5)), max: round(Math.max(...admin.broadcasts.map((b) => b.ms ?? Infinity))) } },
      counts: { expected, points: counted.points, spans: counted.spans },
      sloFlushFailures: flushFailures,
      shutdown: stop,
    };
    const ok = problems.length === 0;
    const path = writeResult('soak', { command: soakCommand(), ok, lost, figures, problems, workload, analysis, ...extras, samples: rows });
    for (const p of problems) log(`problem: ${p}`);
    for (const f of figures) process.stdout.write(`${f.name}: ${f.value} ${f.unit}${f.referenceValue !== undefined ? ` vs ${f.referenceValue}` : ''}${f.met !== undefined ? (f.met ? ' (target met)' : ' (target NOT met)') : ''}\n`);
    process.stdout.write(`wrote ${path}\n`);

    const chartPath = args['no-docs'] ? join(resultsDir, 'soak.svg') : args.chart;
    writeFileSync(chartPath, chart(rows, analysis, workload));
    log(`chart: ${relative(process.cwd(), chartPath)}`);
    if (!args['no-docs']) {
      const docs = readFileSync(args.docs, 'utf8');
      writeFileSync(args.docs, replaceSoakBlock(docs, soakBlock({ analysis, workload, extras, figures, ok, problems, chartPath })));
      log(`figures written to ${relative(process.cwd(), args.docs)}`);
    }
    return ok ? 0 : 1;
  } finally {
    if (vigil && isRunning(vigil.child)) await stopChild(vigil.child, 5000);
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Polls /metrics until the accepted counters reach what was acknowledged (merging trails the answers). */
async function countAccepted(metricsBase, expected) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await fetch(`${metricsBase}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    const points = sumSamples(text, 'vigil_points_accepted_total', (l) => l.signal === undefined || l.signal === 'metrics') ?? 0;
    const spans = sumSamples(text, 'vigil_spans_accepted_total') ?? 0;
    if ((points >= expected.points && spans >= expected.spans) || Date.now() > deadline) return { points, spans, text };
    await sleep(250);
  }
}

/** The command that reproduces this run, as run-all would be typed (it passes --minutes itself). */
function soakCommand() {
  const extra = process.argv.slice(2).filter((a, i, all) => !(a === '--minutes' && all[i + 1] === '60') && !(a === '60' && all[i - 1] === '--minutes'));
  return `npm run bench -- --only soak${extra.length ? ` ${extra.join(' ')}` : ''}`;
}

function chart(rows, analysis, workload) {
  const pts = (get) => rows.map((r) => [r.minute, get(r)]);
  const trend = (get) => {
    const f = linearFit(rows.filter((r) => r.minute > workload.warmupMinutes).map((r) => [r.minute, get(r)]));
    return { slope: f.slope, intercept: f.intercept, from: workload.warmupMinutes };
  };
  const s = analysis.slopesPerHour;
  const panels = [
    { title: 'RSS', unit: 'MiB', points: pts((r) => r.rssMiB), trend: trend((r) => r.rssMiB), note: `${s.rssMiB} MiB/h after warm-up` },
    { title: 'V8 heap used', unit: 'MiB', points: pts((r) => r.heapUsedMiB), trend: trend((r) => r.heapUsedMiB), note: `${s.heapUsedMiB} MiB/h` },
    { title: 'external memory', unit: 'MiB', points: pts((r) => r.externalMiB), trend: trend((r) => r.externalMiB), note: `${s.externalMiB} MiB/h` },
    { title: 'glibc main arena', unit: 'MiB', points: pts((r) => r.mainArenaMiB), trend: trend((r) => r.mainArenaMiB), note: `${s.mainArenaMiB} MiB/h` },
    { title: 'open file descriptors', unit: '', points: pts((r) => r.fds), trend: trend((r) => r.fds), note: `${s.fds} /h` },
    { title: 'event-loop delay p99', unit: 'ms', points: pts((r) => r.eventLoopP99Ms), note: `end/start ${analysis.eventLoopP99Ms.ratio}` },
    { title: 'Export p99, metrics', unit: 'ms', points: pts((r) => r.exportP99Ms.metrics), note: `end/start ${analysis.exportP99Ms.metrics.ratio}` },
    { title: 'Export p99, spans', unit: 'ms', points: pts((r) => r.exportP99Ms.traces), note: `end/start ${analysis.exportP99Ms.traces.ratio}` },
    { title: 'active series', unit: '', points: pts((r) => r.series) },
  ];
  const m = machineInfo();
  return smallMultiples({
    title: `vigild soak: ${workload.minutes} minutes at ${workload.loadFraction}× measured capacity (grey: warm-up)`,
    subtitle: `${workload.pointsPerSecond.toLocaleString('en-US')} points/s + ${workload.spansPerSecond.toLocaleString('en-US')} spans/s, ${workload.wsClients} WebSocket clients, scrape every ${workload.scrapeIntervalSeconds} s; ${m.cpus} vCPU shared with other work, Node ${m.node}; ${new Date().toISOString().slice(0, 16)}Z`,
    panels,
    warmupMinutes: workload.warmupMinutes,
  });
}

const BEGIN = '<!-- soak:begin -->';
const END = '<!-- soak:end -->';

function replaceSoakBlock(doc, block) {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) return `${doc.trimEnd()}\n\n${block}\n`;
  return `${doc.slice(0, a)}${block}${doc.slice(b + END.length)}`;
}

/** Where the rates came from: fixed by --metrics-rate/--spans-rate, or a share of the capacity measured first. */
function loadBasis(w) {
  if (w.capacity.metrics.given && w.capacity.traces.given) return 'fixed rates, --metrics-rate and --spans-rate: no capacity measured';
  return `each ${w.loadFraction / 2}× of the capacity measured at the start: ${w.capacity.metrics.itemsPerSecond.toLocaleString('en-US')} points/s, ${w.capacity.traces.itemsPerSecond.toLocaleString('en-US')} spans/s`;
}

/**
 * Whether every acknowledged item was counted. More than acknowledged is not a loss: a request
 * the client gave up on (DEADLINE_EXCEEDED) may still have been merged.
 */
function countedText(c) {
  if (c.points < c.expected.points || c.spans < c.expected.spans) return 'no';
  const extra = c.points - c.expected.points + (c.spans - c.expected.spans);
  return extra === 0 ? 'yes' : `yes (and ${extra.toLocaleString('en-US')} more, from requests merged after their client gave up on them)`;
}

function soakBlock({ analysis: a, workload: w, extras: x, figures, ok, problems, chartPath }) {
  const m = machineInfo();
  const yes = (f) => (f.met === undefined ? '' : f.met ? 'yes' : '**no**');
  const lines = [
    BEGIN,
    `<!-- written by native-bench/soak.mjs; do not edit by hand -->`,
    `Run ${new Date().toISOString().slice(0, 16)}Z, ${m.cpus} vCPU (${m.cpuModel}), Node ${m.node}, commit ${gitDescribe()?.head ?? '?'}${gitDescribe()?.dirty ? ' (uncommitted changes)' : ''}: \`${soakCommand()}\`.`,
    `Load: ${w.pointsPerSecond.toLocaleString('en-US')} points/s and ${w.spansPerSecond.toLocaleString('en-US')} spans/s over gRPC (${loadBasis(w)}), ${w.series?.toLocaleString('en-US')} active series, ${w.slos} SLOs flushed every second, a scrape every ${w.scrapeIntervalSeconds} s, ${w.wsClients} WebSocket clients, summary.json once a second, an incident posted and resolved every minute. ${w.warmupMinutes}-minute warm-up, a sample every ${w.sampleSeconds} s. ${w.notRun}.`,
    '',
    `**The machine's ${m.cpus} cores were shared with other work: load average ${a.load1.mean} (${a.load1.min}–${a.load1.max}) after the warm-up**; latency figures carry its noise.`,
    '',
    '| figure | value | reference | ratio | target | met |',
    '|---|---:|---:|---:|---|---|',
    ...figures.map((f) => `| ${f.name} | ${f.value} ${f.unit} | ${f.referenceValue ?? ''} | ${f.ratio ?? ''} | ${f.target ?? ''} | ${yes(f)} |`),
    '',
    `Slopes after warm-up (least squares, per hour): RSS ${a.slopesPerHour.rssMiB} MiB, V8 heap ${a.slopesPerHour.heapUsedMiB} MiB, external ${a.slopesPerHour.externalMiB} MiB, fds ${a.slopesPerHour.fds}, series ${a.slopesPerHour.series}. ` +
      `RSS after warm-up ${a.rssMiB.min}–${a.rssMiB.max} MiB (first ${a.rssMiB.first}, last ${a.rssMiB.last}); fds ${a.fds.min}–${a.fds.max}. ` +
      `Where RSS grew (slopes per hour, from /proc/PID/smaps): glibc main arena ${a.slopesPerHour.mainArenaMiB} MiB, thread arenas ${a.slopesPerHour.threadArenasMiB} MiB, other anonymous (V8 heaps, large buffers) ${a.slopesPerHour.otherAnonMiB} MiB; live memory (vigil_memory_used_bytes) ${a.slopesPerHour.liveMiB} MiB; in-flight bytes at most ${a.inflightMiB.max} MiB at a scrape. ` +
      `${a.idle.seconds} s after the load stopped: RSS ${a.idle.rssMiB} MiB (main arena ${a.idle.mainArenaMiB}, thread arenas ${a.idle.threadArenasMiB}, other anonymous ${a.idle.otherAnonMiB} MiB). ` +
      `Export p99 start → end (mean of ${a.comparedSamples} samples each): metrics ${a.exportP99Ms.metrics.start} → ${a.exportP99Ms.metrics.end} ms, spans ${a.exportP99Ms.traces.start} → ${a.exportP99Ms.traces.end} ms; event-loop delay p99 ${a.eventLoopP99Ms.start} → ${a.eventLoopP99Ms.end} ms. ` +
      `Scrapes ${x.scrapes.ok} (median ${x.scrapes.medianMs} ms, ${x.scrapes.failed} failed); summary.json ${x.summaryJson.ok} (p99 ${x.summaryJson.p99Ms} ms, ${x.summaryJson.failed} failed); incidents ${x.admin.created} (broadcast to every client, median ${x.admin.broadcastAllMs.median} ms, ${x.admin.broadcastsMissed} missed); every acknowledged point (${x.counts.points.toLocaleString('en-US')}) and span (${x.counts.spans.toLocaleString('en-US')}) counted: ${countedText(x.counts)}; SLO flush failures ${x.sloFlushFailures}.`,
    '',
    `Result: ${ok ? 'ok' : `**failed**: ${problems.join('; ')}`}.`,
    '',
    `![soak chart](${relative(join(repoRoot, 'docs'), chartPath)})`,
    END,
  ];
  return lines.join('\n');
}

runMain(main, log);
