// The heartbeat state machine with an injected clock, real SQLite files and the real SLO engine:
// cron in Europe/Berlin across both DST changes, grace, /start without an end past max_runtime,
// /fail and exit statuses, unknown keys, the rate limit, and a restart of vigild in the middle of a run.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { validateConfig } from '../../daemon/config/index.js';
import type { Config } from '../../daemon/config/types.js';
import { SloEngine } from '../../daemon/slo/engine.js';
import { renderFamilies } from '../../exporters/prometheus/render.js';
import { createHeartbeats } from './index.js';
import type { Heartbeats } from './index.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const KEY = 'backup-key-0123456789';
const dirs: string[] = [];

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A config with one component, one heartbeat (`schedule` YAML) and its SLO. */
function configWith(heartbeat: string, rateLimit = ''): Config {
  const result = validateConfig(
    parse(`
components: [{ id: backups }]
heartbeats:
  - { id: nightly, component: backups, key: ${KEY}, ${heartbeat} }
slos:
  - { id: backups-ran, component: backups, objective: 99, window: 30d, indicator: { availability: { heartbeat: nightly } } }
${rateLimit}
`),
  );
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  return result.config;
}

/** A collector on a fake clock, feeding a real SLO engine (in memory) and a real SQLite file. */
function harness(config: Config, startMs: number, dataDir: string | null = null) {
  const clock = { now: startMs };
  const engine = new SloEngine({ components: config.components, slos: config.slos, openStorage: null, flushIntervalMs: 1000, now: () => clock.now });
  const open = (): Heartbeats => {
    const hb = createHeartbeats({ heartbeats: config.heartbeats, slos: config.slos, sli: engine, dataDir, rateLimit: config.status.pingRateLimit, now: () => clock.now });
    hb.start();
    return hb;
  };
  let hb = open();
  return {
    clock,
    engine,
    get hb() {
      return hb;
    },
    /** Moves the clock to `ms` and lets the timer's work run. */
    at(ms: number): void {
      clock.now = ms;
      hb.tick();
    },
    ping(action?: string, rid: string | null = null, key = KEY, client = '10.0.0.1') {
      return hb.ping(key, action, rid, client);
    },
    /** Stops this "vigild" and starts another on the same data directory at `ms`. */
    restart(ms: number): void {
      hb.shutdown();
      clock.now = ms;
      hb = open();
    },
    /** good/total the SLO engine counted over its 30d window. */
    sli(): { good: number; total: number } {
      const w = engine.sloReport('backups-ran')!.windows.find((x) => x.window === '30d')!;
      return { good: w.good, total: w.total };
    },
  };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-hb-'));
  dirs.push(dir);
  return dir;
}

const t = (iso: string): number => Date.parse(iso);

