#!/usr/bin/env node
// bench:slo-scale — SLOs and the status page at platform scale (issue 13), at 1,000 SLOs on 100
// components and 10,000 SLOs on 1,000 components, each with a month of stored history
// (lib/slo-fleet.mjs says which rows):
//   - vigild: time to /-/ready after spawn, and to the first status page (every SLO's history
//     loaded and evaluated), with the process's CPU seconds at each;
//   - the SLO engine alone (lib/slo-engine-probe.mjs): live memory per SLO idle and with traffic,
//     against the 32 KiB goal and the old layout (a 30d window of minutes, 2 × 43,200 × 8 bytes);
//     flush CPU per second with traffic on 1,000 of 10,000 SLOs, and on all 10,000;
//   - the page at 1,000 components: bytes on the wire (gzip, brotli, identity), Chromium's first
//     contentful paint and load (Debian's /usr/bin/chromium via playwright-core);
//   - /api/v2/summary.json at 1,000 components: wrk against Vigil and a bare uWS app serving the same
//     bytes and headers, same run;
//   - the Statuspage API and badges at 1,000 components: first GET (rendered) and second (cached),
//     wrk against Vigil and a bare uWS app with the same bytes, CPU per request (lib/slo-status-api.mjs);
//   - `vigil report` for a month: 1,000 components with every minute of the month stored, beside
//     the floors (day rows alone; SQLite's scan of every minute) and the old per-minute path, same
//     data, same run (lib/slo-report.mjs);
//   - the database check: the one at open (before ready) against the whole-file quick_check (after
//     ready since slo-start; what open ran before), and `vigil check-config` against an empty config.
// Writes results/slo-scale.json and docs/slo-scale.svg (the chart docs/performance.md shows).
//
//   npm run bench:slo-scale -- [--quick] [--skip-build] [--duration 5] [--start-only | --report-only]
//                              [--report-components 1000] [--no-per-minute]
// --quick: 100 and 1,000 components become 20 and 200, wrk 2 s, a 7-day report of 100 components.
// --start-only: the start figures only (ready, first page, checks, check-config); writes
// results/slo-start.json instead, and no chart.
// --report-only: only the report and the Statuspage API/badges parts (results/slo-scale-report.json);
// --no-per-minute: without the old per-minute report peer.
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { CLK_TCK, cpuSeconds, freePort, spawnChild, stopChild, waitForHttp200, waitForLine } from './lib/proc.mjs';
import { helpFromHeader, makeLog } from './lib/ingest-run.mjs';
import { benchDir as here, buildIfNeeded, commandLine, figure, repoRoot, writeResult } from './lib/result.mjs';
import { fleetConfig, fleetSloIds, writeFleetHistory } from './lib/slo-fleet.mjs';
import { measureReport } from './lib/slo-report.mjs';
import { measureStatusApi } from './lib/slo-status-api.mjs';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    'skip-build': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    'start-only': { type: 'boolean', default: false },
    'report-only': { type: 'boolean', default: false },
    'report-components': { type: 'string' },
    'no-per-minute': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) helpFromHeader(import.meta.url);
const log = makeLog('bench:slo-scale');
const HOST = '127.0.0.1';
const CHROMIUM = '/usr/bin/chromium';
const scale = args.quick ? 0.2 : 1;
const SIZES = args['report-only'] ? [] : [
  { components: Math.round(100 * scale), slos: Math.round(1000 * scale) },
  { components: Math.round(1000 * scale), slos: Math.round(10_000 * scale) },
];
const duration = args.quick ? '2' : args.duration;
const startOnly = args['start-only'];
if (!args['skip-build']) buildIfNeeded(log);

const scratch = mkdtempSync(join(tmpdir(), 'vigil-bench-slo-scale-'));
// The machine is shared: its load average at the start and the end goes with the figures.
const results = { sizes: [], loadAverage: { start: loadavg() } };
let failed = false;

