#!/usr/bin/env node
// Memory per series: RSS and V8 heap of a real daemon holding 100k and 1M distinct counter series,
// and N span series with HDR windows, each minus the same daemon's empty figures.
//
//   node memory.mjs [--quick] [--skip-build]
//
// The daemon runs as `node --expose-gc --import lib/gc-probe.mjs ../bin/vigil.js start -c <tmp config>`:
// the preload (benchmark code, not the daemon's) collects garbage on SIGUSR2 and writes
// process.memoryUsage() to a file, so every figure is taken after full GCs. Series are sent by a
// separate process (load/distinct-series.mjs), each exactly once, and counted afterwards through
// vigil_active_series and vigil_points_accepted_total / vigil_spans_accepted_total.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, spawnChild, stopAll, stopChild, waitForHttp200, waitForLine } from './lib/proc.mjs';
import { samples, sumSamples } from './lib/prom-text.mjs';
import { benchDir, buildIfNeeded, commandLine, figure, repoRoot, writeResult } from './lib/result.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'skip-build': { type: 'boolean', default: false },
    host: { type: 'string', default: '127.0.0.1' },
    'settle-ms': { type: 'string', default: '1000' },
  },
});
const quick = args.quick;
// Counter steps (cumulative series held), span series and spans per span series.
const COUNTER_STEPS = quick ? [20_000, 100_000] : [100_000, 1_000_000];
const SPAN_SERIES = quick ? 500 : 5_000;
const VALUES_PER_SPAN_SERIES = quick ? 20 : 50;
const SIGMA = 0.8;
// The generator's resources carry only service.name and service.instance.id (job, instance), so
// they add no target_info series: vigil_active_series must equal the series sent.
const TARGET_INFO_SERIES = 0;
const log = (m) => process.stderr.write(`memory: ${m}\n`);
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function startDaemon(name) {
  const workDir = mkdtempSync(join(tmpdir(), 'vigil-memory-'));
  const [grpc, metrics, status, http] = [await freePort(args.host), await freePort(args.host), await freePort(args.host), await freePort(args.host)];
  const config = join(workDir, 'vigil.yaml');
  // Room for every series; staleness far beyond the run; memory limits above what the run needs.
  writeFileSync(config, [
    'series:', `  limit: ${COUNTER_STEPS.at(-1) + 1000}`, '  staleness: 1h',
    'limits:', '  memory_soft: 6GiB', '  memory_hard: 8GiB',
  ].join('\n') + '\n');
  const probeFile = join(workDir, 'probe.jsonl');
  const logFile = join(benchDir, 'results', `vigil-memory-${name}.log`);
  const child = spawnChild(`vigil (${name})`, process.execPath,
    ['--expose-gc', '--import', join(benchDir, 'lib', 'gc-probe.mjs'), join(repoRoot, 'bin', 'vigil.js'), 'start', '-c', config,
      '--otlp-grpc', `${args.host}:${grpc}`, '--metrics', `${args.host}:${metrics}`, '--status', `${args.host}:${status}`,
      '--otlp-http', `${args.host}:${http}`, '--data-dir', join(workDir, 'data')],
    { cwd: workDir, log: logFile, guard: true, env: { ...process.env, VIGIL_GC_PROBE_OUT: probeFile } });
  const base = `http://${args.host}:${metrics}`;
  await waitForHttp200(child, `${base}/-/ready`, 30_000);
  return { child, grpc: `${args.host}:${grpc}`, base, probeFile, workDir, logFile, probes: 0 };
}

/** Full GCs in the daemon, then its memory figures (see lib/gc-probe.mjs). */
async function probe(d) {
  await sleep(Number(args['settle-ms'])); // let in-flight merges and the first post-load timers settle
  const want = ++d.probes;
  d.child.kill('SIGUSR2');
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (existsSync(d.probeFile)) {
      const lines = readFileSync(d.probeFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const hit = lines.find((l) => l.seq === want);
      if (hit) return hit;
    }
    await sleep(100);
  }
  throw new Error(`no memory probe #${want} from the daemon within 30 s (log: ${d.logFile})`);
}

