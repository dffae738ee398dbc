// The report classifies SLOs from index seeks and the few minutes that can be bad (classifyStored):
// its report must equal the one that reads and classifies every minute (perMinute), on random
// traffic written through Storage.write (so hours and days are rolled up as in vigild): idle
// stretches longer than a window (no data), minutes exactly at the thresholds, minutes split over
// flushes and rewritten whole, incidents and maintenance at odd milliseconds, calendar windows in
// zones other than the report's, months with a DST change or a half-hour offset, and a month in
// progress.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage } from '../../daemon/storage/index.js';
import type { MinuteDelta } from '../../daemon/storage/index.js';
import { StatusStore } from '../status/store.js';
import { validateConfig } from '../../daemon/config/index.js';
import type { Config, SloConfig } from '../../daemon/config/types.js';
import { calendarPeriod, localMidnight } from '../../daemon/slo/calendar.js';
import { ALERT_RULES, scaledThreshold } from '../../daemon/slo/math.js';
import { createReporter } from './index.js';
import type { MonthlyReport } from './index.js';
import { monthBounds } from './compute.js';
import { openReportSource } from './source.js';
import { random as prng } from '../../test-support/random.js';

const MIN = 60_000;
/** Traffic from here to NOW: the month before October (for the windows' history) to mid-November. */
const TRAFFIC_FROM = Date.UTC(2026, 8, 12) / MIN;
/** Mid-November, not on an hour: November is a month in progress. */
const NOW = Date.UTC(2026, 10, 14, 13, 37, 25);

function config(dataDir: string): Config {
  const spans = (service: string) => ({ spans: { service } });
  const result = validateConfig({
    storage: { data_dir: dataDir },
    slo: { timezone: 'Europe/Berlin' },
    components: [
      { id: 'api', name: 'API' },
      { id: 'web', name: 'Web' },
      { id: 'batch', name: 'Batch' },
      { id: 'idle', name: 'Idle' },
    ],
    slos: [
      { id: 'api-30d', component: 'api', objective: 99.9, window: '30d', indicator: { availability: spans('api') } },
      { id: 'api-1d', component: 'api', objective: 99, window: '1d', indicator: { availability: spans('api') } },
      { id: 'web-month', component: 'web', objective: 99, window: { calendar: 'month' }, indicator: { latency: { ...spans('web'), threshold: '250ms' } } },
      { id: 'web-quarter', component: 'web', objective: 95, window: { calendar: 'quarter', timezone: 'Asia/Kolkata' }, indicator: { availability: spans('web') } },
      { id: 'batch-2d', component: 'batch', objective: 99.5, window: '2d', indicator: { latency: { ...spans('batch'), threshold: '1s' } } },
      { id: 'batch-month-utc', component: 'batch', objective: 98, window: { calendar: 'month', timezone: 'UTC' }, indicator: { availability: spans('batch') } },
      { id: 'idle-none', component: 'idle', objective: 99.9, window: '7d', indicator: { availability: spans('idle') } },
      { id: 'idle-before', component: 'idle', objective: 99.9, window: '3d', indicator: { availability: spans('idle2') } },
    ],
  });
  assert.ok('config' in result, JSON.stringify(result));
  return result.config;
}

/** The fast-page threshold × budget in force for `slo` at `minute`: the bad share at which a minute turns. */
function turningShare(slo: SloConfig, minute: number): number {
  const w = slo.window;
  const p = w.kind === 'calendar' ? calendarPeriod(minute * MIN, w.period, w.timezone) : null;
  const windowMinutes = p === null ? (w as { minutes: number }).minutes : (p.endMs - p.startMs) / MIN;
  return scaledThreshold(ALERT_RULES[0]!.baseThreshold, windowMinutes) * Number((1 - slo.objective).toPrecision(12));
}

