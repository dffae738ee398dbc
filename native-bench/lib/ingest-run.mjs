// The OTLP/gRPC ingest machinery shared by ingest.mjs (Vigil against a no-op ceiling) and
// workers.mjs (Vigil at several worker counts): start a server, drive it with the load generator,
// read its CPU at the edges of the timed window, check that every acknowledged item was counted.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds, freePort, isRunning, spawnChild, stopAll, stopChild, threadCpuSeconds, waitForHttp200, waitForLine } from './proc.mjs';
import { declares, sumSamples } from './prom-text.mjs';
import { benchDir, repoRoot, resultsDir } from './result.mjs';

/** parseArgs options every ingest-style scenario accepts (strings, as typed on the command line). */
export const ingestOptions = {
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
  quick: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

/** `--quick`: the same scenario with a short window, for smoke tests and `npm run bench -- --quick`. */
export function applyQuick(args) {
  if (!args.quick) return;
  args.duration = '3';
  args.warmup = '1';
}

/** Prints the `//` header of `scriptUrl` (its usage) and exits when --help was given. */
export function helpFromHeader(scriptUrl) {
  const lines = readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n').filter((l) => l.startsWith('//'));
  process.stdout.write(`${lines.map((l) => l.slice(3)).join('\n')}\n`);
  process.exit(0);
}

/** A stderr logger prefixed by the scenario and the seconds since it started. */
export function makeLog(prefix) {
  const t0 = Date.now();
  return (message) => process.stderr.write(`${prefix}: [${((Date.now() - t0) / 1000).toFixed(1)}s] ${message}\n`);
}

/** The load's parameters as numbers, for the result file. */
export function loadParams(args) {
  return { durationSeconds: Number(args.duration), warmupSeconds: Number(args.warmup), concurrency: Number(args.concurrency), pointsPerRequest: Number(args['points-per-request']), payloads: Number(args.payloads), connections: Number(args.connections) };
}

/** Runs a scenario's `main` (resolving to its exit code); on a throw, stops every child and exits 1. */
export function runMain(main, log) {
  main().then(
    (code) => { process.exitCode = code; },
    async (err) => {
      log(`error: ${err.stack ?? err.message}`);
      await stopAll();
      process.exit(1);
    },
  );
}

export function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function tail(file, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * The runner for one parsed argument set. `runTarget('ceiling' | 'vigil', { daemonArgs, logName })`
 * starts the server, loads it, counts, stops it and returns the per-target detail that ends up in
 * the result file.
 */
export function ingestRunner(args, log) {
  const traces = args.signal === 'traces';
  const item = traces ? 'spans' : 'points';
  const readyTimeoutMs = Number(args['ready-timeout']) * 1000;
  const warmupS = Number(args.warmup);
  const durationS = Number(args.duration);

  async function startCeiling() {
    const port = await freePort(args.host);
    const address = `${args.host}:${port}`;
    const child = spawnChild('ceiling (grpc-noop)', process.execPath, [join(benchDir, 'ceiling', 'grpc-noop.mjs'), '--listen', address, '--exit-with-stdin'], { stdout: 'lines' });
    await waitForLine(child, function listening(e) { return e.event === 'listening'; }, readyTimeoutMs);
    return { child, address, describe: 'grpc-js no-op server, identity (de)serializers, empty response' };
  }

  async function startVigil({ daemonArgs: extra = [], logName = 'vigil-daemon.log' } = {}) {
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
    daemonArgs.push(...args['daemon-arg'], ...extra);
    const logFile = join(resultsDir, logName);
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

  async function runLoad(server) {
    const loadArgs = [
      join(benchDir, 'load', 'grpc-metrics.mjs'), '--target', server.address, '--exit-with-stdin',
      '--duration', args.duration, '--warmup', args.warmup, '--concurrency', args.concurrency,
      '--points-per-request', args['points-per-request'], '--payloads', args.payloads,
      '--connections', args.connections, '--encoder', args.encoder, '--signal', args.signal,
    ];
    const load = spawnChild('load generator', process.execPath, loadArgs, { stdout: 'lines' });
    const pid = server.child.pid;
    let cpuAtStart = null;
    let cpuAtEnd = null;
    let threadsAtStart = new Map();
    let threadsAtEnd = new Map();
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
      if (e.event === 'timed-start') {
        cpuAtStart = cpuSeconds(pid);
        threadsAtStart = threadCpuSeconds(pid);
      } else if (e.event === 'timed-end') {
        cpuAtEnd = cpuSeconds(pid);
        threadsAtEnd = threadCpuSeconds(pid);
      }
      else if (e.event === 'built') built = e;
    });
    const budgetMs = (warmupS + durationS) * 1000 + 90_000;
    const result = await waitForLine(load, function result(e) { return e.event === 'result'; }, budgetMs);
    const exit = await load.exited;
    if (exit.code !== 0) throw new Error(`load generator exited with ${JSON.stringify(exit)}`);
    if (cpuAtStart === null || cpuAtEnd === null) throw new Error('load generator never marked the timed window');
    if (!isRunning(server.child)) throw new Error(`the server exited during the run (${JSON.stringify(server.child.exitInfo)})`);
    return { result, built, serverCpuSeconds: cpuAtEnd - cpuAtStart, threadCpu: threadShares(pid, threadsAtStart, threadsAtEnd) };
  }

  /** CPU seconds of the main thread and of every other thread (busiest first) between two snapshots. */
  function threadShares(pid, before, after) {
    const others = [];
    let main = 0;
    for (const [tid, end] of after) {
      const delta = end - (before.get(tid) ?? 0);
      if (tid === pid) main = delta;
      else if (delta > 0) others.push(delta);
    }
    return { main, others: others.sort((a, b) => b - a) };
  }

  /** Polls /metrics until accepted + rejected reaches `expected` (merging may trail the OK answers). */
  async function verifyCounts(server, expected) {
    const timeoutMs = Number(args['count-timeout']) * 1000;
    const deadline = Date.now() + timeoutMs;
    const metricsSignal = (labels) => labels.signal === undefined || labels.signal === 'metrics';
    const prefix = traces ? 'vigil_spans' : 'vigil_points';
    let seen;
    for (;;) {
      // 30 s: a daemon with 10,000 probes (bench:probes) exposes ~20 MB, slow to render on a loaded machine.
      const res = await fetch(`${server.metricsBase}/metrics`, { signal: AbortSignal.timeout(30_000) });
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
    // Acknowledged but not aggregated: what the result file calls lost.
    seen.lost = Math.max(0, expected - seen.accepted);
    return seen;
  }

  async function runTarget(name, vigilOptions = {}) {
    log(`[${name}] starting server`);
    const server = name === 'ceiling' ? await startCeiling() : await startVigil(vigilOptions);
    try {
      log(`[${name}] ready at ${server.address}; load: ${args.concurrency} in flight, ${args['points-per-request']} ${item}/request, ${warmupS}s warm-up + ${durationS}s`);
      const { result: r, built, serverCpuSeconds, threadCpu } = await runLoad(server);
      const counts = name === 'ceiling' ? null : await verifyCounts(server, r.okPointsTotal);
      log(`[${name}] timed window done; stopping the server (SIGTERM)`);
      const stopped = await stopChild(server.child);
      log(`[${name}] server stopped in ${stopped.stopMs ?? 0} ms${stopped.forced ? ' (forced with SIGKILL)' : ''}`);
      // A daemon that drains on SIGTERM exits 0; dying of the signal means no graceful stop ran.
      if (stopped.code !== 0) log(`[${name}] warning: exited with ${stopped.signal ? `signal ${stopped.signal} (no SIGTERM handler?)` : `code ${stopped.code}`}`);
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
        // Server CPU per OK request in the window, by thread: where a request's cost goes.
        cpuMsPerRequest: r.requests > 0 ? {
          main: round((threadCpu.main * 1000) / r.requests, 3),
          otherThreads: threadCpu.others.map((sec) => round((sec * 1000) / r.requests, 3)),
        } : null,
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

  /**
   * The checks every target must pass, as messages (empty = passed): some Export call succeeded,
   * none failed (unless --allow-errors), and for Vigil every acknowledged item was counted.
   */
  function problems(name, r) {
    if (r.failed) return [`[${name}] ${r.error}`];
    const out = [];
    const failedCalls = Object.values(r.errorsByCode).reduce((a, b) => a + b, 0);
    if (r.requests === 0) out.push(`[${name}] no Export call succeeded in the timed window (${JSON.stringify(r.errorsByCode)})`);
    else if (failedCalls > 0 && !args['allow-errors']) out.push(`[${name}] ${failedCalls} Export calls failed (${r.errors} in the timed window): ${JSON.stringify(r.errorsByCode)} (--allow-errors to accept)`);
    else if (failedCalls > 0) log(`[${name}] warning: ${failedCalls} Export calls failed: ${JSON.stringify(r.errorsByCode)}`);
    if (r.counts && !r.counts.ok) out.push(`[${name}] ${countLine(r.counts)}${r.counts.rejected ? ' — rejected must be 0 for this workload' : ''}`);
    return out;
  }

  function countLine(c) {
    return `every ${traces ? 'span' : 'point'} counted: acknowledged ${c.expected}, accepted ${c.accepted} + rejected ${c.rejected}${c.received === null ? '' : ` (received ${c.received})`}`;
  }

  return { traces, item, runTarget, problems, countLine };
}
