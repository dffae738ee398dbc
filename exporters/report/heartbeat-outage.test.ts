// Reports count a heartbeat's downtime by time: from the missed deadline to the next success, not
// the one minute in which the missed run's bad event was counted.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage } from '../../daemon/storage/index.js';
import type { MinuteDelta } from '../../daemon/storage/index.js';
import { validateConfig } from '../../daemon/config/index.js';
import { HeartbeatStore } from '../../collectors/heartbeats/store.js';
import { createReporter } from './index.js';

const MIN = 60_000;
const NOW = Date.UTC(2026, 10, 15);
const dir = mkdtempSync(join(tmpdir(), 'vigil-report-hb-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('monthly report with a heartbeat', () => {
  it('counts the component down from the missed deadline to the next success (5 h 30 m), not one minute', () => {
    const result = validateConfig({
      storage: { data_dir: dir },
      components: [{ id: 'backups', name: 'Backups' }],
      heartbeats: [{ id: 'nightly', component: 'backups', key: 'report-test-key-0123456', schedule: { cron: '0 3 * * *' }, grace: '30m' }],
      slos: [{ id: 'backups-ran', component: 'backups', objective: 99, window: '30d', indicator: { availability: { heartbeat: 'nightly' } } }],
    });
    assert.ok('config' in result, JSON.stringify(result));
    const config = result.config;
    // One good run a night at 03:00 UTC in October 2026, except the 10th: missed at 03:30, the job succeeded at 09:00.
    const deltas: MinuteDelta[] = [];
    for (let day = 1; day <= 31; day++) {
      const at = Date.UTC(2026, 9, day, 3, day === 10 ? 30 : 0) / MIN;
      deltas.push({ slo: 'backups-ran', minute: at, good: day === 10 ? 0 : 1, total: 1 });
    }
    const storage = Storage.open({ dataDir: dir, now: () => NOW });
    storage.write(deltas, [], []);
    storage.close();
    const heartbeats = HeartbeatStore.open(dir, () => NOW);
    const snapshot = JSON.parse('{"v":1,"schedule":"","firstPingMs":null,"lastPingMs":null,"lastSuccessMs":null,"lastStartMs":null,"lastFailMs":null,"lastExitStatus":null,"lastDurationMs":null,"downSinceMs":null,"downReason":null,"nextFireMs":null,"slots":[],"runs":[]}');
    heartbeats.write(
      [{ heartbeat: 'nightly', component: 'backups', snapshot, outages: [{ op: 'open', fromMs: Date.UTC(2026, 9, 10, 3, 30), reason: 'missed' }, { op: 'close', atMs: Date.UTC(2026, 9, 10, 9, 0) }] }],
      NOW,
    );
    heartbeats.close();

    const report = createReporter(config, { now: () => NOW }).generate('2026-10');
    const backups = report.components.find((c) => c.id === 'backups')!;
    assert.equal(backups.minutes.majorOutage, 330);
    assert.equal(backups.downtimeMinutes, 330);
    const slo = report.slos.find((s) => s.id === 'backups-ran')!;
    assert.deepEqual([slo.good, slo.total, slo.kind], [30, 31, 'availability']);
  });
});
