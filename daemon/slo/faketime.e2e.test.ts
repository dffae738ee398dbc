// The wall clock of a running vigild stepped back two hours and forward again (libfaketime with a
// timestamp file read on every call, as an NTP step would do it; the monotonic clock is left alone,
// as NTP leaves it), spans arriving before, during and after (issue 15): the daemon keeps serving,
// /metrics never shows NaN or a negative value for the SLO and duration families, it stops cleanly,
// and the database holds every span once.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { scrape, spawnDaemon } from '../../test-support/daemon.js';

const LIB = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1'].find((p) => existsSync(p));
const SKIP = LIB === undefined ? 'libfaketime is not installed (Debian: faketime)' : false;

const dir = mkdtempSync(join(tmpdir(), 'vigil-faketime-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function sendSpans(grpcTarget: string, count: number, errors: number): Promise<void> {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout' }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `http://${grpcTarget}` }), maxQueueSize: 10_000, scheduledDelayMillis: 20 })],
  });
  const tracer = provider.getTracer('faketime-e2e');
  const end = Date.now();
  for (let i = 0; i < count; i++) {
    const s = tracer.startSpan('POST /pay', { kind: SpanKind.SERVER, startTime: end - 30 });
    if (i < errors) s.setStatus({ code: SpanStatusCode.ERROR });
    s.end(end);
  }
  await provider.forceFlush();
  await provider.shutdown();
}

/** Values of the SLO, storage and request-duration families: none may be NaN or negative. */
function badValues(text: string): string[] {
  return text.split('\n').filter((l) => /^vigil_(slo|storage|otlp_request_duration)/.test(l)).filter((l) => {
    const v = Number(l.slice(l.lastIndexOf(' ') + 1));
    return Number.isNaN(v) || v < 0;
  });
}

describe('the wall clock of a running vigild stepped back 2 h and forward again (libfaketime)', { skip: SKIP }, () => {
  it('keeps serving, no NaN or negative values, stops cleanly, stores every span once', { timeout: 90_000 }, async () => {
    const offset = join(dir, 'offset');
    writeFileSync(offset, '+0');
    writeFileSync(join(dir, 'vigil.yaml'), `
components: [{ id: api, name: API }]
slos:
  - { id: avail, component: api, objective: 99, window: 30d, indicator: { availability: { spans: { service: checkout } } } }
`);
    const daemon = await spawnDaemon(['--config', join(dir, 'vigil.yaml')], join(dir, 'data'), {
      ...process.env, LD_PRELOAD: LIB, FAKETIME_TIMESTAMP_FILE: offset, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1',
    });
    try {
      await sendSpans(daemon.grpcTarget, 500, 5);
      await sleep(2500);
      writeFileSync(offset, '-2h');
      await sleep(2500);
      await sendSpans(daemon.grpcTarget, 500, 5);
      await sleep(2500);
      assert.deepEqual(badValues(await scrape(daemon.metricsBase)), [], 'no NaN or negative value after the step back');
      writeFileSync(offset, '+0');
      await sleep(1500);
      await sendSpans(daemon.grpcTarget, 500, 5);
      await sleep(1500);
      const text = await scrape(daemon.metricsBase);
      assert.deepEqual(badValues(text), [], 'no NaN or negative value after the step forward');
      assert.equal((await fetch(`${daemon.metricsBase}/-/ready`)).status, 200);
    } finally {
      daemon.child.kill('SIGTERM');
    }
    assert.equal(await daemon.exited, 0);
    const db = new Database(join(dir, 'data', 'vigil.db'), { readonly: true });
    try {
      const row = db.prepare("SELECT sum(good) AS good, sum(total) AS total, min(good) AS minGood FROM slo_minute WHERE slo = 'avail'").get() as { good: number; total: number; minGood: number };
      assert.deepEqual([row.good, row.total], [1485, 1500], 'every span stored once');
      assert.ok(row.minGood >= 0);
    } finally {
      db.close();
    }
  });
});
