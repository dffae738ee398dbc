#!/usr/bin/env node
// bench:remote-write — remote_write of ~100k series, three figures from one run:
//
// Two vigild hold the scrape workload (lib/scrape-series.mjs, 100k series) side by side for the
// whole run, one with remote_write (interval 15 s), one without; each window measures both at once,
// so the load of the (shared) machine weighs on both alike.
// 1. CPU per sample sent: the remote_write daemon's CPU (/proc, all threads) over a window of
//    several intervals ÷ samples the receiver got from it. Peer, same window: Prometheus 2.42 in
//    agent mode (--enable-feature=agent) scraping the other daemon every 15 s and remote-writing to
//    the same receiver: agent process CPU ÷ samples it delivered. Target: Vigil ≤ 0.5× the agent
//    (Vigil holds the values; it should not pay for a scrape and a parse). Context beside it, both
//    sides charged alike: remote_write's CPU above the idle daemon, against the agent plus what
//    rendering its scrapes cost the scraped daemon.
// 2. Ingest with remote_write on: OTLP points per daemon CPU-second while the workload is pushed
//    round after round for a window, every request sent to both daemons at the same time:
//    remote_write on (15 s) against off over the same window. Target ≥ 0.9×.
// 3. WAL throughput: 100k-series samplings encoded as the daemon encodes them (compressed request
//    bodies) and appended with fsync: always (one fdatasync per sampling): samples per second of the
//    append alone (encoding is reported beside it), and the headroom over 100k series every 15 s.
// The receiver (this process) snappy-decodes every request and counts TimeSeries and samples per
// sender; both senders must deliver every series of every interval (nothing lost).
//
//   npm run bench:remote-write -- [--quick] [--series 100000] [--interval 15] [--window 60] [--ingest-window 40] [--skip-build]
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import grpc from '@grpc/grpc-js';
import SnappyJS from 'snappyjs';
import { cpuSeconds, freePort, isRunning, spawnChild, stopChild, waitForHttp200 } from './lib/proc.mjs';
import { runMain } from './lib/ingest-run.mjs';
import { buildIfNeeded, benchDir, commandLine, figure, repoRoot, writeResult } from './lib/result.mjs';
import { selectEncoder } from './lib/otlp-metrics.mjs';
import { pushRound } from './lib/push-workload.mjs';
import { scrapeWorkload } from './lib/scrape-series.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    series: { type: 'string' },
    interval: { type: 'string' },
    window: { type: 'string' },
    'ingest-window': { type: 'string' },
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
const intervalS = Number(args.interval ?? (args.quick ? 5 : 15));
const windowS = Number(args.window ?? (args.quick ? 15 : 60));
const ingestWindowS = Number(args['ingest-window'] ?? (args.quick ? 10 : 40));
const workload = scrapeWorkload({ series: seriesCount, histograms: args.quick ? 400 : 2000 });
const TARGET_CPU_RATIO = 0.5;
const TARGET_INGEST_RATIO = 0.9;

const t0 = Date.now();
function log(message) {
  process.stderr.write(`bench:remote-write: [${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}\n`);
}

// ---- the receiver ---------------------------------------------------------------------------

/** Reads a varint at `at`; returns [value, next]. */
function varint(buf, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = buf[at++];
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, at];
    shift += 7;
  }
}

/** Skips a field of wire type `wt` at `at`; returns the next offset. */
function skip(buf, at, wt) {
  if (wt === 0) return varint(buf, at)[1];
  if (wt === 1) return at + 8;
  if (wt === 5) return at + 4;
  if (wt === 2) {
    const [len, next] = varint(buf, at);
    return next + len;
  }
  throw new Error(`wire type ${wt}`);
}

/** TimeSeries count and float samples in a WriteRequest (a skim, no objects per field). */
function countWriteRequest(buf) {
  let series = 0;
  let samples = 0;
  let at = 0;
  while (at < buf.length) {
    const [tag, next] = varint(buf, at);
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 1 && wt === 2) {
      const [len, body] = varint(buf, next);
      series++;
      let p = body;
      while (p < body + len) {
        const [t, n] = varint(buf, p);
        if (t >>> 3 === 2 && (t & 7) === 2) samples++;
        p = skip(buf, n, t & 7);
      }
      at = body + len;
    } else at = skip(buf, next, wt);
  }
  return { series, samples };
}

