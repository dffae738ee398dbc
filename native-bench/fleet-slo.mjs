#!/usr/bin/env node
// bench:fleet-slo — the fleet SLO path at 1,000 SLOs with 30d windows, on real Prometheus 2.42:
//
// 1. Rules: `vigil rules` for 1,000 SLOs (default 1m steps, 1h blocks) loaded into Prometheus
//    with 30 days of block and long-block tiles backfilled (promtool tsdb create-blocks-from
//    openmetrics) and compacted by Prometheus, 6 hours of step tiles backfilled, and three
//    stand-in replicas scraped every 15 s (2,000 counter series each). Figures: each group's
//    prometheus_rule_group_last_duration_seconds, the worst of its warm evaluations, against the
//    1 s goal; Prometheus' CPU-seconds a minute with the rules minus without them (same process,
//    data and scrapes, reloaded without the rule file); each rule's expression alone as a query
//    (CPU). Checked: every SLO has its 30d SLI and it equals the backfilled events' exact ratio (a
//    30d window that missed tiles would differ).
// 2. Status instance: vigild with slo.source.prometheus and the same 1,000 SLOs, against a
//    Prometheus holding --history-hours (6) of three replicas' raw vigil_slo_events_total, every
//    minute of every SLO with events (promtool; the live stand-ins add the last minutes). Figures:
//    the first start's backfill of the 30d window (empty data dir: wall, vigild and Prometheus
//    CPU-seconds, queries, minutes set, peak RSS; every stored minute of sampled SLOs checked
//    against the history), a restart's backfill (from the newest stored minute), then queries per
//    minute and their mean cost, and memory (RSS) against the same vigild without a source.
//
//   node fleet-slo.mjs [--slos 1000] [--evaluations 3] [--status-only] [--rules-only] [--data DIR] [--rules FILE] [--history-hours 6] [--quick] [--skip-build]
//
// --data DIR: keep part 1's backfilled and compacted TSDB in DIR (DIR/template) and start each
// later run from a copy of it, without promtool for the 30 days (the run backfills the step tiles
// and the long tiles since the template; it says how many blocks its 30d window holds).
// --rules-only: part 1 alone.
// --rules FILE: load this rule file instead of generating one (another version's `vigil rules` for
// the same SLOs and the default --name, to measure it on the same data).
// --status-only: part 2 alone, against a Prometheus with the status history and the live stand-in
// replicas (the tile backfill of part 1 takes promtool about 20 minutes for 1,000 SLOs on the 2-core machine).
// --quick: 100 SLOs, 2 evaluations. Writes results/fleet-slo.json (lib/result.mjs).
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { cpuSeconds, freePort, spawnChild, stopAll, stopChild, waitForHttp200 } from './lib/proc.mjs';
import { helpFromHeader, makeLog, runMain } from './lib/ingest-run.mjs';
import { buildIfNeeded, commandLine, figure, repoRoot, writeResult } from './lib/result.mjs';

