#!/usr/bin/env node
// bench:ingest — OTLP/gRPC metrics ingest, Vigil against a no-op gRPC ceiling in the same run.
// bench:spans  — the same with `--signal traces`: 500-span ExportTraceServiceRequests into span RED
//                metrics with HDR recording; every span counted via vigil_spans_*_total.
//
// For each target: start the server as a child, run the load generator as another child, read the
// server's CPU (/proc/<pid>/stat) when the generator announces the start and end of the timed
// window, stop the server with SIGTERM. For Vigil, also check that every acknowledged point was
// counted (vigil_points_accepted_total + vigil_points_rejected_total). Writes
// results/ingest-metrics.json; exits non-zero on any failure or count mismatch.
//
//   npm run bench:ingest -- [--only ceiling|vigil] [--duration 10] [--warmup 2] [--concurrency 32]
//                           [--points-per-request 500] [--skip-build] [--daemon-arg=--flag ...]
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLK_TCK, cpuSeconds, freePort, isRunning, spawnChild, stopAll, stopChild, waitForHttp200, waitForLine } from './lib/proc.mjs';
import { declares, sumSamples } from './lib/prom-text.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..');

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'ceiling,vigil' },
    host: { type: 'string', default: '127.0.0.1' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '32' },
    'points-per-request': { type: 'string', default: '500' },
    payloads: { type: 'string', default: '40' },
    connections: { type: 'string', default: '1' },
    encoder: { type: 'string', default: 'auto' },
    'skip-build': { type: 'boolean', default: false },
    'allow-errors': { type: 'boolean', default: false },
    'vigil-bin': { type: 'string', default: join(repoRoot, 'bin', 'vigil.js') },
    'daemon-arg': { type: 'string', multiple: true, default: [] },
    'ready-timeout': { type: 'string', default: '30' },
    'count-timeout': { type: 'string', default: '10' },
    signal: { type: 'string', default: 'metrics' },
    'min-per-cpu-second': { type: 'string', default: '0' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
  process.exit(0);
}

const traces = args.signal === 'traces';
if (!traces && args.signal !== 'metrics') usage(`--signal: metrics or traces (got ${args.signal})`);
const benchName = traces ? 'bench:spans' : 'bench:ingest';
const item = traces ? 'spans' : 'points';
args.out ??= join(here, 'results', traces ? 'ingest-spans.json' : 'ingest-metrics.json');
const TARGETS = ['ceiling', 'vigil'];
const only = args.only.split(',').map((s) => s.trim()).filter(Boolean);
for (const t of only) if (!TARGETS.includes(t)) usage(`--only: unknown target '${t}' (ceiling, vigil)`);
const targets = TARGETS.filter((t) => only.includes(t));
const readyTimeoutMs = Number(args['ready-timeout']) * 1000;
const durationS = Number(args.duration);
const warmupS = Number(args.warmup);
const pointsPerRequest = Number(args['points-per-request']);

function usage(message) {
  process.stderr.write(`bench:ingest: ${message}\n`);
  process.exit(2);
}

const t0 = Date.now();
function log(message) {
  process.stderr.write(`bench:ingest: [${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}\n`);
}

// ---- build ---------------------------------------------------------------------------------

function newestSourceMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (name.endsWith('.ts') || name.endsWith('.proto')) newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

/** Runs the root build when dist/ is missing or older than any source file. */
function buildIfNeeded() {
  const cli = join(repoRoot, 'dist', 'daemon', 'cli.js');
  const sources = Math.max(...['daemon', 'collectors', 'exporters', 'proto'].map((d) => newestSourceMtime(join(repoRoot, d))), statSync(join(repoRoot, 'tsconfig.json')).mtimeMs);
  if (existsSync(cli) && statSync(cli).mtimeMs >= sources) {
    log('dist/ is up to date, not building');
    return;
  }
  log('building the daemon: npm --prefix .. run build');
  const result = spawnSync('npm', ['--prefix', repoRoot, 'run', 'build'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 180_000 });
  if (result.status !== 0) throw new Error(`build failed (exit ${result.status ?? result.signal ?? result.error?.message})`);
}

// ---- servers -------------------------------------------------------------------------------

