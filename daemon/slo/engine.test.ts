// The SLO math against hand-computed cases, with an injected clock: burn-rate thresholds (30d,
// 28d, calendar months across DST changes), budget, alerts, statuses, no data, daily uptime,
// span and metric SLIs.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ComponentConfig, SloConfig, SloIndicator, SloWindow } from '../config/types.js';
import { Family, Series, SeriesData } from '../store/series.js';
import { labelText } from '../model/naming.js';
import { SloEngine } from './engine.js';
import { createGatherer } from '../model/read-model.js';
import { createRenderer } from '../../exporters/prometheus/exposition.js';
import { budgetRemaining, burnRate, firingRules, scaledThreshold, sloStatus, componentStatus } from './math.js';
import { calendarPeriod, localDay } from './calendar.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const SPANS = { service: 'checkout', spanKind: 'SERVER' as const, spanName: null };

function sloConfig(id: string, objectivePercent: number, window: SloWindow, indicator: SloIndicator = { type: 'span_availability', spans: SPANS }): SloConfig {
  return { id, name: id, component: 'api', objectivePercent, objective: Number((objectivePercent / 100).toPrecision(15)), window, indicator };
}
const rolling = (days: number): SloWindow => ({ kind: 'rolling', label: `${days}d`, minutes: days * 1440, timezone: 'UTC' });
const API: ComponentConfig = { id: 'api', name: 'API', group: null, description: null };

/** An engine with a clock the test moves. */
function engineWith(slos: SloConfig[], startMs: number, families?: () => readonly Family[]) {
  const clock = { now: startMs };
  const engine = new SloEngine({ components: [API], slos, openStorage: null, flushIntervalMs: 1000, now: () => clock.now, ...(families ? { families } : {}) });
  /** Records `perMinute` events a minute (with `badPerMinute` bad) for `minutes`, advancing the clock. */
  const traffic = (id: string, minutes: number, perMinute: number, badPerMinute: number): void => {
    for (let i = 0; i < minutes; i++) {
      engine.record(id, perMinute - badPerMinute, perMinute);
      clock.now += MIN;
    }
  };
  return { engine, clock, traffic };
}

