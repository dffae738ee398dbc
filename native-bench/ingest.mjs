#!/usr/bin/env node
// bench:ingest — OTLP/gRPC metrics ingest, Vigil against a no-op gRPC ceiling in the same run.
// bench:spans  — the same with `--signal traces`: 500-span ExportTraceServiceRequests into span RED
//                metrics with HDR recording; every span counted via vigil_spans_*_total.
//
// For each target: start the server as a child, run the load generator as another child, read the
// server's CPU (/proc/<pid>/stat) when the generator announces the start and end of the timed
// window, stop the server with SIGTERM. For Vigil, also check that every acknowledged point was
// counted (vigil_points_accepted_total + vigil_points_rejected_total). Writes
// results/ingest-metrics.json (ingest-spans.json with --signal traces) through lib/result.mjs; exits
// non-zero on any failure or count mismatch. `--quick`: 1 s warm-up + 3 s window.
//
//   npm run bench:ingest -- [--only ceiling|vigil] [--duration 10] [--warmup 2] [--concurrency 32]
//                           [--points-per-request 500] [--skip-build] [--daemon-arg=--flag ...]
import { parseArgs } from 'node:util';
import { copyFileSync } from 'node:fs';
import { relative } from 'node:path';
import { applyQuick, helpFromHeader, ingestOptions, ingestRunner, loadParams, makeLog, round, runMain } from './lib/ingest-run.mjs';
import { buildIfNeeded, commandLine, figure, writeResult } from './lib/result.mjs';

const { values: args } = parseArgs({
  options: {
    ...ingestOptions,
    only: { type: 'string', default: 'ceiling,vigil' },
    'min-per-cpu-second': { type: 'string', default: '0' },
    out: { type: 'string' },
  },
});
if (args.help) helpFromHeader(import.meta.url);
applyQuick(args);

const traces = args.signal === 'traces';
if (!traces && args.signal !== 'metrics') usage(`--signal: metrics or traces (got ${args.signal})`);
const benchName = traces ? 'bench:spans' : 'bench:ingest';
const scenario = traces ? 'ingest-spans' : 'ingest-metrics';
const TARGETS = ['ceiling', 'vigil'];
const only = args.only.split(',').map((s) => s.trim()).filter(Boolean);
for (const t of only) if (!TARGETS.includes(t)) usage(`--only: unknown target '${t}' (ceiling, vigil)`);
const targets = TARGETS.filter((t) => only.includes(t));

function usage(message) {
  process.stderr.write(`bench:ingest: ${message}\n`);
  process.exit(2);
}

const log = makeLog('bench:ingest');
const { item, runTarget, problems, countLine } = ingestRunner(args, log);
// The moonshots of issue 6: items per daemon CPU-second, and (points only) half the no-op server's.
const perCpuTarget = traces ? 250_000 : 500_000;
const ceilingRatioTarget = traces ? undefined : 0.5;

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

/** The table rows of the docs: Vigil against the ceiling of the same run, and the moonshots. */
function figures(results, ratios) {
  const { ceiling, vigil } = results;
  if (!vigil || vigil.failed) return [];
  const noun = traces ? 'spans' : 'data points';
  const reference = ceiling && !ceiling.failed ? 'grpc-js no-op server' : undefined;
  const out = [figure({ name: `${noun}/s`, value: vigil.pointsPerSecond, unit: `${item}/s`, reference, referenceValue: reference && ceiling.pointsPerSecond, higherIsBetter: true })];
  const perCpu = { name: `${noun} per daemon CPU-second`, value: vigil.pointsPerServerCpuSecond ?? 0, unit: `${item}/CPU-s`, reference, referenceValue: reference && ceiling.pointsPerServerCpuSecond, higherIsBetter: true };
  out.push(figure({ ...perCpu, target: `≥ ${perCpuTarget.toLocaleString('en-US')}`, met: perCpu.value >= perCpuTarget }));
  if (ceilingRatioTarget !== undefined && ratios.pointsPerServerCpuSecond !== undefined) {
    out.push(figure({ ...perCpu, name: `${perCpu.name} ÷ no-op gRPC server`, target: `ratio ≥ ${ceilingRatioTarget}`, met: ratios.pointsPerServerCpuSecond >= ceilingRatioTarget }));
  }
  return out;
}

async function main() {
  if (targets.includes('vigil') && !args['skip-build']) buildIfNeeded(log);
  const results = {};
  for (const name of targets) {
    try {
      results[name] = await runTarget(name);
    } catch (err) {
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

  process.stdout.write(`\n${table(results)}\n`);
  if (ratios.pointsPerSecond !== undefined) {
    process.stdout.write(`\nVigil / ceiling: ${item}/s ${ratios.pointsPerSecond}, ${item} per server CPU-second ${ratios.pointsPerServerCpuSecond}\n`);
  }
  const failures = Object.entries(results).flatMap(([name, r]) => problems(name, r));
  if (vigil?.counts?.ok) process.stdout.write(`\nOK ${countLine(vigil.counts)}\n`);
  const bar = Number(args['min-per-cpu-second']);
  if (bar > 0 && vigil && !vigil.failed) {
    const got = vigil.pointsPerServerCpuSecond ?? 0;
    if (got >= bar) process.stdout.write(`OK ${got.toLocaleString('en-US')} ${item} per daemon CPU-second >= the bar of ${bar.toLocaleString('en-US')}\n`);
    else failures.push(`${got.toLocaleString('en-US')} ${item} per daemon CPU-second < the bar of ${bar.toLocaleString('en-US')}`);
  }
  for (const f of failures) process.stdout.write(`FAIL ${f}\n`);

  const path = writeResult(scenario, {
    command: commandLine('npm run bench:ingest'),
    ok: failures.length === 0,
    lost: vigil?.counts?.lost ?? 0,
    figures: figures(results, ratios),
    failures,
    unit: item,
    params: loadParams(args),
    targets: results,
    ratios,
  });
  if (args.out) copyFileSync(path, args.out);
  process.stdout.write(`\nwrote ${relative(process.cwd(), args.out ?? path)}\n`);
  return failures.length ? 1 : 0;
}

runMain(main, log);
