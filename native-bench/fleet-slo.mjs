#!/usr/bin/env node
// bench:fleet-slo — the fleet SLO path at 1,000 SLOs with 30d windows, on real Prometheus 2.42:
//
// 1. Rules: `vigil rules` for 1,000 SLOs (default 1m steps, 1h blocks) loaded into Prometheus
//    with 30 days of block tiles and 6 hours of step tiles backfilled (promtool tsdb
//    create-blocks-from openmetrics) and three stand-in replicas scraped every 15 s (2,000 counter
//    series each). Figure: Prometheus' own prometheus_rule_group_last_duration_seconds, the worst
//    of several evaluations, against the 1 s goal. Checked: every SLO has its 30d SLI and it equals
//    the backfilled events' exact ratio (a 30d window that missed blocks would differ).
// 2. Status instance: vigild with slo.source.prometheus and the same 1,000 SLOs. Figures: its
//    start-up backfill of the 30d window (queries, seconds), then queries per minute and their
//    mean cost, and its memory (RSS) against the same vigild without a source, in the same run.
//
//   node fleet-slo.mjs [--slos 1000] [--evaluations 3] [--status-only] [--quick] [--skip-build]
//
// --status-only: part 2 alone, against a Prometheus with the live stand-in replicas and no history
// (the backfill of part 1 takes promtool about 20 minutes for 1,000 SLOs on the 2-core machine).
// --quick: 100 SLOs, 2 evaluations. Writes results/fleet-slo.json (lib/result.mjs).
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { freePort, spawnChild, stopAll, stopChild, waitForHttp200 } from './lib/proc.mjs';
import { helpFromHeader, makeLog, runMain } from './lib/ingest-run.mjs';
import { buildIfNeeded, commandLine, figure, repoRoot, writeResult } from './lib/result.mjs';

