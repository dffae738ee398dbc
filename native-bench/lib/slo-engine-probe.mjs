#!/usr/bin/env node
// Child of slo-scale.mjs (run with --expose-gc): the SLO engine alone, on a real SQLite file that
// holds a month of history, measured from inside the process.
//   - live memory per SLO: heap + array buffers after start (idle), then after traffic on every SLO
//     (each hydrated, evaluated, its rings allocated), over the SLO count;
//   - flush CPU per second: `seconds` one-second rounds of traffic on `busy` SLOs, one flush()
//     per round, CPU (user + system) of the flush calls only.
// Prints one JSON line.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { repoRoot } from './result.mjs';

const { values: args } = parseArgs({ options: { dir: { type: 'string' }, components: { type: 'string' }, slos: { type: 'string' }, busy: { type: 'string' }, seconds: { type: 'string', default: '10' } } });
const { SloEngine } = await import(join(repoRoot, 'dist/daemon/slo/engine.js'));
const { Storage } = await import(join(repoRoot, 'dist/daemon/storage/index.js'));
const { fleetSloIds } = await import('./slo-fleet.mjs');

const components = Number(args.components);
const ids = fleetSloIds({ components, slos: Number(args.slos) });
const window = { kind: 'rolling', label: '30d', minutes: 30 * 1440, timezone: 'UTC' };
const slos = ids.map((id, s) => ({ id, name: id, component: `svc-${s % components}`, objectivePercent: 99.9, objective: 0.999, window, indicator: { type: 'span_availability', spans: { service: `svc-${s % components}`, spanKind: 'SERVER', spanName: null } } }));
const componentList = Array.from({ length: components }, (_, c) => ({ id: `svc-${c}`, name: `Service ${c}`, group: null, description: null }));

const live = () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const base = live();
const engine = new SloEngine({ components: componentList, slos, flushIntervalMs: 1000, openStorage: () => Storage.open({ dataDir: args.dir }) });
engine.start();
const idle = live();
engine.startHistoryLoad();
await engine.whenHistoryLoaded();
// One event on every SLO: each is loaded, evaluated and has its rings.
const now = Date.now();
for (const id of ids) engine.record(id, 1, 1, now);
engine.report();
engine.flush();
const loaded = live();

// Flush CPU: traffic on the first `busy` SLOs (spread over components), one flush per second.
const busy = Math.min(Number(args.busy), ids.length);
const rounds = Number(args.seconds);
let flushCpuUs = 0;
let flushWallMs = 0;
for (let r = 0; r < rounds; r++) {
  const t = Date.now();
  for (let i = 0; i < busy; i++) engine.record(ids[i], 99, 100, t);
  const cpu = process.cpuUsage();
  const wall = performance.now();
  engine.flush();
  flushWallMs += performance.now() - wall;
  const used = process.cpuUsage(cpu);
  flushCpuUs += used.user + used.system;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - (Date.now() - t))));
}
await engine.shutdown();
process.stdout.write(`${JSON.stringify({
  slos: ids.length,
  idleBytesPerSlo: (idle - base) / ids.length,
  busyBytesPerSlo: (loaded - base) / ids.length,
  ringBytesPerSlo: engine.countsBytes / ids.length,
  busy,
  rounds,
  flushCpuMsPerSecond: flushCpuUs / 1000 / rounds,
  flushWallMsPerSecond: flushWallMs / rounds,
})}\n`);
