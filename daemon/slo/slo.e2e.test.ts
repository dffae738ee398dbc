// SLOs end to end: the real OpenTelemetry trace SDK and its OTLP/gRPC exporter as the client, a
// known error share and latency share in, the expected SLI, budget, burn rates, alerts and statuses
// out (on /metrics, checked by promtool, and from the read API); durability across kill -9 and
// SIGTERM of a child vigild; clear startup errors for a corrupted database and an unusable data dir.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { validateConfig } from '../config/index.js';
import { Storage } from '../storage/index.js';
import { damageMiddleLeaf } from '../../test-support/sqlite-damage.js';
import { pollUntil } from '../../test-support/wait.js';
import { scrape, spawnDaemon, startTestDaemon } from '../../test-support/daemon.js';
import type { ChildDaemon, TestDaemon } from '../../test-support/daemon.js';
import { valueWith } from '../../test-support/exposition.js';

const SLO_YAML = `
components:
  - id: api
    name: API
    group: Apps
slos:
  - id: api-availability
    component: api
    objective: 99.9
    window: 30d
    indicator:
      availability:
        spans: { service: checkout }
  - id: api-latency
    component: api
    objective: 99
    window: 30d
    indicator:
      latency:
        spans: { service: checkout }
        threshold: 250ms
`;

const scratch = mkdtempSync(join(tmpdir(), 'vigil-slo-e2e-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const configFile = join(scratch, 'vigil.yaml');
writeFileSync(configFile, SLO_YAML);

/** The SLO part of the config above, parsed as the daemon would. */
function sloConfig() {
  const result = validateConfig((require_yaml()).parse(SLO_YAML));
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  return result.config;
}
import * as YAML from 'yaml';
function require_yaml(): typeof YAML {
  return YAML;
}

/** A tracer sending to `grpcTarget` as service `checkout`. */
function tracerFor(grpcTarget: string, maxQueueSize = 100_000) {
  const exporter = new OTLPTraceExporter({ url: `http://${grpcTarget}` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout' }),
    spanProcessors: [new BatchSpanProcessor({ exporter, maxQueueSize, maxExportBatchSize: 512, scheduledDelayMillis: 50 })],
  });
  return { provider, tracer: provider.getTracer('slo-e2e') };
}

/** Ends one SERVER span of `ms` milliseconds, ending now, failed or not. */
function span(tracer: ReturnType<TracerProvider['getTracer']>, ms: number, failed: boolean, kind = SpanKind.SERVER): void {
  const end = Date.now();
  const s = tracer.startSpan('POST /pay', { kind, startTime: end - ms });
  if (failed) s.setStatus({ code: SpanStatusCode.ERROR });
  s.end(end);
}

/** Sum of good and total over every stored minute of `slo` (read from another process's view of the file). */
function stored(dataDir: string, slo: string): { good: number; total: number } {
  const db = new Database(join(dataDir, 'vigil.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT coalesce(sum(good), 0) AS good, coalesce(sum(total), 0) AS total FROM slo_minute WHERE slo = ?').get(slo) as { good: number; total: number };
    return row;
  } finally {
    db.close();
  }
}

function promtool(exposition: string): { code: number | null; lines: string[] } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 20_000 });
  if (run.error) throw run.error;
  return { code: run.status, lines: `${run.stdout}\n${run.stderr}`.split('\n').filter((l) => l.trim() !== '') };
}