describe('heartbeat schedules', () => {
  it('cron in Europe/Berlin across the spring DST change: one expected run a day, at local 02:30 (03:30 on the day 02:30 does not exist)', () => {
    const h = harness(configWith("schedule: { cron: '30 2 * * *', timezone: Europe/Berlin }, grace: 30m"), t('2026-03-27T01:30:10Z'));
    // 02:30 CET = 01:30Z; on 29 March clocks jump 02:00 → 03:00, the run is at 03:30 CEST = 01:30Z; after it 02:30 CEST = 00:30Z.
    for (const ping of ['2026-03-27T01:30:10Z', '2026-03-28T01:31:00Z', '2026-03-29T01:31:00Z', '2026-03-30T00:31:00Z']) {
      h.at(t(ping));
      assert.equal(h.ping().status, 200);
    }
    assert.deepEqual(h.hb.status('nightly')!.runs, { success: 4, failed: 0, missed: 0, overran: 0 });
    // No ping on the 31st: the run due at 00:30Z is missed at 01:00Z, not a minute earlier.
    h.at(t('2026-03-31T00:59:59Z'));
    assert.equal(h.hb.status('nightly')!.state, 'late');
    h.at(t('2026-03-31T01:00:00Z'));
    const s = h.hb.status('nightly')!;
    assert.equal(s.state, 'down');
    assert.equal(s.downSinceMs, t('2026-03-31T01:00:00Z'));
    assert.deepEqual(s.runs, { success: 4, failed: 0, missed: 1, overran: 0 });
    assert.deepEqual(h.sli(), { good: 4, total: 5 });
  });

  it('cron in Europe/Berlin across the autumn DST change: 02:30 happens twice on 25 October, one run is expected', () => {
    const h = harness(configWith("schedule: { cron: '30 2 * * *', timezone: Europe/Berlin }, grace: 30m"), t('2026-10-23T00:30:05Z'));
    assert.equal(h.ping().status, 200);
    // Silent from then on: 24th (00:30Z CEST), 25th (00:30Z, the first 02:30), 26th and 27th (01:30Z CET).
    h.at(t('2026-10-27T03:00:00Z'));
    const s = h.hb.status('nightly')!;
    assert.deepEqual(s.runs, { success: 1, failed: 0, missed: 4, overran: 0 });
    assert.equal(s.downSinceMs, t('2026-10-24T01:00:00Z'), 'down from the first missed deadline');
    assert.deepEqual(h.sli(), { good: 1, total: 5 });
  });

  it('every: late within the grace, missed at period + grace, one missed run per period, up at the next success', () => {
    const dir = tempDir();
    const t0 = t('2026-05-01T10:00:00Z');
    const h = harness(configWith('schedule: { every: 1h }, grace: 10m'), t0, dir);
    h.ping();
    h.at(t0 + HOUR - 1);
    assert.equal(h.hb.status('nightly')!.state, 'up');
    h.at(t0 + HOUR + 9 * MINUTE);
    assert.equal(h.hb.status('nightly')!.state, 'late');
    h.at(t0 + HOUR + 10 * MINUTE);
    assert.equal(h.hb.status('nightly')!.state, 'down');
    h.at(t0 + 2 * HOUR + 10 * MINUTE);
    assert.equal(h.hb.status('nightly')!.runs.missed, 2, 'a second period without a ping is a second missed run');
    h.at(t0 + 2 * HOUR + 30 * MINUTE);
    h.ping();
    const s = h.hb.status('nightly')!;
    assert.equal(s.state, 'up');
    assert.deepEqual(s.runs, { success: 2, failed: 0, missed: 2, overran: 0 });
    // The report's downtime: from the missed deadline to the next success, stored in SQLite.
    assert.deepEqual(
      h.hb.outages(t0, t0 + 3 * HOUR).map((o) => [o.fromMs - t0, o.toMs! - t0, o.reason]),
      [[HOUR + 10 * MINUTE, 2 * HOUR + 30 * MINUTE, 'missed']],
    );
    h.hb.shutdown();
  });

  it('a /start not followed by success within max_runtime is an overrun; a timed run reports its duration', () => {
    const h = harness(configWith("schedule: { cron: '0 3 * * *', timezone: UTC }, grace: 30m, max_runtime: 2h"), t('2026-06-01T03:00:05Z'));
    assert.equal(h.ping('start', 'run-1').status, 200);
    // The start moved the deadline from 03:30 to start + 2h.
    h.at(t('2026-06-01T04:00:00Z'));
    assert.equal(h.hb.status('nightly')!.state, 'running');
    h.at(t('2026-06-01T05:00:04Z'));
    assert.equal(h.hb.status('nightly')!.runs.overran, 0);
    h.at(t('2026-06-01T05:00:05Z'));
    assert.equal(h.hb.status('nightly')!.runs.overran, 1);
    assert.equal(h.hb.status('nightly')!.state, 'down');
    // Next night: start and success paired by rid, 47 minutes.
    h.at(t('2026-06-02T03:00:02Z'));
    h.ping('start', 'run-2');
    h.at(t('2026-06-02T03:47:02Z'));
    h.ping(undefined, 'run-2');
    const s = h.hb.status('nightly')!;
    assert.equal(s.lastDurationMs, 47 * MINUTE);
    assert.equal(s.state, 'up');
    assert.deepEqual(s.runs, { success: 1, failed: 0, missed: 0, overran: 1 });
    assert.match(renderFamilies(h.hb.collect(), 'text'), /^vigil_heartbeat_run_duration_seconds_bucket\{heartbeat="nightly",component="backups",le="3600"\} 1$/m);
    assert.match(renderFamilies(h.hb.collect(), 'text'), /^vigil_heartbeat_last_run_duration_seconds\{heartbeat="nightly",component="backups"\} 2820$/m);
  });

  it('/fail and exit statuses: 0 is success, 1-255 a failure, anything else 400', () => {
    const t0 = t('2026-07-01T00:00:00Z');
    const h = harness(configWith('schedule: { every: 1h }, grace: 10m'), t0);
    assert.equal(h.ping('0').status, 200);
    h.at(t0 + 10 * MINUTE);
    assert.equal(h.ping('fail').status, 200);
    assert.equal(h.hb.status('nightly')!.state, 'down');
    h.at(t0 + 20 * MINUTE);
    assert.equal(h.ping('0').status, 200);
    h.at(t0 + 30 * MINUTE);
    assert.equal(h.ping('3').status, 200);
    h.at(t0 + 40 * MINUTE);
    assert.equal(h.ping('255').status, 200);
    for (const bad of ['256', '-1', 'stop', '1.5', '0007']) assert.equal(h.ping(bad).status, 400, bad);
    assert.equal(h.ping(undefined, 'has spaces').status, 400);
    assert.deepEqual(h.hb.status('nightly')!.runs, { success: 2, failed: 3, missed: 0, overran: 0 });
    assert.deepEqual(h.sli(), { good: 2, total: 5 });
    assert.match(renderFamilies(h.hb.collect(), 'text'), /^vigil_heartbeat_pings_rejected_total\{reason="bad_request"\} 6$/m);
  });
});

