// The memory layout (minute ring, hour ring, window edges from SQLite) against the exact per-minute
// computation: 45 simulated days of random traffic (bursts, idle stretches, late events) on 28d,
// 30d and calendar-month SLOs (a half-hour zone and a DST zone), with restarts that reload the
// history from a real SQLite file. Every window's good/total, SLI, burn rate and budget must equal
// the sums over the recorded minutes, at checkpoints spread over the run.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComponentConfig, SloConfig, SloWindow } from '../config/types.js';
import { Storage } from '../storage/index.js';
import { SloEngine } from './engine.js';
import { calendarPeriod } from './calendar.js';
import { budgetRemaining, burnRate, sli, REPORT_WINDOWS } from './math.js';
import { LATE_MINUTES } from './minutes.js';
import { random as prng } from '../../test-support/random.js';

const MIN = 60_000;
const root = mkdtempSync(join(tmpdir(), 'vigil-slo-windows-'));
after(() => rmSync(root, { recursive: true, force: true }));

const API: ComponentConfig = { id: 'api', name: 'API', group: null, description: null };
const SPANS = { service: 'checkout', spanKind: 'SERVER' as const, spanName: null };
const rolling = (days: number): SloWindow => ({ kind: 'rolling', label: `${days}d`, minutes: days * 1440, timezone: 'UTC' });
const month = (zone: string): SloWindow => ({ kind: 'calendar', label: 'month', period: 'month', timezone: zone });
const slo = (id: string, window: SloWindow): SloConfig => ({ id, name: id, component: 'api', objectivePercent: 99.5, objective: 0.995, window, indicator: { type: 'span_availability', spans: SPANS } });

const SLOS = [slo('d28', rolling(28)), slo('d30', rolling(30)), slo('month-kolkata', month('Asia/Kolkata')), slo('month-berlin', month('Europe/Berlin'))];

describe('long windows from rollups equal the per-minute computation', () => {
  test('28d, 30d and calendar months (Asia/Kolkata, Europe/Berlin across DST) over 45 days with restarts', async () => {
    const seed = 20261203;
    const random = prng(seed);
    const dir = join(root, 'a');
    // 2025-03-10 00:07 UTC: the Berlin month crosses the DST change of 30 March; Kolkata months start at 18:30 UTC.
    const start = Date.UTC(2025, 2, 10, 0, 7);
    const clock = { now: start };
    const open = (): SloEngine =>
      new SloEngine({
        components: [API],
        slos: SLOS,
        flushIntervalMs: 1000,
        now: () => clock.now,
        openStorage: () => Storage.open({ dataDir: dir, now: () => clock.now }),
      });
    let engine = open();
    engine.start();
    const startMinute = start / MIN;
    const days = 45;
    // Exact per-minute counts by SLO, as attributed by the engine (late events in their own minute).
    const good = SLOS.map(() => new Float64Array(days * 1440 + 10));
    const total = SLOS.map(() => new Float64Array(days * 1440 + 10));
    let checked = 0;
    let restarts = 0;

    const check = (): void => {
      const nowMinute = Math.floor(clock.now / MIN);
      SLOS.forEach((config, k) => {
        const report = engine.sloReport(config.id)!;
        const w = config.window;
        const sloFrom = w.kind === 'rolling' ? nowMinute - w.minutes + 1 : Math.ceil(calendarPeriod(clock.now, w.period, w.timezone).startMs / MIN);
        const spans = [...REPORT_WINDOWS.filter((r) => r.label !== w.label).map((r) => ({ label: r.label, from: nowMinute - r.minutes + 1 })), { label: w.label, from: sloFrom }];
        for (const span of spans) {
          let g = 0;
          let t = 0;
          for (let m = Math.max(span.from, startMinute); m <= nowMinute; m++) {
            g += good[k]![m - startMinute]!;
            t += total[k]![m - startMinute]!;
          }
          const got = report.windows.find((x) => x.window === span.label)!;
          const where = `${config.id} ${span.label} at ${new Date(clock.now).toISOString()} (seed ${seed})`;
          assert.equal(got.total, t, `${where}: total`);
          assert.equal(got.good, g, `${where}: good`);
          assert.equal(got.sli, sli(g, t), `${where}: sli`);
          assert.equal(got.burnRate, burnRate(g, t, config.objective), `${where}: burn rate`);
          if (span.label === w.label) assert.equal(report.budgetRemaining, budgetRemaining(g, t, config.objective), `${where}: budget`);
        }
      });
      checked++;
    };

    for (let i = 0; i < days * 1440; i++) {
      const nowMinute = startMinute + i;
      SLOS.forEach((config, k) => {
        // Idle stretches (a whole day now and then), steady traffic, and bursts of errors.
        if (Math.floor(i / 1440) % 7 === k) return;
        if (random() < 0.35) return;
        const n = 1 + Math.floor(random() * 50);
        const bad = random() < 0.05 ? Math.floor(random() * n) : random() < 0.3 ? 1 : 0;
        const late = random() < 0.1 ? Math.floor(random() * (LATE_MINUTES + 1)) : 0;
        const minute = Math.max(startMinute, nowMinute - late);
        engine.record(config.id, n - bad, n, minute * MIN + 5_000);
        good[k]![minute - startMinute]! += n - bad;
        total[k]![minute - startMinute]! += n;
      });
      if (i % 30 === 29) engine.flush();
      if (i % 997 === 500 || (i > 28 * 1440 && i % 97 === 3)) check();
      if (i === 20 * 1440 + 333 || i === 33 * 1440 + 17) {
        // A restart reloads hours and minutes from SQLite; the edges keep coming from stored minutes.
        await engine.shutdown();
        engine = open();
        engine.start();
        restarts++;
        check();
      }
      clock.now += MIN;
    }
    check();
    assert.ok(checked > 100, `checked ${checked} times`);
    assert.equal(restarts, 2);
    // The layout is what was tested: far less than a month of minutes per SLO.
    assert.ok(engine.countsBytes / SLOS.length <= 32 * 1024, `${engine.countsBytes / SLOS.length} bytes per SLO`);
    await engine.shutdown();
  });
});
