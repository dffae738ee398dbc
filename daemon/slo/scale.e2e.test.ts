// A platform-sized config on the default limits (issue 13): 2,000 SLOs on 200 components used to
// start a child vigild over limits.memory_hard (every 30d SLO held 43,200 minutes), answering
// /-/ready 503 and refusing every OTLP request before any traffic. Now: ready, under the soft
// limit, and spans from the real OTel SDK exporter are counted into their SLOs.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { scrape, spawnDaemon } from '../../test-support/daemon.js';
import type { ChildDaemon } from '../../test-support/daemon.js';
import { valueWith } from '../../test-support/exposition.js';

const COMPONENTS = 200;
const PER_COMPONENT = 10;

const scratch = mkdtempSync(join(tmpdir(), 'vigil-slo-scale-'));
const children: ChildDaemon[] = [];
after(async () => {
  for (const d of children) {
    if (d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill('SIGKILL');
      await d.exited;
    }
  }
  rmSync(scratch, { recursive: true, force: true });
});

/** 200 components with 10 SLOs each (one per span name of the component's service); no `limits:` key. */
function platformConfig(): string {
  let yaml = 'components:\n';
  for (let c = 0; c < COMPONENTS; c++) yaml += `  - { id: svc-${c}, name: Service ${c}, group: Group ${c % 20} }\n`;
  yaml += 'slos:\n';
  for (let c = 0; c < COMPONENTS; c++) {
    for (let k = 0; k < PER_COMPONENT; k++) {
      yaml += `  - { id: svc-${c}-op-${k}, component: svc-${c}, objective: 99.9, window: 30d, indicator: { availability: { spans: { service: svc-${c}, span_name: op-${k} } } } }\n`;
    }
  }
  return yaml;
}

describe('2,000 SLOs on the default limits', () => {
  it('the daemon is ready, under its soft limit, and counts traffic into the SLOs', async () => {
    const file = join(scratch, 'vigil.yaml');
    writeFileSync(file, platformConfig());
    const d = await spawnDaemon(['--config', file], join(scratch, 'data'));
    children.push(d);
    const ready = await fetch(`${d.metricsBase}/-/ready`);
    assert.equal(ready.status, 200, `/-/ready: ${await ready.text()}`);
    let text = await scrape(d.metricsBase);
    assert.equal(valueWith(text, 'vigil_memory_limit_state', {}), 0, 'under the soft limit before traffic');
    const soft = valueWith(text, 'vigil_memory_limit_bytes', { limit: 'soft' })!;
    assert.ok(valueWith(text, 'vigil_memory_used_bytes', {})! < soft / 2, `used ${valueWith(text, 'vigil_memory_used_bytes', {})} of soft ${soft}`);

    // 100 services, one span name each, 20 spans per SLO, every 10th failed.
    const providers: TracerProvider[] = [];
    for (let c = 0; c < 100; c++) {
      const exporter = new OTLPTraceExporter({ url: `http://${d.grpcTarget}` });
      const provider = new TracerProvider({
        resource: resourceFromAttributes({ 'service.name': `svc-${c}` }),
        spanProcessors: [new BatchSpanProcessor({ exporter, maxQueueSize: 10_000, maxExportBatchSize: 512, scheduledDelayMillis: 20 })],
      });
      providers.push(provider);
      const tracer = provider.getTracer('slo-scale');
      for (let i = 0; i < 20; i++) {
        const s = tracer.startSpan(`op-${c % PER_COMPONENT}`, { kind: SpanKind.SERVER });
        if (i % 10 === 0) s.setStatus({ code: SpanStatusCode.ERROR });
        s.end();
      }
    }
    for (const p of providers) {
      await p.forceFlush();
      await p.shutdown();
    }
    text = await scrape(d.metricsBase);
    for (const c of [0, 42, 99]) {
      const labels = { slo: `svc-${c}-op-${c % PER_COMPONENT}`, component: `svc-${c}`, window: '5m' };
      assert.equal(valueWith(text, 'vigil_slo_sli_ratio', labels), 0.9, `SLI of ${labels.slo}`);
    }
    assert.equal(valueWith(text, 'vigil_slo_sli_ratio', { slo: 'svc-0-op-1', component: 'svc-0', window: '5m' }), undefined, 'an SLO without traffic has no SLI');
    assert.equal(valueWith(text, 'vigil_memory_limit_state', {}), 0);
    assert.equal((await fetch(`${d.metricsBase}/-/ready`)).status, 200);
  });
});