async function startCeiling() {
  const port = await freePort(args.host);
  const address = `${args.host}:${port}`;
  const child = spawnChild('ceiling (grpc-noop)', process.execPath, [join(here, 'ceiling', 'grpc-noop.mjs'), '--listen', address, '--exit-with-stdin'], { stdout: 'lines' });
  await waitForLine(child, function listening(e) { return e.event === 'listening'; }, readyTimeoutMs);
  return { child, address, describe: 'grpc-js no-op server, identity (de)serializers, empty response' };
}

async function startVigil() {
  const bin = args['vigil-bin'];
  const [grpcPort, metricsPort, statusPort] = [await freePort(args.host), await freePort(args.host), await freePort(args.host)];
  const address = `${args.host}:${grpcPort}`;
  const metricsBase = `http://${args.host}:${metricsPort}`;
  const workDir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const daemonArgs = [bin, 'start', '--otlp-grpc', address, '--metrics', `${args.host}:${metricsPort}`, '--data-dir', join(workDir, 'data')];
  // Keep the status page off its default port (8080) when this build has the flag.
  const help = spawnSync(process.execPath, [bin, 'start', '--help'], { encoding: 'utf8', timeout: 10_000 });
  if (`${help.stdout}${help.stderr}`.includes('--status')) daemonArgs.push('--status', `${args.host}:${statusPort}`);
  // Likewise the OTLP/HTTP receiver (default 4318).
  if (`${help.stdout}${help.stderr}`.includes('--otlp-http')) daemonArgs.push('--otlp-http', `${args.host}:${await freePort(args.host)}`);
  daemonArgs.push(...args['daemon-arg']);
  const logFile = join(here, 'results', 'vigil-daemon.log');
  log(`starting: node ${daemonArgs.map((a) => relative(process.cwd(), a) || a).join(' ')} (log: ${relative(process.cwd(), logFile)})`);
  const child = spawnChild('vigil', process.execPath, daemonArgs, { cwd: workDir, log: logFile, guard: true });
  const cleanup = () => rmSync(workDir, { recursive: true, force: true });
  try {
    await waitForHttp200(child, `${metricsBase}/-/ready`, readyTimeoutMs);
  } catch (err) {
    await stopChild(child, 3000);
    cleanup();
    throw new Error(`${err.message}\n--- tail of ${logFile} ---\n${tail(logFile)}`);
  }
  return { child, address, metricsBase, cleanup, logFile, describe: `node bin/vigil.js ${daemonArgs.slice(1).join(' ')}` };
}

