// The status page in real headless Chromium (Debian's, driven by playwright-core): it renders the
// components and their 90 bars, an incident posted through the admin API appears without a reload
// (WebSocket), a script-injection attempt is shown as text and never runs, and nothing errors.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { admin, applyStatusConfig } from './testing.js';

const CHROMIUM = '/usr/bin/chromium';
/** Debian's Chromium with a fresh profile directory; never a downloaded browser. */
function launch(userDataDir: string, javaScriptEnabled: boolean): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    javaScriptEnabled,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

const PAYLOAD = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`;

describe('status page in Chromium', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed` }, () => {
  let d: TestDaemon;
  let browser: BrowserContext;
  let page: Page;
  const scratch = mkdtempSync(join(tmpdir(), 'vigil-page-'));
  const problems: string[] = [];

  before(async () => {
    d = await startTestDaemon(applyStatusConfig);
    d.daemon.slo.record('api-availability', 1000, 1000);
    // The page model is rebuilt on a timer (status.refresh_interval); take the traffic in now.
    d.daemon.status.refresh();
    browser = await launch(join(scratch, 'profile'), true);
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('renders components, 90 bars each, the SLO table and the banner', async () => {
    const res = await page.goto(`${d.statusBase}/`, { waitUntil: 'load' });
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'Acme Status');
    assert.equal(await page.locator('#sec-banner').innerText(), 'All Systems Operational');
    assert.deepEqual(await page.locator('.component .cname').allInnerTexts(), ['API', 'Website', 'Database']);
    for (const id of ['api', 'web', 'db']) assert.equal(await page.locator(`#component-${id} .bars i`).count(), 90, id);
    // The row carries the most common colour (no data here); today's bar its own, with a title.
    assert.equal(await page.locator('#component-api .bars').getAttribute('class'), 'bars t-n');
    assert.equal(await page.locator('#component-api .bars i').last().getAttribute('class'), 'g');
    assert.match((await page.locator('#component-api .bars i').last().getAttribute('title')) ?? '', /^\d{4}-\d{2}-\d{2}: 100\.000% uptime$/);
    const colour = (selector: string) => page.locator(selector).evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.equal(await colour('#component-api .bars i >> nth=-1'), 'rgb(26, 127, 55)', 'today is green');
    assert.equal(await colour('#component-api .bars i >> nth=0'), 'rgb(182, 188, 196)', 'a day without data is grey');
    assert.equal(await page.locator('#sec-slos tbody tr').count(), 2);
    assert.equal(await page.locator('main h2').count(), 5);
    await page.waitForFunction(() => document.getElementById('live')?.textContent === 'Live updates on.', undefined, { timeout: 5000 });
  });

  it('shows an incident created through the admin API without a reload, injection as text', async () => {
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    const created = await admin(d.statusBase, 'POST', '/api/admin/incidents', { name: 'Checkout errors', message: 'Looking into it', components: { api: 'major_outage' } });
    assert.equal(created.status, 201);
    await page.locator('#sec-incidents h3', { hasText: 'Checkout errors' }).waitFor({ timeout: 5000 });
    assert.equal(await page.locator('#component-api').getAttribute('data-status'), 'major_outage');
    assert.equal(await page.locator('#sec-banner').innerText(), 'Major System Outage');

    const updated = await admin(d.statusBase, 'POST', `/api/admin/incidents/${created.json['id'] as string}/updates`, { status: 'identified', message: PAYLOAD });
    assert.equal(updated.status, 201);
    await page.locator('#sec-incidents .updates li strong', { hasText: 'identified' }).waitFor({ timeout: 5000 });
    assert.equal(await page.locator('#sec-incidents .updates .body').first().innerText(), PAYLOAD, 'the payload is shown as text');
    assert.equal(await page.locator('#sec-incidents img, #sec-incidents script').count(), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'the payload did not run');
    assert.equal(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument), true, 'no reload happened');

    // And on a fresh load (server-rendered, no script involved) it is text too.
    await page.reload({ waitUntil: 'load' });
    assert.equal(await page.locator('#sec-incidents .updates .body').first().innerText(), PAYLOAD);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);

    const shot = join(scratch, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000, 'a real screenshot');
    assert.deepEqual(problems, [], 'no console errors or warnings');
  });

  it('works without JavaScript', async () => {
    const context = await launch(join(scratch, 'profile-nojs'), false);
    const noJs = context.pages()[0] ?? (await context.newPage());
    await noJs.goto(`${d.statusBase}/`);
    assert.equal(await noJs.locator('.component').count(), 3);
    assert.equal(await noJs.locator('#sec-incidents h3').first().innerText(), 'Checkout errors');
    assert.equal(await noJs.locator('#live').innerText(), 'Reload for the latest status.');
    await context.close();
  });
});
