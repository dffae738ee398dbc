// Regression (issue 15): SLO flushes failing for longer than an hour (a full disk nobody noticed)
// lost every minute older than the 64 the flush bookkeeping remembers, though the ring still held
// them. Once a flush works again, every minute since the last good flush must be written, once.
// The failing writes are injected (SQLITE_FULL thrown by Storage.write) because the test needs hours
// of simulated time; daemon/storage/faults.e2e.test.ts fills a real disk for the short case.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SloConfig } from '../config/types.js';
import { Storage } from '../storage/index.js';
import { SloEngine } from './engine.js';
import type { SloEngineOptions } from './engine.js';

const MIN = 60_000;
const dir = mkdtempSync(join(tmpdir(), 'vigil-outage-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SLO: SloConfig = {
  id: 'avail', name: 'avail', component: 'api', objectivePercent: 99, objective: 0.99,
  window: { kind: 'rolling', label: '30d', minutes: 30 * 1440, timezone: 'UTC' },
  indicator: { type: 'span_availability', spans: { service: 'checkout', spanKind: 'SERVER', spanName: null } },
};

/** An engine whose Storage.write throws SQLITE_FULL while `disk.full`; a simulated clock. */
function engineWithDisk(sub: string, slos: SloConfig[], flushIntervalMs: number, onStorageWrite: SloEngineOptions['onStorageWrite']) {
  const clock = { now: Date.UTC(2026, 10, 20, 9, 0, 30) };
  const disk = { full: false, storage: null as Storage | null };
  const engine = new SloEngine({
    components: [{ id: 'api', name: 'API', group: null, description: null }], slos, flushIntervalMs, now: () => clock.now,
    openStorage: () => {
      const s = Storage.open({ dataDir: join(dir, sub), now: () => clock.now });
      const write = s.write.bind(s);
      s.write = (...args: Parameters<Storage['write']>) => {
        if (disk.full) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        write(...args);
      };
      disk.storage = s;
      return s;
    },
    ...(onStorageWrite === undefined ? {} : { onStorageWrite }),
  });
  return { engine, clock, disk };
}

/** Records 9 good of 10 events a minute, flushing every minute, with `outageMinutes` of failing flushes. */
async function outage(outageMinutes: number, sub: string): Promise<{ recorded: number; stored: number; failures: number; heldDuring: number }> {
  let failures = 0;
  const { engine, clock, disk } = engineWithDisk(sub, [SLO], 3_600_000, (_writer, err) => {
    if (err !== null) failures++;
  });
  engine.start();
  let recorded = 0;
  const minutes = (n: number): void => {
    for (let i = 0; i < n; i++) {
      engine.record('avail', 9, 10);
      recorded += 10;
      engine.flush();
      clock.now += MIN;
    }
  };
  const held = (): number => {
    const family = engine.collect().find((f) => f.name === 'vigil_storage_flush_held_rows');
    return [...family!.series][0]!.value;
  };
  minutes(30);
  disk.full = true;
  minutes(outageMinutes);
  const heldDuring = held();
  disk.full = false;
  minutes(5);
  engine.flush();
  assert.equal(held(), 0, 'nothing held once a flush worked');
  let stored = 0;
  for (const b of disk.storage!.loadMinutes('avail', 0)) stored += b.total;
  await engine.shutdown();
  return { recorded, stored, failures, heldDuring };
}

test('regression: flushes failing for 3 hours, then space back: every minute written once', async () => {
  const r = await outage(180, 'three-hours');
  assert.equal(r.failures, 180);
  assert.equal(r.heldDuring, 0, 'the ring holds 3 hours');
  assert.equal(r.stored, r.recorded, 'every minute of the outage written once space was back');
});

// Regression: the minute ring holds about 4 hours; longer outages lost every minute the ring reused.
test('regression: flushes failing for 9 hours (past the minute ring): every minute written once', async () => {
  const r = await outage(540, 'nine-hours');
  assert.equal(r.failures, 540);
  assert.ok(r.heldDuring > 250, `minutes past the ring are held (${r.heldDuring})`);
  assert.equal(r.stored, r.recorded, 'every minute of the outage written once space was back');
});

// Regression: minutes at the minute ring's far edge were lost when an SLO had no events in the
// last minutes of an outage longer than the ring. The flush covered only the ring's last 256
// minutes; an older minute still in the ring (not overwritten: no event since) was neither held
// nor written. Found by native-bench/micro/slo-flush-outage.mjs on a real full disk.
test('regression: an SLO with sparse events through a 9-hour outage: every minute written once', async () => {
  const sparse: SloConfig = { ...SLO, id: 'sparse', name: 'sparse' };
  const { engine, clock, disk } = engineWithDisk('sparse', [SLO, sparse], 3_600_000, () => {});
  engine.start();
  const recorded = { avail: 0, sparse: 0 };
  for (let minute = 0; minute < 30 + 540; minute++) {
    if (minute === 30) disk.full = true;
    engine.record('avail', 9, 10);
    recorded.avail += 10;
    // Every 7th minute only, and none in the outage's last 20 minutes.
    if (minute % 7 === 0 && minute < 30 + 520) {
      engine.record('sparse', 4, 5);
      recorded.sparse += 5;
    }
    engine.flush();
    clock.now += MIN;
  }
  disk.full = false;
  engine.flush();
  const stored = (slo: string): number => disk.storage!.loadMinutes(slo, 0).reduce((sum, b) => sum + b.total, 0);
  assert.equal(stored('avail'), recorded.avail);
  assert.equal(stored('sparse'), recorded.sparse, 'minutes of the sparse SLO lost');
  await engine.shutdown();
});

// A failing flush writes every minute since the last one that worked: at 1,000 SLOs × 4 hours of a
// full disk about 1 CPU-s per attempt (native-bench/micro/slo-flush-outage.mjs), and the timer tried
// every second. Now the timer's retries back off: 1, 2, 4… flush intervals, at most FLUSH_RETRY_MAX_MS.
test('a failing flush is retried after 1, 2, 4… intervals up to 30 s, at once again after a success, and nothing is lost', async () => {
  const attempts: { tick: number; ok: boolean }[] = [];
  let tick = 0;
  const { engine, clock, disk } = engineWithDisk('backoff', [SLO], 1000, (writer, err) => {
    if (writer === 'slo_flush') attempts.push({ tick, ok: err === null });
  });
  engine.start();
  let recorded = 0;
  /** `n` timer ticks a second apart, with events in every one. */
  const ticks = (n: number): void => {
    for (let i = 0; i < n; i++) {
      tick++;
      engine.record('avail', 1, 2);
      recorded += 2;
      clock.now += 1000;
      engine.tick();
    }
  };
  const gaps = (list: { tick: number }[]): number[] => list.slice(1).map((a, i) => a.tick - list[i]!.tick);
  ticks(5);
  assert.deepEqual(gaps(attempts), [1, 1, 1, 1], 'healthy: a flush every tick');
  disk.full = true;
  attempts.length = 0;
  ticks(200);
  assert.ok(attempts.every((a) => !a.ok));
  assert.deepEqual(gaps(attempts), [1, 2, 4, 8, 16, 30, 30, 30, 30, 30], 'retries back off to 30 s');
  assert.equal(engine.flushFailures, attempts.length);
  // Space is back: the next attempt (at most 30 s away) works, and every tick after it flushes.
  disk.full = false;
  const lastFailure = attempts.at(-1)!.tick;
  ticks(40);
  const firstOk = attempts.find((a) => a.ok)!;
  assert.ok(firstOk.tick - lastFailure <= 30, `recovered ${firstOk.tick - lastFailure} s after the last failed attempt`);
  assert.deepEqual(gaps(attempts.filter((a) => a.tick >= firstOk.tick)), Array(attempts.filter((a) => a.tick > firstOk.tick).length).fill(1));
  // A new failure starts again from one interval.
  disk.full = true;
  const before = attempts.length;
  ticks(8);
  assert.deepEqual(gaps(attempts.slice(before - 1)), [1, 1, 2, 4], 'the spacing restarts at one interval');
  disk.full = false;
  ticks(10);
  const stored = disk.storage!.loadMinutes('avail', 0).reduce((sum, b) => sum + b.total, 0);
  await engine.shutdown();
  assert.equal(stored, recorded, 'every event of the outage written once space was back');
});