function tail(file, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---- one target ----------------------------------------------------------------------------

async function runLoad(server) {
  const loadArgs = [
    join(here, 'load', 'grpc-metrics.mjs'), '--target', server.address, '--exit-with-stdin',
    '--duration', args.duration, '--warmup', args.warmup, '--concurrency', args.concurrency,
    '--points-per-request', args['points-per-request'], '--payloads', args.payloads,
    '--connections', args.connections, '--encoder', args.encoder, '--signal', args.signal,
  ];
  const load = spawnChild('load generator', process.execPath, loadArgs, { stdout: 'lines' });
  const pid = server.child.pid;
  let cpuAtStart = null;
  let cpuAtEnd = null;
  let built = null;
  // Sampled synchronously on the generator's line: the window edges are off by a pipe hop, far
  // below the 1/CLK_TCK resolution of the counters.
  load.lines.on('line', (line) => {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    if (e.event === 'timed-start') cpuAtStart = cpuSeconds(pid);
    else if (e.event === 'timed-end') cpuAtEnd = cpuSeconds(pid);
    else if (e.event === 'built') built = e;
  });
  const budgetMs = (warmupS + durationS) * 1000 + 90_000;
  const result = await waitForLine(load, function result(e) { return e.event === 'result'; }, budgetMs);
  const exit = await load.exited;
  if (exit.code !== 0) throw new Error(`load generator exited with ${JSON.stringify(exit)}`);
  if (cpuAtStart === null || cpuAtEnd === null) throw new Error('load generator never marked the timed window');
  if (!isRunning(server.child)) throw new Error(`the server exited during the run (${JSON.stringify(server.child.exitInfo)})`);
  return { result, built, serverCpuSeconds: cpuAtEnd - cpuAtStart };
}

/** Polls /metrics until accepted + rejected reaches `expected` (merging may trail the OK answers). */
async function verifyCounts(server, expected) {
  const timeoutMs = Number(args['count-timeout']) * 1000;
  const deadline = Date.now() + timeoutMs;
  const metricsSignal = (labels) => labels.signal === undefined || labels.signal === 'metrics';
  const prefix = traces ? 'vigil_spans' : 'vigil_points';
  let seen;
  for (;;) {
    const res = await fetch(`${server.metricsBase}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    if (!declares(text, `${prefix}_accepted_total`)) throw new Error(`/metrics does not export ${prefix}_accepted_total`);
    const accepted = sumSamples(text, `${prefix}_accepted_total`, metricsSignal) ?? 0;
    const rejected = sumSamples(text, `${prefix}_rejected_total`, metricsSignal) ?? 0;
    const received = sumSamples(text, `${prefix}_received_total`, metricsSignal) ?? (declares(text, `${prefix}_received_total`) ? 0 : null);
    seen = { expected, accepted, rejected, received };
    if (accepted + rejected >= expected || Date.now() > deadline) break;
    await sleep(200);
  }
  seen.ok = seen.accepted + seen.rejected === expected && seen.rejected === 0;
  return seen;
}

async function runTarget(name) {
  log(`[${name}] starting server`);
  const server = name === 'ceiling' ? await startCeiling() : await startVigil();
  try {
    log(`[${name}] ready at ${server.address}; load: ${args.concurrency} in flight, ${args['points-per-request']} points/request, ${warmupS}s warm-up + ${durationS}s`);
    const { result, built, serverCpuSeconds } = await runLoad(server);
    const counts = name === 'vigil' ? await verifyCounts(server, result.okPointsTotal) : null;
    log(`[${name}] timed window done; stopping the server (SIGTERM)`);
    const stopped = await stopChild(server.child);
    log(`[${name}] server stopped in ${stopped.stopMs ?? 0} ms${stopped.forced ? ' (forced with SIGKILL)' : ''}`);
    // A daemon that drains on SIGTERM exits 0; dying of the signal means no graceful stop ran.
    if (stopped.code !== 0) log(`[${name}] warning: exited with ${stopped.signal ? `signal ${stopped.signal} (no SIGTERM handler?)` : `code ${stopped.code}`}`);
    const r = result;
    return {
      server: server.describe,
      encoder: built?.encoder,
      meanPayloadBytes: built?.meanPayloadBytes,
      elapsedSeconds: round(r.elapsedSeconds, 3),
      requests: r.requests,
      points: r.points,
      requestsPerSecond: round(r.requests / r.elapsedSeconds, 1),
      pointsPerSecond: Math.round(r.points / r.elapsedSeconds),
      serverCpuSeconds: round(serverCpuSeconds, 2),
      serverCpuUtilization: round(serverCpuSeconds / r.elapsedSeconds, 2),
      pointsPerServerCpuSecond: serverCpuSeconds > 0 && r.points > 0 ? Math.round(r.points / serverCpuSeconds) : null,
      exportLatencyMs: r.latencyMs,
      errors: r.errors,
      errorsByCode: r.errorsByCode,
      loadgenCpuSeconds: round(r.loadgenCpuSeconds, 2),
      okPointsTotal: r.okPointsTotal,
      counts,
      shutdown: stopped,
    };
  } finally {
    if (isRunning(server.child)) await stopChild(server.child);
    server.cleanup?.();
  }
}

/** HEAD and whether the tree had uncommitted changes, so a result names the code it measured. */
function gitDescribe() {
  const git = (...a) => spawnSync('git', ['-C', repoRoot, ...a], { encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return null;
  return { head: head.stdout.trim(), dirty: git('status', '--porcelain').stdout.trim() !== '' };
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---- report --------------------------------------------------------------------------------

function table(results) {
  const rows = [['', ...Object.keys(results)]];
  const cell = (fn) => Object.values(results).map((r) => (r.failed ? 'FAILED' : String(fn(r))));
  const n = (x) => (x === null || x === undefined ? '-' : x.toLocaleString('en-US'));
  rows.push(['requests/s', ...cell((r) => n(r.requestsPerSecond))]);
  rows.push([`${item === 'spans' ? 'spans' : 'data points'}/s`, ...cell((r) => n(r.pointsPerSecond))]);
  rows.push(['server CPU s (util)', ...cell((r) => `${r.serverCpuSeconds} (${r.serverCpuUtilization})`)]);
  rows.push([`${item} / server CPU-s`, ...cell((r) => n(r.pointsPerServerCpuSecond))]);
  rows.push(['Export p50 ms', ...cell((r) => r.exportLatencyMs.p50 ?? '-')]);
  rows.push(['Export p99 ms', ...cell((r) => r.exportLatencyMs.p99 ?? '-')]);
  rows.push(['failed calls', ...cell((r) => (Object.keys(r.errorsByCode).length ? JSON.stringify(r.errorsByCode) : 0))]);
  rows.push(['load gen CPU s', ...cell((r) => r.loadgenCpuSeconds)]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

async function main() {
  if (targets.includes('vigil') && !args['skip-build']) buildIfNeeded();
  mkdirSync(join(here, 'results'), { recursive: true });
  const results = {};
  let failed = false;
  for (const name of targets) {
    try {
      results[name] = await runTarget(name);
    } catch (err) {
      failed = true;
      log(`[${name}] FAILED: ${err.message}`);
      results[name] = { failed: true, error: err.message };
    }
  }

  const ratios = {};
  const { ceiling, vigil } = results;
  if (ceiling?.pointsPerServerCpuSecond && vigil?.pointsPerServerCpuSecond) {
    ratios.pointsPerSecond = round(vigil.pointsPerSecond / ceiling.pointsPerSecond, 3);
    ratios.pointsPerServerCpuSecond = round(vigil.pointsPerServerCpuSecond / ceiling.pointsPerServerCpuSecond, 3);
  }

  const report = {
    benchmark: benchName,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, clkTck: CLK_TCK },
    commit: gitDescribe(),
    command: `cd native-bench && npm run ${benchName}${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    unit: item,
    params: { durationSeconds: durationS, warmupSeconds: warmupS, concurrency: Number(args.concurrency), pointsPerRequest, payloads: Number(args.payloads), connections: Number(args.connections) },
    targets: results,
    ratios,
  };
  writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);

  process.stdout.write(`\n${table(results)}\n`);
  if (ratios.pointsPerSecond !== undefined) {
    process.stdout.write(`\nVigil / ceiling: ${item}/s ${ratios.pointsPerSecond}, ${item} per server CPU-second ${ratios.pointsPerServerCpuSecond}\n`);
  }
  for (const [name, r] of Object.entries(results)) {
    if (r.failed) continue;
    const failedCalls = Object.values(r.errorsByCode).reduce((a, b) => a + b, 0);
    if (r.requests === 0) {
      failed = true;
      log(`[${name}] no Export call succeeded in the timed window (${JSON.stringify(r.errorsByCode)})`);
    } else if (failedCalls > 0) {
      if (!args['allow-errors']) failed = true;
      log(`[${name}] ${args['allow-errors'] ? 'warning' : 'error'}: ${failedCalls} Export calls failed (${r.errors} in the timed window): ${JSON.stringify(r.errorsByCode)}${args['allow-errors'] ? '' : ' (--allow-errors to accept)'}`);
    }
  }
  if (vigil?.counts) {
    const c = vigil.counts;
    const line = `every ${item === 'spans' ? 'span' : 'point'} counted: acknowledged ${c.expected}, accepted ${c.accepted} + rejected ${c.rejected}${c.received === null ? '' : ` (received ${c.received})`}`;
    if (c.ok) process.stdout.write(`\nOK ${line}\n`);
    else {
      failed = true;
      process.stdout.write(`\nFAIL ${line}${c.rejected ? ' — rejected must be 0 for this workload' : ''}\n`);
    }
  }
  const bar = Number(args['min-per-cpu-second']);
  if (bar > 0 && vigil && !vigil.failed) {
    const got = vigil.pointsPerServerCpuSecond ?? 0;
    if (got >= bar) process.stdout.write(`OK ${got.toLocaleString('en-US')} ${item} per daemon CPU-second >= the bar of ${bar.toLocaleString('en-US')}\n`);
    else {
      failed = true;
      process.stdout.write(`FAIL ${got.toLocaleString('en-US')} ${item} per daemon CPU-second < the bar of ${bar.toLocaleString('en-US')}\n`);
    }
  }
  process.stdout.write(`\nwrote ${relative(process.cwd(), args.out)}\n`);
  return failed ? 1 : 0;
}

main().then(
  (code) => { process.exitCode = code; },
  async (err) => {
    log(`error: ${err.stack ?? err.message}`);
    await stopAll();
    process.exit(1);
  },
);