/** GET returning the bytes as sent (no decoding) and the time to the last byte. */
function get(url, headers = {}) {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** CPU seconds of this process's children that have ended (cutime + cstime of /proc/self/stat). */
function childrenCpuSeconds() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
}

/** `vigil check-config FILE`: wall ms, CPU seconds and its last line. */
function checkConfig(file) {
  const cpu0 = childrenCpuSeconds();
  const t = performance.now();
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'vigil.js'), 'check-config', file], { encoding: 'utf8' });
  return { ms: performance.now() - t, cpuS: childrenCpuSeconds() - cpu0, status: r.status, last: r.stdout.trim().split('\n').pop() };
}

/** The whole-file `PRAGMA quick_check` (what Storage.open ran before slo-start), in ms. */
function quickCheckMs(dbPath) {
  const Database = createRequire(join(repoRoot, 'package.json'))('better-sqlite3');
  const db = new Database(dbPath, { readonly: true });
  try {
    const t = performance.now();
    const r = db.pragma('quick_check', { simple: true });
    if (r !== 'ok') throw new Error(`quick_check of ${dbPath}: ${r}`);
    return performance.now() - t;
  } finally {
    db.close();
  }
}

function wrk(url, label) {
  const r = spawnSync('wrk', ['-t', '2', '-c', '32', '-d', `${duration}s`, url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk against ${label} failed: ${r.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  if (/Non-2xx or 3xx responses: (\d+)/.test(r.stdout)) throw new Error(`${label}: non-2xx answers`);
  log(`${label}: ${rps.toFixed(0)} req/s`);
  return rps;
}

async function startVigil(dir, name) {
  // Four distinct ports: under load freePort() has handed out the same just-released port twice.
  const picked = new Set();
  while (picked.size < 4) picked.add(await freePort());
  const [grpc, http, metrics, status] = [...picked];
  const ports = { grpc, http, metrics, status };
  const started = performance.now();
  const child = spawnChild(name, process.execPath, [join(repoRoot, 'bin', 'vigil.js'), 'start', '--config', join(dir, 'vigil.yaml'), '--data-dir', dir,
    '--otlp-grpc', `${HOST}:${ports.grpc}`, '--otlp-http', `${HOST}:${ports.http}`, '--metrics', `${HOST}:${ports.metrics}`, '--status', `${HOST}:${ports.status}`],
  { log: join(here, 'results', `${name}.log`), guard: true });
  return { child, started, metrics: `http://${HOST}:${ports.metrics}`, status: `http://${HOST}:${ports.status}` };
}

async function chromiumRender(url) {
  if (!existsSync(CHROMIUM)) return null;
  const require = createRequire(join(repoRoot, 'package.json'));
  const { chromium } = require('playwright-core');
  const browser = await chromium.launchPersistentContext(join(scratch, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const runs = [];
    for (let i = 0; i < 3; i++) {
      // A fresh navigation each time (no cache: the page is no-cache and revalidates).
      await page.goto('about:blank');
      const res = await page.goto(url, { waitUntil: 'load' });
      const t = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        return { fcpMs: fcp ? fcp.startTime : null, loadMs: nav.loadEventEnd - nav.startTime, transferBytes: nav.transferSize, encodedBytes: nav.encodedBodySize, decodedBytes: nav.decodedBodySize };
      });
      runs.push({ ...t, encoding: (await res.allHeaders())['content-encoding'] ?? 'identity' });
    }
    runs.sort((a, b) => a.fcpMs - b.fcpMs);
    return { median: runs[1], runs };
  } finally {
    await browser.close();
  }
}

try {
  // The peer for the start times: the same daemon with no components or SLOs, same machine, same run.
  if (!args['report-only']) {
    const dir = join(scratch, 'empty');
    spawnSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'vigil.yaml'), 'log:\n  level: info\n');
    const v = await startVigil(dir, 'vigil-slo-scale-empty');
    await waitForHttp200(v.child, `${v.metrics}/-/ready`, 120_000);
    results.emptyReadyMs = performance.now() - v.started;
    results.emptyReadyCpuS = cpuSeconds(v.child.pid);
    log(`empty config: ready ${Math.round(results.emptyReadyMs)} ms (${results.emptyReadyCpuS.toFixed(2)} CPU s)`);
    await stopChild(v.child, 20_000);
    results.emptyCheckConfig = checkConfig(join(dir, 'vigil.yaml'));
    log(`empty config: vigil check-config ${Math.round(results.emptyCheckConfig.ms)} ms (${results.emptyCheckConfig.cpuS.toFixed(2)} CPU s)`);
  }
  for (const size of SIZES) {
    const label = `${size.slos} SLOs / ${size.components} components`;
    const dir = join(scratch, `fleet-${size.slos}`);
    const out = { ...size };
    writeFileSync(join(scratch, 'mkdir'), '');
    spawnSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'vigil.yaml'), fleetConfig(size));
    // The schema, made by vigild's own migrations.
    const { Storage } = await import(join(repoRoot, 'dist/daemon/storage/index.js'));
    Storage.open({ dataDir: dir }).close();
    let t = performance.now();
    out.historyRows = writeFleetHistory(join(dir, 'vigil.db'), fleetSloIds(size), Date.now());
    log(`${label}: ${out.historyRows} history rows written in ${Math.round(performance.now() - t)} ms`);
    // What open checks (before ready) against the whole file (after ready), on the same file.
    out.dbBytes = statSync(join(dir, 'vigil.db')).size;
    t = performance.now();
    Storage.open({ dataDir: dir }).close();
    out.openMs = performance.now() - t;
    out.fullCheckMs = quickCheckMs(join(dir, 'vigil.db'));
    log(`${label}: ${(out.dbBytes / 1024 / 1024).toFixed(0)} MiB; Storage.open (its check) ${out.openMs.toFixed(1)} ms, whole-file quick_check ${Math.round(out.fullCheckMs)} ms`);

    // vigild: ready, then the first page (every SLO loaded and evaluated).
    const v = await startVigil(dir, `vigil-slo-scale-${size.slos}`);
    await waitForHttp200(v.child, `${v.metrics}/-/ready`, 120_000);
    out.readyMs = performance.now() - v.started;
    out.readyCpuS = cpuSeconds(v.child.pid);
    const first = await get(`${v.status}/`, { 'accept-encoding': 'gzip' });
    out.firstPageMs = performance.now() - v.started;
    out.firstPageCpuS = cpuSeconds(v.child.pid);
    log(`${label}: ready ${Math.round(out.readyMs)} ms (${out.readyCpuS.toFixed(2)} CPU s), first page ${Math.round(out.firstPageMs)} ms (${out.firstPageCpuS.toFixed(2)} CPU s)`);
    if (first.status !== 200) throw new Error(`GET / answered ${first.status}`);
    const check = checkConfig(join(dir, 'vigil.yaml'));
    out.checkConfig = check.last;
    out.checkConfigMs = check.ms;
    out.checkConfigCpuS = check.cpuS;
    log(`${label}: vigil check-config ${Math.round(check.ms)} ms (${check.cpuS.toFixed(2)} CPU s)`);
    // The daemon's own whole-file check, after ready, in its child process.
    for (const deadline = Date.now() + 180_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      const text = await (await fetch(`${v.metrics}/metrics`)).text();
      out.integrityState = Number(/^vigil_storage_integrity_state (\S+)/m.exec(text)?.[1]);
      out.integrityCheckSeconds = Number(/^vigil_storage_integrity_check_seconds (\S+)/m.exec(text)?.[1]);
      if (out.integrityState !== 0) break;
    }
    log(`${label}: vigild's integrity check after ready: state ${out.integrityState}, ${out.integrityCheckSeconds.toFixed(1)} s`);
    const metrics = await (await fetch(`${v.metrics}/metrics`)).text();
    out.memoryUsedBytes = Number(/^vigil_memory_used_bytes (\S+)/m.exec(metrics)?.[1]);
    out.memoryState = Number(/^vigil_memory_limit_state (\S+)/m.exec(metrics)?.[1]);

    if (startOnly) {
      await stopChild(v.child, 20_000);
      results.sizes.push(out);
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    // The page on the wire.
    const page = {};
    for (const [name, accept] of [['identity', ''], ['gzip', 'gzip'], ['br', 'gzip, deflate, br']]) {
      const r = await get(`${v.status}/`, accept === '' ? {} : { 'accept-encoding': accept });
      page[name] = r.body.length;
    }
    out.pageBytes = page;
    log(`${label}: page ${page.identity} B identity, ${page.gzip} B gzip, ${page.br} B brotli`);
    if (size === SIZES[1]) {
      out.chromium = await chromiumRender(`${v.status}/`);
      if (out.chromium) log(`${label}: Chromium first contentful paint ${Math.round(out.chromium.median.fcpMs)} ms, load ${Math.round(out.chromium.median.loadMs)} ms (${out.chromium.median.encoding})`);
      // summary.json: Vigil against bare uWS serving the same bytes and headers.
      const summary = await get(`${v.status}/api/v2/summary.json`);
      const bodyFile = join(scratch, 'summary.json');
      writeFileSync(bodyFile, summary.body);
      const same = {};
      for (const h of ['content-type', 'cache-control', 'etag', 'access-control-allow-origin', 'vary']) if (summary.headers[h] !== undefined) same[h] = summary.headers[h];
      const headersFile = join(scratch, 'headers.json');
      writeFileSync(headersFile, JSON.stringify(same));
      const port = await freePort();
      const uws = spawnChild('uws', process.execPath, [join(here, 'ceiling', 'uws-static.mjs'), '--port', String(port), '--body', bodyFile, '--headers', headersFile, '--exit-with-stdin'], { stdout: 'lines' });
      await waitForLine(uws, (e) => e.listening === true, 15_000);
      out.summaryBytes = summary.body.length;
      out.summaryRps = { vigil: wrk(`${v.status}/api/v2/summary.json`, 'vigil summary.json'), bareUws: wrk(`http://${HOST}:${port}/api/v2/summary.json`, 'bare uWS summary.json') };
      await stopChild(uws, 3000);
    }
    await stopChild(v.child, 20_000);

    // The engine alone: memory per SLO and flush CPU.
    const probe = spawnSync(process.execPath, ['--expose-gc', join(here, 'lib', 'slo-engine-probe.mjs'), '--dir', dir, '--components', String(size.components), '--slos', String(size.slos), '--busy', String(Math.round(size.slos / 10)), '--seconds', args.quick ? '3' : '10'], { encoding: 'utf8', timeout: 300_000 });
    if (probe.status !== 0) throw new Error(`engine probe failed: ${probe.stderr}`);
    out.engine = JSON.parse(probe.stdout.trim().split('\n').pop());
    if (size === SIZES[1]) {
      const all = spawnSync(process.execPath, ['--expose-gc', join(here, 'lib', 'slo-engine-probe.mjs'), '--dir', dir, '--components', String(size.components), '--slos', String(size.slos), '--busy', String(size.slos), '--seconds', args.quick ? '3' : '10'], { encoding: 'utf8', timeout: 300_000 });
      if (all.status !== 0) throw new Error(`engine probe failed: ${all.stderr}`);
      out.engineAllBusy = JSON.parse(all.stdout.trim().split('\n').pop());
    }
    log(`${label}: ${Math.round(out.engine.idleBytesPerSlo)} B per idle SLO, ${Math.round(out.engine.busyBytesPerSlo)} B per SLO with traffic; flush ${out.engine.flushCpuMsPerSecond.toFixed(1)} CPU ms/s with traffic on ${out.engine.busy}`);
    results.sizes.push(out);
    rmSync(dir, { recursive: true, force: true });
  }

  if (startOnly) throw Object.assign(new Error('start only'), { startOnly: true });
  // The monthly report: 1,000 components (one SLO each), every minute of the month stored (lib/slo-report.mjs).
  results.report = await measureReport({
    scratch,
    components: Number(args['report-components'] ?? (args.quick ? 100 : 1000)),
    days: args.quick ? 7 : undefined,
    oldPath: !args['no-per-minute'],
    log,
  });
  // The Statuspage API and badges at 1,000 components: built once per change, served from cache (lib/slo-status-api.mjs).
  results.statusApi = await measureStatusApi({ scratch, components: args.quick ? 200 : 1000, durationS: Number(duration), log, startVigil, wrk, get });
} catch (err) {
  if (err.startOnly !== true) {
    log(`failed: ${err.stack ?? err}`);
    failed = true;
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

results.loadAverage.end = loadavg();
const figures = makeFigures(results);
// The start figures and the report alone go to their own files: they must not replace the full run's.
const path = writeResult(startOnly ? 'slo-start' : args['report-only'] ? 'slo-scale-report' : 'slo-scale', { command: commandLine('npm run bench:slo-scale'), ok: !failed, lost: 0, figures, ...results });
if (!failed && !startOnly && !args['report-only']) writeFileSync(join(repoRoot, 'docs', 'slo-scale.svg'), chart(results));
process.stdout.write(`${JSON.stringify(results, null, 2)}\nwrote ${path}\n`);
process.exit(failed ? 1 : 0);

/** The docs-table rows. */
function makeFigures({ sizes, report, statusApi, emptyReadyMs, emptyReadyCpuS, emptyCheckConfig }) {
  const out = [];
  const OLD_LAYOUT = 2 * 43_200 * 8 + 43_200 * 4; // a 30d window of minutes: good, total, tag
  for (const s of sizes) {
    const n = `${s.slos.toLocaleString('en-US')} SLOs`;
    out.push(figure({ name: `ready after start, ${n}, a month of history`, value: Math.round(s.readyMs), unit: 'ms', reference: 'vigild without SLOs, same run', referenceValue: Math.round(emptyReadyMs), target: '≤ 3,000 ms', met: s.readyMs <= 3000, higherIsBetter: false }));
    out.push(figure({ name: `CPU until ready, ${n}`, value: Math.round(s.readyCpuS * 1000), unit: 'ms', reference: 'vigild without SLOs, same run', referenceValue: Math.round(emptyReadyCpuS * 1000), higherIsBetter: false }));
    if (s.openMs !== undefined) {
      out.push(figure({ name: `Storage.open with its check, ${n} (${Math.round(s.dbBytes / 1024 / 1024)} MiB file)`, value: Math.round(s.openMs * 10) / 10, unit: 'ms', reference: 'whole-file quick_check (now after ready)', referenceValue: Math.round(s.fullCheckMs), higherIsBetter: false }));
    }
    if (s.checkConfigMs !== undefined && emptyCheckConfig !== undefined) {
      out.push(figure({ name: `vigil check-config, ${n}`, value: Math.round(s.checkConfigMs), unit: 'ms', reference: 'empty config, same run', referenceValue: Math.round(emptyCheckConfig.ms), higherIsBetter: false }));
      out.push(figure({ name: `vigil check-config CPU, ${n}`, value: Math.round(s.checkConfigCpuS * 1000), unit: 'ms', reference: 'empty config, same run', referenceValue: Math.round(emptyCheckConfig.cpuS * 1000), higherIsBetter: false }));
    }
    out.push(figure({ name: `first status page after start (all SLOs loaded), ${n}`, value: Math.round(s.firstPageMs), unit: 'ms', reference: 'ready after start', referenceValue: Math.round(s.readyMs), higherIsBetter: false }));
    if (s.engine) {
      out.push(figure({ name: `live memory per SLO with traffic (30d), ${n}`, value: Math.round(s.engine.busyBytesPerSlo), unit: 'B', reference: 'the 32 KiB goal', referenceValue: 32 * 1024, target: '≤ 32,768 B', met: s.engine.busyBytesPerSlo <= 32 * 1024, higherIsBetter: false }));
      out.push(figure({ name: `live memory per idle SLO, ${n}`, value: Math.round(s.engine.idleBytesPerSlo), unit: 'B', reference: 'the old 30d layout', referenceValue: OLD_LAYOUT, higherIsBetter: false }));
    }
  }
  const big = sizes[1];
  if (big?.engine) {
    out.push(figure({ name: `SLO flush CPU per second, ${big.slos.toLocaleString('en-US')} SLOs, traffic on ${big.engine.busy.toLocaleString('en-US')}`, value: Math.round(big.engine.flushCpuMsPerSecond * 10) / 10, unit: 'ms/s', reference: `traffic on all ${big.slos.toLocaleString('en-US')}`, referenceValue: big.engineAllBusy ? Math.round(big.engineAllBusy.flushCpuMsPerSecond * 10) / 10 : undefined, higherIsBetter: false }));
  }
  if (big?.pageBytes) {
    out.push(figure({ name: `status page on the wire, gzip, ${big.components.toLocaleString('en-US')} components`, value: big.pageBytes.gzip, unit: 'B', reference: 'identity', referenceValue: big.pageBytes.identity, target: '≤ 250,000 B', met: big.pageBytes.gzip <= 250_000, higherIsBetter: false }));
  }
  if (big?.chromium) {
    out.push(figure({ name: `Chromium first contentful paint, ${big.components.toLocaleString('en-US')} components`, value: Math.round(big.chromium.median.fcpMs), unit: 'ms', reference: 'the 1 s goal', referenceValue: 1000, target: '≤ 1,000 ms', met: big.chromium.median.fcpMs <= 1000, higherIsBetter: false }));
  }
  if (big?.summaryRps) {
    out.push(figure({ name: `summary.json requests/s, ${big.components.toLocaleString('en-US')} components`, value: Math.round(big.summaryRps.vigil), unit: 'req/s', reference: 'bare uWS, same bytes', referenceValue: Math.round(big.summaryRps.bareUws), target: 'ratio ≥ 0.9', met: big.summaryRps.vigil / big.summaryRps.bareUws >= 0.9, higherIsBetter: true }));
  }
  for (const d of statusApi?.documents ?? []) {
    if (d.vigilRps === undefined) continue;
    const n = `${statusApi.components.toLocaleString('en-US')} components`;
    out.push(figure({ name: `${d.path} requests/s, ${n}`, value: Math.round(d.vigilRps), unit: 'req/s', reference: 'bare uWS, same bytes', referenceValue: Math.round(d.bareUwsRps), target: 'ratio ≥ 0.9', met: d.vigilRps / d.bareUwsRps >= 0.9, higherIsBetter: true }));
    const perRequest = (cpuS, rps) => Math.round((cpuS * 1e6) / (rps * statusApi.durationS));
    out.push(figure({ name: `${d.path} CPU per request, ${n}`, value: perRequest(d.vigilCpuS, d.vigilRps), unit: 'µs', reference: 'bare uWS', referenceValue: perRequest(d.bareUwsCpuS, d.bareUwsRps), higherIsBetter: false }));
  }
  if (report) {
    const n = `${report.components.toLocaleString('en-US')} components`;
    out.push(figure({ name: `vigil report, ${report.days} days, ${n} (every minute stored), wall`, value: Math.round(report.cli.wallMs), unit: 'ms', reference: report.perMinute ? 'old per-minute path, same data and run' : 'the 10 s reading of "seconds"', referenceValue: report.perMinute ? Math.round(report.perMinute.wallMs) : 10_000, target: '≤ 10,000 ms (seconds, not minutes)', met: report.cli.wallMs <= 10_000, higherIsBetter: false }));
    out.push(figure({ name: `vigil report, ${report.days} days, ${n}, CPU`, value: Math.round(report.cli.cpuS * 1000), unit: 'ms', reference: report.perMinute ? 'old per-minute path, CPU' : undefined, referenceValue: report.perMinute ? Math.round(report.perMinute.cpuS * 1000) : undefined, higherIsBetter: false }));
    out.push(figure({ name: `SQLite scan of every minute row for bad ones, ${n} (inside the report)`, value: Math.round(report.minuteScan.wallMs), unit: 'ms', reference: 'vigil report wall', referenceValue: Math.round(report.cli.wallMs), higherIsBetter: false }));
    out.push(figure({ name: `reading the day rows of every SLO, ${n} (floor of a rollup-only report)`, value: Math.round(report.dayRows.wallMs * 10) / 10, unit: 'ms', reference: 'vigil report wall', referenceValue: Math.round(report.cli.wallMs), higherIsBetter: false }));
  }
  return out;
}

/** A small SVG bar chart: each figure with a goal as a share of its goal (100% = the goal). */
function chart({ sizes, report }) {
  const rows = [];
  for (const s of sizes) {
    const n = `${s.slos.toLocaleString('en-US')} SLOs`;
    rows.push([`ready after start, ${n}`, s.readyMs / 3000, `${(s.readyMs / 1000).toFixed(2)} s of 3 s`]);
    if (s.engine) rows.push([`memory per SLO with traffic, ${n}`, s.engine.busyBytesPerSlo / 32768, `${(s.engine.busyBytesPerSlo / 1024).toFixed(1)} KiB of 32 KiB`]);
  }
  const big = sizes[1];
  if (big?.pageBytes) rows.push([`page, gzip, ${big.components} components`, big.pageBytes.gzip / 250_000, `${Math.round(big.pageBytes.gzip / 1000)} KB of 250 KB`]);
  if (big?.chromium) rows.push([`Chromium first paint, ${big.components} components`, big.chromium.median.fcpMs / 1000, `${Math.round(big.chromium.median.fcpMs)} ms of 1,000 ms`]);
  if (report) rows.push([`vigil report, ${report.components} components`, report.cli.wallMs / 10_000, `${(report.cli.wallMs / 1000).toFixed(1)} s of 10 s`]);
  if (big?.summaryRps) rows.push([`summary.json vs bare uWS (inverse)`, big.summaryRps.bareUws / big.summaryRps.vigil / (1 / 0.9), `${(big.summaryRps.vigil / big.summaryRps.bareUws).toFixed(2)}× bare uWS (goal 0.9×)`]);
  const w = 760;
  const rowH = 28;
  const left = 300;
  const scaleW = 360;
  const h = 40 + rows.length * rowH + 30;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="system-ui, sans-serif" font-size="12">\n`;
  svg += `<title>slo-scale: each figure as a share of its goal (the line is the goal)</title>\n<rect width="${w}" height="${h}" fill="#fff"/>\n`;
  svg += `<text x="10" y="20" font-size="14" font-weight="600">slo-scale: share of each goal (line = goal; shorter is better)</text>\n`;
  rows.forEach(([name, share, text], i) => {
    const y = 40 + i * rowH;
    const bar = Math.max(1, Math.min(scaleW * 1.5, (share * scaleW) / 1.5));
    svg += `<text x="10" y="${y + 15}">${escapeXml(name)}</text>\n`;
    svg += `<rect x="${left}" y="${y + 3}" width="${bar.toFixed(1)}" height="16" fill="${share <= 1 ? '#1a7f37' : '#cf222e'}"/>\n`;
    svg += `<text x="${left + bar + 6}" y="${y + 15}">${escapeXml(text)}</text>\n`;
  });
  const goalX = left + scaleW / 1.5;
  svg += `<line x1="${goalX}" y1="32" x2="${goalX}" y2="${40 + rows.length * rowH}" stroke="#1f2328" stroke-dasharray="4 3"/>\n`;
  svg += `<text x="10" y="${h - 10}" fill="#59636e">${escapeXml(`report: ${report ? `${report.components} components, ${report.days} days, ${(report.cli.wallMs / 1000).toFixed(1)} s` : 'not run'}; source: native-bench/slo-scale.mjs, ${new Date().toISOString().slice(0, 10)}`)}</text>\n`;
  return `${svg}</svg>\n`;
}

function escapeXml(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
