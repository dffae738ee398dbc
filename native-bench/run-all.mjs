#!/usr/bin/env node
// npm run bench — every scenario, one at a time, each as a child process with its own timeout;
// collects results/<scenario>.json, prints a summary and regenerates the table between the
// bench:table markers of docs/performance.md. Exits non-zero if a scenario is missing, failed,
// timed out, wrote no result or lost anything.
//
//   npm run bench -- [--quick] [--only ingest-metrics,workers] [--no-docs] [--list]
//                    [--scenario-dir DIR] [--docs FILE] [--timeout-scale 1] [--minutes N]
//
// The soak (an hour) is not in the suite: `npm run bench -- --only soak [--minutes N]` runs it, and
// it writes its figures and chart into docs/operations.md and docs/soak.svg (not the table here).
//
// --quick passes --quick to every scenario (a smoke run: ~2 minutes, docs still rewritten unless
// --no-docs). --scenario-dir looks for the scripts elsewhere (the tests use stand-ins).
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { renderTable, replaceTable, STATUS_TEXT } from './lib/bench-table.mjs';
import { signalGroup } from './lib/proc.mjs';
import { helpFromHeader, makeLog } from './lib/ingest-run.mjs';
import { benchDir, buildIfNeeded, gitDescribe, machineInfo, repoRoot } from './lib/result.mjs';

/**
 * The suite, in run order. `seconds` is the expected wall time of a full run on the 2-core
 * machine (the budget is < 10 minutes in total); `timeout` kills a scenario that hangs.
 */
const SCENARIOS = [
  { name: 'ingest-metrics', script: 'ingest.mjs', args: [], seconds: 30, timeout: 180 },
  { name: 'ingest-spans', script: 'ingest.mjs', args: ['--signal', 'traces', '--min-per-cpu-second', '150000'], seconds: 30, timeout: 180 },
  { name: 'workers', script: 'workers.mjs', args: [], seconds: 50, timeout: 240 },
  // --no-bars: in the suite a missed target is a "no" in the table, not a failed scenario (lost
  // broadcast clients still fail it), as for every other scenario.
  { name: 'status-api', script: 'status.mjs', args: ['--no-bars'], seconds: 40, timeout: 180 },
  { name: 'scrape', script: 'scrape.mjs', args: [], seconds: 60, timeout: 240 },
  { name: 'scrape-under-load', script: 'scrape-under-load.mjs', args: [], seconds: 60, timeout: 240 },
  { name: 'memory', script: 'memory.mjs', args: [], seconds: 120, timeout: 360 },
  { name: 'hdr-accuracy', script: 'hdr-accuracy.mjs', args: [], seconds: 20, timeout: 120 },
  // Opt-in: an hour by default, far past the suite's 10-minute budget; run with --only soak
  // (--minutes N shortens it; the timeout follows the minutes).
  { name: 'soak', script: 'soak.mjs', args: [], seconds: 3720, timeout: 4500, optIn: true, minutes: 60 },
  // Opt-in: 100 rounds of kill -9 and restart take about 6 minutes; run with --only crash.
  { name: 'crash', script: 'crash.mjs', args: [], seconds: 400, timeout: 1200, optIn: true },
  // Opt-in (the default scenarios fill the suite's 10 minutes): windows of 45 s (3 intervals) and
  // 25 s here; alone (`npm run bench:remote-write`) it measures 60 s and 40 s. Run with --only remote-write.
  { name: 'remote-write', script: 'remote-write.mjs', args: ['--window', '45', '--ingest-window', '25'], seconds: 150, timeout: 900, optIn: true },
  // Opt-in: 10,000 HTTP probes at 30 s against blackbox_exporter, and OTLP ingest with and without
  // them (~5 minutes); run with --only probes.
  { name: 'probes', script: 'probes.mjs', args: ['--window', '30'], seconds: 300, timeout: 720, optIn: true },
  // Opt-in (as remote-write): two fleets with a month of history each (about a minute to write),
  // Chromium, wrk, a month's report of 1,000 components (43 M minute rows, 2.2 GB of scratch) and
  // the old per-minute report beside it. Run with --only slo-scale.
  { name: 'slo-scale', script: 'slo-scale.mjs', args: [], seconds: 600, timeout: 1800, optIn: true },
  // Opt-in: 100 SLOs with --quick (promtool backfills 30 days of tiles, ~6 minutes); run with
  // --only fleet-slo. The 1,000-SLO figures come from `npm run bench:fleet-slo` (~25 minutes here).
  { name: 'fleet-slo', script: 'fleet-slo.mjs', args: ['--quick'], seconds: 360, timeout: 1200, optIn: true },
];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'no-docs': { type: 'boolean', default: false },
    docs: { type: 'string', default: join(repoRoot, 'docs', 'performance.md') },
    'scenario-dir': { type: 'string', default: benchDir },
    'results-dir': { type: 'string' },
    'timeout-scale': { type: 'string', default: '1' },
    minutes: { type: 'string' },
    'skip-build': { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) helpFromHeader(import.meta.url);
