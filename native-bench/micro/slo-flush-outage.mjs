#!/usr/bin/env node
// The CPU cost of SLO flushes while the disk is full (CLOSING.md: "a failing flush retries every
// held row every second, cost not measured"). A real SloEngine with N SLOs and a real Storage on a
// small tmpfs (so root: it mounts one), a simulated clock. Every SLO gets events every minute. The
// disk is filled (a filler file up to ENOSPC), and at each outage age the CPU of the next flushes
// is measured, one flush per simulated second as the daemon's timer does: once as the timer ticks
// (`tick`, which backs off after failures when the engine has a backoff) and once forced (`flush()`,
// every tick an attempt: the cost without backoff). The peer, same run: healthy flushes of the same
// engine before the outage. Then the filler is removed, and every event recorded must be stored.
//
//   node micro/slo-flush-outage.mjs [--slos 1000] [--ages 10,60,240,480] [--flushes 10] [--ticks 120]
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../lib/result.mjs';

const { values: args } = parseArgs({
  options: {
    slos: { type: 'string', default: '1000' }, ages: { type: 'string', default: '10,60,240,480' }, flushes: { type: 'string', default: '10' }, ticks: { type: 'string', default: '120' },
  },
});
const SLOS = Number(args.slos);
const AGES = args.ages.split(',').map(Number);
const FLUSHES = Number(args.flushes);
const TICKS = Number(args.ticks);
const MIN = 60_000;

const { SloEngine } = await import(join(repoRoot, 'dist/daemon/slo/engine.js'));
const { Storage } = await import(join(repoRoot, 'dist/daemon/storage/index.js'));

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-flush-outage-'));
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', dir], { encoding: 'utf8' });
if (mounted.status !== 0) {
  process.stderr.write(`cannot mount a tmpfs (needs root): ${mounted.stderr}\n`);
  process.exit(2);
}
const filler = join(dir, 'filler');

function fillDisk() {
  const fd = openSync(filler, 'a');
  const block = Buffer.alloc(1 << 20);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if (err.code !== 'ENOSPC') throw err;
  }
  // Then byte by byte what is left of the last block.
  try {
    for (;;) writeSync(fd, block, 0, 512);
  } catch {}
  closeSync(fd);
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

try {
  const clock = { now: Date.UTC(2026, 11, 3, 0, 0, 30) };
  const ids = Array.from({ length: SLOS }, (_, i) => `slo-${i}`);
  const components = Array.from({ length: Math.ceil(SLOS / 10) }, (_, i) => ({ id: `c${i}`, name: `C${i}`, group: null, description: null }));
  const slos = ids.map((id, i) => ({
    id, name: id, component: `c${Math.floor(i / 10)}`, objectivePercent: 99, objective: 0.99,
    window: { kind: 'rolling', label: '30d', minutes: 30 * 1440, timezone: 'UTC' },
    indicator: { type: 'span_availability', spans: { service: `svc-${i}`, spanKind: 'SERVER', spanName: null } },
  }));
  let failures = 0;
  let attempts = 0;
  const engine = new SloEngine({
    components, slos, flushIntervalMs: 1000, now: () => clock.now,
    openStorage: () => Storage.open({ dataDir: join(dir, 'data'), now: () => clock.now }),
    onStorageWrite: (writer, err) => {
      if (writer !== 'slo_flush') return;
      attempts++;
      if (err !== null) failures++;
    },
  });
  engine.start();
  let recorded = 0;
  const minute = () => {
    for (const id of ids) engine.record(id, 99, 100);
    recorded += 100 * SLOS;
    clock.now += MIN;
  };
  const tick = typeof engine.tick === 'function' ? () => engine.tick() : () => engine.flush();
  /** CPU ms per flush over `n` ticks a second apart (the timer's pace), with events in between. */
  const measure = (n, step) => {
    const attemptsBefore = attempts;
    const t = cpuMs();
    for (let i = 0; i < n; i++) {
      // Every SLO has events every second (busy services): every SLO is in every flush.
      for (const id of ids) engine.record(id, 1, 1);
      recorded += SLOS;
      clock.now += 1000;
      step();
    }
    return { cpuMsPerFlush: (cpuMs() - t) / n, attempts: attempts - attemptsBefore };
  };
  for (let m = 0; m < 30; m++) {
    minute();
    engine.flush();
  }
  const healthy = measure(FLUSHES, tick);
  const rows = [];
  fillDisk();
  let age = 0;
  for (const target of AGES) {
    // Advance the outage with one (failing) flush per simulated 10 minutes: the engine then holds
    // what a flush a second would have left it holding (the rings' and the held minutes).
    while (age < target) {
      minute();
      age++;
      if (age % 10 === 0 || age === target) engine.flush();
    }
    const ticked = measure(TICKS, tick);
    const forced = measure(FLUSHES, () => engine.flush());
    const held = [...engine.collect().find((f) => f.name === 'vigil_storage_flush_held_rows').series][0].value;
    rows.push({ outageMinutes: target, heldRows: held, tickCpuMsPerFlush: ticked.cpuMsPerFlush, tickAttempts: ticked.attempts, forcedCpuMsPerFlush: forced.cpuMsPerFlush });
  }
  const failuresDuring = failures;
  unlinkSync(filler);
  const t = cpuMs();
  const w = performance.now();
  engine.flush();
  const recovery = { cpuMs: cpuMs() - t, wallMs: performance.now() - w };
  const failedAfter = failures - failuresDuring;
  await engine.shutdown();
  const storage = Storage.open({ dataDir: join(dir, 'data'), now: () => clock.now });
  let stored = 0;
  for (const id of ids) for (const b of storage.loadMinutes(id, 0)) stored += b.total;
  storage.close();
  const out = {
    slos: SLOS, flushesPerPoint: FLUSHES, loadavg: loadavg().map((x) => Number(x.toFixed(2))), backoff: typeof engine.tick === 'function',
    healthyCpuMsPerFlush: healthy.cpuMsPerFlush, rows, failuresDuring, recovery, failedAfterSpaceBack: failedAfter, recorded, stored, lost: recorded - stored,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`\nslos ${SLOS}, load ${out.loadavg.join(' ')}; healthy flush ${healthy.cpuMsPerFlush.toFixed(2)} CPU-ms\n`);
  process.stdout.write(`outage min | held rows | forced (every tick an attempt): CPU-ms/tick (× healthy) | timer ticks: CPU-ms/tick (× healthy), attempts in ${TICKS}\n`);
  for (const r of rows) {
    process.stdout.write(
      `${String(r.outageMinutes).padStart(10)} | ${String(r.heldRows).padStart(9)} | ${r.forcedCpuMsPerFlush.toFixed(1).padStart(8)} (${(r.forcedCpuMsPerFlush / healthy.cpuMsPerFlush).toFixed(1)}×) | ${r.tickCpuMsPerFlush.toFixed(1).padStart(8)} (${(r.tickCpuMsPerFlush / healthy.cpuMsPerFlush).toFixed(1)}×), ${r.tickAttempts}\n`,
    );
  }
  process.stdout.write(`recovery flush ${recovery.wallMs.toFixed(0)} ms wall, ${recovery.cpuMs.toFixed(0)} CPU-ms; recorded ${recorded}, stored ${stored}, lost ${recorded - stored}\n`);
  if (recorded !== stored || failedAfter > 0) process.exitCode = 1;
} finally {
  spawnSync('umount', ['-l', dir]);
  rmSync(dir, { recursive: true, force: true });
}