const { values: args } = parseArgs({
  options: {
    slos: { type: 'string', default: '1000' },
    evaluations: { type: 'string', default: '3' },
    'status-only': { type: 'boolean', default: false },
    'rules-only': { type: 'boolean', default: false },
    data: { type: 'string' },
    rules: { type: 'string' },
    'history-hours': { type: 'string', default: '6' },
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

/**
 * The tiles the rules would have recorded: for each kind, one sample per `every` seconds over the
 * last `span` seconds with the events of that stretch (good and bad for each SLO), at `offset`
 * seconds past each tile boundary. Tiles of an hour or more go into the compacted template.
 */
const FILE_LABEL = ',vigil_rules="vigil"';
const TILES = [
  { metric: 'vigil:slo_events:block_increase', every: 3600, span: 30 * 86_400, offset: 30, labels: FILE_LABEL },
  { metric: 'vigil:slo_events:long_block_increase', every: 6 * 3600, span: 30 * 86_400, offset: 30, labels: FILE_LABEL },
  { metric: 'vigil:slo_events:step_increase', every: 60, span: 6 * 3600, offset: 0, labels: FILE_LABEL },
];
const isLong = (tile) => tile.every >= 3600;

/** OpenMetrics of `tiles` ending with the last whole tile before `untilS`, none at or before `afterS`. */
async function writeTiles(file, tiles, untilS, afterS = 0) {
  const out = createWriteStream(file);
  const write = (s) => (out.write(s) ? undefined : once(out, 'drain'));
  let samples = 0;
  for (const tile of tiles) {
    await write(`# TYPE ${tile.metric} gauge\n`);
    const last = Math.floor((untilS - 60) / tile.every) * tile.every - tile.every;
    const before = Math.floor((afterS - 60) / tile.every) * tile.every - tile.every;
    const first = Math.max(last - tile.span + tile.every, before + tile.every);
    const hours = tile.every / 3600;
    for (let i = 0; i < N; i++) {
      for (const [outcome, v] of [['good', (GOOD_PER_HOUR - BAD_PER_HOUR) * hours], ['bad', BAD_PER_HOUR * hours]]) {
        const series = `${tile.metric}{slo="slo-${i}",component="c${i % 10}",outcome="${outcome}"${tile.labels ?? ''}}`;
        let text = '';
        for (let t = first; t <= last; t += tile.every) text += `${series} ${v} ${t + tile.offset}\n`;
        samples += Math.max(0, (last - first) / tile.every + 1);
        await write(text);
      }
    }
  }
  await write('# EOF\n');
  out.end();
  await once(out, 'finish');
  return samples;
}

function createBlocks(om, into) {
  const t0 = Date.now();
  const run = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', om, into], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`promtool create-blocks: ${run.stderr.slice(0, 1000)}`);
  rmSync(om);
  return (Date.now() - t0) / 1000;
}

/**
 * Part 1's TSDB in `data`: 30 days of long tiles, backfilled and then compacted by Prometheus
 * itself (as 30 days of running would have left them), made once per --data DIR (DIR/template)
 * and copied; then the short tiles of the last 6 hours and the long tiles since the template,
 * backfilled into the copy for this run.
 */
async function historyTsdb(dir, data, nowS) {
  const template = args.data ? join(args.data, 'template') : join(dir, 'template');
  const signature = JSON.stringify({ N, TILES: TILES.filter(isLong) });
  const stamp = join(template, 'vigil-bench.json');
  let madeS = nowS;
  if (existsSync(stamp) && JSON.parse(readFileSync(stamp, 'utf8')).signature === signature) {
    madeS = JSON.parse(readFileSync(stamp, 'utf8')).madeS;
    log(`reusing the compacted long tiles of ${template} (made ${((nowS - madeS) / 3600).toFixed(1)} h ago)`);
  } else {
    rmSync(template, { recursive: true, force: true });
    const om = join(dir, 'long.om');
    const samples = await writeTiles(om, TILES.filter(isLong), nowS);
    log(`backfilled ${samples} samples of long tiles in ${createBlocks(om, template).toFixed(1)} s`);
    // Prometheus (no rules, no targets) compacts the two-hour blocks; done when nothing changed
    // for two compaction cycles.
    const port = await freePort();
    const cfg = join(dir, 'compact.yml');
    writeFileSync(cfg, 'global: { scrape_interval: 15s }\n');
    const prom = spawnChild('compact', 'prometheus', [`--config.file=${cfg}`, `--storage.tsdb.path=${template}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', '--storage.tsdb.retention.time=60d'], { log: join(dir, 'compact.log') });
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp200(prom, `${base}/-/ready`, 300_000);
    const t1 = Date.now();
    let last = '';
    let stableSince = Date.now();
    while (Date.now() - stableSince < 130_000) {
      const state = JSON.stringify([await promMetric(base, 'prometheus_tsdb_blocks_loaded'), await promMetric(base, 'prometheus_tsdb_compactions_total')]);
      if (state !== last) [last, stableSince] = [state, Date.now()];
      await sleep(5000);
    }
    log(`compacted to ${(await promMetric(base, 'prometheus_tsdb_blocks_loaded'))[0]} blocks in ${((Date.now() - t1) / 1000).toFixed(0)} s`);
    await stopChild(prom);
    writeFileSync(stamp, JSON.stringify({ signature, madeS: nowS }));
  }
  cpSync(template, data, { recursive: true });
  const om = join(dir, 'short.om');
  const samples = await writeTiles(om, TILES.filter((t) => !isLong(t)), nowS);
  const since = await writeTiles(`${om}.long`, TILES.filter(isLong), nowS, madeS);
  log(`backfilled ${samples} samples of short tiles in ${createBlocks(om, data).toFixed(1)} s`);
  if (since > 0) log(`backfilled the ${since} samples of long tiles since the template in ${createBlocks(`${om}.long`, data).toFixed(1)} s`);
  else rmSync(`${om}.long`);
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

/** Part 1: the rule groups' evaluation times, and the 30d SLIs checked. */
async function ruleEvaluations(base, promPid, figures) {
  // Every group's evaluations, each time its lastEvaluation moves: at least EVALUATIONS + 1 of
  // each group (the first reads cold data), or 2 of a group evaluated less often than a minute.
  // TSDB compactions while the evaluations are measured (start-up compaction of the backfilled
  // blocks competes with them for the CPU): logged with the figures.
  const compactions = async () => (await promMetric(base, 'prometheus_tsdb_compactions_total')).reduce((a, b) => a + b, 0);
  // Each group's evaluations from Prometheus' own /metrics, every 5 s (a group keeps its last
  // duration for its whole interval). /api/v1/rules once at the end only: serialising and gzipping
  // ~2,000 rules costs Prometheus about a CPU-second a minute when asked every second — more than
  // the rules' own evaluation — and took the CPU from them.
  const groupsNow = async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const read = (name) => new Map([...text.matchAll(new RegExp(`^${name}\\{rule_group="[^"]*;([^"]+)"\\} (\\S+)$`, 'gm'))].map((m) => [m[1], Number(m[2])]));
    const last = read('prometheus_rule_group_last_evaluation_timestamp_seconds');
    const took = read('prometheus_rule_group_last_duration_seconds');
    return [...read('prometheus_rule_group_interval_seconds')].map(([name, interval]) => ({ name, interval, lastEvaluation: last.get(name) * 1000, evaluationTime: took.get(name) }));
  };
  const seen = new Map();
  let cpu0 = null;
  let maxInterval = 60;
  const started = Date.now();
  // A group evaluated every 2 minutes: enough evaluations to span the others' (at least 2 warm).
  const enough = (g) => (seen.get(g.name)?.evaluations.length ?? 0) >= (g.interval <= 60 ? EVALUATIONS + 1 : Math.max(3, Math.ceil((EVALUATIONS * 60) / g.interval) + 1));
  for (;;) {
    const groups = await groupsNow();
    maxInterval = Math.max(60, ...groups.map((g) => g.interval));
    for (const g of groups) {
      const at = g.lastEvaluation > 0 ? g.lastEvaluation : 0;
      const entry = seen.get(g.name) ?? { interval: g.interval, last: 0, evaluations: [], rules: [] };
      seen.set(g.name, entry);
      if (at > 0 && at !== entry.last) {
        entry.last = at;
        entry.evaluations.push(g.evaluationTime);
        log(`${g.name} (every ${g.interval} s) evaluation ${entry.evaluations.length}: ${g.evaluationTime.toFixed(3)} s`);
        if (cpu0 === null && entry.evaluations.length === 2) cpu0 = { at: Date.now(), cpu: cpuSeconds(promPid), compactions: await compactions() };
      }
    }
    if (groups.length > 0 && groups.every(enough)) break;
    if (Date.now() - started > (EVALUATIONS + 2) * 65_000 + 2 * maxInterval * 1000) throw new Error(`rule groups did not evaluate enough: ${[...seen].map(([n, e]) => `${n} ${e.evaluations.length}`).join(', ')}`);
    await sleep(5000);
  }
  for (const g of (await (await fetch(`${base}/api/v1/rules`)).json()).data.groups) seen.get(g.name).rules = g.rules;
  const warmOf = (e) => e.evaluations.slice(1);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]; // the upper one of an even count
  const rounds = [...seen].map(([name, e]) => ({ name, interval: e.interval, evaluations: e.evaluations, worst: Math.max(...warmOf(e)), median: median(warmOf(e)) }));
  const cpuPerMinute = cpu0 && Date.now() - cpu0.at > 60_000 ? ((cpuSeconds(promPid) - cpu0.cpu) * 60_000) / (Date.now() - cpu0.at) : null;
  // Where the time goes: every rule of the last evaluation (the constants summed).
  const isConstant = (r) => r.name === 'vigil:slo_objective_ratio' || r.name === 'vigil:slo_error_budget_ratio';
  const rules = [...seen].flatMap(([group, e]) => e.rules.map((r) => ({ group, name: r.name, window: r.labels?.window, seconds: r.evaluationTime })));
  const constants = rules.filter(isConstant).reduce((a, r) => a + r.seconds, 0);
  const perRule = rules.filter((r) => !isConstant(r)).sort((a, b) => b.seconds - a.seconds);
  log(`constants (${2 * N} rules): ${constants.toFixed(3)} s; rules: ${perRule.map((r) => `${r.group}/${r.name}${r.window ? `{window=${r.window}}` : ''} ${r.seconds.toFixed(3)}`).join(', ')}`);
  // The slowest group's worst warm evaluation (the goal), and all groups' worst warm evaluations
  // summed as seconds a minute (a group evaluated every 5 minutes counts a fifth).
  const worst = Math.max(...rounds.map((r) => r.worst));
  const perMinute = rounds.reduce((a, r) => a + (r.worst * 60) / r.interval, 0);
  const perMinuteMedian = rounds.reduce((a, r) => a + (r.median * 60) / r.interval, 0);
  const warm = { length: Math.min(...rounds.map((r) => r.evaluations.length - 1)) };
  log(`groups: ${rounds.map((r) => `${r.name} (every ${r.interval} s) worst ${r.worst.toFixed(3)} s, median ${r.median.toFixed(3)} s of [${r.evaluations.map((x) => x.toFixed(3)).join(', ')}]`).join('; ')}`);
  log(`TSDB compactions during the measured evaluations: ${cpu0 ? (await compactions()) - cpu0.compactions : 'n/a'}`);
  log(`Prometheus CPU: ${cpuPerMinute?.toFixed(2)} s a minute (rules, scrapes of 3 × ${2 * N} series, compaction), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  figures.push(figure({ name: `slowest rule group evaluation, ${N} SLOs × 30d (worst of ${warm.length})`, value: worst, unit: 's', reference: 'goal', referenceValue: GOAL_SECONDS, target: `< ${GOAL_SECONDS} s`, met: worst < GOAL_SECONDS, higherIsBetter: false }));
  figures.push(figure({ name: `all rule groups, evaluation seconds a minute, ${N} SLOs × 30d (worst of ${warm.length})`, value: perMinute, unit: 's', reference: 'goal', referenceValue: GOAL_SECONDS, target: `< ${GOAL_SECONDS} s`, met: perMinute < GOAL_SECONDS, higherIsBetter: false }));
  figures.push(figure({ name: `all rule groups, evaluation seconds a minute, ${N} SLOs × 30d (median of ${warm.length} or more)`, value: perMinuteMedian, unit: 's', reference: 'goal', referenceValue: GOAL_SECONDS, target: `< ${GOAL_SECONDS} s`, met: perMinuteMedian < GOAL_SECONDS, higherIsBetter: false }));
  // Correctness: every SLO's 30d SLI is the backfilled ratio (720 blocks of 36,000 events, 36 bad).
  const sli = await query(base, 'vigil:slo_sli_ratio{window="30d"}');
  const want = (GOOD_PER_HOUR - BAD_PER_HOUR) / GOOD_PER_HOUR;
  const wrong = sli.filter((r) => Math.abs(Number(r.value[1]) - want) > 1e-12).length + (N - sli.length);
  if (wrong > 0) {
    log(`30d SLI wrong or missing for ${wrong} SLOs (got ${sli.length} series, first ${sli[0]?.value[1]}, want ${want})`);
  }
  const long = TILES.find((t) => t.span === 30 * 86_400);
  const tilesIn30d = await query(base, `count_over_time(${long.metric}{slo="slo-0",outcome="good"}[${30 * 86_400 - long.every / 2}s])`);
  log(`30d window of slo-0 holds ${tilesIn30d[0]?.value[1]} tiles of ${long.every / 3600} h; ${sli.length} SLIs, ${wrong} wrong`);
  return { rounds, constants, perRule, cpuPerMinute, wrong, groupRules: [...seen].map(([group, e]) => [group, e.rules]) };
}

async function run(dir) {
  const figures = [];
  let ok = true;
  const nowS = Math.floor(Date.now() / 1000);
  const cfg = join(dir, 'slos.yaml');
  writeFileSync(cfg, sloConfig());
  const rulesFile = join(dir, 'rules.yml');
  if (args.rules) cpSync(args.rules, rulesFile);
  else {
    const gen = spawnSync(process.execPath, [join(repoRoot, 'bin/vigil.js'), 'rules', '--config', cfg, '--output', rulesFile], { encoding: 'utf8' });
    if (gen.status !== 0) throw new Error(`vigil rules: ${gen.stderr}`);
  }
  log(`rules for ${N} SLOs: ${readFileSync(rulesFile).length} bytes`);

  const data = join(dir, 'prometheus');
  if (!args['status-only']) await historyTsdb(dir, data, nowS);

  const historyHours = Number(args['history-hours']);
  if (historyHours > 0 && !args['rules-only']) await statusHistory(dir, data, nowS, historyHours);

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
  const prom = spawnChild('prometheus', 'prometheus', [`--config.file=${promCfg}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', '--storage.tsdb.retention.time=60d', '--web.enable-lifecycle'], { log: join(dir, 'prometheus.log') });
  await waitForHttp200(prom, `${base}/-/ready`, 60_000);

  let evaluations = null;
  if (!args['status-only']) {
    evaluations = await ruleEvaluations(base, prom.pid, figures);
    // Peer in the same run: the same Prometheus, data and scrapes without the rule file; the
    // difference in CPU is what the rules cost, which the machine's load does not inflate as it
    // does wall time.
    const withRules = readFileSync(promCfg, 'utf8');
    writeFileSync(promCfg, withRules.replace(/^rule_files:.*\n/m, ''));
    await fetch(`${base}/-/reload`, { method: 'POST' });
    await sleep(5000);
    const c0 = cpuSeconds(prom.pid);
    const t0 = Date.now();
    // The same /metrics reads as while the rules were measured.
    while (Date.now() - t0 < 120_000) {
      await (await fetch(`${base}/metrics`)).text();
      await sleep(5000);
    }
    const without = ((cpuSeconds(prom.pid) - c0) * 60_000) / (Date.now() - t0);
    const rulesCpu = evaluations.cpuPerMinute - without;
    log(`Prometheus CPU a minute: ${evaluations.cpuPerMinute.toFixed(2)} s with the rules, ${without.toFixed(2)} s without (same data and scrapes): the rules ${rulesCpu.toFixed(2)} CPU-s a minute; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    figures.push(figure({ name: `rule evaluation CPU-seconds a minute (Prometheus with − without the rules), ${N} SLOs × 30d`, value: rulesCpu, unit: 's', reference: 'goal', referenceValue: GOAL_SECONDS, target: `< ${GOAL_SECONDS} s`, met: rulesCpu < GOAL_SECONDS, higherIsBetter: false }));
    Object.assign(evaluations, { cpuWithoutRulesPerMinute: without });
    // Where the CPU goes: each rule's expression run as an instant
    // query three times on the same data, with the rules unloaded; the median CPU of Prometheus.
    const perRuleCpu = [];
    const seenQueries = new Set();
    for (const [group, e] of evaluations.groupRules) {
      for (const r of e) {
        // The 2·N constants are too quick for /proc's 10 ms ticks: their evaluation times are above.
        if (/^vector\(/.test(r.query) || seenQueries.has(r.query)) continue;
        seenQueries.add(r.query);
        const cpus = [];
        for (let k = 0; k < 3; k++) {
          const c1 = cpuSeconds(prom.pid);
          await query(base, r.query);
          cpus.push(cpuSeconds(prom.pid) - c1);
        }
        const median = cpus.sort((a, b) => a - b)[1];
        perRuleCpu.push({ group, name: r.name, window: r.labels?.window, cpuSeconds: median });
      }
    }
    perRuleCpu.sort((a, b) => b.cpuSeconds - a.cpuSeconds);
    log(`CPU-s of each rule run as a query (median of 3): ${perRuleCpu.map((r) => `${r.name}${r.window ? `{${r.window}}` : ''} ${r.cpuSeconds.toFixed(2)}`).join(', ')}; sum ${perRuleCpu.reduce((a, r) => a + r.cpuSeconds, 0).toFixed(2)}`);
    Object.assign(evaluations, { perRuleCpu });
    // The status instance below runs beside the rules, as before.
    writeFileSync(promCfg, withRules);
    await fetch(`${base}/-/reload`, { method: 'POST' });
  }
  if (evaluations?.wrong > 0) ok = false;
  if (args['rules-only']) {
    await stopChild(prom);
    for (const r of replicas) r.close();
    return finish(figures, ok, evaluations, rulesFile);
  }

  // Status instance with the fleet source, and the same vigild without one (memory peer).
  const statusData = join(dir, 'status-data');
  const statusRun = async (withSource) => {
    const cfgFile = join(dir, withSource ? 'status.yaml' : 'plain.yaml');
    writeFileSync(cfgFile, sloConfig(withSource ? `slo:\n  source:\n    prometheus: { url: '${base}', interval: 10s }\nlog: { level: warn }\n` : 'log: { level: warn }\n'));
    const dataDir = withSource ? statusData : join(dir, 'plain-data');
    const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
    const started = Date.now();
    const promCpu0 = cpuSeconds(prom.pid);
    const child = spawnChild(withSource ? 'status' : 'plain', process.execPath, [join(repoRoot, 'bin/vigil.js'), 'start', '--config', cfgFile, '--data-dir', dataDir, '--otlp-grpc', `127.0.0.1:${ports[0]}`, '--otlp-http', `127.0.0.1:${ports[1]}`, '--metrics', `127.0.0.1:${ports[2]}`, '--status', `127.0.0.1:${ports[3]}`], { log: join(dir, `${withSource ? 'status' : 'plain'}.log`), guard: true });
    const metrics = `http://127.0.0.1:${ports[2]}`;
    await waitForHttp200(child, `${metrics}/-/ready`, 60_000);
    return { child, metrics, started, promCpu0 };
  };
  const counter = async (metrics, name, match = '') => (await promMetric(metrics, name, match)).reduce((a, b) => a + b, 0);
  /** A start's backfill: done when a poll has fully succeeded. Wall and CPU-seconds from the spawn (vigild's own start-up included). */
  const backfillOf = async (status, label) => {
    let seconds = null;
    while (Date.now() - status.started < 600_000) {
      if ((await counter(status.metrics, 'vigil_slo_source_last_success_timestamp_seconds')) > 0) {
        seconds = (Date.now() - status.started) / 1000;
        break;
      }
      await sleep(100);
    }
    const r = {
      seconds,
      vigildCpu: cpuSeconds(status.child.pid),
      prometheusCpu: cpuSeconds(prom.pid) - status.promCpu0,
      queries: await counter(status.metrics, 'vigil_slo_source_queries_total', 'outcome="ok"'),
      errors: await counter(status.metrics, 'vigil_slo_source_queries_total', 'outcome="error"'),
      querySeconds: await counter(status.metrics, 'vigil_slo_source_query_seconds_total'),
      minutesSet: await counter(status.metrics, 'vigil_slo_source_minutes_set_total'),
      peakRssMiB: Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${status.child.pid}/status`, 'utf8'))[1]) / 1024,
    };
    log(`${label}: ${seconds} s wall, vigild ${r.vigildCpu.toFixed(2)} CPU-s, Prometheus ${r.prometheusCpu.toFixed(2)} CPU-s, ${r.queries} queries (${r.errors} failed, ${r.querySeconds.toFixed(2)} s waiting), ${r.minutesSet} SLO minutes set, peak RSS ${r.peakRssMiB.toFixed(0)} MiB`);
    if (seconds === null || r.errors > 0) ok = false;
    return r;
  };
  const load0 = loadavg();
  let status = await statusRun(true);
  const first = await backfillOf(status, `first start, 30d window holding ${historyHours} h of fleet history`);
  const historyMinutes = historyHours * 60 - 1;
  figures.push(figure({ name: `status instance first start: backfill of the 30d window (${historyHours} h of history), ${N} SLOs`, value: first.seconds ?? -1, unit: 's', reference: 'vigild CPU-seconds', referenceValue: first.vigildCpu, higherIsBetter: false }));
  figures.push(figure({ name: 'status instance first start: SLO minutes set per wall second', value: first.minutesSet / (first.seconds ?? Infinity), unit: 'SLO minutes/s', reference: 'SLO minutes set', referenceValue: first.minutesSet, higherIsBetter: true }));
  // Every stored minute of a sample of SLOs against the history (each replica adds 100 + m % 7 good and 1 bad when m % 3 == 0).
  const wrongMinutes = checkStatusHistory(statusData, nowS, historyHours);
  log(`history check: ${wrongMinutes} wrong or missing minutes in 10 sampled SLOs × ${historyMinutes} minutes`);
  if (wrongMinutes > 0) ok = false;
  const peer = historyHours >= 1 ? await queryPeer(base, prom.pid, nowS) : null;
  // Steady state over 60 s at interval 10s; per minute at the default 1m interval: a sixth.
  const q0 = await counter(status.metrics, 'vigil_slo_source_queries_total');
  const s0 = await counter(status.metrics, 'vigil_slo_source_query_seconds_total');
  const c0 = cpuSeconds(status.child.pid);
  await sleep(60_000);
  const q1 = await counter(status.metrics, 'vigil_slo_source_queries_total');
  const s1 = await counter(status.metrics, 'vigil_slo_source_query_seconds_total');
  const steadyCpu = cpuSeconds(status.child.pid) - c0;
  const errors = await counter(status.metrics, 'vigil_slo_source_queries_total', 'outcome="error"');
  if (errors > 0) ok = false;
  const perQuery = (s1 - s0) / Math.max(1, q1 - q0);
  log(`steady: ${q1 - q0} queries in 60 s at interval 10s (${((q1 - q0) / 6).toFixed(1)} a minute at the default 1m), ${(perQuery * 1000).toFixed(1)} ms each, vigild ${steadyCpu.toFixed(2)} CPU-s in the 60 s, ${errors} errors`);
  figures.push(figure({ name: `status instance queries a minute (interval 1m), ${N} SLOs`, value: (q1 - q0) / 6, unit: 'queries/min', reference: 'SLOs', referenceValue: N, referenceUnit: 'SLOs', higherIsBetter: false }));
  figures.push(figure({ name: 'status instance query cost (mean, incl. Prometheus)', value: perQuery * 1000, unit: 'ms', reference: 'poll interval 10 s', referenceValue: 10_000, higherIsBetter: false }));
  if (peer !== null) figures.push(figure({ name: `one hour of ${N} SLOs' minutes, Prometheus CPU: counters (asked now) vs the rules' step increase (asked before)`, value: peer.counters.prometheusCpu, unit: 'CPU-s', reference: "rules' step increase", referenceValue: peer.rules.prometheusCpu, higherIsBetter: false }));
  const statusRss = rssBytes(status.child.pid);
  // Restart: the backfill resumes from the newest stored minute.
  await stopChild(status.child);
  await sleep(5000);
  status = await statusRun(true);
  const restart = await backfillOf(status, 'restart after 5 s down');
  figures.push(figure({ name: `status instance restart: backfill from the newest stored minute, ${N} SLOs`, value: restart.seconds ?? -1, unit: 's', reference: 'first start', referenceValue: first.seconds ?? undefined, higherIsBetter: false }));
  const plain = await statusRun(false);
  await sleep(5000);
  const plainRss = rssBytes(plain.child.pid);
  // The same vigild's own start-up (no source), CPU-seconds: what the figures above include of it.
  const plainCpu = cpuSeconds(plain.child.pid);
  log(`vigild without a source: ${plainCpu.toFixed(2)} CPU-s from spawn to 5 s after ready`);
  log(`RSS: status instance ${(statusRss / 2 ** 20).toFixed(1)} MiB, same vigild without a source ${(plainRss / 2 ** 20).toFixed(1)} MiB`);
  figures.push(figure({ name: `status instance memory (RSS), ${N} SLOs`, value: statusRss / 2 ** 20, unit: 'MiB', reference: 'same vigild without source', referenceValue: plainRss / 2 ** 20, higherIsBetter: false }));
  const statusDetail = { historyHours, first, restart, queryPeer: peer, plainStartCpu: plainCpu, steady: { queries: q1 - q0, meanQueryMs: perQuery * 1000, vigildCpu: steadyCpu }, wrongMinutes, loadavg: { before: load0, after: loadavg() } };
  log(`load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${statusDetail.loadavg.after.map((l) => l.toFixed(2)).join(' ')}`);
  await Promise.all([stopChild(status.child), stopChild(plain.child), stopChild(prom)]);
  for (const r of replicas) r.close();

  return finish(figures, ok, evaluations, rulesFile, statusDetail);
}

function finish(figures, ok, evaluations, rulesFile, statusDetail) {
  const path = writeResult(args['status-only'] ? 'fleet-slo-status' : args['rules-only'] ? 'fleet-slo-rules' : 'fleet-slo', {
    command: commandLine('node fleet-slo.mjs'),
    ok,
    lost: evaluations?.wrong ?? 0,
    figures,
    slos: N,
    loadAverage: loadavg(),
    evaluations: evaluations?.rounds,
    prometheusCpuSecondsPerMinute: evaluations?.cpuPerMinute,
    prometheusCpuSecondsPerMinuteWithoutRules: evaluations?.cpuWithoutRulesPerMinute,
    constantRulesSeconds: evaluations?.constants,
    rules: evaluations?.perRule,
    rulesCpuAsQueries: evaluations?.perRuleCpu,
    rulesBytes: readFileSync(rulesFile).length,
    status: statusDetail,
  });
  log(`wrote ${path}`);
  for (const f of figures) log(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (ratio ${f.ratio} of ${f.reference})` : ''}`);
  return ok ? 0 : 1;
}

/**
 * The status instance's history: `hours` of three replicas' raw vigil_slo_events_total for every
 * SLO, sampled at 30 s past each minute up to two minutes ago; replica r's good counter grows by
 * 100 + m % 7 in minute m, its bad counter by 1 when m % 3 == 0 (m: epoch minute).
 */
async function statusHistory(dir, data, nowS, hours) {
  const file = join(dir, 'status-history.om');
  const out = createWriteStream(file);
  const write = (s) => (out.write(s) ? undefined : once(out, 'drain'));
  const last = Math.floor(nowS / 60) - 2;
  const first = last - hours * 60 + 1;
  await write('# TYPE vigil_slo_events counter\n');
  for (let r = 0; r < 3; r++) {
    for (let i = 0; i < N; i++) {
      for (const outcome of ['good', 'bad']) {
        const series = `vigil_slo_events_total{job="vigil-history",instance="replica-${r}",slo="slo-${i}",component="c${i % 10}",outcome="${outcome}"}`;
        let text = '';
        let v = 0;
        for (let m = first; m <= last; m++) {
          v += outcome === 'good' ? 100 + (m % 7) : m % 3 === 0 ? 1 : 0;
          text += `${series} ${v} ${m * 60 + 30}\n`;
        }
        await write(text);
      }
    }
  }
  await write('# EOF\n');
  out.end();
  await once(out, 'finish');
  const t0 = Date.now();
  const blocks = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', file, data], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (blocks.status !== 0) throw new Error(`promtool create-blocks: ${blocks.stderr.slice(0, 1000)}`);
  log(`status history: ${N * 2 * 3 * hours * 60} samples (${hours} h) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  rmSync(file);
}

/**
 * Peer, same run: one range query over the last hour of the history (1-minute steps), as the source
 * asks it now (each replica's counter: last_over_time) and as it asked before (the rules' step
 * increase, summed by SLO and outcome). Alternated three times each; medians of wall and of
 * Prometheus' CPU-seconds.
 */
async function queryPeer(base, promPid, nowS) {
  const { sloMatcher, stepIncrease } = await import(pathToFileURL(join(repoRoot, 'dist/daemon/slo/rules.js')).href);
  const matcher = sloMatcher(Array.from({ length: N }, (_, i) => ({ id: `slo-${i}` })));
  const end = (Math.floor(nowS / 60) - 2) * 60;
  const queries = { counters: `last_over_time(vigil_slo_events_total{${matcher}}[5m])`, rules: stepIncrease(matcher, 60, ['slo', 'outcome']) };
  const runs = { counters: [], rules: [] };
  for (let i = 0; i < 3; i++) {
    for (const [name, query] of Object.entries(queries)) {
      const cpu0 = cpuSeconds(promPid);
      const t0 = performance.now();
      const res = await fetch(`${base}/api/v1/query_range`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ query, start: String(end - 3600), end: String(end), step: '60' }) });
      const body = await res.json();
      if (body.status !== 'success') throw new Error(`peer query ${name}: ${JSON.stringify(body).slice(0, 300)}`);
      runs[name].push({ wall: (performance.now() - t0) / 1000, cpu: cpuSeconds(promPid) - cpu0, points: body.data.result.reduce((a, r) => a + r.values.length, 0) });
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const out = {};
  for (const name of Object.keys(runs)) out[name] = { wall: median(runs[name].map((r) => r.wall)), prometheusCpu: median(runs[name].map((r) => r.cpu)), points: runs[name][0].points };
  log(`one hour, 1-minute steps: counters ${out.counters.wall.toFixed(3)} s wall / ${out.counters.prometheusCpu.toFixed(2)} Prometheus CPU-s (${out.counters.points} points); rules' step increase ${out.rules.wall.toFixed(3)} s / ${out.rules.prometheusCpu.toFixed(2)} CPU-s (${out.rules.points} points)`);
  return out;
}

/** Wrong or missing minutes of 10 sampled SLOs in the status instance's SQLite against statusHistory. */
function checkStatusHistory(dataDir, nowS, hours) {
  const Database = createRequire(join(repoRoot, 'package.json'))('better-sqlite3');
  const db = new Database(join(dataDir, 'vigil.db'), { readonly: true });
  const last = Math.floor(nowS / 60) - 2;
  const first = last - hours * 60 + 1;
  let wrong = 0;
  try {
    const read = db.prepare('SELECT minute, good, total FROM slo_minute WHERE slo = ? AND minute > ? AND minute <= ?');
    for (let k = 0; k < 10; k++) {
      const slo = `slo-${Math.floor((k * N) / 10)}`;
      const rows = new Map(read.all(slo, first, last).map((r) => [r.minute, r]));
      // The first minute has no previous sample: not counted (no process start time either).
      for (let m = first + 1; m <= last; m++) {
        const good = 3 * (100 + (m % 7));
        const total = good + (m % 3 === 0 ? 3 : 0);
        const row = rows.get(m);
        if (row === undefined || row.good !== good || row.total !== total) wrong++;
      }
    }
  } finally {
    db.close();
  }
  return wrong;
}

runMain(main, log);
