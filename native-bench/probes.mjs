#!/usr/bin/env node
// bench:probes — 10,000 HTTP probes at a 30 s interval (333 probes/s) against local targets.
//
// In one run, against one target server (load/probe-target.mjs, which also proves that no two
// requests for one probe's path were ever in flight at once):
//   1. vigil-idle:   vigild with no probes, for the baseline memory and CPU;
//   2. vigil-probes: vigild with the probes; after a warm-up of one interval, a timed window:
//                    daemon CPU per probe run, p99 lateness of runs against their schedule
//                    (vigil_probe_schedule_lateness_seconds), skipped runs, memory per probe;
//   3. blackbox:     Debian's prometheus-blackbox-exporter doing the same probes at the same rate,
//                    its /probe endpoint driven by a loop in this process (blackbox process CPU only);
//   4. ingest:       OTLP points per daemon CPU-second with the probes running against without.
// Writes results/probes.json. `--quick`: 2,000 probes at 10 s, short windows.
//
//   npm run bench:probes -- [--quick] [--probes 10000] [--interval 30] [--window 60] [--skip-ingest]
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helpFromHeader, ingestOptions, ingestRunner, makeLog, round, runMain } from './lib/ingest-run.mjs';
import { cpuSeconds, freePort, spawnChild, stopChild, waitForHttp200, waitForLine } from './lib/proc.mjs';
import { samples, sumSamples } from './lib/prom-text.mjs';
import { buildIfNeeded, commandLine, figure, repoRoot, resultsDir, writeResult } from './lib/result.mjs';

const { values: args } = parseArgs({
  options: {
    ...ingestOptions,
    probes: { type: 'string', default: '10000' },
    interval: { type: 'string', default: '30' },
    window: { type: 'string', default: '60' },
    'skip-ingest': { type: 'boolean', default: false },
    'skip-blackbox': { type: 'boolean', default: false },
    'only-ingest': { type: 'boolean', default: false },
  },
});
if (args.help) helpFromHeader(import.meta.url);
if (args.quick) {
  args.probes = '2000';
  args.interval = '10';
  args.window = '20';
  args.duration = '5';
  args.warmup = '1';
}
const N = Number(args.probes);
const intervalS = Number(args.interval);
const windowS = Number(args.window);
const rate = N / intervalS;
const log = makeLog('bench:probes');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** /proc/<pid>/status VmRSS in bytes. */
function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : null;
}

function writeConfig(dir, name, probes, targetPort) {
  const lines = ['components:', '  - id: bench', 'log:', '  level: warn'];
  if (probes > 0) {
    lines.push('probes:');
    for (let i = 0; i < probes; i++) {
      lines.push(`  - { id: p${i}, component: bench, interval: ${intervalS}s, timeout: 5s, http: { url: 'http://127.0.0.1:${targetPort}/p/${i}' } }`);
    }
  }
  const file = join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Starts vigild; a port taken between freePort() and the bind (a shared machine) gets a retry with new ports. */
async function startVigil(configFile, dataDir) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startVigilOnce(configFile, dataDir);
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE|exited before/.test(`${err.message}${readFileSync(join(resultsDir, 'probes-vigil.log'), 'utf8').slice(-300)}`)) throw err;
      log(`vigild did not start (${err.message}); retrying with other ports`);
    }
  }
}

async function startVigilOnce(configFile, dataDir) {
  const [m, s, g, h] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const metricsBase = `http://127.0.0.1:${m}`;
  const child = spawnChild('vigil', process.execPath, [join(repoRoot, 'bin', 'vigil.js'), 'start', '--config', configFile, '--metrics', `127.0.0.1:${m}`, '--status', `127.0.0.1:${s}`, '--otlp-grpc', `127.0.0.1:${g}`, '--otlp-http', `127.0.0.1:${h}`, '--data-dir', dataDir], { log: join(resultsDir, 'probes-vigil.log'), guard: true });
  await waitForHttp200(child, `${metricsBase}/-/ready`, 60_000);
  return { child, metricsBase };
}

async function scrape(base) {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(30_000) });
  return res.text();
}

async function targetStats(base) {
  return (await fetch(`${base}/stats`)).json();
}

