// The monthly report against a hand-computed month (docs/reports.md, worked example):
// October 2026 in Europe/Berlin (745 hours: DST ends on the 25th), known outages, a maintenance window
// and incidents; the same figures in all four formats.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage } from '../../daemon/storage/index.js';
import type { MinuteDelta } from '../../daemon/storage/index.js';
import { StatusStore } from '../status/store.js';
import { validateConfig } from '../../daemon/config/index.js';
import type { Config } from '../../daemon/config/types.js';
import { localMidnight } from '../../daemon/slo/calendar.js';
import { createReporter, ReportDataError, ReportRequestError } from './index.js';
import type { MonthlyReport } from './index.js';
import { CSV_COLUMNS, PERCENT_DIGITS, CSV_PERCENT_DIGITS, csvField, escapeHtml } from './render.js';

const MIN = 60_000;
const ZONE = 'Europe/Berlin';
/** Berlin wall clock → epoch ms (October 2026; DST until the 25th at 03:00). */
const berlin = (day: number, hour: number, minute = 0): number => localMidnight(2026, 10, day, ZONE) + (hour * 60 + minute) * MIN;
const MONTH_START = localMidnight(2026, 10, 1, ZONE);
const MONTH_END = localMidnight(2026, 11, 1, ZONE);
const NOW = Date.UTC(2026, 10, 15, 12);
const EVIL = '<script>alert(1)</script> | =cmd() "quoted", *bold*';

/** A month of traffic: 100 events a minute, all good, except the ranges given. */
function traffic(): { availability: MinuteDelta[]; latency: MinuteDelta[] } {
  const availability: MinuteDelta[] = [];
  const latency: MinuteDelta[] = [];
  const inRange = (ms: number, from: number, minutes: number) => ms >= from && ms < from + minutes * MIN;
  for (let ms = MONTH_START; ms < MONTH_END; ms += MIN) {
    const minute = ms / MIN;
    if (inRange(ms, berlin(25, 1), 120)) continue; // a quiet night on the DST day: no events at all
    let good = 100;
    if (inRange(ms, berlin(10, 12), 30)) good = 0; // outage: everything fails → 30 major minutes
    else if (inRange(ms, berlin(15, 9), 60)) good = 95; // 5% errors ≥ 1.44% → 60 partial minutes
    else if (inRange(ms, berlin(16, 9), 60)) good = 99; // 1% errors < 1.44% → operational
    else if (inRange(ms, berlin(20, 2), 120)) good = 0; // fails during maintenance → excluded
    availability.push({ slo: 'api-availability', minute, good, total: 100 });
    latency.push({ slo: 'api-latency', minute, good: inRange(ms, berlin(5, 8), 60) ? 80 : 100, total: 100 });
  }
  return { availability, latency };
}

function config(dataDir: string): Config {
  const result = validateConfig({
    storage: { data_dir: dataDir },
    slo: { timezone: ZONE },
    components: [{ id: 'api', name: 'API' }, { id: 'web', name: 'Web' }],
    slos: [
      { id: 'api-availability', component: 'api', objective: 99.9, window: '30d', indicator: { availability: { spans: { service: 'api' } } } },
      { id: 'api-latency', component: 'api', objective: 99, window: { calendar: 'month' }, indicator: { latency: { spans: { service: 'api' }, threshold: '250ms' } } },
      { id: 'web-availability', component: 'web', objective: 99.5, window: '28d', indicator: { availability: { spans: { service: 'web' } } } },
    ],
  });
  assert.ok('config' in result, JSON.stringify(result));
  return result.config;
}