/** Random traffic for one SLO: idle stretches (some longer than its window), steady, failing; odd minutes sprinkled. */
function traffic(slo: SloConfig, rnd: () => number, deltas: MinuteDelta[]): void {
  const nowMinute = Math.floor(NOW / MIN);
  let m = TRAFFIC_FROM;
  if (slo.id === 'idle-none') return;
  const end = slo.id === 'idle-before' ? Date.UTC(2026, 8, 29, 22, 13) / MIN : nowMinute;
  while (m <= end) {
    const r = rnd();
    const regime = r < 0.25 ? 'idle' : r < 0.85 ? 'steady' : 'failing';
    // Some idle stretches end exactly where a rolling window's data ends (length − 1, length, length + 1 minutes).
    const edge = slo.window.kind === 'rolling' && slo.window.minutes <= 3 * 1440 && rnd() < 0.3 ? slo.window.minutes - 2 + Math.floor(rnd() * 3) : null;
    const length =
      regime === 'idle'
        ? (edge ?? (rnd() < 0.3 ? 1400 + Math.floor(rnd() * 2200) : 1 + Math.floor(rnd() * 300)))
        : regime === 'steady'
          ? 30 + Math.floor(rnd() * 3000)
          : 1 + Math.floor(rnd() * 90);
    for (let i = 0; i < length && m <= end; i++, m++) {
      if (regime === 'idle') continue;
      const odd = rnd();
      let good: number;
      let total: number;
      if (odd < 0.01) {
        // Exactly at the turning share, or one event either side of it.
        total = 100_000;
        good = total - Math.round(turningShare(slo, m) * total) + Math.floor(rnd() * 3) - 1;
      } else if (odd < 0.015) {
        total = 100;
        good = 50 + Math.floor(rnd() * 3) - 1; // around half bad: major or not
      } else if (odd < 0.018) {
        total = 0; // a stored minute without events
        good = 0;
      } else if (odd < 0.02) {
        total = 5;
        good = 7; // more good than total (never from spans): operational, and an event
      } else {
        total = 1 + Math.floor(rnd() * 200);
        const bad = regime === 'failing' ? Math.floor(rnd() * (total + 1)) : rnd() < 0.6 ? 0 : rnd() < 0.9 ? 1 : Math.floor(rnd() * total * 0.1);
        good = total - bad;
      }
      const split = rnd();
      if (split < 0.1 && total > 1) {
        // Two flushes of the same minute.
        const t1 = Math.floor(total / 2);
        const g1 = Math.min(t1, good);
        deltas.push({ slo: slo.id, minute: m, good: g1, total: t1 }, { slo: slo.id, minute: m, good: good - g1, total: total - t1 });
      } else if (split < 0.13) {
        // Written, then rewritten whole (a wall clock stepped back).
        deltas.push({ slo: slo.id, minute: m, good: 3, total: 9 }, { slo: slo.id, minute: m, good, total, absolute: true });
      } else deltas.push({ slo: slo.id, minute: m, good, total });
    }
  }
}

/** Incidents and maintenances at odd milliseconds around October and November. */
function statusEvents(dir: string, rnd: () => number): void {
  let clock = 0;
  const status = StatusStore.open({ dataDir: dir, now: () => clock });
  const at = (): number => Date.UTC(2026, 8, 28) + Math.floor(rnd() * 47 * 86_400_000) + Math.floor(rnd() * 1000);
  const statuses = ['degraded_performance', 'partial_outage', 'major_outage', 'under_maintenance', 'operational'] as const;
  for (let i = 0; i < 12; i++) {
    const start = at();
    const component = ['api', 'web', 'batch', 'idle'][Math.floor(rnd() * 4)]!;
    clock = start;
    const inc = status.createIncident({ name: `incident ${i}`, impact: 'minor', status: 'investigating', message: 'x', components: { [component]: statuses[Math.floor(rnd() * 4)]! } });
    clock += Math.floor(rnd() * 5 * 3_600_000);
    status.addIncidentUpdate(inc.id, { status: 'identified', message: 'y', components: { [component]: statuses[Math.floor(rnd() * 5)]! } });
    clock += Math.floor(rnd() * 5 * 3_600_000);
    // Some stay open: they run to the report's end.
    if (rnd() < 0.8 && clock < NOW) status.addIncidentUpdate(inc.id, { status: 'resolved', message: 'z', components: { [component]: 'operational' } });
  }
  for (let i = 0; i < 6; i++) {
    const start = at();
    clock = start - 86_400_000;
    status.createMaintenance({ name: `maintenance ${i}`, scheduledForMs: start, scheduledUntilMs: start + Math.floor(rnd() * 6 * 3_600_000), components: [['api', 'web', 'batch'][i % 3]!], message: 'planned' });
  }
  status.close();
}