/** Vigil for one interval of warm-up, then the timed window. */
async function runVigil(configFile, dir, probes, targetBase) {
  const dataDir = join(dir, `data-${probes}`);
  const { child, metricsBase } = await startVigil(configFile, dataDir);
  try {
    const pid = child.pid;
    // Without probes there is nothing to warm up: a short settle, for the baseline memory and CPU.
    const warmupS = probes === 0 ? 5 : intervalS + 5;
    log(`[vigil ${probes} probes] warm-up ${warmupS} s${probes === 0 ? '' : ' (every probe runs once)'}`);
    await sleep(warmupS * 1000);
    const before = await scrape(metricsBase);
    const statsBefore = await targetStats(targetBase);
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    const timedS = probes === 0 ? Math.min(windowS, 20) : windowS;
    log(`[vigil ${probes} probes] timed window ${timedS} s`);
    await sleep(timedS * 1000);
    const cpu1 = cpuSeconds(pid);
    const elapsed = (performance.now() - t0) / 1000;
    const scrapeStart = performance.now();
    const after = await scrape(metricsBase);
    const scrapeSeconds = (performance.now() - scrapeStart) / 1000;
    const statsAfter = await targetStats(targetBase);
    const runs = (sumSamples(after, 'vigil_probe_results_total') ?? 0) - (sumSamples(before, 'vigil_probe_results_total') ?? 0);
    const failures = (sumSamples(after, 'vigil_probe_results_total', (l) => l.result === 'failure') ?? 0) - (sumSamples(before, 'vigil_probe_results_total', (l) => l.result === 'failure') ?? 0);
    const q = (quantile) => samples(after, 'vigil_probe_schedule_lateness_seconds').find((s) => s.labels.quantile === quantile && s.labels.window === '1m')?.value ?? null;
    const heap = samples(after, 'vigil_nodejs_heap_size_used_bytes')[0]?.value ?? null;
    return {
      probes,
      elapsedSeconds: round(elapsed, 2),
      cpuSeconds: round(cpu1 - cpu0, 2),
      runs,
      failures,
      runsPerSecond: round(runs / elapsed, 1),
      cpuMsPerRun: runs > 0 ? round(((cpu1 - cpu0) * 1000) / runs, 4) : null,
      latenessP99Seconds: q('0.99'),
      latenessP999Seconds: q('0.999'),
      skipped: sumSamples(after, 'vigil_probe_runs_skipped_total') ?? null,
      missed: sumSamples(after, 'vigil_probe_runs_missed_total') ?? null,
      rssBytes: rssBytes(pid),
      heapUsedBytes: heap,
      scrapeSeconds: round(scrapeSeconds, 3),
      scrapeBytes: Buffer.byteLength(after),
      targetRequests: statsAfter.requests - statsBefore.requests,
      targetMaxInFlightPerPath: statsAfter.maxInFlightPerPath,
      targetOverlaps: statsAfter.overlaps - statsBefore.overlaps,
    };
  } finally {
    await stopChild(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** blackbox_exporter probing the same N targets at the same rate, driven through /probe. */
async function runBlackbox(dir, targetPort) {
  const port = await freePort();
  writeFileSync(join(dir, 'blackbox.yml'), JSON.stringify({ modules: { http_2xx: { prober: 'http', timeout: '5s', http: { preferred_ip_protocol: 'ip4' } } } }));
  const child = spawnChild('blackbox_exporter', 'prometheus-blackbox-exporter', [`--config.file=${join(dir, 'blackbox.yml')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { log: join(resultsDir, 'probes-blackbox.log') });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp200(child, `${base}/-/healthy`, 30_000);
  let stop = false;
  let done = 0;
  let ok = 0;
  let errors = 0;
  let maxLagMs = 0;
  // The same schedule as vigild: probe i is due at start + interval·i/N, then every interval.
  const driver = (async () => {
    const start = performance.now();
    const inflight = new Set();
    for (let k = 0; !stop; k++) {
      const due = start + (k * intervalS * 1000) / N;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      maxLagMs = Math.max(maxLagMs, performance.now() - due);
      const i = k % N;
      const p = fetch(`${base}/probe?module=http_2xx&target=${encodeURIComponent(`http://127.0.0.1:${targetPort}/p/${i}`)}`)
        .then(async (res) => {
          const text = await res.text();
          done++;
          if (/^probe_success 1$/m.test(text)) ok++;
        })
        .catch(() => errors++);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await Promise.allSettled([...inflight]);
  })();
  try {
    log(`[blackbox] warm-up ${Math.min(intervalS, 15)} s`);
    await sleep(Math.min(intervalS, 15) * 1000);
    const done0 = done;
    const cpu0 = cpuSeconds(child.pid);
    const t0 = performance.now();
    log(`[blackbox] timed window ${windowS} s`);
    await sleep(windowS * 1000);
    const cpu1 = cpuSeconds(child.pid);
    const done1 = done;
    const elapsed = (performance.now() - t0) / 1000;
    stop = true;
    await driver;
    const runs = done1 - done0;
    return {
      elapsedSeconds: round(elapsed, 2),
      cpuSeconds: round(cpu1 - cpu0, 2),
      runs,
      runsPerSecond: round(runs / elapsed, 1),
      cpuMsPerRun: runs > 0 ? round(((cpu1 - cpu0) * 1000) / runs, 4) : null,
      successes: ok,
      errors,
      driverMaxLagMs: round(maxLagMs, 1),
      rssBytes: rssBytes(child.pid),
    };
  } finally {
    stop = true;
    await stopChild(child);
  }
}

async function main() {
  if (!args['skip-build']) buildIfNeeded(log);
  const bb = spawnSync('prometheus-blackbox-exporter', ['--version'], { encoding: 'utf8' });
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-probes-'));
  const target = spawnChild('probe target', process.execPath, [new URL('./load/probe-target.mjs', import.meta.url).pathname, '--exit-with-stdin'], { stdout: 'lines' });
  const { port: targetPort } = await waitForLine(target, function listening(e) { return e.event === 'listening'; }, 10_000);
  const targetBase = `http://127.0.0.1:${targetPort}`;
  const idleConfig = writeConfig(dir, 'idle.yaml', 0, targetPort);
  const probesConfig = writeConfig(dir, 'probes.yaml', N, targetPort);
  const problems = [];
  try {
    log(`${N} probes every ${intervalS} s = ${round(rate, 1)} probes/s; window ${windowS} s`);
    let retained = null;
    let idle = null;
    let vigil = null;
    let blackbox = null;
    if (!args['only-ingest']) {
      log(`[memory] retained heap per probe (micro/probe-memory.mjs, ${N} probes, after a full GC)`);
      const micro = spawnSync(process.execPath, [new URL('./micro/probe-memory.mjs', import.meta.url).pathname, '--probes', String(N)], { encoding: 'utf8', timeout: 180_000 });
      retained = micro.status === 0 ? JSON.parse(micro.stdout.trim().split('\n').pop()) : null;
      if (retained === null) problems.push(`micro/probe-memory.mjs failed: ${micro.stderr}`);
      idle = await runVigil(idleConfig, dir, 0, targetBase);
      vigil = await runVigil(probesConfig, dir, N, targetBase);
      blackbox = args['skip-blackbox'] ? null : await runBlackbox(dir, targetPort);
    }
    let ingest = null;
    if (!args['skip-ingest']) {
      const runner = ingestRunner(args, log);
      const without = await runner.runTarget('vigil', { daemonArgs: ['--config', idleConfig], logName: 'probes-ingest-without.log' });
      const withProbes = await runner.runTarget('vigil', { daemonArgs: ['--config', probesConfig], logName: 'probes-ingest-with.log' });
      for (const [name, r] of [['ingest without probes', without], ['ingest with probes', withProbes]]) problems.push(...runner.problems(name, r));
      const detail = (r) => ({ pointsPerSecond: r.pointsPerSecond, serverCpuSeconds: r.serverCpuSeconds, serverCpuUtilization: r.serverCpuUtilization, pointsPerServerCpuSecond: r.pointsPerServerCpuSecond, cpuMsPerRequest: r.cpuMsPerRequest, exportLatencyMs: r.exportLatencyMs });
      log(`ingest without probes: ${JSON.stringify(detail(without))}`);
      log(`ingest with probes: ${JSON.stringify(detail(withProbes))}`);
      ingest = { without, withProbes, detail: { without: detail(without), withProbes: detail(withProbes) }, ratio: withProbes.pointsPerServerCpuSecond && without.pointsPerServerCpuSecond ? round(withProbes.pointsPerServerCpuSecond / without.pointsPerServerCpuSecond, 3) : null };
    }

    if (vigil === null) {
      log(`ingest: ${ingest.withProbes.pointsPerServerCpuSecond} vs ${ingest.without.pointsPerServerCpuSecond} points/CPU-s = ${ingest.ratio}`);
      return problems.length > 0 ? 1 : 0;
    }
    const expectedRuns = rate * vigil.elapsedSeconds;
    if (vigil.runs < expectedRuns * 0.97) problems.push(`vigil ran ${vigil.runs} probes in the window, expected about ${Math.round(expectedRuns)}`);
    if (vigil.failures > 0) problems.push(`${vigil.failures} vigil probe runs failed against a local target`);
    if (vigil.targetOverlaps > 0 || vigil.targetMaxInFlightPerPath > 1) problems.push(`runs of one probe overlapped at the target (${vigil.targetOverlaps} times)`);
    if (vigil.skipped !== 0) problems.push(`${vigil.skipped} runs skipped (the previous run was still going)`);
    if (blackbox !== null && blackbox.runs < rate * blackbox.elapsedSeconds * 0.97) problems.push(`blackbox completed ${blackbox.runs} probes, expected about ${Math.round(rate * blackbox.elapsedSeconds)}`);
    const memoryPerProbe = vigil.rssBytes !== null && idle.rssBytes !== null ? Math.round((vigil.rssBytes - idle.rssBytes) / N) : null;
    const heapPerProbe = vigil.heapUsedBytes !== null && idle.heapUsedBytes !== null ? Math.round((vigil.heapUsedBytes - idle.heapUsedBytes) / N) : null;
    // Vigil's CPU per run net of what the same daemon burns with no probes at all.
    const idleCpuPerSecond = idle.cpuSeconds / idle.elapsedSeconds;
    const vigilNetCpuMsPerRun = vigil.runs > 0 ? round(((vigil.cpuSeconds - idleCpuPerSecond * vigil.elapsedSeconds) * 1000) / vigil.runs, 4) : null;

    const figures = [
      figure({ name: `probe runs/s (${N.toLocaleString('en-US')} probes at ${intervalS} s)`, value: vigil.runsPerSecond, unit: 'runs/s', reference: 'schedule', referenceValue: round(rate, 1), higherIsBetter: true }),
      figure({ name: 'p99 lateness of a run against its schedule', value: vigil.latenessP99Seconds, unit: 's', target: '≤ 1 s', met: vigil.latenessP99Seconds !== null && vigil.latenessP99Seconds <= 1 }),
      figure({ name: 'overlapping runs of one probe (at the target)', value: vigil.targetOverlaps, unit: 'runs', target: '0', met: vigil.targetOverlaps === 0 && vigil.skipped === 0 }),
      figure({ name: 'memory retained per probe (heap + external after a full GC)', value: retained && retained.heapBytesPerProbe + retained.externalBytesPerProbe, unit: 'bytes' }),
      figure({ name: 'daemon RSS per probe under load (vs the same daemon without probes)', value: memoryPerProbe, unit: 'bytes' }),
      figure({ name: 'daemon JS heap used per probe under load (garbage included)', value: heapPerProbe, unit: 'bytes' }),
    ];
    if (blackbox !== null) {
      figures.push(figure({ name: 'daemon CPU per probe run', value: vigil.cpuMsPerRun, unit: 'CPU-ms', reference: `blackbox_exporter ${bb.stdout?.match(/version ([\d.]+)/)?.[1] ?? ''} (process CPU)`.trim(), referenceValue: blackbox.cpuMsPerRun, target: 'ratio ≤ 1.0', met: vigil.cpuMsPerRun !== null && blackbox.cpuMsPerRun !== null && vigil.cpuMsPerRun / blackbox.cpuMsPerRun <= 1 }));
    }
    if (ingest !== null) {
      figures.push(figure({ name: `ingest points per daemon CPU-s with ${N.toLocaleString('en-US')} probes running`, value: ingest.withProbes.pointsPerServerCpuSecond, unit: 'points/CPU-s', reference: 'same daemon without probes', referenceValue: ingest.without.pointsPerServerCpuSecond, target: 'ratio ≥ 0.9', met: ingest.ratio !== null && ingest.ratio >= 0.9, higherIsBetter: true }));
    }
    const path = writeResult('probes', {
      command: commandLine('npm run bench:probes'),
      ok: problems.length === 0,
      lost: 0,
      figures,
      settings: { probes: N, intervalSeconds: intervalS, windowSeconds: windowS, probesPerSecond: round(rate, 1) },
      retained,
      idle,
      vigil: { ...vigil, netCpuMsPerRun: vigilNetCpuMsPerRun },
      blackbox,
      ingest: ingest && { ratio: ingest.ratio, ...ingest.detail },
      problems,
    });
    log(`idle: ${JSON.stringify(idle)}`);
    log(`vigil: ${JSON.stringify(vigil)} net CPU-ms/run ${vigilNetCpuMsPerRun}`);
    if (blackbox) log(`blackbox: ${JSON.stringify(blackbox)}`);
    if (ingest) log(`ingest: ${ingest.withProbes.pointsPerServerCpuSecond} vs ${ingest.without.pointsPerServerCpuSecond} points/CPU-s = ${ingest.ratio}`);
    for (const f of figures) log(`${f.name}: ${f.value} ${f.unit}${f.referenceValue !== undefined ? ` vs ${f.referenceValue} (ratio ${f.ratio})` : ''}${f.met === undefined ? '' : f.met ? ' MET' : ' NOT MET'}`);
    for (const p of problems) log(`problem: ${p}`);
    log(`wrote ${path}`);
    return problems.length > 0 ? 1 : 0;
  } finally {
    await stopChild(target, 2000);
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main, log);
