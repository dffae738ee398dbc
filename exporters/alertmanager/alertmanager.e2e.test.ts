// vigild's own burn-rate alerts reaching real Alertmanagers 0.25 (Debian's prometheus-alertmanager):
// the alert appears in GET /api/v2/alerts with the rules' name and labels, is resent with endsAt
// moving ahead, resolves; an Alertmanager that is down is retried and counted, the others and the
// daemon carry on, and once it is up it gets the alert too.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { HAVE_ALERTMANAGER, startAlertmanager } from '../../test-support/alertmanager.js';
import type { GettableAlert, TestAlertmanager } from '../../test-support/alertmanager.js';
import { freePort, pollUntil } from '../../test-support/wait.js';
import { validateConfig } from '../../daemon/config/index.js';

const SLO = 'checkout-availability';

describe('alerts to Alertmanager', { skip: !HAVE_ALERTMANAGER && 'prometheus-alertmanager is not installed' }, () => {
  let first: TestAlertmanager;
  let second: TestAlertmanager;
  let late: TestAlertmanager | undefined;
  let latePort: number;
  let vigil: TestDaemon;

  before(async () => {
    [first, second] = await Promise.all([startAlertmanager(), startAlertmanager()]);
    // Nobody listens here until the test starts an Alertmanager on it.
    latePort = await freePort();
    const parsed = validateConfig({
      components: [{ id: 'api' }],
      slos: [{ id: SLO, component: 'api', objective: 99.9, window: '30d', indicator: { availability: { spans: { service: 'checkout' } } } }],
      alerting: {
        resend_interval: '1s',
        evaluate_interval: '100ms',
        status_url: 'https://status.example.com',
        alertmanagers: [{ url: first.base }, { url: second.base, headers: { 'X-Scope-OrgID': 'team-a' }, bearer_token: 'not-checked-by-alertmanager' }, { url: `http://127.0.0.1:${latePort}`, timeout: '500ms' }],
      },
    });
    if ('errors' in parsed) throw new Error(parsed.errors.join('\n'));
    vigil = await startTestDaemon((c) => {
      c.components = parsed.config.components;
      c.slos = parsed.config.slos;
      c.alerting = parsed.config.alerting;
    });
  });
  after(async () => {
    await vigil?.stop();
    await Promise.all([first?.stop(), second?.stop(), late?.stop()]);
  });

  const ours = (alerts: GettableAlert[]) => alerts.filter((a) => a.labels['alertname'] === 'VigilSLOBurnRate' && a.labels['slo'] === SLO);

  test('a page appears in every Alertmanager with the rules’ name and labels, and is resent', async () => {
    // 10% bad in the last minute: burn 100 over 5m and 1h (≥ 14.4): page; 6h and 3d too: ticket.
    vigil.daemon.slo.record(SLO, 900, 1000);
    for (const am of [first, second]) {
      const found = await pollUntil('the page in Alertmanager', 10_000, async () => ours(await am.alerts()).find((a) => a.labels['severity'] === 'page'));
      assert.deepEqual(found.labels, { alertname: 'VigilSLOBurnRate', severity: 'page', slo: SLO, component: 'api' });
      assert.equal(found.status.state, 'active');
      assert.match(found.annotations['summary']!, /burning its error budget at 100x/);
      // Budget over 30d: 1 − burn 100 = −99, shown as a percentage.
      assert.equal(found.annotations['budget_remaining'], '-9900%');
      assert.equal(found.annotations['status_page'], 'https://status.example.com/');
      assert.equal(found.generatorURL, 'https://status.example.com/');
    }
    const ticket = ours(await first.alerts()).find((a) => a.labels['severity'] === 'ticket');
    assert.ok(ticket !== undefined, 'the ticket fires too (6h and 3d burn 100 ≥ 1)');
    // Resent every second with endsAt ahead of the next resend: endsAt moves forward.
    const before = ours(await first.alerts()).find((a) => a.labels['severity'] === 'page')!;
    assert.ok(Date.parse(before.endsAt) > Date.now() + 1000, `endsAt ${before.endsAt} is ahead of the next resend`);
    const later = await pollUntil('a resend', 10_000, async () => {
      const a = ours(await first.alerts()).find((x) => x.labels['severity'] === 'page');
      return a !== undefined && Date.parse(a.endsAt) > Date.parse(before.endsAt) ? a : undefined;
    });
    assert.equal(later.startsAt, before.startsAt, 'a resend keeps startsAt');
  });

  test('an Alertmanager that is down is retried and counted; once up, it gets the alert', async () => {
    const failures = await pollUntil('two failed attempts', 10_000, async () => {
      const text = await scrape(vigil.metricsBase);
      const line = text.split('\n').find((l) => l.startsWith(`vigil_alertmanager_send_failures_total{alertmanager="http://127.0.0.1:${latePort}",reason="network_error"}`));
      const n = line === undefined ? 0 : Number(line.split(' ').pop());
      return n >= 2 ? n : undefined;
    });
    assert.ok(failures >= 2);
    // The others kept receiving: their sent counters are above the number of alerts.
    const text = await scrape(vigil.metricsBase);
    const sent = Number(text.split('\n').find((l) => l.startsWith(`vigil_alertmanager_alerts_sent_total{alertmanager="${first.base}"}`))!.split(' ').pop());
    assert.ok(sent >= 3, `first Alertmanager got ${sent} alerts`);
    late = await startAlertmanager(latePort);
    const found = await pollUntil('the page in the late Alertmanager', 15_000, async () => ours(await late!.alerts()).find((a) => a.labels['severity'] === 'page'));
    assert.equal(found.labels['component'], 'api');
  });

  test('a resolved alert is sent with endsAt and leaves the active alerts', async () => {
    // A flood of good events brings the 5m burn under 14.4 (and every other window under 1 for the ticket).
    vigil.daemon.slo.record(SLO, 100_000_000, 100_000_000);
    for (const am of [first, second]) {
      await pollUntil('the page resolved', 10_000, async () => {
        const page = ours(await am.alerts()).find((a) => a.labels['severity'] === 'page');
        return page === undefined || Date.parse(page.endsAt) <= Date.now() ? true : undefined;
      });
    }
    const text = await scrape(vigil.metricsBase);
    assert.match(text, /^vigil_alertmanager_active_alerts 0$/m);
  });
});