const MONTHS: { month: string; timezone: string }[] = [
  { month: '2026-10', timezone: 'Europe/Berlin' }, // 745 hours: DST ends on the 25th
  { month: '2026-10', timezone: 'Asia/Kolkata' }, // +5:30: the month starts and ends mid-hour
  { month: '2026-10', timezone: 'UTC' },
  { month: '2026-11', timezone: 'America/St_Johns' }, // in progress, −3:30
  { month: '2026-11', timezone: 'UTC' }, // in progress
];

for (const seed of [1, 2, 3]) {
  describe(`report from stored minutes equals the per-minute report (seed ${seed})`, () => {
    let dir: string;
    let cfg: Config;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'vigil-report-stored-'));
      cfg = config(dir);
      const rnd = prng(seed);
      const storage = Storage.open({ dataDir: dir, now: () => NOW });
      const deltas: MinuteDelta[] = [];
      for (const slo of cfg.slos) traffic(slo, rnd, deltas);
      for (let i = 0; i < deltas.length; i += 20_000) storage.write(deltas.slice(i, i + 20_000));
      storage.close();
      statusEvents(dir, rnd);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    for (const { month, timezone } of MONTHS) {
      test(`${month} in ${timezone}`, () => {
        const fast = createReporter(cfg, { now: () => NOW }).generate(month, { timezone });
        const exact = createReporter(cfg, { now: () => NOW, perMinute: true }).generate(month, { timezone });
        assert.deepStrictEqual(fast, exact);
        // Not vacuous: every SLO took the stored path, and the month has every kind of minute.
        const [year, mon] = month.split('-').map(Number) as [number, number];
        const { startMs, endMs } = monthBounds(year, mon, timezone);
        const source = openReportSource(dir);
        try {
          for (const slo of cfg.slos) assert.notEqual(source.stored!(slo.id, Math.ceil(startMs / MIN), Math.ceil(Math.min(endMs, NOW) / MIN)), null, slo.id);
        } finally {
          source.close();
        }
        const kinds = (r: MonthlyReport, key: 'operational' | 'degraded_performance' | 'partial_outage' | 'major_outage') => r.slos.reduce((n, s) => n + s.statusMinutes[key], 0);
        for (const key of ['operational', 'degraded_performance', 'partial_outage', 'major_outage'] as const) assert.ok(kinds(exact, key) > 0, `${key} minutes`);
        const length = (exact.untilMs - exact.startMs) / MIN;
        const noData = exact.slos.filter((s) => s.id.startsWith('idle-') === false).reduce((n, s) => n + length - Object.values(s.statusMinutes).reduce((a, b) => a + b, 0), 0);
        assert.ok(noData > 0, 'no-data minutes of SLOs with traffic');
        assert.ok(exact.components.some((c) => c.minutes.maintenance > 0 || c.incidents.length > 0));
        assert.ok(exact.slos.some((s) => s.total > 0 && s.total !== s.good));
      });
    }
  });
}

describe('report from stored minutes: where minutes were pruned, the per-minute path spreads hours', () => {
  let dir: string;
  let cfg: Config;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-report-pruned-'));
    cfg = config(dir);
    const storage = Storage.open({ dataDir: dir, now: () => NOW });
    const from = localMidnight(2026, 10, 1, 'Europe/Berlin') / MIN;
    const deltas: MinuteDelta[] = [];
    for (let m = from; m < from + 3 * 1440; m++) deltas.push({ slo: 'api-30d', minute: m, good: m % 7 === 0 ? 40 : 100, total: 100 });
    storage.write(deltas);
    storage.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the stored path declines the SLO whose hours would be spread, and the reports agree', () => {
    const from = Math.ceil(localMidnight(2026, 10, 1, 'Europe/Berlin') / MIN);
    const to = Math.ceil(localMidnight(2026, 11, 1, 'Europe/Berlin') / MIN);
    // Retention 35 days later: the minutes of the first two days go, their hours stay.
    const s = Storage.open({ dataDir: dir, now: () => from * MIN + 2 * 86_400_000 + 35 * 86_400_000 });
    s.prune();
    s.close();
    const src = openReportSource(dir);
    try {
      assert.equal(src.stored!('api-30d', from, to), null);
      assert.notEqual(src.stored!('api-1d', from, to), null);
    } finally {
      src.close();
    }
    const fast = createReporter(cfg, { now: () => NOW }).generate('2026-10');
    const exact = createReporter(cfg, { now: () => NOW, perMinute: true }).generate('2026-10');
    assert.equal(exact.resolution, 'hour');
    assert.deepStrictEqual(fast, exact);
  });
});
