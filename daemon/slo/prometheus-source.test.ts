// Regression (issue 12): a status instance (slo.source.prometheus) down for longer than the engine's
// 256-minute ring, or cut off from Prometheus that long, came back without the older minutes:
// setMinutes() skipped every minute the ring no longer held, so SQLite, the windows, the daily
// uptime and the report missed them for good. And a restart asked the whole backfill window again
// (30 days by default) although SQLite already held all but the minutes it missed.
//
// Real Prometheus 2.42 holds 70 hours of three replicas' vigil_slo_events_total (written with
// promtool as if scraped every minute: a counter reset, no-traffic minutes and a 2 h 16 min scrape
// gap Prometheus cannot answer for); the status instance runs on injected time against it with a
// real SQLite file. After each outage (status instance down 6 h; Prometheus unreachable 6 h; status
// instance down 54 h, past the hour ring) every minute must be in SQLite, its hours and days, the
// engine's windows and daily counts exactly once, and stay so when asked again and after a restart.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ComponentConfig, SloConfig, SloSourceSettings, SloWindow } from '../config/types.js';
import { Storage } from '../storage/index.js';
import { HAVE_PROMETHEUS, startPrometheusWithConfig } from '../../test-support/prometheus.js';
import type { OwnedPrometheus } from '../../test-support/prometheus.js';
import { freePort } from '../../test-support/wait.js';
import { random as prng } from '../../test-support/random.js';
import { SloEngine } from './engine.js';
import { REPORT_WINDOWS } from './math.js';
import { PrometheusSloSource } from './prometheus-source.js';

const MIN = 60_000;
const HOUR_MIN = 60;
const DAY_MIN = 1440;
const API: ComponentConfig = { id: 'api', name: 'API', group: null, description: null };
const SPANS = { service: 'checkout', spanKind: 'SERVER' as const, spanName: null };
const rolling = (days: number): SloWindow => ({ kind: 'rolling', label: `${days}d`, minutes: days * 1440, timezone: 'UTC' });
const slo = (id: string, window: SloWindow): SloConfig => ({ id, name: id, component: 'api', objectivePercent: 99.5, objective: 0.995, window, indicator: { type: 'span_availability', spans: SPANS } });
const SLOS = [slo('checkout', rolling(30)), slo('search', rolling(28))];
const REPLICAS = 3;

// The fleet's history, minute by minute: replica r's counter of (slo, outcome) is sampled once per
// minute m at m·60 + 30 s, so the step increase Prometheus gives for minute m is the sample of m
// minus that of m − 1 (a reset: the new value). That is the expected fleet count of minute m.
const nowMinuteReal = Math.floor(Date.now() / MIN);
const FIRST = nowMinuteReal - 70 * HOUR_MIN;
const LAST = nowMinuteReal - 20;
/** Prometheus holds no sample of any replica in [GAP, GAP + GAP_MINUTES - 1]: it cannot answer for GAP … GAP + GAP_MINUTES. */
const GAP = FIRST + 64 * HOUR_MIN - 300;
const GAP_MINUTES = 136;
const RESET = FIRST + 9 * HOUR_MIN + 7;

interface Expected {
  good: Map<string, Float64Array>;
  total: Map<string, Float64Array>;
}

function history(): { openMetrics: string; expected: Expected } {
  const random = prng(20261203);
  const n = LAST - FIRST + 1;
  const expected: Expected = { good: new Map(), total: new Map() };
  const lines = ['# TYPE vigil_slo_events counter'];
  for (const s of SLOS) {
    const good = new Float64Array(n);
    const total = new Float64Array(n);
    expected.good.set(s.id, good);
    expected.total.set(s.id, total);
    for (let r = 0; r < REPLICAS; r++) {
      const value = { good: 1000 * (r + 1), bad: 10 * r };
      const samples: Record<'good' | 'bad', string[]> = { good: [], bad: [] };
      for (let m = FIRST; m <= LAST; m++) {
        const idle = m % 37 === 0;
        const inc = { good: idle ? 0 : Math.floor(random() * 40), bad: idle ? 0 : Math.floor(random() * 3) };
        if (r === 1 && m === RESET) {
          value.good = 0;
          value.bad = 0;
        }
        value.good += inc.good;
        value.bad += inc.bad;
        const scraped = m < GAP || m >= GAP + GAP_MINUTES;
        // Counted when Prometheus holds this minute's sample and the one before (the first minute
        // has no previous value, and the first after the gap none within the 5m lookback).
        if (scraped && m > FIRST && m !== GAP + GAP_MINUTES) {
          good[m - FIRST]! += inc.good;
          total[m - FIRST]! += inc.good + inc.bad;
        }
        if (!scraped) continue;
        for (const o of ['good', 'bad'] as const) samples[o].push(`vigil_slo_events_total{job="vigil",instance="replica-${r}",slo="${s.id}",component="api",outcome="${o}"} ${value[o]} ${m * 60 + 30}`);
      }
      lines.push(...samples.good, ...samples.bad);
    }
  }
  lines.push('# EOF', '');
  return { openMetrics: lines.join('\n'), expected };
}

