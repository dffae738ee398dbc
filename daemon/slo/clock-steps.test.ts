// The wall clock stepped back and forward (NTP steps) under the SLO engine, with an injected clock
// and a real SQLite file (issue 15): every event recorded is stored exactly once (no minute flushed
// twice, none dropped), and the windows never show NaN, a negative count or an SLI outside [0, 1].

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComponentConfig, SloConfig } from '../config/types.js';
import { Storage } from '../storage/index.js';
import { SloEngine } from './engine.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const API: ComponentConfig = { id: 'api', name: 'API', group: null, description: null };
const SLO: SloConfig = {
  id: 'avail', name: 'avail', component: 'api', objectivePercent: 99, objective: 0.99,
  window: { kind: 'rolling', label: '30d', minutes: 30 * 1440, timezone: 'UTC' },
  indicator: { type: 'span_availability', spans: { service: 'checkout', spanKind: 'SERVER', spanName: null } },
};

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** An engine on a fresh SQLite file with a clock the test steps; `events()` is what was recorded. */
function setup(startMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clock-'));
  dirs.push(dir);
  const clock = { now: startMs };
  let storage: Storage | null = null;
  const engine = new SloEngine({
    components: [API], slos: [SLO], flushIntervalMs: 3_600_000, now: () => clock.now,
    openStorage: () => (storage = Storage.open({ dataDir: dir, now: () => clock.now })),
  });
  engine.start();
  let recorded = 0;
  let recordedGood = 0;
  /**
   * A flush, then `n` events (one in ten bad), every second for `seconds` seconds: the events of
   * the last second are not flushed yet when the test steps the clock.
   */
  const run = (seconds: number, n = 10): void => {
    for (let i = 0; i < seconds; i++) {
      engine.flush();
      engine.record('avail', n - n / 10, n);
      recorded += n;
      recordedGood += n - n / 10;
      clock.now += 1000;
    }
  };
  /** Rolls minutes up into hours now, and returns the hours' sums. */
  const rolledUp = (): { good: number; total: number } => {
    storage!.rollup();
    let good = 0;
    let total = 0;
    for (const b of storage!.loadHours('avail', 0, Number.MAX_SAFE_INTEGER)) {
      good += b.good;
      total += b.total;
    }
    return { good, total };
  };
  const stored = (): { good: number; total: number } => {
    let good = 0;
    let total = 0;
    for (const b of storage!.loadMinutes('avail', 0)) {
      good += b.good;
      total += b.total;
    }
    return { good, total };
  };
  const sane = (): void => {
    const r = engine.sloReport('avail')!;
    for (const w of r.windows) {
      assert.ok(Number.isFinite(w.good) && Number.isFinite(w.total) && w.good >= 0 && w.total >= w.good, `${w.window}: ${w.good}/${w.total}`);
      assert.ok(w.sli === null || (w.sli >= 0 && w.sli <= 1), `${w.window}: sli ${w.sli}`);
      assert.ok(w.burnRate === null || Number.isFinite(w.burnRate), `${w.window}: burn ${w.burnRate}`);
    }
    assert.ok(r.budgetRemaining === null || Number.isFinite(r.budgetRemaining));
  };
  /** Two seconds of traffic at the start of each of `minutes` minutes, as time passes. */
  const pass = (minutes: number): void => {
    for (let i = 0; i < minutes; i++) {
      run(2);
      clock.now += MIN - 2000;
    }
  };
  return { engine, clock, run, pass, stored, rolledUp, sane, recorded: () => ({ good: recordedGood, total: recorded }), close: () => engine.shutdown() };
}

describe('SLO minutes across wall-clock steps', () => {
  const T0 = Date.UTC(2026, 10, 20, 12, 0, 30);

  for (const [name, step] of [
    ['back 30 s', -30_000],
    ['back 5 minutes', -5 * MIN],
    ['back 2 hours (more than the 64 minutes the flush remembers)', -2 * HOUR],
    ['forward 5 minutes', 5 * MIN],
    ['forward 2 hours', 2 * HOUR],
  ] as const) {
    test(`a step ${name}: every event stored once, windows sane`, async () => {
      // Three hours of history before the step (minutes the clock may come back to), then traffic.
      const t = setup(T0 - 3 * HOUR);
      t.pass(180);
      t.run(90);
      // Rolled up to the hour in progress: a step back lands two hours before it.
      t.rolledUp();
      t.clock.now += step;
      t.run(90);
      t.sane();
      // Back to where the clock would have been, and past it: the minutes recorded before the step
      // come round again and must not be written a second time.
      if (step < 0) t.pass(-step / MIN + 5);
      else t.run(3 * 60);
      t.sane();
      t.engine.flush();
      const stored = t.stored();
      // The hourly rollups agree with the minutes, also for hours the clock came back to.
      const hours = t.rolledUp();
      await t.close();
      assert.deepEqual(stored, t.recorded());
      assert.deepEqual(hours, stored);
    });
  }
});