describe('ping refusals', () => {
  it('answers an unknown key 404 with the same body whatever the action, and counts it', () => {
    const h = harness(configWith('schedule: { every: 1h }'), t('2026-01-01T00:00:00Z'));
    const answers = [h.ping(undefined, null, 'no-such-key-000000000'), h.ping('start', null, 'another-unknown-key-01'), h.ping('fail', null, `${KEY}x`)];
    for (const a of answers) assert.deepEqual(a, { status: 404, body: 'not found\n' });
    assert.match(renderFamilies(h.hb.collect(), 'text'), /^vigil_heartbeat_pings_rejected_total\{reason="unknown_key"\} 3$/m);
    assert.equal(h.hb.status('nightly')!.state, 'new', 'no heartbeat was touched');
  });

  it('rate-limits pings per client, and locks out a client guessing keys (its right key included) until it regains one', () => {
    const h = harness(
      configWith('schedule: { every: 1h }', 'status: { ping_rate_limit: { requests_per_second: 0.001, burst: 3, unknown_keys_per_minute: 0.001, unknown_key_burst: 2 } }'),
      t('2026-01-01T00:00:00Z'),
    );
    for (let i = 0; i < 3; i++) assert.equal(h.ping(undefined, null, KEY, '10.0.0.1').status, 200);
    const limited = h.ping(undefined, null, KEY, '10.0.0.1');
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers!['retry-after']) >= 1);
    assert.equal(h.ping(undefined, null, KEY, '10.0.0.2').status, 200, 'another client has its own bucket');
    assert.equal(h.ping(undefined, null, 'guess-000000000000000', '10.0.0.3').status, 404);
    assert.equal(h.ping(undefined, null, 'guess-000000000000001', '10.0.0.3').status, 404);
    assert.equal(h.ping(undefined, null, KEY, '10.0.0.3').status, 429, 'out of unknown-key attempts: refused before the key is looked at');
    assert.match(renderFamilies(h.hb.collect(), 'text'), /^vigil_heartbeat_pings_rejected_total\{reason="rate_limited"\} 2$/m);
  });
});

describe('a restart of vigild', () => {
  it('in the middle of a run keeps the run: the success after the restart is timed from the start before it', () => {
    const dir = tempDir();
    const h = harness(configWith("schedule: { cron: '0 3 * * *', timezone: UTC }, grace: 30m, max_runtime: 2h"), t('2026-08-01T03:00:01Z'), dir);
    h.ping('start', 'abc');
    h.restart(t('2026-08-01T03:10:00Z'));
    assert.equal(h.hb.status('nightly')!.state, 'running');
    h.at(t('2026-08-01T03:40:01Z'));
    assert.equal(h.hb.status('nightly')!.runs.missed, 0, 'the grace of 30m no longer applies: the run is timed by max_runtime');
    assert.equal(h.ping(undefined, 'abc').status, 200);
    const s = h.hb.status('nightly')!;
    assert.equal(s.lastDurationMs, 40 * MINUTE);
    assert.deepEqual(s.runs, { success: 1, failed: 0, missed: 0, overran: 0 });
    h.hb.shutdown();
  });

  it('in the middle of a run that then overruns counts the overrun; what fell due while it was stopped is no data', () => {
    const dir = tempDir();
    const h = harness(configWith("schedule: { cron: '0 3 * * *', timezone: UTC }, grace: 30m, max_runtime: 2h"), t('2026-08-01T03:00:01Z'), dir);
    h.ping('start', 'abc');
    h.restart(t('2026-08-01T04:00:00Z'));
    h.at(t('2026-08-01T05:00:01Z'));
    assert.deepEqual(h.hb.status('nightly')!.runs, { success: 0, failed: 0, missed: 0, overran: 1 });
    // Stopped across the next night's whole window (03:00 to 03:30): that run is neither good nor bad.
    h.hb.shutdown();
    h.restart(t('2026-08-02T06:00:00Z'));
    h.at(t('2026-08-03T02:00:00Z'));
    assert.deepEqual(h.hb.status('nightly')!.runs, { success: 0, failed: 0, missed: 0, overran: 0 }, 'counters restart with vigild');
    assert.equal(h.hb.status('nightly')!.state, 'down', 'still down since the overrun: no success came');
    assert.deepEqual(h.hb.outages(0, Date.parse('2027-01-01')).map((o) => [new Date(o.fromMs).toISOString(), o.toMs, o.reason]), [['2026-08-01T05:00:01.000Z', null, 'overran']]);
    h.at(t('2026-08-03T03:30:00Z'));
    assert.equal(h.hb.status('nightly')!.runs.missed, 1, 'the night after the restart counts again');
    h.hb.shutdown();
  });
});
