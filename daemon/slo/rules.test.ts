// `vigil rules` checked by the real promtool: `check rules` on the generated file, and
// `test rules` with known counter series per replica, the expected SLIs, burn rates, budgets and
// alerts taken from the daemon's own SLO engine fed the same events minute by minute. Cases: three
// replicas with a restart (counter reset), no traffic, no series, a 28d window and calendar months.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { validateConfig } from '../config/index.js';
import type { Config } from '../config/types.js';
import { SloEngine } from './engine.js';
import type { SloReport } from './engine.js';
import { GROUP_ORDER, buildRules, duration, renderRules } from './rules.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function config(raw: unknown): Config {
  const result = validateConfig(raw);
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  return result.config;
}

function promtool(...args: string[]): { code: number | null; out: string } {
  const run = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 240_000 });
  if (run.error) throw run.error;
  return { code: run.status, out: `${run.stdout}\n${run.stderr}` };
}

/**
 * One replica's counters: events per step, the steps at which it restarted (its counters began
 * again at 0), the step it first appears at (a new replica, started during the step before), and
 * steps without a sample (Prometheus could not scrape it).
 */
interface Replica {
  instance: string;
  events: (step: number) => { good: number; bad: number };
  restarts?: number[];
  firstStep?: number;
  gap?: [number, number];
}

/** Lookback of the rules' counter reads, in minutes (rules.ts). */
const LOOKBACK_MINUTES = 5;

/**
 * Whether a replica's events of step k reach the fleet counts: not before it exists, and not in a
 * gap of samples longer than the lookback (nor the step that ends it: its history is unknown).
 */
function counted(r: Replica, k: number, stepMinutes: number): boolean {
  if (r.firstStep !== undefined && k < r.firstStep) return false;
  // The rules bridge a gap while the last value they recorded (kept for the lookback after the last
  // sample, found within the lookback before the next) is in reach: up to two lookbacks.
  if (r.gap !== undefined && (r.gap[1] - r.gap[0] + 1) * stepMinutes > 2 * LOOKBACK_MINUTES && k >= r.gap[0] && k <= r.gap[1] + 1) return false;
  return true;
}

/** An SLO's replicas; the counters of every replica are vigil_slo_events_total{slo, component, outcome}. */
interface Traffic {
  slo: string;
  replicas: Replica[];
}

/** Prometheus' expanding notation for a list of values (`a+bxn` runs; `_` for a missing sample). */
function series(values: (number | undefined)[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < values.length) {
    const a = values[i];
    if (a === undefined) {
      out.push('_');
      i++;
      continue;
    }
    if (i + 1 === values.length || values[i + 1] === undefined) {
      out.push(String(a));
      i++;
      continue;
    }
    const b = values[i + 1]! - a;
    let n = 1;
    while (i + n + 1 < values.length && values[i + n + 1] !== undefined && values[i + n + 1]! - values[i + n]! === b) n++;
    out.push(b >= 0 ? `${a}+${b}x${n}` : `${a}-${-b}x${n}`);
    i += n + 1;
  }
  return out.join(' ');
}

/** Input series for promtool: samples at steps 0..steps, one per `stepMs`. */
function inputSeries(traffic: Traffic[], component: (slo: string) => string, steps: number, stepSeconds: number): { series: string; values: string }[] {
  const out: { series: string; values: string }[] = [];
  const starts = new Map<string, number>();
  for (const t of traffic) {
    for (const r of t.replicas) {
      if (r.firstStep !== undefined) starts.set(r.instance, (r.firstStep - 1) * stepSeconds + stepSeconds / 2);
      for (const outcome of ['good', 'bad'] as const) {
        const values: (number | undefined)[] = [];
        let value = 0;
        for (let k = 0; k <= steps; k++) {
          if (k > 0 && (r.firstStep === undefined || k >= r.firstStep)) value = (r.restarts?.includes(k) ? 0 : value) + r.events(k)[outcome];
          const absent = (r.firstStep !== undefined && k < r.firstStep) || (r.gap !== undefined && k >= r.gap[0] && k <= r.gap[1]);
          values.push(absent ? undefined : value);
        }
        out.push({ series: `vigil_slo_events_total{slo="${t.slo}",component="${component(t.slo)}",outcome="${outcome}",instance="${r.instance}",job="vigil"}`, values: series(values) });
      }
    }
  }
  // New replicas say when their process started (prom-client's process_start_time_seconds).
  for (const [instance, start] of starts) out.push({ series: `vigil_process_start_time_seconds{instance="${instance}",job="vigil"}`, values: `${start}+0x${steps}` });
  return out;
}