describe('SLOs from real OTel spans', () => {
  let daemon: TestDaemon;
  const SPANS = 2000;
  const labels = (slo: string) => ({ slo, component: 'api' });

  before(async () => {
    const slo = sloConfig();
    daemon = await startTestDaemon((config) => {
      config.components = slo.components;
      config.slos = slo.slos;
    });
  });
  after(async () => {
    await daemon.stop();
  });

  it('with no traffic: objectives and alerts only, no NaN or Inf anywhere, status no_data', async () => {
    const text = await scrape(daemon.metricsBase);
    assert.doesNotMatch(text, /NaN|[+-]?Inf\b(?!")/, 'no NaN or Inf sample');
    assert.equal(valueWith(text, 'vigil_slo_objective_ratio', labels('api-availability')), 0.999);
    assert.equal(valueWith(text, 'vigil_slo_objective_ratio', labels('api-latency')), 0.99);
    assert.equal(valueWith(text, 'vigil_slo_alert', { ...labels('api-availability'), severity: 'page' }), 0);
    assert.equal(valueWith(text, 'vigil_slo_sli_ratio', { ...labels('api-availability'), window: '5m' }), undefined);
    assert.equal(valueWith(text, 'vigil_slo_error_budget_remaining_ratio', labels('api-availability')), undefined);
    const om = await scrape(daemon.metricsBase, 'application/openmetrics-text;version=1.0.0');
    assert.doesNotMatch(om.replace(/le="\+Inf"/g, ''), /NaN|Inf/);
    assert.equal(daemon.daemon.slo.report()[0]!.status, 'no_data');
  });

  it('a known error share and latency share give the expected SLI, budget, burn rates and alerts', async () => {
    const { provider, tracer } = tracerFor(daemon.grpcTarget);
    // 2% errors (every 50th), 5% slower than 250 ms (every 20th, 300 ms); the rest 10 ms. Client spans are ignored.
    for (let i = 0; i < SPANS; i++) {
      span(tracer, i % 20 === 0 ? 300 : 10, i % 50 === 0);
      if (i % 10 === 0) span(tracer, 10, true, SpanKind.CLIENT);
    }
    await provider.forceFlush();
    await provider.shutdown();
    const text = await scrape(daemon.metricsBase);
    const a = labels('api-availability');
    const l = labels('api-latency');
    for (const window of ['5m', '1h', '3d', '30d']) {
      assert.equal(valueWith(text, 'vigil_slo_sli_ratio', { ...a, window }), 0.98, `availability SLI ${window}`);
      assert.equal(valueWith(text, 'vigil_slo_sli_ratio', { ...l, window }), 0.95, `latency SLI ${window}`);
    }
    // Burn = 0.02 / 0.001 = 20; budget = 1 − 20 = −19. Latency: 0.05 / 0.01 = 5; budget −4.
    assert.ok(Math.abs(valueWith(text, 'vigil_slo_burn_rate', { ...a, window: '1h' })! - 20) < 1e-9);
    assert.ok(Math.abs(valueWith(text, 'vigil_slo_error_budget_remaining_ratio', a)! + 19) < 1e-9);
    assert.ok(Math.abs(valueWith(text, 'vigil_slo_burn_rate', { ...l, window: '1h' })! - 5) < 1e-9);
    assert.ok(Math.abs(valueWith(text, 'vigil_slo_error_budget_remaining_ratio', l)! + 4) < 1e-9);
    // Availability: 20 ≥ 14.4 over 1h and 5m → page; ≥ 1 over 3d and 6h → ticket.
    assert.equal(valueWith(text, 'vigil_slo_alert', { ...a, severity: 'page' }), 1);
    assert.equal(valueWith(text, 'vigil_slo_alert', { ...a, severity: 'ticket' }), 1);
    // Latency: 5 < 6 and < 14.4 → no page; ≥ 1 → ticket.
    assert.equal(valueWith(text, 'vigil_slo_alert', { ...l, severity: 'page' }), 0);
    assert.equal(valueWith(text, 'vigil_slo_alert', { ...l, severity: 'ticket' }), 1);
    assert.doesNotMatch(text, /NaN/);

    const [component] = daemon.daemon.slo.report();
    assert.equal(component!.id, 'api');
    assert.deepEqual(
      component!.slos.map((s) => [s.id, s.status]),
      [
        ['api-availability', 'partial_outage'],
        ['api-latency', 'degraded_performance'],
      ],
    );
    assert.equal(component!.status, 'partial_outage');
    const today = daemon.daemon.slo.dailyUptime('api-availability', 90);
    assert.equal(today.length, 90);
    assert.deepEqual([today.at(-1)!.good, today.at(-1)!.total, today.at(-1)!.sli], [1960, 2000, 0.98]);
    assert.ok(today.slice(0, -2).every((d) => d.sli === null && d.total === 0), 'days without traffic are no data');
  });

  it('passes promtool check metrics, in both formats', async () => {
    for (const accept of ['text/plain;version=0.0.4', 'application/openmetrics-text;version=1.0.0']) {
      // Only the SLO section: span exemplars in OpenMetrics are not this test's subject.
      const section = (await scrape(daemon.metricsBase, accept))
        .split('\n')
        .filter((line) => /^(# (HELP|TYPE|UNIT) )?vigil_(slo|storage)_/.test(line))
        .join('\n');
      assert.match(section, /vigil_slo_alert/);
      const result = promtool(section + '\n');
      // promtool reads OpenMetrics with its text parser, so an OpenMetrics counter (HELP on the name
      // without _total) reads as "no help text"; prom-client's counters get the same remark.
      const om = accept.startsWith('application/openmetrics-text');
      const slo = result.lines.filter((line) => /vigil_slo|vigil_storage/.test(line) && !(om && /_total no help text$/.test(line)));
      assert.deepEqual(slo, [], `promtool on the SLO families (${accept})`);
      assert.notEqual(result.code, 1, `no parse error: ${result.lines.join('; ')}`);
    }
  });
});

describe('durability of a child vigild', () => {
  const children: ChildDaemon[] = [];
  after(async () => {
    for (const d of children) {
      if (d.child.exitCode === null && d.child.signalCode === null) {
        d.child.kill('SIGKILL');
        await d.exited;
      }
    }
  });
  const start = async (dataDir?: string): Promise<ChildDaemon> => {
    const d = await spawnDaemon(['--config', configFile], dataDir);
    children.push(d);
    return d;
  };

  it('SIGTERM loses no span: every acknowledged span is in the rollups', { timeout: 60_000 }, async () => {
    const d = await start();
    const { provider, tracer } = tracerFor(d.grpcTarget);
    for (let i = 0; i < 1500; i++) span(tracer, 5, i % 100 === 0);
    await provider.forceFlush();
    await provider.shutdown();
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0, d.stderr());
    assert.deepEqual(stored(d.dataDir, 'api-availability'), { good: 1485, total: 1500 });
    assert.deepEqual(stored(d.dataDir, 'api-latency'), { good: 1500, total: 1500 });
  });

  it('kill -9 while spans flow loses at most the last flush interval; a restart reloads the rest', { timeout: 90_000 }, async () => {
    const d = await start();
    const { provider, tracer } = tracerFor(d.grpcTarget);
    // Acknowledged spans over time: each forceFlush resolves once the daemon has answered OK.
    const acked: { at: number; count: number }[] = [];
    let sent = 0;
    let flowing = true;
    const flow = (async () => {
      while (flowing) {
        for (let i = 0; i < 100; i++) span(tracer, 5, false);
        sent += 100;
        const count = sent;
        try {
          await provider.forceFlush();
        } catch {
          return;
        }
        if (flowing) acked.push({ at: Date.now(), count });
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 3500));
    const killedAt = Date.now();
    d.child.kill('SIGKILL');
    flowing = false;
    await d.exited;
    await flow;
    void provider.shutdown().catch(() => {});
    const ackedAtKill = acked.at(-1)!.count;
    // Everything acknowledged more than one flush interval (1 s) before the kill was flushed; allow
    // 250 ms for the timer's own jitter.
    const mustHave = [...acked].reverse().find((a) => a.at <= killedAt - 1250)?.count ?? 0;
    const afterKill = stored(d.dataDir, 'api-availability');
    assert.ok(mustHave > 500, `enough traffic before the kill (${mustHave})`);
    assert.ok(afterKill.total >= mustHave, `stored ${afterKill.total} ≥ acknowledged a flush interval before the kill (${mustHave}); at the kill ${ackedAtKill}`);
    assert.ok(afterKill.total <= sent, `stored ${afterKill.total} ≤ sent ${sent}`);

    const again = await start(d.dataDir);
    const slo = await (async () => {
      const text = await scrape(again.metricsBase);
      return valueWith(text, 'vigil_slo_sli_ratio', { slo: 'api-availability', component: 'api', window: '1h' });
    })();
    assert.equal(slo, 1, 'the restarted daemon reports the reloaded window');
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
    assert.deepEqual(stored(d.dataDir, 'api-availability'), afterKill, 'the restart wrote nothing twice');
  });

  it('a corrupted database file: a clear startup error naming the file, exit 1', { timeout: 30_000 }, async () => {
    const dataDir = join(scratch, 'corrupt');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'vigil.db'), Buffer.alloc(8192, 0x41));
    await assert.rejects(start(dataDir), (err: Error) => {
      assert.match(err.message, /exited with 1 before starting/);
      assert.match(err.message, /VIGIL_STORAGE_CORRUPT/);
      assert.ok(err.message.includes(join(dataDir, 'vigil.db')), err.message);
      assert.match(err.message, /restore it from a backup, or move it aside/);
      return true;
    });
  });

  it('damage in the middle of the SLO history: vigild starts (the open check reads only the ends), then the full check after ready finds it: /-/ready 503 with the fix, vigil_storage_integrity_state 2, one error line, still serving', { timeout: 60_000 }, async () => {
    const dataDir = join(scratch, 'damaged-history');
    // History of SLOs not in the config: nothing but the full check reads those pages.
    const storage = Storage.open({ dataDir });
    const now = Math.floor(Date.now() / 60_000);
    storage.write(Array.from({ length: 300 * 240 }, (_, i) => ({ slo: `retired-${String(Math.floor(i / 240)).padStart(3, '0')}`, minute: now - 240 + (i % 240), good: 9, total: 10 })));
    storage.close();
    const page = damageMiddleLeaf(join(dataDir, 'vigil.db'), 'slo_minute');
    const d = await start(dataDir);
    const reason = await pollUntil('/-/ready to answer 503', 30_000, async () => {
      const res = await fetch(`${d.metricsBase}/-/ready`);
      const body = await res.text();
      return res.status === 503 ? body : undefined;
    });
    assert.match(reason, /VIGIL_STORAGE_CORRUPT/);
    assert.ok(reason.includes(join(dataDir, 'vigil.db')), reason);
    assert.match(reason, new RegExp(`page ${page}\\b`));
    assert.match(reason, /restore it from a backup, or move it aside/);
    const text = await scrape(d.metricsBase);
    assert.equal(valueWith(text, 'vigil_storage_integrity_state', {}), 2);
    assert.equal(valueWith(text, 'vigil_slo_objective_ratio', { slo: 'api-availability', component: 'api' }), 0.999, 'still serving /metrics');
    const errors = d.stdout().split('\n').filter((l) => l.includes('"code":"VIGIL_STORAGE_CORRUPT"'));
    assert.equal(errors.length, 1, d.stdout());
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0, d.stderr());
  });

  it('an unusable data dir: a clear startup error naming it, exit 1', { timeout: 30_000 }, async () => {
    const file = join(scratch, 'not-a-dir');
    writeFileSync(file, '');
    const dataDir = join(file, 'data');
    await assert.rejects(start(dataDir), (err: Error) => {
      assert.match(err.message, /VIGIL_DATA_DIR_UNUSABLE/);
      assert.ok(err.message.includes(dataDir), err.message);
      assert.match(err.message, /--data-dir/);
      return true;
    });
  });
});