const { values: args } = parseArgs({
  options: {
    slos: { type: 'string', default: '1000' },
    evaluations: { type: 'string', default: '3' },
    'status-only': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    'skip-build': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) helpFromHeader(import.meta.url);
if (args.quick) Object.assign(args, { slos: '100', evaluations: '2' });
const N = Number(args.slos);
const EVALUATIONS = Number(args.evaluations);
const log = makeLog('bench:fleet-slo');
const GOAL_SECONDS = 1;
/** Backfilled events per hour per SLO: good and bad (0.1% bad: burn rate 1). */
const GOOD_PER_HOUR = 36_000;
const BAD_PER_HOUR = 36;

if (spawnSync('prometheus', ['--version']).error || spawnSync('promtool', ['--version']).error) {
  process.stderr.write('bench:fleet-slo: prometheus and promtool are needed (Debian: apt-get install prometheus)\n');
  process.exit(2);
}

async function main() {
  if (!args['skip-build']) buildIfNeeded(log);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-fleet-'));
  try {
    return await run(dir);
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

function sloConfig(extra = '') {
  const lines = ['components:'];
  for (let c = 0; c < 10; c++) lines.push(`  - id: c${c}`);
  lines.push('slos:');
  for (let i = 0; i < N; i++) lines.push(`  - { id: slo-${i}, component: c${i % 10}, objective: 99.9, window: 30d, indicator: { availability: { spans: { service: svc-${i} } } } }`);
  return `${extra}${lines.join('\n')}\n`;
}

/** Stand-in replicas: /metrics with vigil_slo_events_total for every SLO, growing 15 good and 0 bad a scrape. */
async function startReplica() {
  let scrapes = 0;
  const server = createServer((req, res) => {
    scrapes++;
    let body = '# HELP vigil_slo_events Events the SLO counted since start, by outcome.\n# TYPE vigil_slo_events_total counter\n';
    for (let i = 0; i < N; i++) {
      body += `vigil_slo_events_total{slo="slo-${i}",component="c${i % 10}",outcome="good"} ${scrapes * 15}\n`;
      body += `vigil_slo_events_total{slo="slo-${i}",component="c${i % 10}",outcome="bad"} 0\n`;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** 30 days of block tiles and 6 hours of step tiles, as the rules would have recorded them. */
async function backfill(file, nowS) {
  const out = createWriteStream(file);
  const write = (s) => (out.write(s) ? undefined : once(out, 'drain'));
  const lastHour = Math.floor(nowS / 3600) * 3600 - 3600;
  await write('# TYPE vigil:slo_events:block_increase gauge\n');
  for (let i = 0; i < N; i++) {
    for (const [outcome, v] of [['good', GOOD_PER_HOUR - BAD_PER_HOUR], ['bad', BAD_PER_HOUR]]) {
      const series = `vigil:slo_events:block_increase{slo="slo-${i}",component="c${i % 10}",outcome="${outcome}"}`;
      let text = '';
      for (let h = 30 * 24 - 1; h >= 0; h--) text += `${series} ${v} ${lastHour - h * 3600 + 30}\n`;
      await write(text);
    }
  }
  await write('# TYPE vigil:slo_events:step_increase gauge\n');
  const lastMinute = Math.floor(nowS / 60) * 60 - 120;
  for (let i = 0; i < N; i++) {
    for (const [outcome, v] of [['good', 599], ['bad', 1]]) {
      const series = `vigil:slo_events:step_increase{slo="slo-${i}",component="c${i % 10}",outcome="${outcome}"}`;
      let text = '';
      for (let m = 359; m >= 0; m--) text += `${series} ${v} ${lastMinute - m * 60}\n`;
      await write(text);
    }
  }
  await write('# EOF\n');
  out.end();
  await once(out, 'finish');
}

async function promMetric(base, name, match = '') {
  const text = await (await fetch(`${base}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name) && l.includes(match)).map((l) => Number(l.split(' ').pop()));
}

async function query(base, q) {
  const res = await fetch(`${base}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: q }) });
  const body = await res.json();
  if (body.status !== 'success') throw new Error(`${q}: ${JSON.stringify(body).slice(0, 300)}`);
  return body.data.result;
}

const rssBytes = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Part 1: the rule group's evaluation time, and the 30d SLIs checked. */
async function ruleEvaluations(base, figures) {
  // Rule evaluation: wait for EVALUATIONS evaluations after the first (the first reads cold data).
  const durations = [];
  let lastEval = 0;
  const deadline = Date.now() + (EVALUATIONS + 2) * 65_000;
  while (durations.length < EVALUATIONS + 1 && Date.now() < deadline) {
    const [ts] = await promMetric(base, 'prometheus_rule_group_last_evaluation_timestamp_seconds', 'vigil-slo');
    if (ts !== undefined && ts > 0 && ts !== lastEval) {
      lastEval = ts;
      const [d] = await promMetric(base, 'prometheus_rule_group_last_duration_seconds', 'vigil-slo');
      durations.push(d);
      log(`evaluation ${durations.length}: ${d.toFixed(3)} s`);
    }
    await sleep(1000);
  }
  // Where the time goes: the slowest rules of the last evaluation, and the constants' share.
  const groups = (await (await fetch(`${base}/api/v1/rules`)).json()).data.groups;
  const rules = groups.flatMap((g) => g.rules.map((r) => ({ name: r.name, labels: r.labels, seconds: r.evaluationTime })));
  const constants = rules.filter((r) => r.name === 'vigil:slo_objective_ratio' || r.name === 'vigil:slo_error_budget_ratio').reduce((a, r) => a + r.seconds, 0);
  const slowest = rules.filter((r) => !['vigil:slo_objective_ratio', 'vigil:slo_error_budget_ratio'].includes(r.name)).sort((a, b) => b.seconds - a.seconds).slice(0, 6);
  log(`constants (${2 * N} rules): ${constants.toFixed(3)} s; slowest: ${slowest.map((r) => `${r.name}${r.labels?.window ? `{window=${r.labels.window}}` : ''} ${r.seconds.toFixed(3)} s`).join(', ')}`);
  const warm = durations.slice(1);
  if (warm.length === 0) throw new Error('no rule evaluation seen');
  const worst = Math.max(...warm);
  figures.push(figure({ name: `rule group evaluation, ${N} SLOs × 30d (worst of ${warm.length})`, value: worst, unit: 's', reference: 'goal', referenceValue: GOAL_SECONDS, target: `< ${GOAL_SECONDS} s`, met: worst < GOAL_SECONDS, higherIsBetter: false }));
  // Correctness: every SLO's 30d SLI is the backfilled ratio (720 blocks of 36,000 events, 36 bad).
  const sli = await query(base, 'vigil:slo_sli_ratio{window="30d"}');
  const want = (GOOD_PER_HOUR - BAD_PER_HOUR) / GOOD_PER_HOUR;
  const wrong = sli.filter((r) => Math.abs(Number(r.value[1]) - want) > 1e-12).length + (N - sli.length);
  if (wrong > 0) {
    log(`30d SLI wrong or missing for ${wrong} SLOs (got ${sli.length} series, first ${sli[0]?.value[1]}, want ${want})`);
  }
  const blocksIn30d = await query(base, 'count_over_time(vigil:slo_events:block_increase{slo="slo-0",outcome="good"}[29d23h30m])');
  log(`30d window of slo-0 holds ${blocksIn30d[0]?.value[1]} blocks; ${sli.length} SLIs, ${wrong} wrong`);

  return { durations, constants, slowest, wrong };
}

async function run(dir) {
  const figures = [];
  let ok = true;
  const nowS = Math.floor(Date.now() / 1000);
  const cfg = join(dir, 'slos.yaml');
  writeFileSync(cfg, sloConfig());
  const rulesFile = join(dir, 'rules.yml');
  const gen = spawnSync(process.execPath, [join(repoRoot, 'bin/vigil.js'), 'rules', '--config', cfg, '--output', rulesFile], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`vigil rules: ${gen.stderr}`);
  log(`rules for ${N} SLOs: ${readFileSync(rulesFile).length} bytes`);

  const data = join(dir, 'prometheus');
  if (!args['status-only']) {
    const om = join(dir, 'history.om');
    await backfill(om, nowS);
    const t0 = Date.now();
    const blocks = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', om, data], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (blocks.status !== 0) throw new Error(`promtool create-blocks: ${blocks.stderr.slice(0, 1000)}`);
    log(`backfilled ${N * 2 * (720 + 360)} samples in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    rmSync(om);
  }

  const replicas = await Promise.all([0, 1, 2].map(() => startReplica()));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const promCfg = join(dir, 'prometheus.yml');
  writeFileSync(promCfg, [
    'global: { scrape_interval: 15s, evaluation_interval: 1m }',
    `rule_files: ['${rulesFile}']`,
    'scrape_configs:',
    '  - job_name: vigil',
    `    static_configs: [{ targets: [${replicas.map((r) => `'127.0.0.1:${r.address().port}'`).join(', ')}] }]`,
    '',
  ].join('\n'));
  const prom = spawnChild('prometheus', 'prometheus', [`--config.file=${promCfg}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', '--storage.tsdb.retention.time=60d'], { log: join(dir, 'prometheus.log') });
  await waitForHttp200(prom, `${base}/-/ready`, 60_000);

  let durations = [];
  let constants = null;
  let slowest = [];
  let wrong = 0;
  if (!args['status-only']) ({ durations, constants, slowest, wrong } = await ruleEvaluations(base, figures));
  if (wrong > 0) ok = false;

  // Status instance with the fleet source, and the same vigild without one (memory peer).
  const statusRun = async (withSource) => {
    const cfgFile = join(dir, withSource ? 'status.yaml' : 'plain.yaml');
    writeFileSync(cfgFile, sloConfig(withSource ? `slo:\n  source:\n    prometheus: { url: '${base}', interval: 10s }\nlog: { level: warn }\n` : 'log: { level: warn }\n'));
    const dataDir = join(dir, withSource ? 'status-data' : 'plain-data');
    const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
    const child = spawnChild(withSource ? 'status' : 'plain', process.execPath, [join(repoRoot, 'bin/vigil.js'), 'start', '--config', cfgFile, '--data-dir', dataDir, '--otlp-grpc', `127.0.0.1:${ports[0]}`, '--otlp-http', `127.0.0.1:${ports[1]}`, '--metrics', `127.0.0.1:${ports[2]}`, '--status', `127.0.0.1:${ports[3]}`], { log: join(dir, `${withSource ? 'status' : 'plain'}.log`), guard: true });
    const metrics = `http://127.0.0.1:${ports[2]}`;
    await waitForHttp200(child, `${metrics}/-/ready`, 60_000);
    return { child, metrics, started: Date.now() };
  };
  const counter = async (metrics, name, match = '') => (await promMetric(metrics, name, match)).reduce((a, b) => a + b, 0);
  const status = await statusRun(true);
  // Start-up backfill: done when a poll has fully succeeded.
  let backfillSeconds = null;
  while (Date.now() - status.started < 300_000) {
    if ((await counter(status.metrics, 'vigil_slo_source_last_success_timestamp_seconds')) > 0) {
      backfillSeconds = (Date.now() - status.started) / 1000;
      break;
    }
    await sleep(200);
  }
  const backfillQueries = await counter(status.metrics, 'vigil_slo_source_queries_total', 'outcome="ok"');
  log(`start-up backfill (30d): ${backfillQueries} queries, ${backfillSeconds} s`);
  if (backfillSeconds === null) ok = false;
  figures.push(figure({ name: `status instance start-up backfill, ${N} SLOs × 30d`, value: backfillSeconds ?? -1, unit: 's', reference: 'queries', referenceValue: backfillQueries, referenceUnit: 'queries', higherIsBetter: false }));
  // Steady state over 60 s at interval 10s; per minute at the default 1m interval: a sixth.
  const q0 = await counter(status.metrics, 'vigil_slo_source_queries_total');
  const s0 = await counter(status.metrics, 'vigil_slo_source_query_seconds_total');
  await sleep(60_000);
  const q1 = await counter(status.metrics, 'vigil_slo_source_queries_total');
  const s1 = await counter(status.metrics, 'vigil_slo_source_query_seconds_total');
  const errors = await counter(status.metrics, 'vigil_slo_source_queries_total', 'outcome="error"');
  if (errors > 0) ok = false;
  const perQuery = (s1 - s0) / Math.max(1, q1 - q0);
  log(`steady: ${q1 - q0} queries in 60 s at interval 10s (${((q1 - q0) / 6).toFixed(1)} a minute at the default 1m), ${(perQuery * 1000).toFixed(1)} ms each, ${errors} errors`);
  figures.push(figure({ name: `status instance queries a minute (interval 1m), ${N} SLOs`, value: (q1 - q0) / 6, unit: 'queries/min', reference: 'SLOs', referenceValue: N, referenceUnit: 'SLOs', higherIsBetter: false }));
  figures.push(figure({ name: 'status instance query cost (mean, incl. Prometheus)', value: perQuery * 1000, unit: 'ms', reference: 'poll interval 10 s', referenceValue: 10_000, higherIsBetter: false }));
  const statusRss = rssBytes(status.child.pid);
  const plain = await statusRun(false);
  await sleep(5000);
  const plainRss = rssBytes(plain.child.pid);
  log(`RSS: status instance ${(statusRss / 2 ** 20).toFixed(1)} MiB, same vigild without a source ${(plainRss / 2 ** 20).toFixed(1)} MiB`);
  figures.push(figure({ name: `status instance memory (RSS), ${N} SLOs`, value: statusRss / 2 ** 20, unit: 'MiB', reference: 'same vigild without source', referenceValue: plainRss / 2 ** 20, higherIsBetter: false }));
  await Promise.all([stopChild(status.child), stopChild(plain.child), stopChild(prom)]);
  for (const r of replicas) r.close();

  const path = writeResult(args['status-only'] ? 'fleet-slo-status' : 'fleet-slo', {
    command: commandLine('node fleet-slo.mjs'),
    ok,
    lost: wrong,
    figures,
    slos: N,
    evaluationSeconds: durations,
    constantRulesSeconds: constants,
    slowestRules: slowest,
    rulesBytes: readFileSync(rulesFile).length,
  });
  log(`wrote ${path}`);
  for (const f of figures) log(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (ratio ${f.ratio} of ${f.reference})` : ''}`);
  return ok ? 0 : 1;
}

runMain(main, log);
