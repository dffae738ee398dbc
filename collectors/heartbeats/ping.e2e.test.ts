// Heartbeat pings over HTTP against a real daemon: GET, POST and HEAD, rid pairing, 404 for unknown
// keys, the families on /metrics checked by the real promtool, and a restart of vigild (a second
// daemon on the same data directory) in the middle of a run.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { defaultConfig, validateConfig } from '../../daemon/config/index.js';
import type { Config } from '../../daemon/config/types.js';
import { startDaemon } from '../../daemon/vigild.js';
import type { Daemon } from '../../daemon/vigild.js';
import { scrape } from '../../test-support/daemon.js';

const KEY = 'e2e-backup-key-0123456789';

function config(dataDir: string): Config {
  const parsed = validateConfig(
    parse(`
components: [{ id: backups }]
heartbeats:
  - { id: nightly, component: backups, key: ${KEY}, schedule: { every: 1h }, grace: 10m, max_runtime: 1h }
slos:
  - { id: backups-ran, component: backups, objective: 99, window: 30d, indicator: { availability: { heartbeat: nightly } } }
`),
  );
  if ('errors' in parsed) throw new Error(parsed.errors.join('\n'));
  const c = defaultConfig();
  for (const l of [c.otlp.grpc, c.otlp.http, c.prometheus, c.status]) l.port = 0;
  c.storage.dataDir = dataDir;
  c.log.level = 'silent';
  c.workers.threads = 1;
  c.components = parsed.config.components;
  c.heartbeats = parsed.config.heartbeats;
  c.slos = parsed.config.slos;
  return c;
}

describe('heartbeat pings on the status listener', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-hb-e2e-'));
  let daemon: Daemon;
  let base = '';
  let metrics = '';
  const start = async (): Promise<void> => {
    daemon = await startDaemon(config(dataDir));
    base = `http://127.0.0.1:${daemon.addresses.status.port}`;
    metrics = `http://127.0.0.1:${daemon.addresses.prometheus.port}`;
  };
  before(start);
  after(async () => {
    await daemon?.shutdown('test done');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('records GET, POST and HEAD pings; HEAD has no body', async () => {
    const get = await fetch(`${base}/ping/${KEY}/start?rid=r1`);
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'OK\n');
    assert.equal(get.headers.get('cache-control'), 'no-store');
    const post = await fetch(`${base}/ping/${KEY}?rid=r1`, { method: 'POST', body: 'backup done: 12 GB\n' });
    assert.equal(post.status, 200);
    const head = await fetch(`${base}/ping/${KEY}/0`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    assert.deepEqual(daemon.heartbeats.status('nightly')!.runs, { success: 2, failed: 0, missed: 0, overran: 0 });
    assert.equal(daemon.heartbeats.status('nightly')!.state, 'up');
    assert.deepEqual(daemon.slo.sloReport('backups-ran')!.windows.find((w) => w.window === '30d')!.total, 2);
  });

  it('answers unknown keys 404 and bad actions 400, and counts both', async () => {
    for (const path of ['/ping/not-a-key-0000000000', '/ping/not-a-key-0000000000/start', `/ping/${KEY}x/fail`]) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(await res.text(), 'not found\n');
    }
    assert.equal((await fetch(`${base}/ping/${KEY}/999`)).status, 400);
    const text = await scrape(metrics);
    assert.match(text, /^vigil_heartbeat_pings_rejected_total\{reason="unknown_key"\} 3$/m);
    assert.match(text, /^vigil_heartbeat_pings_rejected_total\{reason="bad_request"\} 1$/m);
    assert.match(text, /^vigil_heartbeat_state\{heartbeat="nightly",component="backups",state="up"\} 1$/m);
    assert.match(text, /^vigil_heartbeat_runs_total\{heartbeat="nightly",component="backups",outcome="success"\} 2$/m);
  });

  it('exposes the heartbeat families in a form promtool accepts', async () => {
    const own = (await scrape(metrics))
      .split('\n')
      .filter((l) => /^(?:# (?:HELP|TYPE) )?vigil_heartbeat_/.test(l))
      .join('\n');
    const run = spawnSync('promtool', ['check', 'metrics'], { input: `${own}\n`, encoding: 'utf8' });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
  });

  it('keeps a run across a restart of vigild: the success after it is timed from the start before it', async () => {
    assert.equal((await fetch(`${base}/ping/${KEY}/start?rid=across`)).status, 200);
    await daemon.shutdown('restart');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await start();
    assert.equal(daemon.heartbeats.status('nightly')!.state, 'running');
    assert.equal((await fetch(`${base}/ping/${KEY}?rid=across`)).status, 200);
    const s = daemon.heartbeats.status('nightly')!;
    assert.ok(s.lastDurationMs! >= 300, `timed from the start before the restart: ${s.lastDurationMs} ms`);
    assert.deepEqual(s.runs, { success: 1, failed: 0, missed: 0, overran: 0 });
    assert.equal(s.state, 'up');
    // The SLO engine reloaded the two earlier good runs from SQLite and added this one.
    assert.equal(daemon.slo.sloReport('backups-ran')!.windows.find((w) => w.window === '30d')!.good, 3);
  });

  it('shows the component as a major outage on the page while the heartbeat is down, whatever its SLO says', async () => {
    const shown = async (): Promise<string> => {
      daemon.status.refresh();
      const body = (await (await fetch(`${base}/api/v2/components.json`)).json()) as { components: { name: string; status: string }[] };
      return body.components.find((c) => c.name === 'backups')!.status;
    };
    assert.equal((await fetch(`${base}/ping/${KEY}/fail`)).status, 200);
    assert.equal(await shown(), 'major_outage');
    assert.equal((await fetch(`${base}/ping/${KEY}`)).status, 200);
    // Up again: what is left is the SLO's own view (1 bad run of 5 in the last 5 minutes burns its budget).
    assert.equal(await shown(), 'partial_outage');
  });
});
