// The schedule: first runs spread over the interval, never two runs of one probe at once (seen by
// the target), one lifecycle; and the honest-counting rule across a restart of vigild (the minutes
// it was down get no events).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../daemon/config/index.js';
import { testConfig } from '../../test-support/daemon.js';
import { startDaemon } from '../../daemon/vigild.js';
import { pollUntil } from '../../test-support/wait.js';
import { createProbes } from './index.js';

/** A target that answers after `delayMs` (at once under /fast), recording arrivals and the most requests in flight per path. */
function slowTarget(delayMs: number): { server: Server; arrivals: Map<string, number[]>; maxInFlight: () => number } {
  const arrivals = new Map<string, number[]>();
  const inFlight = new Map<string, number>();
  let max = 0;
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    (arrivals.get(path) ?? arrivals.set(path, []).get(path)!).push(performance.now());
    const n = (inFlight.get(path) ?? 0) + 1;
    inFlight.set(path, n);
    max = Math.max(max, n);
    const timer = setTimeout(() => res.end('ok'), path.startsWith('/fast') ? 0 : delayMs);
    res.once('close', () => {
      clearTimeout(timer);
      inFlight.set(path, inFlight.get(path)! - 1);
    });
  });
  return { server, arrivals, maxInFlight: () => max };
}

function probeConfigs(port: number, count: number, interval: string, timeout: string) {
  const result = validateConfig({
    components: [{ id: 'c' }],
    probes: Array.from({ length: count }, (_, i) => ({ id: `p${i}`, component: 'c', interval, timeout, http: { url: `http://127.0.0.1:${port}/p${i}` } })),
  });
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  return result.config;
}

describe('probe schedule', { timeout: 60_000 }, () => {
  const target = slowTarget(900);
  let port = 0;
  before(async () => {
    await new Promise<void>((r) => target.server.listen(0, '127.0.0.1', r));
    port = (target.server.address() as { port: number }).port;
  });
  after(async () => {
    target.server.closeAllConnections();
    await new Promise((r) => target.server.close(r));
  });

  it('spreads first runs over the interval and never runs one probe twice at once', async () => {
    const config = probeConfigs(port, 8, '2s', '1s');
    const probes = createProbes({ probes: config.probes, slos: [], sink: null, percentiles: config.percentiles });
    const started = performance.now();
    probes.start();
    try {
      await pollUntil('three runs of every probe', 20_000, async () => (probes.states().every((s) => s.runs >= 3) ? true : undefined));
      // The target answers in 0.9 s with a 1 s timeout and a 2 s interval: one in flight per path, always.
      assert.equal(target.maxInFlight(), 1);
      const firsts = [...target.arrivals.entries()].map(([path, times]) => [Number(path.slice(2)), times[0]! - started] as const).sort((a, b) => a[0] - b[0]);
      assert.equal(firsts.length, 8);
      // Probe k of 8 first runs about k/8 of the interval after start (2000 ms · k / 8 = 250 ms apart).
      for (const [k, at] of firsts) assert.ok(Math.abs(at - 250 * k) < 200, `p${k} first ran at ${Math.round(at)} ms, expected ~${250 * k}`);
      // And then every interval: consecutive arrivals of one probe are ~2 s apart.
      for (const times of target.arrivals.values()) {
        for (let i = 1; i < times.length; i++) assert.ok(Math.abs(times[i]! - times[i - 1]! - 2000) < 300, `gap ${Math.round(times[i]! - times[i - 1]!)} ms`);
      }
      assert.ok(probes.states().every((s) => s.failures === 0));
      assert.deepEqual({ ...probes.stats(), inFlight: 0 }, { skipped: 0, missed: 0, inFlight: 0 });
    } finally {
      await probes.shutdown(Date.now() + 2000);
    }
    // Idempotent, and safe without start.
    await probes.shutdown();
    await createProbes({ probes: [], slos: [], sink: null, percentiles: config.percentiles }).shutdown();
  });

  it('counts the runs of both lives of vigild and nothing for the minutes it was down', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-probe-restart-'));
    const parsed = validateConfig({
      components: [{ id: 'c' }],
      probes: [{ id: 'p', component: 'c', interval: '1s', timeout: '500ms', http: { url: `http://127.0.0.1:${port}/fast/restart` } }],
      slos: [{ id: 's', component: 'c', objective: 99, window: '30d', indicator: { availability: { probe: 'p' } } }],
    });
    if ('errors' in parsed) throw new Error(parsed.errors.join('\n'));
    const config = () => {
      const c = testConfig(dataDir);
      Object.assign(c, { components: parsed.config.components, slos: parsed.config.slos, probes: parsed.config.probes });
      return c;
    };
    try {
      const first = await startDaemon(config());
      await pollUntil('two runs', 10_000, async () => (first.probes.states()[0]!.successes >= 2 ? true : undefined));
      await first.shutdown('restart test');
      const firstRuns = first.probes.states()[0]!.successes + first.probes.states()[0]!.failures;
      await new Promise((r) => setTimeout(r, 2500));
      const second = await startDaemon(config());
      try {
        await pollUntil('two more runs', 10_000, async () => (second.probes.states()[0]!.successes >= 2 ? true : undefined));
        const s = second.probes.states()[0]!;
        const total = second.slo.sloReport('s')!.windows.find((w) => w.window === '30d')!.total;
        // The gap of 2.5 s (2 or 3 slots) added no event: the window holds exactly the runs of both lives.
        const runs = firstRuns + s.successes + s.failures;
        assert.ok(total === runs || total === runs + 1, `SLI total ${total}, runs ${runs}`);
      } finally {
        await second.shutdown('test done');
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