/** Sum of the expected counts of `id` over minutes [from, to] ∩ [stored.from, stored.to]. */
function expectedSum(expected: Expected, id: string, from: number, to: number, stored: { from: number; to: number }): { good: number; total: number } {
  let good = 0;
  let total = 0;
  for (let m = Math.max(from, stored.from, FIRST); m <= Math.min(to, stored.to, LAST); m++) {
    good += expected.good.get(id)![m - FIRST]!;
    total += expected.total.get(id)![m - FIRST]!;
  }
  return { good, total };
}

describe('slo.source.prometheus backfills outages longer than the minute ring, exactly once', { skip: !HAVE_PROMETHEUS && 'prometheus and promtool are needed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-source-'));
  const dataDir = join(dir, 'status');
  const promData = join(dir, 'prometheus');
  const promConfig = join(dir, 'prometheus.yml');
  let expected: Expected;
  let prometheus: OwnedPrometheus | undefined;
  let promPort: number;
  const clock = { now: 0 };
  let engine: SloEngine | null = null;

  before(async () => {
    const h = history();
    expected = h.expected;
    writeFileSync(join(dir, 'history.om'), h.openMetrics);
    const run = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', join(dir, 'history.om'), promData], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 0, `promtool tsdb create-blocks-from openmetrics: ${run.stdout}${run.stderr}`);
    writeFileSync(promConfig, 'global: { scrape_interval: 1m }\n');
    promPort = await freePort();
    prometheus = await startPrometheusWithConfig(promConfig, promData, promPort);
  });

  after(async () => {
    await engine?.shutdown();
    await prometheus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const settings = (backfillMs: number | null): SloSourceSettings => ({ kind: 'prometheus', url: `http://127.0.0.1:${promPort}`, headers: {}, bearerToken: null, intervalMs: MIN, timeoutMs: 30_000, backfillMs });
  const openEngine = (): SloEngine => {
    const e = new SloEngine({ components: [API], slos: SLOS, flushIntervalMs: 3_600_000, now: () => clock.now, openStorage: () => Storage.open({ dataDir, now: () => clock.now }) });
    e.start();
    return e;
  };
  const source = (e: SloEngine, backfillMs: number | null = null): PrometheusSloSource => new PrometheusSloSource({ settings: settings(backfillMs), slos: SLOS, sink: e, now: () => clock.now });
  /** 15 s into a minute: the current minute's sample (at 30 s) is not there yet, so it has no events. */
  const at = (minute: number): number => minute * MIN + 15_000;

  /** The minutes the status instance has been told about: from its first backfill to the last poll. */
  const stored = { from: 0, to: 0 };

  /** SQLite's minutes, hours and days, and the engine's windows and UTC days, against the history. */
  function assertExact(e: SloEngine, when: string, dbDir = dataDir): void {
    const db = new Database(join(dbDir, 'vigil.db'), { readonly: true });
    try {
      for (const s of SLOS) {
        const rows = new Map((db.prepare('SELECT minute, good, total FROM slo_minute WHERE slo = ?').all(s.id) as { minute: number; good: number; total: number }[]).map((r) => [r.minute, r]));
        let wrong = 0;
        let first = '';
        for (let m = Math.min(stored.from, FIRST) - 10; m <= stored.to + 10; m++) {
          const want = m >= stored.from && m <= stored.to ? expectedSum(expected, s.id, m, m, stored) : { good: 0, total: 0 };
          const row = rows.get(m) ?? { good: 0, total: 0 };
          if (row.good !== want.good || row.total !== want.total) {
            wrong++;
            first ||= `minute ${m} (${new Date(m * MIN).toISOString()}): stored ${row.good}/${row.total}, expected ${want.good}/${want.total}`;
          }
        }
        assert.equal(wrong, 0, `${when}: ${s.id}: ${wrong} minutes in SQLite differ from the fleet's; first: ${first}`);
        for (const [table, key, size] of [['slo_hour', 'hour', HOUR_MIN], ['slo_day', 'day', DAY_MIN]] as const) {
          for (const r of db.prepare(`SELECT ${key} AS at, good, total FROM ${table} WHERE slo = ?`).all(s.id) as { at: number; good: number; total: number }[]) {
            const want = expectedSum(expected, s.id, r.at * size, r.at * size + size - 1, stored);
            assert.deepEqual({ good: r.good, total: r.total }, want, `${when}: ${s.id}: ${table} ${r.at} is not the sum of its minutes`);
          }
        }
        const nowMinute = Math.floor(clock.now / MIN);
        const report = e.sloReport(s.id)!;
        const lengths = new Map([...REPORT_WINDOWS.map((w) => [w.label, w.minutes] as const), [s.window.label, s.window.kind === 'rolling' ? s.window.minutes : 0]]);
        for (const w of report.windows) {
          const want = expectedSum(expected, s.id, nowMinute - lengths.get(w.window)! + 1, nowMinute, stored);
          assert.deepEqual({ good: w.good, total: w.total }, want, `${when}: ${s.id}: window ${w.window}`);
        }
        const days = e.dailyCounts(s.id, 5);
        days.days.forEach((d, i) => {
          const want = expectedSum(expected, s.id, d.startMs / MIN, d.endMs / MIN - 1, stored);
          assert.deepEqual({ good: days.good[i], total: days.total[i] }, want, `${when}: ${s.id}: day ${d.date}`);
        });
      }
    } finally {
      db.close();
    }
  }

  test('up, down 6 h, back: the 6 h are backfilled (past the minute ring) from the newest stored minute, once', async () => {
    // Up: a 1-hour backfill (Prometheus holds another hour before it), then a few ordinary polls.
    const t1 = FIRST + 2 * HOUR_MIN;
    clock.now = at(t1);
    engine = openEngine();
    let src = source(engine, 3_600_000);
    await src.poll();
    stored.from = t1 - HOUR_MIN;
    for (let m = t1; m <= t1 + 3; m++) {
      clock.now = at(m);
      await src.poll();
    }
    stored.to = t1 + 2;
    assert.equal(src.stats().error, 0);
    assertExact(engine, 'after the first start');
    await src.shutdown();
    await engine.shutdown();

    // Down for 6 hours; back with the default backfill (the longest window, 30 days).
    const t2 = t1 + 3 + 6 * HOUR_MIN;
    clock.now = at(t2);
    engine = openEngine();
    src = source(engine);
    await src.poll();
    stored.to = t2 - 1;
    assert.equal(src.stats().error, 0);
    assertExact(engine, 'after 6 hours down');
    // From the newest stored minute, not the whole window: the hour before the first backfill stays as it was.
    const db = new Database(join(dataDir, 'vigil.db'), { readonly: true });
    const older = db.prepare('SELECT count(*) AS n FROM slo_minute WHERE minute < ?').get(stored.from) as { n: number };
    db.close();
    assert.equal(older.n, 0, 'the restart asked only from the newest stored minute on');

    // Asked again (same minute, and the next one): nothing counted twice.
    const set = src.stats().minutesSet;
    await src.poll();
    assert.equal(src.stats().minutesSet, set, 'asking the same minutes again changes nothing');
    clock.now = at(t2 + 1);
    await src.poll();
    stored.to = t2;
    assertExact(engine, 'asked again');
    await src.shutdown();
  });

  test('Prometheus unreachable for 6 h while the status instance runs: backfilled once it answers', async () => {
    const e = engine!;
    const src = source(e);
    await src.poll();
    const start = Math.floor(clock.now / MIN);
    await prometheus!.stop();
    for (let m = start + 10; m <= start + 6 * HOUR_MIN; m += 47) {
      clock.now = at(m);
      await src.poll();
    }
    assert.ok(src.stats().error > 0, 'the failing queries are counted');
    // Nothing new while it cannot be asked: no data, never up and never down.
    assertExact(e, 'while Prometheus is down');
    prometheus = await startPrometheusWithConfig(promConfig, promData, promPort);
    clock.now = at(start + 6 * HOUR_MIN + 5);
    await src.poll();
    stored.to = start + 6 * HOUR_MIN + 4;
    assertExact(e, 'after 6 hours without Prometheus (the engine kept running: its rings)');
    await src.shutdown();
  });

  test('down 54 h (past the hour ring, across the scrape gap), back; restarted again: still exact', async () => {
    await engine!.shutdown();
    const back = stored.to + 54 * HOUR_MIN;
    assert.ok(back < LAST && GAP > stored.to && GAP < back, 'the history covers the outage and its scrape gap');
    clock.now = at(back);
    engine = openEngine();
    const src = source(engine);
    await src.poll();
    stored.to = back - 1;
    assertExact(engine, 'after 54 hours down');
    await src.shutdown();
    await engine.shutdown();
    engine = openEngine();
    assertExact(engine, 'after a restart (everything read back from SQLite)');
  });

  test('first start on an empty data dir (backfill: 30 days): the hours holding samples are found and every minute set once', async () => {
    const fresh = join(dir, 'fresh');
    clock.now = at(LAST + 30);
    const e = new SloEngine({ components: [API], slos: SLOS, flushIntervalMs: 3_600_000, now: () => clock.now, openStorage: () => Storage.open({ dataDir: fresh, now: () => clock.now }) });
    e.start();
    try {
      const src = source(e);
      await src.poll();
      stored.from = LAST - 30 * DAY_MIN;
      stored.to = LAST + 29;
      assert.equal(src.stats().error, 0);
      assertExact(e, 'after the first start', fresh);
      await src.shutdown();
    } finally {
      await e.shutdown();
    }
  });
});
