#!/usr/bin/env node
// bench:workers — the bench:ingest metrics load against Vigil at several decode-worker counts
// (`workers.threads` in a config file passed with --config), one daemon after the other. Reports
// points/s and points per daemon CPU-second for each, as a ratio to the 1-worker run of the same
// invocation, and checks that every acknowledged point was counted in every run. Writes
// results/workers.json; exits non-zero on any failure or count mismatch. `--quick`: 1 s warm-up +
// 3 s window per run.
//
//   npm run bench:workers -- [--threads 1,2,4] [--duration 10] [--warmup 2] [--concurrency 32]
//                            [--skip-build] [--daemon-arg=--flag ...] (and bench:ingest's load options)
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { applyQuick, helpFromHeader, ingestOptions, ingestRunner, loadParams, makeLog, round, runMain } from './lib/ingest-run.mjs';
import { buildIfNeeded, commandLine, figure, writeResult } from './lib/result.mjs';

const { values: args } = parseArgs({
  options: {
    ...ingestOptions,
    threads: { type: 'string', default: '1,2,4' },
  },
});
if (args.help) helpFromHeader(import.meta.url);
applyQuick(args);
if (args.signal !== 'metrics') usage('--signal: only metrics (the worker count is measured on the metrics load)');
const threadCounts = args.threads.split(',').map((s) => Number(s.trim()));
if (threadCounts.length === 0 || threadCounts.some((n) => !Number.isInteger(n) || n < 1)) usage(`--threads: a comma-separated list of positive integers (got ${args.threads})`);

function usage(message) {
  process.stderr.write(`bench:workers: ${message}\n`);
  process.exit(2);
}

const log = makeLog('bench:workers');
const { runTarget, problems, countLine } = ingestRunner(args, log);

async function main() {
  if (!args['skip-build']) buildIfNeeded(log);
  const configDir = mkdtempSync(join(tmpdir(), 'vigil-bench-workers-'));
  const runs = [];
  try {
    for (const threads of threadCounts) {
      const config = join(configDir, `workers-${threads}.yaml`);
      writeFileSync(config, `workers:\n  threads: ${threads}\n`);
      const name = `vigil, ${threads} worker${threads === 1 ? '' : 's'}`;
      let r;
      try {
        r = await runTarget(name, { daemonArgs: ['--config', config], logName: `vigil-workers-${threads}.log` });
      } catch (err) {
        log(`[${name}] FAILED: ${err.message}`);
        r = { failed: true, error: err.message };
      }
      runs.push({ threads, name, ...r });
    }
  } finally {
    rmSync(configDir, { recursive: true, force: true });
  }

  // Ratios against the first run, 1 worker by default: what each added worker buys on this machine.
  const base = runs[0];
  const baseOk = !base.failed;
  const figures = [];
  for (const r of runs) {
    if (r.failed) continue;
    const reference = baseOk && r !== base ? `${base.threads} worker${base.threads === 1 ? '' : 's'}` : undefined;
    figures.push(figure({ name: `data points/s, ${r.threads} worker${r.threads === 1 ? '' : 's'}`, value: r.pointsPerSecond, unit: 'points/s', reference, referenceValue: reference && base.pointsPerSecond, higherIsBetter: true }));
    figures.push(figure({ name: `data points per daemon CPU-second, ${r.threads} worker${r.threads === 1 ? '' : 's'}`, value: r.pointsPerServerCpuSecond ?? 0, unit: 'points/CPU-s', reference, referenceValue: reference && base.pointsPerServerCpuSecond, higherIsBetter: true }));
  }

  const n = (x) => (x === null || x === undefined ? '-' : x.toLocaleString('en-US'));
  process.stdout.write('\nworkers  points/s     vs first  points/CPU-s  vs first  CPU util  p99 ms\n');
  for (const r of runs) {
    if (r.failed) {
      process.stdout.write(`${String(r.threads).padStart(7)}  FAILED: ${r.error.split('\n')[0]}\n`);
      continue;
    }
    const ratio = (k) => (baseOk ? round(r[k] / base[k], 3) : '-');
    process.stdout.write(`${String(r.threads).padStart(7)}  ${n(r.pointsPerSecond).padStart(11)}  ${String(ratio('pointsPerSecond')).padStart(8)}  ${n(r.pointsPerServerCpuSecond).padStart(12)}  ${String(ratio('pointsPerServerCpuSecond')).padStart(8)}  ${String(r.serverCpuUtilization).padStart(8)}  ${r.exportLatencyMs.p99}\n`);
  }
  const failures = runs.flatMap((r) => problems(r.name, r));
  for (const r of runs) if (r.counts?.ok) process.stdout.write(`OK [${r.name}] ${countLine(r.counts)}\n`);
  for (const f of failures) process.stdout.write(`FAIL ${f}\n`);

  const path = writeResult('workers', {
    command: commandLine('npm run bench:workers'),
    ok: failures.length === 0,
    lost: runs.reduce((sum, r) => sum + (r.counts?.lost ?? 0), 0),
    figures,
    failures,
    unit: 'points',
    params: { threads: threadCounts, ...loadParams(args) },
    runs,
  });
  process.stdout.write(`\nwrote ${relative(process.cwd(), path)}\n`);
  return failures.length ? 1 : 0;
}

runMain(main, log);