if (args.list) {
  for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(18)} ${[s.script, ...s.args].join(' ').padEnd(60)} ~${s.seconds} s, timeout ${s.timeout} s${s.optIn ? ' (only with --only)' : ''}\n`);
  process.stdout.write(`expected total ~${SCENARIOS.filter((s) => !s.optIn).reduce((a, s) => a + s.seconds, 0)} s\n`);
  process.exit(0);
}

const log = makeLog('bench');
const scenarioDir = args['scenario-dir'];
// Scenarios write through lib/result.mjs, which always writes next to itself; a stand-in directory
// for tests says where its own results go.
const resultsDir = args['results-dir'] ?? join(scenarioDir, 'results');
const timeoutScale = Number(args['timeout-scale']);
// Opt-in scenarios (the hour-long soak) run only when named in --only.
let selected = SCENARIOS.filter((s) => !s.optIn);
if (args.only) {
  const names = args.only.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) {
    process.stderr.write(`bench: --only: unknown scenario ${unknown.join(', ')} (${SCENARIOS.map((s) => s.name).join(', ')})\n`);
    process.exit(2);
  }
  selected = SCENARIOS.filter((s) => names.includes(s.name));
}

/** The scenario running now, stopped with the suite on Ctrl-C. */
let current = null;

/** Runs one scenario to its end or its timeout; resolves with { code, signal, timedOut, seconds }. */
function runScenario(scenario, scriptPath) {
  // Scenarios with a length in minutes (the soak) take --minutes, and write their own docs block.
  const minutes = scenario.minutes === undefined ? undefined : Number(args.minutes ?? (args.quick ? 3 : scenario.minutes));
  const childArgs = [scriptPath, ...scenario.args, ...(args.quick ? ['--quick'] : []),
    ...(minutes === undefined ? [] : ['--minutes', String(minutes), ...(args['no-docs'] ? ['--no-docs'] : [])])];
  log(`[${scenario.name}] node ${relative(process.cwd(), scriptPath)} ${childArgs.slice(1).join(' ')}`);
  const started = Date.now();
  // Its own process group, so a timeout stops the scenario and every server it started.
  const child = spawn(process.execPath, childArgs, { cwd: scenarioDir, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  current = child;
  const timeoutMs = (minutes === undefined ? scenario.timeout : minutes * 60 + 600) * 1000 * timeoutScale;
  let timedOut = false;
  const timers = [];
  timers.push(setTimeout(() => {
    timedOut = true;
    log(`[${scenario.name}] timed out after ${Math.round(timeoutMs / 1000)} s: SIGTERM to its process group`);
    signalGroup(child, 'SIGTERM');
    timers.push(setTimeout(() => signalGroup(child, 'SIGKILL'), 10_000));
  }, timeoutMs));
  return new Promise((resolve) => {
    child.once('error', (err) => {
      timers.forEach(clearTimeout);
      resolve({ code: null, signal: null, error: err.message, timedOut, seconds: (Date.now() - started) / 1000 });
    });
    child.once('exit', (code, signal) => {
      timers.forEach(clearTimeout);
      current = null;
      resolve({ code, signal, timedOut, seconds: (Date.now() - started) / 1000 });
    });
  });
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (current) signalGroup(current, 'SIGTERM');
    process.stderr.write(`\nbench: ${signal}, stopped\n`);
    process.exit(130);
  });
}

/** The result file the scenario wrote during this run, or null (missing, stale or unreadable). */
function freshResult(name, since) {
  const path = join(resultsDir, `${name}.json`);
  if (!existsSync(path) || statSync(path).mtimeMs < since) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

async function main() {
  const started = Date.now();
  if (!args['skip-build']) buildIfNeeded(log);
  const runs = [];
  for (const scenario of selected) {
    const scriptPath = join(scenarioDir, scenario.script);
    if (!existsSync(scriptPath)) {
      log(`[${scenario.name}] not run: ${relative(process.cwd(), scriptPath)} is missing`);
      runs.push({ scenario: scenario.name, status: 'missing' });
      continue;
    }
    const since = Date.now() - 1;
    const exit = await runScenario(scenario, scriptPath);
    const result = freshResult(scenario.name, since);
    const run = { scenario: scenario.name, seconds: exit.seconds, exit, ...(result ? { result } : {}) };
    if (exit.timedOut) Object.assign(run, { status: 'timeout', reason: `killed after ${Math.round(exit.seconds)} s` });
    else if (exit.error) Object.assign(run, { status: 'failed', reason: exit.error });
    else if (!result) Object.assign(run, { status: 'no-result', reason: `exit ${exit.code ?? exit.signal}` });
    else if ((result.lost ?? 0) > 0) Object.assign(run, { status: 'lost' });
    else if (exit.code !== 0 || result.ok === false) Object.assign(run, { status: 'failed', reason: exit.code !== 0 ? `exit ${exit.code ?? exit.signal}` : 'its own checks failed' });
    else run.status = 'ok';
    log(`[${scenario.name}] ${STATUS_TEXT[run.status]}${run.reason ? ` (${run.reason})` : ''} in ${Math.round(exit.seconds)} s`);
    runs.push(run);
  }
  const totalSeconds = (Date.now() - started) / 1000;

  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const block = renderTable(runs, { date: new Date().toISOString(), machine: machineInfo(), commit: gitDescribe(), command, totalSeconds });
  process.stdout.write(`\n${block.split('\n').filter((l) => !l.startsWith('<!--')).join('\n')}\n`);
  // The soak writes its own block in docs/operations.md; a soak-only run leaves the suite's table alone.
  if (!args['no-docs'] && !selected.every((s) => s.optIn)) {
    writeFileSync(args.docs, replaceTable(readFileSync(args.docs, 'utf8'), block));
    log(`table written to ${relative(process.cwd(), args.docs)}`);
  }
  const bad = runs.filter((r) => r.status !== 'ok');
  log(`${runs.length - bad.length}/${runs.length} scenarios ok in ${Math.round(totalSeconds)} s${totalSeconds > 600 ? ' (over the 10-minute budget)' : ''}`);
  return bad.length ? 1 : 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => {
    log(`error: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
