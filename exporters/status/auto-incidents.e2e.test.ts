// Automatic incidents in a real daemon: failed spans from the real OpenTelemetry SDK make the page
// alert fire → a draft appears, invisible on the page, the v2 API, the feeds and to webhooks → an
// operator publishes it through the admin API (now public, webhook incident.created) → good spans
// clear the alert → Vigil posts an update and resolves it after resolve_after. And a missed
// heartbeat: a draft that is edited, published, and resolved by the next success; a discarded draft.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { parse } from 'yaml';
import { validateConfig } from '../../daemon/config/index.js';
import { startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { pollUntil } from '../../test-support/wait.js';
import { admin, applyStatusConfig } from './testing.js';

const HB_KEY = 'auto-incident-hb-key-0123';

/** Polls `ok` until it holds (or fails naming `what`). */
async function waitFor(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
  await pollUntil(what, timeoutMs, async () => (ok() ? true : undefined), 50);
}

/** A local receiver of the daemon's webhooks: every delivery's `type` and incident id. */
async function webhookReceiver(): Promise<{ server: Server; url: string; got: { type: string; id: string | undefined; draft: unknown }[] }> {
  const got: { type: string; id: string | undefined; draft: unknown }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const event = JSON.parse(body) as { type: string; data: { incident?: { id: string; draft?: unknown } } };
      got.push({ type: event.type, id: event.data.incident?.id, draft: event.data.incident?.draft });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

/** The public documents, rebuilt first (as the refresh timer would), so a leaked draft would show. */
async function publicViews(d: TestDaemon): Promise<string[]> {
  d.daemon.status.refresh();
  const base = d.statusBase;
  return Promise.all(['/api/v2/incidents.json', '/api/v2/summary.json', '/api/v2/incidents/unresolved.json', '/history.atom', '/history.rss', '/'].map(async (p) => (await fetch(`${base}${p}`)).text()));
}

describe('automatic incidents', () => {
  let d: TestDaemon;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  before(async () => {
    hooks = await webhookReceiver();
    const extra = validateConfig(
      parse(`
components: [{ id: backups, name: Backups }]
heartbeats: [{ id: nightly, component: backups, key: ${HB_KEY}, schedule: { every: 1h }, grace: 10m }]
`),
    );
    if ('errors' in extra) throw new Error(extra.errors.join('\n'));
    d = await startTestDaemon((config) => {
      applyStatusConfig(config);
      config.components.push(...extra.config.components);
      config.heartbeats = extra.config.heartbeats;
      config.status.autoIncidents = { enabled: true, publish: false, resolveAfterMs: 1000 };
      // Evaluated by the test (evaluate()) rather than by the timer, so each step is deterministic.
      config.status.refreshIntervalMs = 3_600_000;
      config.status.webhooks = [{ url: hooks.url, secret: 'webhook-secret-0123456789', maxAttempts: 1, timeoutMs: 5000, maxQueue: 100 }];
    });
  });
  after(async () => {
    await d?.stop();
    hooks?.server.close();
  });

  it('SLO page alert → draft, invisible publicly → published by the admin API → resolves by itself once the alert has cleared', async () => {
    const auto = d.daemon.autoIncidents!;
    assert.ok(auto !== null, 'status.auto_incidents.enabled starts them');
    const exporter = new OTLPTraceExporter({ url: `http://${d.grpcTarget}` });
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout' }),
      spanProcessors: [new BatchSpanProcessor({ exporter, maxQueueSize: 50_000, maxExportBatchSize: 2000, scheduledDelayMillis: 20 })],
    });
    const tracer = provider.getTracer('auto-incidents-e2e');
    const spans = (n: number, failed: boolean): void => {
      for (let i = 0; i < n; i++) {
        const s = tracer.startSpan('POST /pay', { kind: SpanKind.SERVER });
        if (failed) s.setStatus({ code: SpanStatusCode.ERROR });
        s.end();
      }
    };
    // 10 failed requests: a burn rate of 1000 over 5m and 1h, the page rule of a 99.9% SLO fires.
    spans(10, true);
    await provider.forceFlush();
    await waitFor(() => d.daemon.slo.sloReport('api-availability')!.alerts.page, 10_000, 'the page alert fires');
    auto.evaluate();

    const drafts = await admin(d.statusBase, 'GET', '/api/admin/incidents/drafts');
    assert.equal(drafts.status, 200);
    const list = drafts.json['incidents'] as { id: string; name: string; draft: boolean; auto_component: string; incident_updates: { body: string; status: string }[] }[];
    assert.equal(list.length, 1);
    const draft = list[0]!;
    assert.equal(draft.draft, true);
    assert.equal(draft.auto_component, 'api');
    assert.match(draft.name, /^API: /);
    const first = draft.incident_updates[0]!.body;
    for (const fact of [/SLO api-availability/, /fires its page alert since \d{4}-\d\d-\d\dT/, /SLI over 1h: 0 %/, /objective 99\.9 %/, /Error budget left over 30d: -?\d/]) assert.match(first, fact);

    // Invisible: page, v2 API, feeds; and no webhook.
    for (const body of await publicViews(d)) assert.ok(!body.includes(draft.id) && !body.includes(draft.name), 'a draft is not public');
    auto.evaluate();
    assert.equal(((await admin(d.statusBase, 'GET', '/api/admin/incidents/drafts')).json['incidents'] as unknown[]).length, 1, 'never a second incident for a component with an open one');

    const published = await admin(d.statusBase, 'POST', `/api/admin/incidents/${draft.id}/publish`);
    assert.equal(published.status, 200);
    assert.equal(published.json['draft'], false);
    assert.equal((await admin(d.statusBase, 'POST', `/api/admin/incidents/${draft.id}/publish`)).status, 404, 'published once');
    const views = await publicViews(d);
    for (const body of views) assert.ok(body.includes(draft.name.replaceAll('&', '&amp;')) || body.includes(draft.id), 'published: on the page, the API and the feeds');
    await waitFor(() => hooks.got.some((h) => h.type === 'incident.created' && h.id === draft.id), 5000, 'webhook incident.created after publishing');
    assert.ok(!hooks.got.some((h) => h.id === draft.id && h.draft === true), 'no webhook ever carried the draft');

    // 20 000 good requests bring the 5m and 1h burn rates under 14.4: the alert clears.
    spans(20_000, false);
    await provider.forceFlush();
    await provider.shutdown();
    await waitFor(() => !d.daemon.slo.sloReport('api-availability')!.alerts.page, 20_000, 'the page alert clears');
    auto.evaluate();
    let incident = d.daemon.status.store.incident(draft.id)!;
    assert.equal(incident.status, 'monitoring');
    auto.evaluate();
    assert.equal(d.daemon.status.store.incident(draft.id)!.status, 'monitoring', 'not before resolve_after');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    auto.evaluate();
    incident = d.daemon.status.store.incident(draft.id)!;
    assert.equal(incident.status, 'resolved');
    assert.deepEqual(incident.updates.map((u) => u.status), ['resolved', 'monitoring', 'investigating']);
    assert.match(incident.updates[0]!.body, /^Resolved automatically: the alert has been clear since /);
    const unresolved = JSON.parse(await (await fetch(`${d.statusBase}/api/v2/incidents/unresolved.json`)).text()) as { incidents: unknown[] };
    assert.equal(unresolved.incidents.length, 0);
    await waitFor(() => hooks.got.filter((h) => h.type === 'incident.updated' && h.id === draft.id).length === 2, 5000, 'webhooks for the monitoring and resolved updates');
  });

  it('missed heartbeat → draft (edited, then published) → resolved after the next success; a discarded draft is gone', async () => {
    const auto = d.daemon.autoIncidents!;
    const ping = async (suffix: string) => (await fetch(`${d.statusBase}/ping/${HB_KEY}${suffix}`)).status;
    assert.equal(await ping('/fail'), 200);
    auto.evaluate();
    let drafts = (await admin(d.statusBase, 'GET', '/api/admin/incidents/drafts')).json['incidents'] as { id: string; name: string; auto_component: string; incident_updates: { body: string }[] }[];
    const draft = drafts.find((x) => x.auto_component === 'backups')!;
    assert.ok(draft !== undefined, 'a draft for the heartbeat component');
    assert.equal(draft.name, 'Backups: heartbeat nightly reported a failed run');
    assert.match(draft.incident_updates[0]!.body, /Heartbeat nightly reported a failed run: down since .*; last success never\./);

    // Edit, then discard: gone from the drafts, never public; the alert still fires, so a new draft appears.
    const edited = await admin(d.statusBase, 'PATCH', `/api/admin/incidents/${draft.id}`, { name: 'Nightly backup failed', message: 'The nightly backup failed; we are looking into it.' });
    assert.equal(edited.status, 200);
    assert.equal(edited.json['name'], 'Nightly backup failed');
    assert.equal((edited.json['incident_updates'] as { body: string }[])[0]!.body, 'The nightly backup failed; we are looking into it.');
    assert.equal((await admin(d.statusBase, 'PATCH', `/api/admin/incidents/${draft.id}`, { colour: 'red' })).status, 400);
    assert.equal((await admin(d.statusBase, 'DELETE', `/api/admin/incidents/${draft.id}`)).status, 200);
    assert.equal((await admin(d.statusBase, 'DELETE', `/api/admin/incidents/${draft.id}`)).status, 404);
    assert.equal(d.daemon.status.store.incident(draft.id), undefined);
    auto.evaluate();
    drafts = (await admin(d.statusBase, 'GET', '/api/admin/incidents/drafts')).json['incidents'] as typeof drafts;
    const again = drafts.find((x) => x.auto_component === 'backups')!;
    assert.ok(again !== undefined && again.id !== draft.id);
    assert.equal((await admin(d.statusBase, 'POST', `/api/admin/incidents/${again.id}/publish`)).status, 200);
    assert.ok((await publicViews(d))[0]!.includes(again.id));
    assert.equal(await ping(''), 200);
    auto.evaluate();
    assert.equal(d.daemon.status.store.incident(again.id)!.status, 'monitoring');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    auto.evaluate();
    assert.equal(d.daemon.status.store.incident(again.id)!.status, 'resolved');
    assert.ok(!hooks.got.some((h) => h.id === draft.id), 'the discarded draft never reached a webhook');
  });
});
