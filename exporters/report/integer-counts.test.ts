// Regression (issue 15): `vigil report` gave "good": 1959.9999999999984, "total": 2000.0000000000016
// for 2,000 spans. Cause: for a month that began before the oldest stored minute, the hour holding that
// minute was "spread" over the minutes before it after subtracting only the minutes the report covers,
// so the events of the minute in progress (stored, in the hour's rollup, but after the report's end)
// were added again as fractions (count ÷ minutes). Event counts must be integers in every format, and
// equal to what was stored.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DB_FILE, Storage } from '../../daemon/storage/index.js';
import type { MinuteDelta } from '../../daemon/storage/index.js';
import { validateConfig } from '../../daemon/config/index.js';
import type { Config } from '../../daemon/config/types.js';
import { createReporter, renderReport } from './index.js';
import { spreadShare } from './source.js';

const MIN = 60_000;
/** 2026-10-15 12:30:20 UTC: the minute in progress is 12:30. */
const NOW = Date.UTC(2026, 9, 15, 12, 30, 20);
const at = (hour: number, minute: number): number => Date.UTC(2026, 9, 15, hour, minute) / MIN;

function config(dataDir: string): Config {
  const result = validateConfig({
    storage: { data_dir: dataDir },
    slo: { timezone: 'UTC' },
    components: [{ id: 'api', name: 'API' }],
    slos: [{ id: 'api-availability', component: 'api', objective: 99, window: '30d', indicator: { availability: { spans: { service: 'api' } } } }],
  });
  assert.ok('config' in result, JSON.stringify(result));
  return result.config;
}

function assertIntegerCountsInEveryFormat(report: ReturnType<ReturnType<typeof createReporter>['generate']>, good: number, total: number): void {
  const slo = report.slos[0]!;
  assert.equal(slo.good, good);
  assert.equal(slo.total, total);
  assert.ok(Number.isInteger(slo.good) && Number.isInteger(slo.total), `integers: ${slo.good}/${slo.total}`);
  assert.equal(slo.sli, good / total);
  const json = JSON.parse(renderReport(report, 'json')) as { slos: { good: number; total: number }[] };
  assert.equal(json.slos[0]!.good, good);
  assert.equal(json.slos[0]!.total, total);
  const csvRow = renderReport(report, 'csv').split('\r\n').find((l) => l.startsWith('slo,'))!;
  assert.match(csvRow, new RegExp(`,${good},${total},`));
  assert.ok(renderReport(report, 'md').includes(`| ${good} | ${total} |`));
  const html = renderReport(report, 'html');
  assert.ok(html.includes(`>${good}</td>`) && html.includes(`>${total}</td>`));
  assert.ok(Number.isInteger(json.slos[0]!.good) && Number.isInteger(json.slos[0]!.total), 'json: no residue such as 1959.9999999999984');
}

describe('regression: report counts were fractions when the minute in progress was in the hourly rollup', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-report-int-'));
    // Vigil started at 12:07 this month: 23 whole minutes of 80 spans (2 errors each), then the
    // minute in progress with 10 spans (7 errors), flushed already (flush_interval 1s), and the
    // minute rollup run (every minute) so the 12:00 hour holds all of them.
    const storage = Storage.open({ dataDir: dir, now: () => NOW });
    const deltas: MinuteDelta[] = [];
    for (let m = at(12, 7); m < at(12, 30); m++) deltas.push({ slo: 'api-availability', minute: m, good: 78, total: 80 });
    deltas.push({ slo: 'api-availability', minute: at(12, 30), good: 3, total: 10 });
    storage.write(deltas);
    storage.rollup();
    storage.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('good and total are the stored whole minutes, integers, in json, csv, md and html', () => {
    const report = createReporter(config(dir), { now: () => NOW }).generate('2026-10');
    // 23 minutes × 80 = 1,840 spans, 46 errors; the minute in progress is not in the report.
    assertIntegerCountsInEveryFormat(report, 1794, 1840);
    assert.equal(report.resolution, 'minute');
  });
});

describe('minutes past retention come from hourly rollups as whole events', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-report-int-'));
    const storage = Storage.open({ dataDir: dir, now: () => NOW });
    const deltas: MinuteDelta[] = [];
    // 09:00–09:59: 7 events a minute (8 in the first), one bad every third minute (two in the first); 10:00–12:29: 80 a minute.
    for (let m = at(9, 0); m < at(10, 0); m++) deltas.push({ slo: 'api-availability', minute: m, good: (m - at(9, 0)) % 3 === 0 ? 6 : 7, total: m === at(9, 0) ? 8 : 7 });
    for (let m = at(10, 0); m < at(12, 30); m++) deltas.push({ slo: 'api-availability', minute: m, good: 80, total: 80 });
    storage.write(deltas);
    storage.rollup();
    storage.close();
    // The 09:00 minutes pruned as retention would (only the hour is left).
    const db = new Database(join(dir, DB_FILE));
    db.prepare('DELETE FROM slo_minute WHERE minute < ?').run(at(10, 0));
    db.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('an hour of 421 events (21 bad) spread over its minutes sums to exactly 421 and 400 good', () => {
    const report = createReporter(config(dir), { now: () => NOW }).generate('2026-10');
    assert.equal(report.resolution, 'hour');
    assertIntegerCountsInEveryFormat(report, 400 + 150 * 80, 421 + 150 * 80);
  });

  test('spreadShare: whole shares that sum to the count, the remainder to the first minutes', () => {
    for (const [count, span] of [[0, 60], [7, 60], [60, 60], [61, 60], [1999, 60], [5, 3]] as const) {
      const shares = Array.from({ length: span }, (_, k) => spreadShare(count, span, k));
      assert.equal(shares.reduce((a, b) => a + b, 0), count);
      assert.ok(shares.every((s) => Number.isInteger(s) && s >= Math.floor(count / span) && s <= Math.ceil(count / span)));
    }
  });
});