describe('monthly report: October 2026, Europe/Berlin', () => {
  let dir: string;
  let report: MonthlyReport;
  let reporter: ReturnType<typeof createReporter>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-report-'));
    const storage = Storage.open({ dataDir: dir, now: () => NOW });
    const t = traffic();
    storage.write([...t.availability, ...t.latency]);
    storage.close();
    let clock = 0;
    const status = StatusStore.open({ dataDir: dir, now: () => clock });
    // Declared while traffic was already failing, resolved 10 minutes after it recovered: worst wins, +10 major.
    clock = berlin(10, 12, 10);
    const outage = status.createIncident({ name: 'API down', impact: 'critical', status: 'investigating', message: 'Looking', components: { api: 'major_outage' } });
    clock = berlin(10, 12, 40);
    status.addIncidentUpdate(outage.id, { status: 'resolved', message: 'Fixed', components: { api: 'operational' } });
    // Traffic was fine; the incident alone says partial for 20 minutes.
    clock = berlin(22, 14);
    const partial = status.createIncident({ name: EVIL, impact: 'minor', status: 'identified', message: 'x', components: { api: 'partial_outage' } });
    clock = berlin(22, 14, 20);
    status.addIncidentUpdate(partial.id, { status: 'resolved', message: 'y' });
    clock = berlin(1, 0);
    status.createMaintenance({ name: 'Database upgrade', scheduledForMs: berlin(20, 2), scheduledUntilMs: berlin(20, 4), components: ['api'], message: 'planned' });
    status.close();
    reporter = createReporter(config(dir), { now: () => NOW });
    report = reporter.generate('2026-10');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the month is 745 hours in Berlin and complete', () => {
    assert.equal(report.startMs, Date.UTC(2026, 8, 30, 22));
    assert.equal(report.endMs, Date.UTC(2026, 9, 31, 23));
    assert.equal((report.endMs - report.startMs) / MIN, 44_700);
    assert.equal(report.complete, true);
    assert.equal(report.resolution, 'minute');
  });

  test('api: the hand-computed minutes and uptime', () => {
    const api = report.components.find((c) => c.id === 'api')!;
    assert.deepEqual(api.minutes, {
      operational: 44_700 - 120 - 40 - 80 - 60,
      degradedPerformance: 60, // the latency SLO's slow hour (20% slow ≥ 14.4 × 44,700/43,200 × 1%)
      partialOutage: 60 + 20,
      majorOutage: 30 + 10,
      maintenance: 120,
      noData: 0,
    });
    assert.equal(api.countedMinutes, 44_580);
    assert.equal(api.downtimeMinutes, 40 + 0.3 * 80);
    assert.equal(api.uptimeRatio, 1 - 64 / 44_580);
    assert.equal((api.uptimeRatio! * 100).toFixed(4), '99.8564');
    assert.equal(api.incidents.length, 2);
  });

  test('web: no data at all is no uptime, not 100%', () => {
    const web = report.components.find((c) => c.id === 'web')!;
    assert.equal(web.uptimeRatio, null);
    assert.equal(web.minutes.noData, 44_700);
    assert.equal(web.countedMinutes, 0);
  });

  test('SLO attainment and budget consumed over the month', () => {
    const avail = report.slos.find((s) => s.id === 'api-availability')!;
    const total = (44_700 - 120) * 100;
    const bad = 30 * 100 + 60 * 5 + 60 * 1 + 120 * 100;
    assert.equal(avail.total, total);
    assert.equal(avail.good, total - bad);
    assert.equal(avail.sli, (total - bad) / total);
    assert.equal(avail.met, false);
    assert.equal(avail.budgetConsumed, bad / total / 0.001);
    const latency = report.slos.find((s) => s.id === 'api-latency')!;
    assert.equal(latency.budgetConsumed, (60 * 20) / total / 0.01);
    assert.equal(latency.met, true);
    const web = report.slos.find((s) => s.id === 'web-availability')!;
    assert.deepEqual([web.sli, web.met, web.budgetConsumed], [null, null, null]);
  });

  test('incidents with durations, maintenance with its minutes', () => {
    assert.deepEqual(
      report.incidents.map((i) => [i.name, i.durationMinutes, i.minutesInMonth, i.components]),
      [
        ['API down', 30, 30, ['api']],
        [EVIL, 20, 20, ['api']],
      ],
    );
    assert.deepEqual(report.maintenances.map((m) => [m.name, m.minutesInMonth]), [['Database upgrade', 120]]);
  });

  test('json carries the exact figures', () => {
    const json = JSON.parse(reporter.render('2026-10', 'json').body) as {
      components: { id: string; uptime_ratio: number | null; uptime_percent: number | null; downtime_minutes: number; minutes: Record<string, number> }[];
      slos: { id: string; sli: number | null; budget_consumed: number | null }[];
    };
    const api = json.components.find((c) => c.id === 'api')!;
    assert.equal(api.uptime_ratio, 1 - 64 / 44_580);
    assert.equal(api.uptime_percent, (1 - 64 / 44_580) * 100);
    assert.equal(api.downtime_minutes, 64);
    assert.equal(api.minutes['under_maintenance'], 120);
    assert.equal(json.components.find((c) => c.id === 'web')!.uptime_ratio, null);
  });

  test('csv: one row per component, SLO, incident and maintenance, same figures', () => {
    const csv = reporter.render('2026-10', 'csv').body;
    const lines = csv.trimEnd().split('\r\n');
    assert.equal(lines[0], CSV_COLUMNS.join(','));
    const api = lines.find((l) => l.startsWith('component,api,'))!.split(',');
    const col = (name: (typeof CSV_COLUMNS)[number]) => api[CSV_COLUMNS.indexOf(name)];
    assert.equal(col('uptime_percent'), ((1 - 64 / 44_580) * 100).toFixed(CSV_PERCENT_DIGITS));
    assert.equal(col('downtime_minutes'), '64');
    assert.equal(col('counted_minutes'), '44580');
    assert.equal(col('maintenance_minutes'), '120');
    const web = lines.find((l) => l.startsWith('component,web,'))!.split(',');
    assert.equal(web[CSV_COLUMNS.indexOf('uptime_percent')], '');
    assert.equal(lines.filter((l) => l.startsWith('slo,')).length, 3);
    assert.ok(lines.some((l) => l.startsWith('maintenance,') && l.includes('Database upgrade')));
    // The injection attempt is quoted and defused for spreadsheets.
    assert.ok(csv.includes(csvField(EVIL, true)));
    assert.equal(csvField('=1+1', true), "'=1+1");
  });

  test('markdown: the same rounded figures, user text escaped', () => {
    const md = reporter.render('2026-10', 'md').body;
    const row = md.split('\n').find((l) => l.startsWith('| API |'))!;
    const cells = row.split('|').map((c) => c.trim());
    assert.equal(cells[2], ((1 - 64 / 44_580) * 100).toFixed(PERCENT_DIGITS));
    assert.equal(cells[3], '64');
    assert.equal(cells[4], '44580');
    assert.ok(!md.includes('<script>'));
    assert.ok(md.includes('&lt;script&gt;'));
    // Every table row has the header's number of cells: the | in the name is escaped.
    const incidentRows = md.split('\n').filter((l) => l.includes('alert'));
    assert.equal(incidentRows.length, 1);
    assert.equal(incidentRows[0]!.split(/(?<!\\)\|/).length, '| incident | impact | started | resolved | duration | components |'.split('|').length);
  });

  test('html: self-contained, escaped, same figures', () => {
    const html = reporter.render('2026-10', 'html').body;
    assert.match(html, /^<!doctype html>/);
    assert.ok(!/<script|<link|src=|href=/i.test(html), 'no scripts and no external assets');
    assert.ok(html.includes(escapeHtml(EVIL)));
    assert.ok(html.includes(`<td class="n">${((1 - 64 / 44_580) * 100).toFixed(PERCENT_DIGITS)}</td>`));
    assert.ok(html.includes('2026-10-20 02:00'), 'times in the report zone');
  });

  test('in UTC the month is shorter and the figures follow', () => {
    const utc = reporter.generate('2026-10', { timezone: 'UTC' });
    assert.equal((utc.endMs - utc.startMs) / MIN, 44_640);
    const api = utc.components.find((c) => c.id === 'api')!;
    // The last UTC hour (Oct 31 23:00–24:00) has no events but the SLOs had some in their window: operational.
    assert.equal(api.minutes.majorOutage, 40);
    assert.equal(api.minutes.maintenance, 120);
  });

  test('a month in progress stops at now; a future month, a bad month or zone is a request error', () => {
    const partial = createReporter(config(dir), { now: () => berlin(10, 12, 15) }).generate('2026-10');
    assert.equal(partial.complete, false);
    assert.equal(partial.untilMs, berlin(10, 12, 15));
    assert.equal(partial.components[0]!.minutes.majorOutage, 15);
    assert.throws(() => reporter.generate('2026-12'), ReportRequestError);
    assert.throws(() => reporter.generate('2026-13'), ReportRequestError);
    assert.throws(() => reporter.generate('2026-10', { timezone: 'Mars/Olympus' }), ReportRequestError);
    assert.throws(() => reporter.render('2026-10', 'pdf' as 'md'), ReportRequestError);
  });

  test('no database in the data dir is a data error', () => {
    const empty = mkdtempSync(join(tmpdir(), 'vigil-report-empty-'));
    try {
      assert.throws(() => createReporter(config(empty)).generate('2026-10'), (err: unknown) => err instanceof ReportDataError && err.code === 'VIGIL_REPORT_NO_DATA');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
