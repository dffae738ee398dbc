// SIGHUP reloads the config file of a child vigild: a valid change is applied without a restart
// (and without losing data sent around it), keys that need a restart are named in the log, and
// an invalid file is rejected with its errors while the old config stays in force.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { sampleValue, scrape, spawnDaemon, sumSamples } from '../test-support/daemon.js';
import type { ChildDaemon } from '../test-support/daemon.js';
import { rawExport } from '../test-support/grpc-client.js';
import { counterRequest } from '../test-support/otlp-proto.js';
import { diffConfig } from './config/reload.js';
import { defaultConfig } from './config/index.js';

/** Waits until the child's stdout has a log line with `msg` beyond the first `skip` such lines. */
async function logLine(child: ChildDaemon, msg: string, skip = 0): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const lines = child.stdout().split('\n').filter((l) => l.includes(`"msg":"${msg}`));
    if (lines.length > skip) return JSON.parse(lines[skip]!) as Record<string, unknown>;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no log line "${msg}" (#${skip + 1}) in:\n${child.stdout()}`);
}

describe('SIGHUP reload', () => {
  let dir: string;
  let file: string;
  let child: ChildDaemon;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-reload-'));
    file = join(dir, 'vigil.yaml');
    writeFileSync(file, 'series:\n  limit: 1000\nworkers:\n  threads: 1\n');
    child = await spawnDaemon(['--config', file], join(dir, 'data'));
  });
  after(async () => {
    child.child.kill('SIGTERM');
    await child.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a valid change in place, names keys that need a restart, and keeps every point', async () => {
    assert.equal(sampleValue(await scrape(child.metricsBase), 'vigil_series_limit'), 1000);
    // Points keep flowing across the reload.
    let acked = 0;
    let sending = true;
    const sender = (async () => {
      while (sending) if ((await rawExport(child.grpcTarget, counterRequest({ name: 'reload_probe', value: 1 }))).code === grpc.status.OK) acked++;
    })();
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(file, 'series:\n  limit: 5000\nworkers:\n  threads: 2\nlog:\n  level: debug\nlimits:\n  memory_soft: 3GiB\n  memory_hard: 4GiB\n');
    child.child.kill('SIGHUP');
    const reloaded = await logLine(child, 'config reloaded');
    assert.deepEqual(reloaded['applied'], ['limits.memory_hard', 'limits.memory_soft', 'log.level', 'series.limit']);
    const restart = await logLine(child, 'config keys changed that need a restart');
    assert.deepEqual(restart['keys'], ['workers.threads']);
    await new Promise((r) => setTimeout(r, 100));
    sending = false;
    await sender;
    const text = await scrape(child.metricsBase);
    assert.equal(sampleValue(text, 'vigil_series_limit'), 5000);
    assert.equal(sampleValue(text, 'vigil_memory_limit_bytes{limit="soft"}'), 3 * 1024 ** 3);
    assert.equal(sampleValue(text, 'vigil_config_reloads_total{outcome="applied"}'), 1);
    assert.equal(sampleValue(text, 'vigil_worker_threads'), 1, 'workers.threads waits for a restart');
    assert.ok(acked > 0);
    assert.equal(sumSamples(text, 'reload_probe_total'), acked, 'every acknowledged point is there once');
  });

  it('rejects an invalid file with its errors; the config in force stays and vigild keeps serving', async () => {
    writeFileSync(file, 'series:\n  limit: -5\nlimits:\n  memory_soft: 2GiB\n  memory_hard: 1GiB\nbogus: 1\n');
    child.child.kill('SIGHUP');
    const rejected = await logLine(child, 'config reload rejected');
    const errors = rejected['errors'] as string[];
    assert.ok(errors.some((e) => e.startsWith('series.limit: must be a positive integer')), errors.join('\n'));
    assert.ok(errors.some((e) => e.includes('bogus')), errors.join('\n'));
    const text = await scrape(child.metricsBase);
    assert.equal(sampleValue(text, 'vigil_series_limit'), 5000);
    assert.equal(sampleValue(text, 'vigil_config_reloads_total{outcome="rejected"}'), 1);
    assert.equal((await rawExport(child.grpcTarget, counterRequest({ name: 'reload_probe', value: 1 }))).code, grpc.status.OK);
    assert.equal(child.child.exitCode, null, 'vigild is still running');
  });
});

describe('diffConfig', () => {
  it('names changed keys by their YAML path and splits them by reloadability', () => {
    const a = defaultConfig();
    const b = defaultConfig();
    b.otlp.grpc.port = 9999;
    b.otlp.maxInflightBytes = 1;
    b.series.stalenessMs = 1;
    b.spans.errorOnHttp5xx = true;
    b.percentiles.windowsMs = [60_000];
    assert.deepEqual(diffConfig(a, b), {
      reloadable: ['otlp.max_inflight_size', 'series.staleness'],
      restartRequired: ['otlp.grpc.endpoint', 'percentiles.windows', 'spans.error_on_http_5xx'],
    });
    assert.deepEqual(diffConfig(a, { ...a, source: '/x.yaml' }), { reloadable: [], restartRequired: [] });
  });
});
