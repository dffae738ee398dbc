// `vigil report` against a data directory a running vigild holds (lock file taken, WAL open), and the
// same report from the daemon's status server at /api/v1/reports/<month>.<format>.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage } from '../../daemon/storage/index.js';
import type { MinuteDelta } from '../../daemon/storage/index.js';
import { spawnDaemon } from '../../test-support/daemon.js';
import type { ChildDaemon } from '../../test-support/daemon.js';

const MIN = 60_000;
const CONFIG = `
slo:
  timezone: UTC
components:
  - id: api
    name: API
slos:
  - id: api-availability
    component: api
    objective: 99.9
    window: 30d
    indicator:
      availability:
        spans: { service: api }
`;

interface JsonReport {
  month: string;
  start: string;
  until: string;
  complete: boolean;
  components: { id: string; uptime_ratio: number | null; counted_minutes: number; downtime_minutes: number; minutes: Record<string, number> }[];
}

describe('vigil report while vigild runs', () => {
  let dir: string;
  let configFile: string;
  let daemon: ChildDaemon;
  const now = Date.now();
  const d = new Date(now);
  // The current month: its minutes are all inside minute retention.
  const month = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  const monthStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  // 30 failing minutes, ending 20 minutes ago (or as early in the month as possible).
  const outageStart = Math.max(monthStart, Math.floor(now / MIN) * MIN - 50 * MIN);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-report-e2e-'));
    configFile = join(dir, 'vigil.yaml');
    writeFileSync(configFile, CONFIG);
    const storage = Storage.open({ dataDir: dir });
    const deltas: MinuteDelta[] = [];
    for (let ms = monthStart; ms < now - 10 * MIN; ms += MIN) {
      const failing = ms >= outageStart && ms < outageStart + 30 * MIN;
      deltas.push({ slo: 'api-availability', minute: ms / MIN, good: failing ? 0 : 100, total: 100 });
    }
    storage.write(deltas);
    storage.close();
    daemon = await spawnDaemon(['--config', configFile], dir);
  });
  after(async () => {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  const report = (...args: string[]) => spawnSync(process.execPath, ['bin/vigil.js', 'report', '--config', configFile, '--data-dir', dir, '--month', month, ...args], { encoding: 'utf8', timeout: 30_000 });

  test('json: the outage minutes and the uptime, without taking the daemon lock', () => {
    const run = report('--format', 'json');
    assert.equal(run.status, 0, run.stderr);
    const json = JSON.parse(run.stdout) as JsonReport;
    assert.equal(json.month, month);
    const api = json.components[0]!;
    const outageMinutes = Math.min(30, Math.floor((now - 10 * MIN - outageStart) / MIN));
    assert.equal(api.minutes['major_outage'], outageMinutes);
    assert.equal(api.counted_minutes, (Date.parse(json.until) - Date.parse(json.start)) / MIN);
    assert.equal(api.uptime_ratio, 1 - outageMinutes / api.counted_minutes);
    // The daemon still owns the data dir: a second vigild is refused with the lock error.
    assert.equal(daemon.child.exitCode, null);
  });

  test('md, csv and html to --output; the same uptime everywhere', () => {
    const json = JSON.parse(report('--format', 'json').stdout) as JsonReport;
    const uptime = json.components[0]!.uptime_ratio!;
    for (const [format, digits] of [['md', 4], ['csv', 6], ['html', 4]] as const) {
      const out = join(dir, `report.${format}`);
      const run = report('--format', format, '--output', out);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, '');
      assert.ok(readFileSync(out, 'utf8').includes((uptime * 100).toFixed(digits)), `${format} shows ${(uptime * 100).toFixed(digits)}`);
    }
  });

  test('the status server serves it at /api/v1/reports/<month>.<format>', async () => {
    const res = await fetch(`${daemon.statusBase}/api/v1/reports/${month}.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.ok(res.headers.get('etag'));
    const body = (await res.json()) as JsonReport;
    assert.equal(body.month, month);
    assert.equal(body.complete, false);
    const csv = await fetch(`${daemon.statusBase}/api/v1/reports/${month}.csv`);
    assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
    assert.match(await csv.text(), /^type,id,name,component,uptime_percent/);
    assert.equal((await fetch(`${daemon.statusBase}/api/v1/reports/${month}.pdf`)).status, 404);
    assert.equal((await fetch(`${daemon.statusBase}/api/v1/reports/2999-01.json`)).status, 400);
    assert.equal((await fetch(`${daemon.statusBase}/api/v1/reports/${month}.json?timezone=Nowhere/Else`)).status, 400);
  });

  test('usage errors exit 2; no database exits 1', () => {
    assert.equal(report('--format', 'pdf').status, 2);
    const bad = spawnSync(process.execPath, ['bin/vigil.js', 'report', '--month', '2026-13', '--data-dir', dir], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /month: must be YYYY-MM/);
    const empty = mkdtempSync(join(tmpdir(), 'vigil-report-none-'));
    try {
      const none = spawnSync(process.execPath, ['bin/vigil.js', 'report', '--month', month, '--data-dir', empty], { encoding: 'utf8' });
      assert.equal(none.status, 1);
      assert.match(none.stderr, /no database/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const help = spawnSync(process.execPath, ['bin/vigil.js', '--help'], { encoding: 'utf8' });
    assert.match(help.stdout, /report --month YYYY-MM/);
  });
});