const windowOf = (report: ReturnType<SloEngine['report']>[number]['slos'][number], label: string) => report.windows.find((w) => w.window === label)!;
const close = (actual: number | null, expected: number, what: string) => {
  assert.ok(actual !== null, `${what}: expected ${expected}, got null`);
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: expected ${expected}, got ${actual}`);
};

describe('burn-rate thresholds scaled to the SLO window', () => {
  // threshold' = threshold × window / 30d keeps the budget share consumed over the long window.
  const table: [string, number, [number, number, number]][] = [
    ['30d (the SRE Workbook base)', 30 * 1440, [14.4, 6, 1]],
    ['28d', 28 * 1440, [13.44, 5.6, 0.933333333333]],
    ['7d', 7 * 1440, [3.36, 1.4, 0.233333333333]],
    ['a 31-day month', 31 * 1440, [14.88, 6.2, 1.03333333333]],
    ['March in Berlin (743 h: DST starts)', 743 * 60, [14.86, 6.19166666667, 1.03194444444]],
    ['October in Berlin (745 h: DST ends)', 745 * 60, [14.9, 6.20833333333, 1.03472222222]],
    ['Q1 2025 (90 days, minus the DST hour in Berlin? no: Q1 ends before 30 March)', 90 * 1440, [43.2, 18, 3]],
  ];
  for (const [name, minutes, [fast, slow, ticket]] of table) {
    test(name, () => {
      close(scaledThreshold(14.4, minutes), fast, 'page 1h/5m');
      close(scaledThreshold(6, minutes), slow, 'page 6h/30m');
      close(scaledThreshold(1, minutes), ticket, 'ticket 3d/6h');
    });
  }

  test('budget share consumed over the long window is the same for 30d and 28d', () => {
    // 14.4 × 1h / 720h = 2 %; 13.44 × 1h / 672h = 2 %.
    close((14.4 * 1) / 720, 0.02, '30d');
    close((scaledThreshold(14.4, 28 * 1440) * 1) / 672, 0.02, '28d');
    close((scaledThreshold(6, 28 * 1440) * 6) / 672, 0.05, '28d slow page');
    close((scaledThreshold(1, 28 * 1440) * 72) / 672, 0.1, '28d ticket');
  });
});

describe('budget and burn rate', () => {
  const cases: [string, number, number, number, number | null, number | null][] = [
    // name, good, total, objective, burn, budget remaining
    ['exactly on objective', 999, 1000, 0.999, 1, 0],
    ['half the budget', 9995, 10_000, 0.999, 0.5, 0.5],
    ['no errors', 500, 500, 0.999, 0, 1],
    ['ten times over: negative budget', 990, 1000, 0.999, 10, -9],
    ['99% objective, 3% errors', 97, 100, 0.99, 3, -2],
    ['28d example: 0.05% errors at 99.95%', 19_990, 20_000, 0.9995, 1, 0],
    ['no events: no number', 0, 0, 0.999, null, null],
  ];
  for (const [name, good, total, objective, burn, budget] of cases) {
    test(name, () => {
      const b = burnRate(good, total, objective);
      const r = budgetRemaining(good, total, objective);
      if (burn === null) assert.equal(b, null);
      else close(b, burn, 'burn');
      if (budget === null) assert.equal(r, null);
      else close(r, budget, 'budget');
    });
  }

  test('a rule fires only when both of its windows reach the threshold; no data never fires', () => {
    const burn = (entries: [string, number | null][]) => new Map(entries);
    const month = 30 * 1440;
    assert.deepEqual(firingRules(burn([['1h', 15], ['5m', 15]]), month).map((r) => `${r.severity} ${r.long}`), ['page 1h']);
    assert.deepEqual(firingRules(burn([['1h', 15], ['5m', 14]]), month), []);
    assert.deepEqual(firingRules(burn([['1h', 15], ['5m', null]]), month), []);
    assert.deepEqual(firingRules(burn([['6h', 6], ['30m', 7], ['3d', 1], ['1h', 3], ['5m', 100]]), month).map((r) => `${r.severity} ${r.long}`), ['page 6h', 'ticket 3d']);
  });

  test('status mapping', () => {
    assert.equal(sloStatus({ hasData: false, kind: 'availability', page: false, ticket: false, sli5m: null }), 'no_data');
    assert.equal(sloStatus({ hasData: true, kind: 'availability', page: true, ticket: true, sli5m: 0.3 }), 'major_outage');
    assert.equal(sloStatus({ hasData: true, kind: 'availability', page: true, ticket: false, sli5m: 0.9 }), 'partial_outage');
    assert.equal(sloStatus({ hasData: true, kind: 'latency', page: true, ticket: false, sli5m: 0.1 }), 'degraded_performance');
    assert.equal(sloStatus({ hasData: true, kind: 'availability', page: false, ticket: true, sli5m: 0.99 }), 'degraded_performance');
    assert.equal(sloStatus({ hasData: true, kind: 'availability', page: false, ticket: false, sli5m: null }), 'operational');
    assert.equal(componentStatus(['no_data', 'operational', 'partial_outage']), 'partial_outage');
    assert.equal(componentStatus(['no_data', 'no_data']), 'no_data');
    assert.equal(componentStatus([]), 'no_data');
  });
});

describe('the engine with an injected clock', () => {
  const T0 = Date.UTC(2025, 0, 10, 0, 0);

  test('no traffic: no samples, no alerts, no_data, and no NaN or Inf in the exposition', async () => {
    const { engine } = engineWith([sloConfig('a', 99.9, rolling(30))], T0);
    const [component] = engine.report();
    assert.equal(component!.status, 'no_data');
    const slo = component!.slos[0]!;
    assert.equal(slo.status, 'no_data');
    assert.equal(slo.budgetRemaining, null);
    for (const w of slo.windows) {
      assert.equal(w.sli, null);
      assert.equal(w.burnRate, null);
    }
    const rendered = await createRenderer(createGatherer([engine]), 1000)('text');
    const text = rendered.bytes.toString('utf8');
    assert.doesNotMatch(text, /NaN|Inf/);
    assert.match(text, /^vigil_slo_objective_ratio\{slo="a",component="api"\} 0\.999$/m);
    assert.match(text, /^vigil_slo_alert\{slo="a",component="api",severity="page"\} 0$/m);
    assert.doesNotMatch(text, /^vigil_slo_sli_ratio\{/m);
    assert.doesNotMatch(text, /^vigil_slo_error_budget_remaining_ratio\{/m);
  });

  test('30d, steady 0.05% errors for 3 days: burn 0.5, budget 0.5, operational', () => {
    const { engine, traffic } = engineWith([sloConfig('a', 99.9, rolling(30))], T0);
    traffic('a', 3 * 1440, 2000, 1);
    const slo = engine.report()[0]!.slos[0]!;
    for (const label of ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d']) {
      close(windowOf(slo, label).burnRate, 0.5, `burn ${label}`);
      close(windowOf(slo, label).sli, 0.9995, `sli ${label}`);
    }
    close(slo.budgetRemaining, 0.5, 'budget');
    assert.deepEqual(slo.alerts, { page: false, ticket: false });
    assert.equal(slo.status, 'operational');
    // The 5m window is the current (empty, just begun) minute and the four before it.
    assert.equal(windowOf(slo, '5m').total, 4 * 2000);
    assert.equal(windowOf(slo, '3d').total, (3 * 1440 - 1) * 2000);
  });

  test('30d, 0.1% errors for 3 days: burn exactly 1 over 3d and 6h raises a ticket', () => {
    const { engine, traffic } = engineWith([sloConfig('a', 99.9, rolling(30))], T0);
    traffic('a', 3 * 1440 + 1, 1000, 1);
    const slo = engine.report()[0]!.slos[0]!;
    close(windowOf(slo, '3d').burnRate, 1, 'burn 3d');
    close(slo.budgetRemaining, 0, 'budget');
    assert.deepEqual(slo.alerts, { page: false, ticket: true });
    assert.equal(slo.status, 'degraded_performance');
  });

  test('30d, an hour at 2% errors after a clean day: fast page, partial outage', () => {
    const { engine, traffic } = engineWith([sloConfig('a', 99.9, rolling(30))], T0);
    traffic('a', 1440, 1000, 0);
    traffic('a', 61, 1000, 20);
    const slo = engine.report()[0]!.slos[0]!;
    // 1h = the current (empty) minute + 59 minutes at 2%: burn 20. 6h: 61 bad minutes of 359 → 20 × 61/359.
    close(windowOf(slo, '1h').burnRate, 20, 'burn 1h');
    close(windowOf(slo, '5m').burnRate, 20, 'burn 5m');
    close(windowOf(slo, '6h').burnRate, (20 * 61) / 359, 'burn 6h');
    // Budget: 1220 bad of 1 501 000 events over the window.
    close(slo.budgetRemaining, 1 - 1220 / 1_501_000 / 0.001, 'budget');
    assert.deepEqual(slo.alerts, { page: true, ticket: false });
    assert.equal(slo.status, 'partial_outage');
    assert.equal(engine.report()[0]!.status, 'partial_outage');
  });

  test('more than half failing in the last 5 minutes: major outage', () => {
    const { engine, traffic } = engineWith([sloConfig('a', 99.9, rolling(30))], T0);
    traffic('a', 120, 100, 0);
    traffic('a', 10, 100, 80);
    const slo = engine.report()[0]!.slos[0]!;
    assert.equal(slo.alerts.page, true);
    close(windowOf(slo, '5m').sli, 0.2, 'sli 5m');
    assert.equal(slo.status, 'major_outage');
  });

  test('28d versus 30d: a burn of 14 pages a 28d SLO (threshold 13.44) but not a 30d one (14.4)', () => {
    const { engine, traffic, clock } = engineWith([sloConfig('d28', 99.9, rolling(28)), sloConfig('d30', 99.9, rolling(30))], T0);
    // Five clean hours first, so the 6h/30m rule (6h burn 14 × 61/359 ≈ 2.4) stays quiet.
    for (let i = 0; i < 300 + 61; i++) {
      const bad = i < 300 ? 0 : 14;
      engine.record('d30', 1000 - bad, 1000, clock.now);
      traffic('d28', 1, 1000, bad);
    }
    const [d28, d30] = engine.report()[0]!.slos;
    close(windowOf(d28!, '1h').burnRate, 14, 'burn 1h (28d)');
    close(windowOf(d30!, '1h').burnRate, 14, 'burn 1h (30d)');
    close(d28!.thresholds[0]!.burnRate, 13.44, '28d page threshold');
    assert.equal(d28!.alerts.page, true);
    assert.equal(d30!.alerts.page, false);
    // Over 3d and 6h the burn is 14 × 61/359 ≈ 2.4, above both ticket thresholds (0.93 and 1).
    assert.deepEqual([d28!.alerts.ticket, d30!.alerts.ticket], [true, true]);
    assert.deepEqual([d28!.status, d30!.status], ['partial_outage', 'degraded_performance']);
    // Budget over 28d: 854 bad of 361 000 events at a 0.1% allowance.
    close(d28!.budgetRemaining, 1 - 854 / 361_000 / 0.001, 'budget 28d');
  });

  test('calendar month across the DST change in Europe/Berlin', () => {
    const month: SloWindow = { kind: 'calendar', label: 'month', period: 'month', timezone: 'Europe/Berlin' };
    // March 2025 in Berlin: 1 March 00:00 CET = 28 Feb 23:00Z, to 1 April 00:00 CEST = 31 March 22:00Z: 743 hours.
    const start = Date.UTC(2025, 1, 28, 23);
    const { engine, clock } = engineWith([sloConfig('m', 99.9, month)], start - HOUR);
    // 28 Feb 23:30 local (22:30Z) is February: outside the window.
    clock.now = Date.UTC(2025, 1, 28, 22, 30);
    engine.record('m', 0, 50);
    // 1 March 00:30 local (23:30Z) and 31 March 23:59 local (21:59Z, after the change) are inside.
    clock.now = Date.UTC(2025, 1, 28, 23, 30);
    engine.record('m', 999, 1000);
    clock.now = Date.UTC(2025, 2, 30, 1, 30); // the hour skipped in Berlin: 02:00 CET → 03:00 CEST
    engine.record('m', 1000, 1000);
    clock.now = Date.UTC(2025, 2, 31, 21, 59);
    engine.record('m', 1000, 1000);
    const slo = engine.report()[0]!.slos[0]!;
    assert.equal(slo.windowStartMs, start);
    const w = windowOf(slo, 'month');
    assert.equal(w.total, 3000);
    assert.equal(w.good, 2999);
    close(w.burnRate, 1 / 3, 'month burn');
    close(slo.budgetRemaining, 2 / 3, 'budget');
    close(slo.thresholds[0]!.burnRate, 14.86, 'page threshold for 743 h');
    // One minute later it is April in Berlin: a new, empty window.
    clock.now = Date.UTC(2025, 2, 31, 22, 0);
    const april = engine.report()[0]!.slos[0]!;
    assert.equal(april.windowStartMs, Date.UTC(2025, 2, 31, 22));
    assert.equal(windowOf(april, 'month').total, 0);
    assert.equal(april.budgetRemaining, null);
    assert.equal(april.status, 'no_data');
    close(april.thresholds[0]!.burnRate, 14.4, 'April is 720 h');
  });

  test('calendar periods and local days are DST-correct', () => {
    const oct = calendarPeriod(Date.UTC(2025, 9, 15), 'month', 'Europe/Berlin');
    assert.equal(oct.startMs, Date.UTC(2025, 8, 30, 22));
    assert.equal((oct.endMs - oct.startMs) / HOUR, 745);
    const q2 = calendarPeriod(Date.UTC(2025, 4, 15), 'quarter', 'America/New_York');
    assert.equal(q2.startMs, Date.UTC(2025, 3, 1, 4));
    assert.equal(q2.endMs, Date.UTC(2025, 6, 1, 4));
    assert.equal((localDay(Date.UTC(2025, 2, 30, 12), 'Europe/Berlin').endMs - localDay(Date.UTC(2025, 2, 30, 12), 'Europe/Berlin').startMs) / HOUR, 23);
    // Chile moves its clocks at midnight: 8 September 2024 begins at 01:00 local (04:00Z).
    const santiago = localDay(Date.UTC(2024, 8, 8, 12), 'America/Santiago');
    assert.equal(santiago.startMs, Date.UTC(2024, 8, 8, 4));
    assert.equal((santiago.endMs - santiago.startMs) / HOUR, 23);
    const kolkata = localDay(Date.UTC(2025, 0, 8, 12), 'Asia/Kolkata');
    assert.equal(kolkata.startMs, Date.UTC(2025, 0, 7, 18, 30));
  });

  test('daily uptime per local day; days without traffic are no data', () => {
    const window: SloWindow = { kind: 'rolling', label: '30d', minutes: 30 * 1440, timezone: 'Europe/Berlin' };
    const { engine, clock } = engineWith([sloConfig('a', 99.9, window)], Date.UTC(2025, 2, 29, 22, 30));
    // 29 March 23:30 local (22:30Z): the 29th. 30 March 00:30 local (23:30Z on the 29th): the 30th.
    engine.record('a', 9, 10);
    clock.now = Date.UTC(2025, 2, 29, 23, 30);
    engine.record('a', 4, 4);
    clock.now = Date.UTC(2025, 2, 31, 10);
    const days = engine.dailyUptime('a', 5);
    assert.deepEqual(
      days.map((d) => [d.date, d.total, d.sli]),
      [
        ['2025-03-27', 0, null],
        ['2025-03-28', 0, null],
        ['2025-03-29', 10, 0.9],
        ['2025-03-30', 4, 1],
        ['2025-03-31', 0, null],
      ],
    );
    assert.equal((days[3]!.endMs - days[3]!.startMs) / HOUR, 23);
    assert.deepEqual(engine.componentDailyUptime('api', 3), [
      { date: '2025-03-29', sli: 0.9 },
      { date: '2025-03-30', sli: 1 },
      { date: '2025-03-31', sli: null },
    ]);
  });

  test('late events count in their own minute for 10 minutes; older or future ones in the current minute', () => {
    const { engine, clock } = engineWith([sloConfig('a', 99.9, rolling(30))], T0);
    clock.now = T0 + 30 * MIN;
    engine.record('a', 1, 1, T0 + 27 * MIN);
    engine.record('a', 1, 1, T0 + 5 * MIN);
    engine.record('a', 1, 1, T0 + DAY);
    const slo = engine.report()[0]!.slos[0]!;
    assert.equal(windowOf(slo, '5m').total, 3, 'all three in the last 5 minutes');
    clock.now += 5 * MIN;
    assert.equal(windowOf(engine.report()[0]!.slos[0]!, '5m').total, 0);
  });
});

describe('span SLIs', () => {
  const T0 = Date.UTC(2025, 0, 10);
  const slos = [
    sloConfig('avail', 99.9, rolling(30)),
    sloConfig('latency', 99, rolling(30), { type: 'span_latency', spans: SPANS, thresholdSeconds: 0.25 }),
    sloConfig('client', 99, rolling(30), { type: 'span_availability', spans: { service: 'checkout', spanKind: 'CLIENT', spanName: 'GET /pay' } }),
  ];
  const labels = (spanKind: string, spanName = 'GET /', service = 'checkout') => ({ service, spanName, spanKind, statusCode: 'STATUS_CODE_UNSET', attributes: {} });

  test('the series hook selects by service, kind (default SERVER) and name', () => {
    const { engine } = engineWith(slos, T0);
    assert.deepEqual([...engine.spanSeriesHook(labels('SPAN_KIND_SERVER'))!], [0, 1]);
    assert.deepEqual([...engine.spanSeriesHook(labels('SPAN_KIND_CLIENT', 'GET /pay'))!], [2]);
    assert.equal(engine.spanSeriesHook(labels('SPAN_KIND_CLIENT', 'GET /other')), null);
    assert.equal(engine.spanSeriesHook(labels('SPAN_KIND_SERVER', 'GET /', 'cart')), null);
    assert.equal(engine.spanSeriesHook(labels('SPAN_KIND_INTERNAL')), null);
  });

  test('availability counts errors as bad; latency is exact at the threshold', () => {
    const { engine } = engineWith(slos, T0);
    const slots = engine.spanSeriesHook(labels('SPAN_KIND_SERVER'))!;
    engine.onSpan(slots, 0.25, false, T0);
    engine.onSpan(slots, 0.2500001, false, T0);
    engine.onSpan(slots, 0.001, true, T0);
    engine.onSpan(slots, 3, true, T0);
    const [avail, latency] = engine.report()[0]!.slos;
    assert.deepEqual([windowOf(avail!, '5m').good, windowOf(avail!, '5m').total], [2, 4]);
    assert.deepEqual([windowOf(latency!, '5m').good, windowOf(latency!, '5m').total], [2, 4]);
  });
});

describe('metric SLIs', () => {
  const T0 = Date.UTC(2025, 0, 10);

  function counterFamily(name: string, series: [string[], number, number][]): Family {
    const f = new Family(name, 'counter', '', '');
    for (const [labels, value, startMs] of series) {
      const s = new Series(f, labelText(labels), false);
      s.data = SeriesData.Number;
      s.hasValue = true;
      s.value = value;
      s.startMs = startMs;
      f.series.add(s);
    }
    return f;
  }

  test('counters: increases of good and total selected by matchers; old series are a baseline, resets restart', () => {
    const requests = counterFamily('http_requests', [
      [['code', '200', 'job', 'web'], 1000, T0 - DAY],
      [['code', '503', 'job', 'web'], 10, T0 - DAY],
      [['code', '200', 'job', 'other'], 5000, T0 - DAY],
    ]);
    const families = [requests];
    const slo = sloConfig('m', 99, rolling(30), {
      type: 'metric_availability',
      good: { name: 'http_requests_total', matchers: [{ label: 'job', op: '=', value: 'web' }, { label: 'code', op: '!~', value: '5..' }] },
      total: { name: 'http_requests_total', matchers: [{ label: 'job', op: '=', value: 'web' }] },
    });
    const { engine, clock } = engineWith([slo], T0, () => families);
    engine.sampleMetrics();
    assert.equal(windowOf(engine.report()[0]!.slos[0]!, '5m').total, 0, 'series that started before are a baseline');
    const [ok, bad, other] = [...requests.series];
    clock.now += 10_000;
    ok!.value += 90;
    bad!.value += 10;
    other!.value += 1000;
    engine.sampleMetrics();
    let w = windowOf(engine.report()[0]!.slos[0]!, '5m');
    assert.deepEqual([w.good, w.total], [90, 100]);
    // A reset (new start time) counts the new value; a series that started since the last tick counts whole.
    clock.now += 10_000;
    ok!.value = 5;
    ok!.startMs = clock.now - 1000;
    const fresh = new Series(requests, labelText(['code', '500', 'job', 'web']), false);
    fresh.data = SeriesData.Number;
    fresh.hasValue = true;
    fresh.value = 3;
    fresh.startMs = clock.now - 2000;
    requests.series.add(fresh);
    engine.sampleMetrics();
    w = windowOf(engine.report()[0]!.slos[0]!, '5m');
    assert.deepEqual([w.good, w.total], [95, 108]);
  });

  test('histogram latency: buckets at or under the threshold, the bucket holding it split linearly', () => {
    const f = new Family('http_server_duration_seconds', 'histogram', '', 'seconds');
    const s = new Series(f, '', false);
    s.data = SeriesData.Histogram;
    s.hasValue = true;
    s.bounds = new Float64Array([0.1, 0.5, 1]);
    s.counts = new Float64Array([0, 0, 0, 0]);
    s.startMs = T0 - DAY;
    f.series.add(s);
    const slo = sloConfig('h', 99, rolling(30), { type: 'metric_latency', histogram: { name: 'http_server_duration_seconds', matchers: [] }, thresholdSeconds: 0.3 });
    const { engine, clock } = engineWith([slo], T0, () => [f]);
    engine.sampleMetrics();
    clock.now += 1000;
    s.counts.set([60, 20, 15, 5]);
    s.count = 100;
    engine.sampleMetrics();
    const w = windowOf(engine.report()[0]!.slos[0]!, '5m');
    // 60 under 0.1 s, plus half of the 20 in (0.1, 0.5] (0.3 is halfway).
    assert.deepEqual([w.good, w.total], [70, 100]);
  });
});
