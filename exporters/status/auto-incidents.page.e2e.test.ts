// An automatic incident as a visitor sees it, in real headless Chromium (Debian's): a heartbeat
// fails → the draft is not on the page → published through the admin API, it appears without a
// reload (WebSocket) → after the next success and resolve_after it moves to the past incidents.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { parse } from 'yaml';
import { validateConfig } from '../../daemon/config/index.js';
import { startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { admin, applyStatusConfig } from './testing.js';

const CHROMIUM = '/usr/bin/chromium';
const KEY = 'page-test-heartbeat-key-01';

describe('automatic incident on the page in Chromium', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed` }, () => {
  let d: TestDaemon;
  let browser: BrowserContext;
  let page: Page;
  const scratch = mkdtempSync(join(tmpdir(), 'vigil-auto-page-'));
  const problems: string[] = [];

  before(async () => {
    const extra = validateConfig(parse(`
components: [{ id: backups, name: Backups }]
heartbeats: [{ id: nightly, component: backups, key: ${KEY}, schedule: { every: 1h }, grace: 10m }]
`));
    if ('errors' in extra) throw new Error(extra.errors.join('\n'));
    d = await startTestDaemon((config) => {
      applyStatusConfig(config);
      config.components.push(...extra.config.components);
      config.heartbeats = extra.config.heartbeats;
      config.status.autoIncidents = { enabled: true, publish: false, resolveAfterMs: 500 };
      config.status.refreshIntervalMs = 3_600_000;
    });
    browser = await chromium.launchPersistentContext(join(scratch, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('hides the draft, shows it live once published, and lists it as past once resolved', async () => {
    const auto = d.daemon.autoIncidents!;
    assert.equal((await fetch(`${d.statusBase}/ping/${KEY}/fail`)).status, 200);
    auto.evaluate();
    d.daemon.status.refresh();
    const drafts = (await admin(d.statusBase, 'GET', '/api/admin/incidents/drafts')).json['incidents'] as { id: string; name: string }[];
    assert.equal(drafts.length, 1);
    const { id, name } = drafts[0]!;

    await page.goto(`${d.statusBase}/`, { waitUntil: 'load' });
    assert.equal(await page.locator('#sec-incidents').innerText(), 'No active incidents.');
    assert.equal(await page.locator(`#incident-${id}`).count(), 0);
    assert.ok(!(await page.content()).includes(name), 'the draft is nowhere on the page');

    // Published: the open page receives it over the WebSocket, no reload.
    assert.equal((await admin(d.statusBase, 'POST', `/api/admin/incidents/${id}/publish`)).status, 200);
    await page.locator(`#sec-incidents #incident-${id}`).waitFor({ timeout: 5000 });
    assert.equal(await page.locator(`#sec-incidents #incident-${id} h3`).innerText(), name);
    assert.match(await page.locator(`#sec-incidents #incident-${id}`).innerText(), /Heartbeat nightly reported a failed run/);

    assert.equal((await fetch(`${d.statusBase}/ping/${KEY}`)).status, 200);
    auto.evaluate();
    await new Promise((resolve) => setTimeout(resolve, 600));
    auto.evaluate();
    assert.equal(d.daemon.status.store.incident(id)!.status, 'resolved');
    await page.locator(`#sec-history #incident-${id}`).waitFor({ timeout: 5000 });
    assert.equal(await page.locator('#sec-incidents').innerText(), 'No active incidents.');
    assert.deepEqual(problems, []);
  });
});