/** What one daemon fed every event computes at the end of step `steps` (its clock in the last step's minute). */
function daemonReports(cfg: Config, traffic: Traffic[], steps: number, stepMs: number, startMs = 0): Map<string, SloReport> {
  const clock = { now: startMs };
  const engine = new SloEngine({ components: cfg.components, slos: cfg.slos, openStorage: null, flushIntervalMs: 1000, now: () => clock.now });
  for (let k = 1; k <= steps; k++) {
    // A step's events happened before its sample: they land in the minute that ends at the sample.
    clock.now = startMs + k * stepMs - 1;
    for (const t of traffic) {
      let good = 0;
      let bad = 0;
      for (const r of t.replicas) {
        if (!counted(r, k, stepMs / 60_000)) continue;
        const e = r.events(k);
        good += e.good;
        bad += e.bad;
      }
      if (good + bad > 0) engine.record(t.slo, good, good + bad, clock.now);
    }
  }
  return new Map(engine.report().flatMap((c) => c.slos).map((s) => [s.id, s]));
}

/** Prometheus' template function `humanizePercentage`: Go's %.4g of the ratio × 100, then "%". */
function humanizePercentage(ratio: number): string {
  return `${goG(ratio * 100, 4)}%`;
}

/** Go's %.<p>g for values printed in plain notation. */
function goG(v: number, p: number): string {
  const text = v.toPrecision(p);
  if (text.includes('e')) throw new Error(`unexpected exponent format for ${v}`);
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/** promtool expectations from the daemon's reports: every SLI, burn rate, budget and alert at `evalTime` (or only the `windows` given, without alerts). */
function expectations(reports: Map<string, SloReport>, evalTime: string, statusUrl: string, windows?: readonly string[]) {
  const sli: { labels: string; value: number }[] = [];
  const burn: { labels: string; value: number }[] = [];
  const budget: { labels: string; value: number }[] = [];
  const objective: { labels: string; value: number }[] = [];
  const alerts: { exp_labels: Record<string, string>; exp_annotations: Record<string, string> }[] = [];
  for (const s of reports.values()) {
    const l = `component="${s.component}",slo="${s.id}"`;
    objective.push({ labels: `vigil:slo_objective_ratio{${l}}`, value: s.objective });
    for (const w of s.windows) {
      // Calendar windows (month, quarter) to date are the status instance's (docs/slo.md, "Fleet rules").
      if (w.window === 'month' || w.window === 'quarter') continue;
      if (windows !== undefined && !windows.includes(w.window)) continue;
      if (w.sli !== null) sli.push({ labels: `vigil:slo_sli_ratio{${l},window="${w.window}"}`, value: w.sli });
      if (w.burnRate !== null) burn.push({ labels: `vigil:slo_burn_rate{${l},window="${w.window}"}`, value: w.burnRate });
    }
    const calendar = s.window === 'month' || s.window === 'quarter';
    if (!calendar && s.budgetRemaining !== null) budget.push({ labels: `vigil:slo_error_budget_remaining_ratio{${l}}`, value: s.budgetRemaining });
    for (const severity of ['page', 'ticket'] as const) {
      if (!s.alerts[severity] || windows !== undefined) continue;
      const burnOf = (label: string) => s.windows.find((w) => w.window === label)!.burnRate;
      let value = -Infinity;
      for (const t of s.thresholds) {
        const long = burnOf(t.long);
        const short = burnOf(t.short);
        if (t.severity === severity && long !== null && short !== null && long >= t.burnRate && short >= t.burnRate) value = Math.max(value, long);
      }
      alerts.push({
        exp_labels: { severity, slo: s.id, component: s.component },
        exp_annotations: {
          summary: `SLO ${s.id} of ${s.component} is burning its error budget at ${goG(value, 3)}x its sustainable rate (${severity})`,
          description:
            severity === 'page'
              ? "1h and 5m burn rates both at or above 14.4x, or 6h and 30m burn rates both at or above 6x (thresholds for a 30d window, scaled to the SLO's window: docs/slo.md)."
              : "3d and 6h burn rates both at or above 1x (thresholds for a 30d window, scaled to the SLO's window: docs/slo.md).",
          budget_remaining: !calendar && s.budgetRemaining !== null ? humanizePercentage(s.budgetRemaining) : 'no data',
          status_page: `${statusUrl}/`,
        },
      });
    }
  }
  const only = windows === undefined ? '' : `{window=~"${windows.join('|')}"}`;
  return {
    promql_expr_test: [
      { expr: `vigil:slo_sli_ratio${only}`, eval_time: evalTime, exp_samples: sli },
      { expr: `vigil:slo_burn_rate${only}`, eval_time: evalTime, exp_samples: burn },
      { expr: 'vigil:slo_error_budget_remaining_ratio', eval_time: evalTime, exp_samples: budget },
      { expr: 'vigil:slo_objective_ratio', eval_time: evalTime, exp_samples: objective },
    ],
    ...(windows === undefined ? { alert_rule_test: [{ alertname: 'VigilSLOBurnRate', eval_time: evalTime, exp_alerts: alerts }] } : {}),
    counts: { sli: sli.length, burn: burn.length, alerts: alerts.map((a) => `${a.exp_labels.slo}/${a.exp_labels.severity}`).sort() },
  };
}

/** Windows the rules sum from steps (every other window is a long one, group vigil-slo-long). */
const STEP_WINDOWS = new Set(['5m', '30m', '1h', '2h', '6h']);

/**
 * What the rules give one step after `atSteps`: the long windows and the budget of the daemon at
 * `atSteps`, the other windows of the daemon at `atSteps` + 1, and the alerts that these burn
 * rates fire, by the daemon's thresholds.
 */
function mixedReports(atSteps: Map<string, SloReport>, oneLater: Map<string, SloReport>): Map<string, SloReport> {
  const out = new Map<string, SloReport>();
  for (const [id, later] of oneLater) {
    const before = atSteps.get(id)!;
    const windows = later.windows.map((w) => (STEP_WINDOWS.has(w.window) ? w : before.windows.find((b) => b.window === w.window)!));
    const burn = (label: string) => windows.find((w) => w.window === label)?.burnRate ?? null;
    const fires = (severity: 'page' | 'ticket') =>
      later.thresholds.some((t) => t.severity === severity && burn(t.long) !== null && burn(t.short) !== null && burn(t.long)! >= t.burnRate && burn(t.short)! >= t.burnRate);
    out.set(id, { ...later, windows, budgetRemaining: before.budgetRemaining, alerts: { page: fires('page'), ticket: fires('ticket') } });
  }
  return out;
}

/**
 * Writes the rules and a promtool test of `traffic` over `steps` steps, runs it, and returns what was
 * expected: what the daemon computes at the end of step `reportSteps` (default `steps`), for the
 * `windows` given (default all, and the alerts).
 */
function runScenario(name: string, cfg: Config, traffic: Traffic[], steps: number, stepSeconds: number, options: { nowMs?: number; reportSteps?: number; windows?: readonly string[] } = {}) {
  const statusUrl = 'https://status.example.com';
  const rulesFile = `${name}.rules.yml`;
  writeFileSync(join(dir, rulesFile), renderRules(cfg, { intervalSeconds: stepSeconds, statusUrl, nowMs: options.nowMs ?? 0, calendarYears: 0.2 }));
  const check = promtool('check', 'rules', rulesFile);
  assert.equal(check.code, 0, check.out);
  const componentOf = (slo: string) => cfg.slos.find((s) => s.id === slo)!.component;
  const reports = daemonReports(cfg, traffic, options.reportSteps ?? steps, stepSeconds * 1000);
  // The long windows (group vigil-slo-long) read the tiles recorded up to one step earlier: the
  // whole file is compared one step after `steps`, its long windows (and the budget) with the
  // daemon's at `steps`, everything else with the daemon's at `steps` + 1.
  const evalSteps = options.windows === undefined ? steps + 1 : steps;
  const compared = options.windows === undefined ? mixedReports(reports, daemonReports(cfg, traffic, steps + 1, stepSeconds * 1000)) : reports;
  const evalTime = duration(evalSteps * stepSeconds);
  const { counts, ...tests } = expectations(compared, evalTime, statusUrl, options.windows);
  const testFile = `${name}.test.yml`;
  writeFileSync(
    join(dir, testFile),
    stringify({ rule_files: [rulesFile], evaluation_interval: duration(stepSeconds), group_eval_order: GROUP_ORDER, tests: [{ name, interval: duration(stepSeconds), input_series: inputSeries(traffic, componentOf, evalSteps, stepSeconds), ...tests }] }, { lineWidth: 0 }),
  );
  const run = promtool('test', 'rules', testFile);
  assert.equal(run.code, 0, run.out);
  return { reports, counts };
}

const components = [{ id: 'api' }, { id: 'db' }];
const spans = { spans: { service: 'checkout' } };

describe('vigil rules in promtool', () => {
  test('replicas restarting, scaled out and not scraped for a while, no traffic and no series: SLIs, burn rates, budgets and alerts equal the daemon’s', () => {
    const cfg = config({
      components,
      slos: [
        { id: 'checkout-availability', component: 'api', objective: 99.9, window: '30d', indicator: { availability: spans } },
        { id: 'checkout.latency', component: 'api', objective: 99, window: '28d', indicator: { latency: { ...spans, threshold: '250ms' } } },
        { id: 'idle', component: 'db', objective: 99.5, window: '7d', indicator: { availability: spans } },
        { id: 'never-seen', component: 'db', objective: 99.5, window: '30d', indicator: { availability: spans } },
      ],
    });
    // Six hours at one step a minute (windows of 7 days or more end at the last 6h boundary); errors
    // start after two hours on r1 and r2.
    const traffic: Traffic[] = [
      {
        slo: 'checkout-availability',
        replicas: [
          { instance: 'r1:9464', events: (k) => ({ good: 100, bad: k > 120 ? 3 : 0 }) },
          { instance: 'r2:9464', events: (k) => ({ good: 200, bad: k > 120 ? 2 : 0 }) },
          // r3 restarts twice: its counters drop to the events since the restart.
          { instance: 'r3:9464', events: (k) => ({ good: 50 + (k % 7), bad: 1 }), restarts: [31, 150] },
          // r4 is scaled out after an hour: its first sample counts in full (its process is new).
          { instance: 'r4:9464', events: () => ({ good: 70, bad: 1 }), firstStep: 61 },
          // r5 is not scraped for 8 minutes: bridged, its events land after the gap; then for 15
          // minutes (longer than two lookbacks): those events are unknown, never guessed.
          { instance: 'r5:9464', events: () => ({ good: 30, bad: 2 }), gap: [125, 132] },
          { instance: 'r6:9464', events: () => ({ good: 20, bad: 3 }), gap: [100, 114] },
        ],
      },
      {
        slo: 'checkout.latency',
        replicas: [
          { instance: 'r1:9464', events: (k) => ({ good: 995, bad: k % 10 === 0 ? 50 : 0 }) },
          { instance: 'r2:9464', events: () => ({ good: 400, bad: 1 }), restarts: [90] },
          { instance: 'r3:9464', events: () => ({ good: 0, bad: 0 }) },
        ],
      },
      // Counters present at 0 and never moving: no SLI, no burn rate, no budget, no alert.
      { slo: 'idle', replicas: [{ instance: 'r1:9464', events: () => ({ good: 0, bad: 0 }) }] },
    ];
    const { reports, counts } = runScenario('fleet', cfg, traffic, 360, 60);
    // The scenario is worth running: the daemon pages and tickets on the availability SLO only.
    assert.deepEqual(counts.alerts, ['checkout-availability/page', 'checkout-availability/ticket']);
    assert.equal(reports.get('idle')!.windows.every((w) => w.sli === null), true);
    assert.ok(counts.sli >= 16, `SLIs compared: ${counts.sli}`);
  });

  test('a 28d window drops the events older than 28 days; a 30d window keeps them', () => {
    const cfg = config({
      components,
      slos: [
        { id: 'thirty', component: 'api', objective: 99.9, window: '30d', indicator: { availability: spans } },
        { id: 'twenty-eight', component: 'api', objective: 99.9, window: '28d', indicator: { availability: spans } },
      ],
    });
    // Steps of 5 minutes over 28 days and 6 hours; bad events only in the first three hours.
    const steps = (28 * 24 + 6) * 12;
    const events = (k: number) => ({ good: 100, bad: k <= 36 ? 5 : 0 });
    const traffic: Traffic[] = [
      { slo: 'thirty', replicas: [{ instance: 'r1:9464', events }, { instance: 'r2:9464', events }] },
      { slo: 'twenty-eight', replicas: [{ instance: 'r1:9464', events }, { instance: 'r2:9464', events }] },
    ];
    const { reports } = runScenario('window28d', cfg, traffic, steps, 300);
    const thirty = reports.get('thirty')!.windows.find((w) => w.window === '30d')!;
    const twentyEight = reports.get('twenty-eight')!.windows.find((w) => w.window === '28d')!;
    // 28 days back from the end leaves out those three hours: fewer bad events.
    assert.ok(twentyEight.good < thirty.good && twentyEight.total - twentyEight.good < thirty.total - thirty.good, `28d ${JSON.stringify(twentyEight)} vs 30d ${JSON.stringify(thirty)}`);
  });

  test('windows of blocks hold every block of the window between block boundaries (regression: one block short in the second half of each hour)', () => {
    const cfg = config({ components, slos: [{ id: 'thirty', component: 'api', objective: 99.9, window: '30d', indicator: { availability: spans } }] });
    // Steps of 5 minutes; bad events only in the first hour. At 1d 40m the windows of blocks cover
    // the blocks up to 1d (they lag by up to one block): the first hour is in the 1d window.
    const events = (k: number) => ({ good: 100, bad: k <= 12 ? 7 : 0 });
    const traffic: Traffic[] = [{ slo: 'thirty', replicas: [{ instance: 'r1:9464', events }, { instance: 'r2:9464', events }] }];
    const { reports } = runScenario('between-blocks', cfg, traffic, 24 * 12 + 8, 300, { reportSteps: 24 * 12, windows: ['1d', '3d', '30d'] });
    const day = reports.get('thirty')!.windows.find((w) => w.window === '1d')!;
    assert.equal(day.total - day.good, 2 * 12 * 7, 'the daemon’s 1d window at 1d holds the first hour’s bad events');
  });

  test('the long windows end one step back: at a block boundary they do not hold the block recorded there yet (vigil-slo-long reads only tiles written a step before)', () => {
    // A 2d SLO window (of blocks, like 1d and 3d; its budget is compared too). Steps of 5 minutes;
    // bad events only in the first hour. Evaluated at exactly 1d, a block boundary: the windows of
    // blocks hold the blocks up to 23h (the daemon's windows at 23h), not the block recorded at 1d
    // in the same evaluation.
    const cfg = config({ components, slos: [{ id: 'two-days', component: 'api', objective: 99.9, window: '2d', indicator: { availability: spans } }] });
    const events = (k: number) => ({ good: 100, bad: k <= 12 ? 7 : 0 });
    const traffic: Traffic[] = [{ slo: 'two-days', replicas: [{ instance: 'r1:9464', events }, { instance: 'r2:9464', events }] }];
    const { reports } = runScenario('long-one-step-back', cfg, traffic, 24 * 12, 300, { reportSteps: 23 * 12, windows: ['1d', '2d', '3d'] });
    // The test tells the two apart: the daemon's 1d window at 1d holds an hour more.
    const at23h = reports.get('two-days')!.windows.find((w) => w.window === '1d')!;
    const at24h = daemonReports(cfg, traffic, 24 * 12, 300_000).get('two-days')!.windows.find((w) => w.window === '1d')!;
    assert.ok(at24h.total > at23h.total, `1d at 24h ${at24h.total} vs at 23h ${at23h.total}`);
  });

  test('calendar months: the page threshold follows the month’s length (31 days: 14.88, 28 days: 13.44)', () => {
    const cfg = config({
      components,
      slos: [
        { id: 'rolling-30d', component: 'api', objective: 99.9, window: '30d', indicator: { availability: spans } },
        { id: 'monthly', component: 'api', objective: 99.9, window: { calendar: 'month', timezone: 'UTC' }, indicator: { availability: spans } },
      ],
    });
    // A burn of 14.6 in the last hour only: above 14.4 (30d) and below 14.88 (January), above 13.44
    // (February), while the 6h burn (a sixth of it) stays under every 6h/30m page threshold.
    const traffic = (steps: number): Traffic[] => {
      const events = (k: number) => (k > steps - 12 ? { good: 9854, bad: 146 } : { good: 10_000, bad: 0 });
      return ['rolling-30d', 'monthly'].map((slo) => ({ slo, replicas: [{ instance: 'r1:9464', events }] }));
    };
    // January 1970 (the test's clock starts at the epoch): the monthly SLO does not page.
    const january = runScenario('january', cfg, traffic(12 * 6), 12 * 6, 300);
    assert.ok(january.counts.alerts.includes('rolling-30d/page') && !january.counts.alerts.includes('monthly/page'), january.counts.alerts.join());
    // 1 February 1970 + 6 hours: now it does (the 3d ticket window reaches back into January).
    const february = runScenario('february', cfg, traffic((31 * 24 + 6) * 12), (31 * 24 + 6) * 12, 300);
    assert.ok(february.counts.alerts.includes('monthly/page'), february.counts.alerts.join());
  });
});

describe('vigil rules output', () => {
  test('the calendar table holds each period’s length in its zone (Berlin: March 2025 has 743 h, October 745 h)', () => {
    const cfg = config({ components, slos: [{ id: 'm', component: 'api', objective: 99.9, window: { calendar: 'month', timezone: 'Europe/Berlin' }, indicator: { availability: spans } }] });
    const rules = buildRules(cfg, { nowMs: Date.UTC(2025, 1, 15), calendarYears: 1 }).groups.flatMap((g) => g.rules);
    const table = rules.find((r) => 'record' in r && r.record === 'vigil:slo_period_minutes')!.expr;
    const march = Date.UTC(2025, 1, 28, 23) / 1000;
    assert.match(table, new RegExp(`vector\\(${743 * 60}\\), "from", "${march}"`));
    assert.match(table, new RegExp(`vector\\(${745 * 60}\\), "from", "${Date.UTC(2025, 8, 30, 22) / 1000}"`));
  });

  test('no SLOs give an empty rule file that promtool accepts', () => {
    writeFileSync(join(dir, 'empty.yml'), renderRules(config({})));
    const check = promtool('check', 'rules', 'empty.yml');
    assert.equal(check.code, 0, check.out);
  });

  test('1,000 SLOs give one rule per record name and window, not per SLO (plus two constants each), the long windows in a group of their own every two steps', () => {
    const slos = Array.from({ length: 1000 }, (_, i) => ({ id: `slo-${i}`, component: 'api', objective: 99.9, window: '30d', indicator: { availability: spans } }));
    const file = buildRules(config({ components, slos }));
    const rules = file.groups.flatMap((g) => g.rules);
    assert.equal(rules.filter((r) => 'record' in r && r.record.startsWith('vigil:slo_events')).length, 4 + 8); // last, step, block, long block; 7 report windows and 30d
    assert.equal(rules.filter((r) => 'record' in r && (r.record === 'vigil:slo_objective_ratio' || r.record === 'vigil:slo_error_budget_ratio')).length, 2000);
    assert.equal(rules.filter((r) => 'alert' in r).length, 2);
    assert.deepEqual(file.groups.map((g) => [g.name, g.interval]), [['vigil-slo-windows', '1m'], ['vigil-slo-long', '2m'], ['vigil-slo', '1m']]);
    assert.deepEqual(file.groups[1]!.rules.filter((r) => 'record' in r && r.record === 'vigil:slo_events:window_increase').map((r) => ('record' in r ? r.labels?.['window'] : undefined)), ['1d', '3d', '30d']);
  });
});