async function scrape(d) {
  const res = await fetch(`${d.base}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/** Polls self-metrics until `check(text)` is true (merging trails the OK answer), or fails. */
async function waitFor(d, what, check) {
  const deadline = Date.now() + 30_000;
  let text = '';
  while (Date.now() < deadline) {
    text = await scrape(d);
    if (check(text)) return text;
    await sleep(250);
  }
  throw new Error(`${what} not reached within 30 s`);
}

async function load(d, kind, from, to) {
  const gen = spawnChild(`load (${kind})`, process.execPath, [join(benchDir, 'load', 'distinct-series.mjs'), '--target', d.grpc, '--kind', kind,
    '--from', String(from), '--to', String(to), '--values-per-series', String(VALUES_PER_SPAN_SERIES), '--sigma', String(SIGMA)], { stdout: 'lines' });
  const result = await waitForLine(gen, (e) => e.event === 'result', 300_000);
  await gen.exited;
  if (result.errors > 0) throw new Error(`load generator: ${result.errors} Export calls failed ${JSON.stringify(result.errorsByCode)}`);
  return result;
}

/** What vigil_memory_used_bytes measures: V8 heap used + external (typed-array slabs are external). */
const live = (m) => m.heapUsed + m.external;
const gauge = (text, name) => samples(text, name)[0]?.value ?? null;
const metricsPoints = (text) => ({
  accepted: sumSamples(text, 'vigil_points_accepted_total', (l) => l.signal === undefined || l.signal === 'metrics') ?? 0,
  rejected: sumSamples(text, 'vigil_points_rejected_total', (l) => l.signal === undefined || l.signal === 'metrics') ?? 0,
});

const started = Date.now();
const command = commandLine('npm run bench:memory');
const figures = [];
const detail = { counters: [], spans: null };
let ok = true;
let lost = 0;
try {
  if (!args['skip-build']) buildIfNeeded(log);

  // ---- counters ----
  const d = await startDaemon('counters');
  const empty = await probe(d);
  log(`empty daemon: RSS ${round(empty.rss / 2 ** 20)} MiB, heap used ${round(empty.heapUsed / 2 ** 20)} MiB`);
  detail.emptyDaemon = empty;
  let sent = 0;
  for (const target of COUNTER_STEPS) {
    const result = await load(d, 'counters', sent, target);
    log(`sent series ${sent}..${target} in ${result.seconds} s`);
    sent = target;
    let text;
    try {
      text = await waitFor(d, `${target} counter series`, (t) => metricsPoints(t).accepted + metricsPoints(t).rejected >= target && gauge(t, 'vigil_active_series') >= target + TARGET_INFO_SERIES);
    } catch {
      text = await scrape(d);
    }
    const points = metricsPoints(text);
    const active = gauge(text, 'vigil_active_series');
    // Every series sent must be held.
    const missing = Math.max(0, target - (active - TARGET_INFO_SERIES)) + Math.max(0, target - points.accepted);
    if (missing > 0 || points.rejected > 0) {
      ok = false;
      lost = Math.max(lost, missing);
      log(`FAIL at ${target}: active_series ${active}, accepted ${points.accepted}, rejected ${points.rejected}`);
    }
    const m = await probe(d);
    const perRss = (m.rss - empty.rss) / target;
    const perHeap = (live(m) - live(empty)) / target;
    log(`${target} series: RSS ${round(m.rss / 2 ** 20)} MiB (${round(perRss)} B/series), V8 heap used + external ${round(live(m) / 2 ** 20)} MiB (${round(perHeap)} B/series)`);
    detail.counters.push({ series: target, activeSeries: active, pointsAccepted: points.accepted, pointsRejected: points.rejected, memory: m, rssBytesPerSeries: round(perRss), heapBytesPerSeries: round(perHeap) });
    const label = target >= 1e6 ? `${target / 1e6}M` : `${target / 1e3}k`;
    figures.push(figure({ name: `RSS per counter series @${label}`, value: round(perRss), unit: 'B/series', reference: 'empty daemon RSS', referenceValue: empty.rss, referenceUnit: 'B', ratio: m.rss / empty.rss, target: '≤ 200 B', met: perRss <= 200 }));
    figures.push(figure({ name: `V8 heap used + external per counter series @${label}`, value: round(perHeap), unit: 'B/series', reference: 'empty daemon heap used + external', referenceValue: live(empty), referenceUnit: 'B', ratio: live(m) / live(empty) }));
    if (target === COUNTER_STEPS.at(-1)) {
      figures.push(figure({ name: `daemon RSS holding ${label} counter series`, value: m.rss, unit: 'B', reference: 'empty daemon RSS', referenceValue: empty.rss, target: target >= 1e6 ? '< 1 GiB' : undefined, met: target >= 1e6 ? m.rss < 2 ** 30 : undefined }));
    }
  }
  await stopChild(d.child);
  rmSync(d.workDir, { recursive: true, force: true });

  // ---- span series (RED + HDR windows) ----
  const s = await startDaemon('spans');
  const emptyS = await probe(s);
  const result = await load(s, 'spans', 0, SPAN_SERIES);
  const spans = SPAN_SERIES * VALUES_PER_SPAN_SERIES;
  log(`sent ${SPAN_SERIES} span series × ${VALUES_PER_SPAN_SERIES} spans in ${result.seconds} s`);
  let text;
  try {
    text = await waitFor(s, `${spans} spans`, (t) => (sumSamples(t, 'vigil_spans_accepted_total') ?? 0) >= spans);
  } catch {
    text = await scrape(s);
  }
  const acceptedSpans = sumSamples(text, 'vigil_spans_accepted_total') ?? 0;
  const active = gauge(text, 'vigil_active_series');
  const hdrBytes = gauge(text, 'vigil_hdr_bytes');
  const hdrSeries = gauge(text, 'vigil_hdr_series');
  if (acceptedSpans !== spans || active !== SPAN_SERIES) {
    ok = false;
    lost = Math.max(lost, spans - acceptedSpans);
    log(`FAIL spans: accepted ${acceptedSpans} of ${spans}, active_series ${active} (expected ${SPAN_SERIES})`);
  }
  const m = await probe(s);
  const perRss = (m.rss - emptyS.rss) / SPAN_SERIES;
  const perHeap = (live(m) - live(emptyS)) / SPAN_SERIES;
  const hdrPer = hdrSeries ? hdrBytes / hdrSeries : null;
  log(`${SPAN_SERIES} span series: RSS +${round(perRss)} B/series, V8 heap used + external +${round(perHeap)} B/series, vigil_hdr_bytes ${hdrBytes} over ${hdrSeries} series`);
  detail.spans = { series: SPAN_SERIES, valuesPerSeries: VALUES_PER_SPAN_SERIES, distribution: `lognormal, median 20 ms, sigma ${SIGMA}, all within one minute (one slot per window)`, activeSeries: active, spansAccepted: acceptedSpans, hdrBytes, hdrSeries, emptyDaemon: emptyS, memory: m, rssBytesPerSeries: round(perRss), heapBytesPerSeries: round(perHeap) };
  figures.push(figure({ name: `RSS per span series (RED + HDR, ${VALUES_PER_SPAN_SERIES} values)`, value: round(perRss), unit: 'B/series', reference: 'empty daemon RSS', referenceValue: emptyS.rss, referenceUnit: 'B', ratio: m.rss / emptyS.rss }));
  figures.push(figure({ name: `V8 heap used + external per span series (RED + HDR, ${VALUES_PER_SPAN_SERIES} values)`, value: round(perHeap), unit: 'B/series', reference: 'empty daemon heap used + external', referenceValue: live(emptyS), referenceUnit: 'B', ratio: live(m) / live(emptyS) }));
  if (hdrPer !== null) figures.push(figure({ name: `HDR windows per span series (vigil_hdr_bytes ÷ vigil_hdr_series, ${VALUES_PER_SPAN_SERIES} values)`, value: round(hdrPer), unit: 'B/series', reference: 'RSS per span series', referenceValue: round(perRss), target: '≤ 4096 B', met: hdrPer <= 4096 }));
  await stopChild(s.child);
  rmSync(s.workDir, { recursive: true, force: true });
} catch (err) {
  ok = false;
  log(`FAIL: ${err.stack ?? err.message}`);
  detail.error = err.message;
  await stopAll();
}
detail.seconds = round((Date.now() - started) / 1000);
detail.method = 'RSS, heapUsed and external from process.memoryUsage() in the daemon after full GCs of the main thread (lib/gc-probe.mjs preloaded with --expose-gc, triggered by SIGUSR2); per-series = (figure − empty daemon figure) ÷ series; RSS includes the decode workers (not collected) and memory malloc keeps after freeing.';
const path = writeResult('memory', { command, ok, lost, figures, ...detail });
log(`wrote ${path} (${detail.seconds} s)${ok ? '' : ' — FAILED'}`);
process.exit(ok ? 0 : 1);