/** A remote-write receiver counting per path (/vigil, /agent). */
async function startReceiver() {
  const counts = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const c = counts.get(req.url) ?? { requests: 0, series: 0, samples: 0, bytes: 0, errors: 0 };
      counts.set(req.url, c);
      try {
        const body = Buffer.concat(chunks);
        const raw = SnappyJS.uncompress(body);
        const n = countWriteRequest(raw);
        c.requests++;
        c.series += n.series;
        c.samples += n.samples;
        c.bytes += body.length;
        res.writeHead(204).end();
      } catch (err) {
        c.errors++;
        res.writeHead(400).end(String(err));
      }
    });
  });
  const port = await freePort(args.host);
  await new Promise((resolve) => server.listen(port, args.host, resolve));
  return { base: `http://${args.host}:${port}`, counts, get: (path) => ({ ...(counts.get(path) ?? { requests: 0, series: 0, samples: 0, bytes: 0, errors: 0 }) }), close: () => new Promise((r) => server.close(r)) };
}

// ---- vigild ---------------------------------------------------------------------------------

async function startVigil(name, remoteWriteUrl) {
  const [grpcPort, metricsPort, statusPort, httpPort] = [await freePort(args.host), await freePort(args.host), await freePort(args.host), await freePort(args.host)];
  const workDir = mkdtempSync(join(tmpdir(), `vigil-bench-rw-${name}-`));
  const configFile = join(workDir, 'vigil.yaml');
  const lines = ['series:', `  limit: ${Math.max(200_000, seriesCount * 2)}`, '  staleness: 1h', 'percentiles:', '  enabled: false', 'log:', '  level: warn'];
  if (remoteWriteUrl) lines.push('remote_write:', `  - url: ${remoteWriteUrl}`, `    interval: ${intervalS}s`, '    queue: { shards: 4, max_samples_per_send: 2000 }', '    wal: { fsync: always }');
  writeFileSync(configFile, `${lines.join('\n')}\n`);
  const metricsBase = `http://${args.host}:${metricsPort}`;
  const child = spawnChild(`vigil-${name}`, process.execPath, [join(repoRoot, 'bin', 'vigil.js'), 'start', '--config', configFile, '--otlp-grpc', `${args.host}:${grpcPort}`, '--otlp-http', `${args.host}:${httpPort}`,
    '--metrics', `${args.host}:${metricsPort}`, '--status', `${args.host}:${statusPort}`, '--data-dir', join(workDir, 'data')], { cwd: workDir, log: join(benchDir, 'results', `vigil-daemon-remote-write-${name}.log`), guard: true });
  await waitForHttp200(child, `${metricsBase}/-/ready`, 30_000);
  return { child, grpc: `${args.host}:${grpcPort}`, metricsTarget: `${args.host}:${metricsPort}`, metricsBase, workDir };
}

async function stopVigil(v) {
  await stopChild(v.child);
  rmSync(v.workDir, { recursive: true, force: true });
}

// ---- the agent --------------------------------------------------------------------------------

function haveProm() {
  return spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).error === undefined;
}

async function startAgent(target, writeUrl) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-agent-'));
  const port = await freePort(args.host);
  const configFile = join(dir, 'agent.yml');
  writeFileSync(configFile, [
    'global:',
    `  scrape_interval: ${intervalS}s`,
    `  scrape_timeout: ${Math.min(intervalS, 10)}s`,
    'scrape_configs:',
    '  - job_name: vigil',
    '    honor_labels: true',
    '    static_configs:',
    `      - targets: ['${target}']`,
    'remote_write:',
    `  - url: ${writeUrl}`,
    '',
  ].join('\n'));
  const child = spawnChild('prometheus-agent', 'prometheus', ['--enable-feature=agent', `--config.file=${configFile}`, `--storage.agent.path=${join(dir, 'wal')}`, `--web.listen-address=${args.host}:${port}`, '--log.level=warn'],
    { log: join(benchDir, 'results', 'prometheus-agent-remote-write.log') });
  await waitForHttp200(child, `http://${args.host}:${port}/-/ready`, 30_000);
  return { child, dir };
}

// ---- WAL throughput -----------------------------------------------------------------------------

async function walThroughput() {
  const { BatchWriter } = await import(join(repoRoot, 'dist', 'exporters', 'remote-write', 'batch.js'));
  const { encodeSeries } = await import(join(repoRoot, 'dist', 'exporters', 'remote-write', 'source.js'));
  const { Wal } = await import(join(repoRoot, 'dist', 'exporters', 'remote-write', 'wal.js'));
  // A sampling like the daemon's: every series of the workload, labels as Vigil sends them.
  const encoded = [];
  for (let i = 0; i < seriesCount; i++) {
    encoded.push(encodeSeries('http_server_requests_total', ['http_method', 'GET', 'http_route', `/orders/${i % 20}`, 'http_status_code', String(200 + (i % 5)), 'instance', `instance-${Math.floor(i / 2000)}`, 'job', `shop/service-${Math.floor(i / 2000)}`]));
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-wal-'));
  try {
    const wal = new Wal({ dir, maxBytes: 64 * 1024 ** 3, segmentBytes: 32 * 1024 ** 2, fsync: 'always', warn: (f, m) => log(`WAL: ${m} ${JSON.stringify(f)}`) });
    wal.open();
    const samplings = args.quick ? 5 : 10;
    let bytes = 0;
    let appendMs = 0;
    let encodeMs = 0;
    for (let n = 0; n < samplings; n++) {
      // As the daemon does: requests of 2000 samples over 4 shards, compressed as they fill; a
      // record cut every ~1 MB of compressed bodies and appended at once; one fdatasync per sampling.
      const batch = new BatchWriter(Date.now() + n, 4, 2000);
      let ms = 0;
      const append = (p) => {
        if (p === null) return;
        const a0 = performance.now();
        wal.append(p.payload, p.counts);
        bytes += p.payload.length;
        ms += performance.now() - a0;
      };
      const e0 = performance.now();
      for (let i = 0; i < encoded.length; i++) {
        batch.float(encoded[i], i + n, null);
        if (batch.bytes >= 1024 * 1024) append(batch.cut());
      }
      append(batch.cut(true));
      const a0 = performance.now();
      wal.sync();
      ms += performance.now() - a0;
      encodeMs += performance.now() - e0 - ms;
      appendMs += ms;
    }
    wal.close();
    const samples = samplings * seriesCount;
    return { samplings, samples, bytes, bytesPerSampling: Math.round(bytes / samplings), appendMs: Math.round(appendMs), encodeMs: Math.round(encodeMs), samplesPerSecond: Math.round(samples / (appendMs / 1000)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- main -----------------------------------------------------------------------------------

/** CPU-seconds of several processes over the same window. */
function cpuOf(children) {
  return children.map((c) => cpuSeconds(c.pid));
}

async function main() {
  if (!args['skip-build']) buildIfNeeded(log);
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  if (!haveProm()) throw new Error('prometheus is not on PATH (Debian package prometheus, 2.42)');
  const encoder = await selectEncoder('auto');
  const receiver = await startReceiver();
  log(`workload: ${seriesCount.toLocaleString('en-US')} series; interval ${intervalS} s, window ${windowS} s, ingest window ${ingestWindowS} s`);

  // Both daemons run side by side for the whole run and every window measures them at the same
  // time, so the machine's load (two cores shared with other work) weighs on both alike.
  const off = await startVigil('off', null);
  const on = await startVigil('on', `${receiver.base}/vigil`);
  let vigilRun;
  let agentRun;
  let offIngest;
  let onIngest;
  let idleCpuPerSecond = 0;
  let scrapeServing = 0;
  let lost = 0;
  const idleWindowS = args.quick ? 5 : 20;
  try {
    for (const v of [off, on]) {
      const client = new grpc.Client(v.grpc, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
      await pushRound(client, encoder, workload, 0);
      client.close();
    }
    // The daemon's own cost holding the workload (timers, memory checks, staleness sweeps), with
    // nothing scraping it: the baseline both figures below are read against (context, not subtracted
    // from the goal's figure).
    await sleep(5000);
    const idle0 = cpuSeconds(off.child.pid);
    await sleep(idleWindowS * 1000);
    idleCpuPerSecond = (cpuSeconds(off.child.pid) - idle0) / idleWindowS;
    log(`idle daemon holding the workload: ${(idleCpuPerSecond * 1000).toFixed(1)} ms CPU per second`);

    // The agent scrapes the daemon without remote_write while the other daemon samples: one window for both.
    const agent = await startAgent(off.metricsTarget, `${receiver.base}/agent`);
    try {
      // Warm-up: two intervals (series creation, the agent's first WAL segment, Vigil's first
      // sampling, which encodes every series' labels once).
      await sleep((2 * intervalS + 3) * 1000);
      const before = { agent: receiver.get('/agent'), vigil: receiver.get('/vigil') };
      const cpu0 = cpuOf([agent.child, on.child, off.child]);
      await sleep(windowS * 1000);
      const cpu1 = cpuOf([agent.child, on.child, off.child]);
      const after = { agent: receiver.get('/agent'), vigil: receiver.get('/vigil') };
      if (!isRunning(agent.child)) throw new Error('the agent exited');
      agentRun = { cpuSeconds: cpu1[0] - cpu0[0], samples: after.agent.samples - before.agent.samples, requests: after.agent.requests - before.agent.requests, bytes: after.agent.bytes - before.agent.bytes };
      vigilRun = { cpuSeconds: cpu1[1] - cpu0[1], samples: after.vigil.samples - before.vigil.samples, requests: after.vigil.requests - before.vigil.requests, bytes: after.vigil.bytes - before.vigil.bytes };
      // What the agent's scrapes cost the daemon it scrapes (rendering /metrics), above its idle.
      scrapeServing = cpu1[2] - cpu0[2] - idleCpuPerSecond * windowS;
      log(`agent: ${agentRun.samples.toLocaleString('en-US')} samples in ${windowS} s, ${agentRun.cpuSeconds.toFixed(2)} CPU-s → ${(agentRun.cpuSeconds * 1e6 / agentRun.samples).toFixed(2)} µs CPU per sample (serving its scrapes cost the scraped daemon ${scrapeServing.toFixed(2)} CPU-s more)`);
      log(`vigil: ${vigilRun.samples.toLocaleString('en-US')} samples in ${windowS} s, ${vigilRun.cpuSeconds.toFixed(2)} CPU-s → ${(vigilRun.cpuSeconds * 1e6 / vigilRun.samples).toFixed(2)} µs CPU per sample`);
      // Every interval carries every workload series: at least windows/interval − 1 whole samplings.
      const samplings = Math.floor(windowS / intervalS) - 1;
      if (vigilRun.samples < samplings * seriesCount) lost = samplings * seriesCount - vigilRun.samples;
    } finally {
      await stopChild(agent.child);
      rmSync(agent.dir, { recursive: true, force: true });
    }

    // Ingest, remote_write off and on: every request of every round sent to both daemons at the
    // same time (encoded once); each daemon's CPU over that same window.
    const clients = [off, on].map((v) => new grpc.Client(v.grpc, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 }));
    let pushed = 0;
    const c0 = cpuOf([off.child, on.child]);
    const began = performance.now();
    let round = 1;
    while (performance.now() - began < ingestWindowS * 1000) pushed += await pushRound(clients, encoder, workload, round++);
    const c1 = cpuOf([off.child, on.child]);
    const wall = (performance.now() - began) / 1000;
    for (const c of clients) c.close();
    const points = [pushed, pushed];
    offIngest = { points: points[0], cpuSeconds: c1[0] - c0[0], wallSeconds: wall, rounds: round - 1 };
    onIngest = { points: points[1], cpuSeconds: c1[1] - c0[1], wallSeconds: wall, rounds: round - 1 };
    log(`ingest, remote_write off: ${offIngest.points.toLocaleString('en-US')} points, ${offIngest.cpuSeconds.toFixed(2)} CPU-s → ${Math.round(offIngest.points / offIngest.cpuSeconds).toLocaleString('en-US')} points/CPU-s`);
    log(`ingest, remote_write on: ${onIngest.points.toLocaleString('en-US')} points, ${onIngest.cpuSeconds.toFixed(2)} CPU-s → ${Math.round(onIngest.points / onIngest.cpuSeconds).toLocaleString('en-US')} points/CPU-s`);
  } finally {
    await stopVigil(on);
    await stopVigil(off);
  }
  const errors = receiver.get('/vigil').errors + receiver.get('/agent').errors;
  await receiver.close();

  const wal = await walThroughput();
  const needed = seriesCount / 15;
  log(`WAL: ${wal.samples.toLocaleString('en-US')} samples (${(wal.bytes / 1e6).toFixed(1)} MB) appended with fsync in ${wal.appendMs} ms → ${wal.samplesPerSecond.toLocaleString('en-US')} samples/s, ${(wal.samplesPerSecond / needed).toFixed(0)}× ${seriesCount / 1000}k series at 15 s`);

  const vigilUs = (vigilRun.cpuSeconds * 1e6) / vigilRun.samples;
  const agentUs = (agentRun.cpuSeconds * 1e6) / agentRun.samples;
  const onRate = onIngest.points / onIngest.cpuSeconds;
  const offRate = offIngest.points / offIngest.cpuSeconds;
  const figures = [
    figure({ name: `remote_write ${seriesCount / 1000}k series: CPU per sample sent`, value: Math.round(vigilUs * 100) / 100, unit: 'µs', reference: 'Prometheus 2.42 agent scraping the same series, CPU per sample sent', referenceValue: Math.round(agentUs * 100) / 100, ratio: vigilUs / agentUs, target: `≤ ${TARGET_CPU_RATIO}×`, met: vigilUs / agentUs <= TARGET_CPU_RATIO }),
    figure({ name: `ingest with remote_write on (${intervalS} s), points per daemon CPU-s`, value: Math.round(onRate), unit: 'points/CPU-s', reference: 'remote_write off, same workload, same window', referenceValue: Math.round(offRate), ratio: onRate / offRate, target: `≥ ${TARGET_INGEST_RATIO}×`, met: onRate / offRate >= TARGET_INGEST_RATIO, higherIsBetter: true }),
    figure({ name: 'WAL append, fsync: always', value: wal.samplesPerSecond, unit: 'samples/s', reference: `${seriesCount / 1000}k series every 15 s`, referenceValue: Math.round(needed), ratio: wal.samplesPerSecond / needed, higherIsBetter: true }),
  ];
  // Context, both sides charged the same way: what remote_write adds to a daemon holding the
  // workload, against what the agent's way costs (the agent, plus rendering its scrapes).
  const netUs = ((vigilRun.cpuSeconds - idleCpuPerSecond * windowS) * 1e6) / vigilRun.samples;
  const pipelineUs = ((agentRun.cpuSeconds + scrapeServing) * 1e6) / agentRun.samples;
  figures.push(figure({ name: 'remote_write CPU per sample above the idle daemon (context)', value: Math.round(netUs * 100) / 100, unit: 'µs', reference: 'the agent plus the scrapes it makes the scraped daemon render', referenceValue: Math.round(pipelineUs * 100) / 100, ratio: netUs / pipelineUs }));
  const path = writeResult('remote-write', {
    command: commandLine('npm run bench:remote-write'),
    ok: errors === 0 && lost === 0,
    lost,
    figures,
    workload: { series: seriesCount, intervalSeconds: intervalS, windowSeconds: windowS, ingestWindowSeconds: ingestWindowS },
    vigil: vigilRun,
    agent: agentRun,
    scrapeServingCpuSeconds: scrapeServing,
    ingest: { on: onIngest, off: offIngest },
    idleDaemonCpuPerSecond: idleCpuPerSecond,
    loadAverage: (await import('node:os')).loadavg(),
    wal,
    receiverErrors: errors,
  });
  log(`wrote ${path}`);
  if (errors > 0 || lost > 0) throw new Error(`receiver errors ${errors}, lost ${lost}`);
}

runMain(main, log);
