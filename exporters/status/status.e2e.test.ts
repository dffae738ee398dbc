// The status exporter in a real daemon: Statuspage v2 shapes against the checked-in description,
// ETag/304, admin auth and validation, badges, feeds, escaping, routing, and the uWS binary.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { loadUws, nativeBinaryName } from '../../collectors/otlp/uws.js';
import { TEST_TOKEN, admin, applyStatusConfig, loadStatuspageSchema, schemaErrors } from './testing.js';

const V2 = [
  '/api/v2/summary.json',
  '/api/v2/status.json',
  '/api/v2/components.json',
  '/api/v2/incidents.json',
  '/api/v2/incidents/unresolved.json',
  '/api/v2/scheduled-maintenances.json',
  '/api/v2/scheduled-maintenances/upcoming.json',
  '/api/v2/scheduled-maintenances/active.json',
];

const INJECTION = `<script>globalThis.pwned=1</script><img src=x onerror="globalThis.pwned=2">&amp;"'`;

describe('status exporter', () => {
  let d: TestDaemon;
  let base: string;
  before(async () => {
    d = await startTestDaemon(applyStatusConfig);
    base = d.statusBase;
    // Today's traffic: api fully good, web 2% bad (its bar is orange).
    d.daemon.slo.record('api-availability', 1000, 1000);
    d.daemon.slo.record('web-availability', 980, 1000);
  });
  after(async () => {
    await d.stop();
  });

  it('serves on the native uWS binary, not the pure-JS fallback', async () => {
    const { native, detail } = loadUws();
    assert.equal(native, true, detail);
    assert.ok(detail.endsWith(`/binaries/${nativeBinaryName()}`), detail);
    assert.equal((await fetch(`${base}/api/v2/status.json`)).status, 200);
  });

  it('answers the admin API 401 without a token, 403 with a wrong one', async () => {
    const none = await admin(base, 'POST', '/api/admin/incidents', { name: 'x', message: 'y' }, null);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer /);
    const wrong = await admin(base, 'POST', '/api/admin/incidents', { name: 'x', message: 'y' }, 'not-the-token-at-all-000');
    assert.equal(wrong.status, 403);
    const notBearer = await fetch(`${base}/api/admin/incidents`, { method: 'POST', headers: { authorization: `Basic ${TEST_TOKEN}` }, body: '{}' });
    assert.equal(notBearer.status, 401);
    assert.equal((await admin(base, 'PUT', '/api/admin/components/api/override', { status: 'major_outage' }, `${TEST_TOKEN}x`)).status, 403);
    assert.equal((await admin(base, 'DELETE', '/api/admin/components/api/override', undefined, null)).status, 401);
    assert.equal((await fetch(`${base}/api/v2/summary.json`)).headers.get('etag') !== null, true);
  });

  it('answers bad bodies 400 naming the field, oversize ones 413', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/admin/incidents', '{"name":', 'body'],
      ['POST', '/api/admin/incidents', [1, 2], 'body'],
      ['POST', '/api/admin/incidents', { message: 'm' }, 'name'],
      ['POST', '/api/admin/incidents', { name: 3, message: 'm' }, 'name'],
      ['POST', '/api/admin/incidents', { name: 'n', message: 'm', impact: 'huge' }, 'impact'],
      ['POST', '/api/admin/incidents', { name: 'n', message: 'm', status: 'fixed' }, 'status'],
      ['POST', '/api/admin/incidents', { name: 'n', message: 'm', components: { nope: 'major_outage' } }, 'components.nope'],
      ['POST', '/api/admin/incidents', { name: 'n', message: 'm', components: { api: 'down' } }, 'components.api'],
      ['POST', '/api/admin/incidents', { name: 'n', message: 'm', severity: 1 }, 'severity'],
      ['POST', '/api/admin/incidents', { name: 'n' }, 'message'],
      ['POST', '/api/admin/maintenances', { name: 'n', scheduled_until: '2030-01-01T00:00:00Z' }, 'scheduled_for'],
      ['POST', '/api/admin/maintenances', { name: 'n', scheduled_for: 'tomorrow', scheduled_until: '2030-01-01T00:00:00Z' }, 'scheduled_for'],
      ['POST', '/api/admin/maintenances', { name: 'n', scheduled_for: '2030-01-02T00:00:00Z', scheduled_until: '2030-01-01T00:00:00Z' }, 'scheduled_until'],
      ['POST', '/api/admin/maintenances', { name: 'n', scheduled_for: '2030-01-01T00:00:00Z', scheduled_until: '2030-01-02T00:00:00Z', components: ['api', 'zzz'] }, 'components[1]'],
      ['PUT', '/api/admin/components/api/override', { status: 'fine' }, 'status'],
      ['PUT', '/api/admin/components/api/override', {}, 'status'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await admin(base, method, path, body);
      assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json['field'], field, JSON.stringify(r.json));
      assert.match(String(r.json['error']), new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}: `));
    }
    const big = await admin(base, 'POST', '/api/admin/incidents', JSON.stringify({ name: 'n', message: 'x'.repeat(70 * 1024) }));
    assert.equal(big.status, 413);
    assert.equal(big.json['field'], 'body');
    // Chunked (no Content-Length): refused once the limit is passed while reading.
    const chunked = await fetch(`${base}/api/admin/incidents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode('x'.repeat(8192)));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal((await admin(base, 'POST', '/api/admin/incidents/nosuch/updates', { message: 'm' })).status, 404);
    assert.equal((await admin(base, 'PUT', '/api/admin/components/nosuch/override', { status: 'operational' })).status, 404);
  });

  it('creates incidents, updates, maintenances and overrides; every v2 document matches the checked-in description', async () => {
    const created = await admin(base, 'POST', '/api/admin/incidents', { name: 'API errors', message: 'Investigating', components: { api: 'partial_outage' } });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.json['impact'], 'major', 'impact follows the worst component status');
    const id = created.json['id'] as string;
    const updated = await admin(base, 'POST', `/api/admin/incidents/${id}/updates`, { status: 'identified', message: INJECTION, components: { api: 'major_outage', web: 'degraded_performance' } });
    assert.equal(updated.status, 201);
    const updates = updated.json['incident_updates'] as { status: string; body: string; affected_components: { code: string; old_status: string; new_status: string }[] }[];
    assert.equal(updates[0]!.status, 'identified');
    assert.equal(updates[0]!.body, INJECTION, 'JSON carries the text as posted');
    assert.deepEqual(updates[0]!.affected_components.map((a) => [a.code, a.old_status, a.new_status]), [
      ['api', 'partial_outage', 'major_outage'],
      ['web', 'operational', 'degraded_performance'],
    ]);
    const resolvedOne = await admin(base, 'POST', '/api/admin/incidents', { name: 'Old blip', message: 'Seen', status: 'investigating', components: { db: 'degraded_performance' } });
    await admin(base, 'POST', `/api/admin/incidents/${resolvedOne.json['id'] as string}/updates`, { status: 'resolved', message: 'Fixed' });
    const hour = 3_600_000;
    const upcoming = await admin(base, 'POST', '/api/admin/maintenances', {
      name: 'DB upgrade',
      scheduled_for: new Date(Date.now() + 24 * hour).toISOString(),
      scheduled_until: new Date(Date.now() + 26 * hour).toISOString(),
      components: ['db'],
      message: 'Postgres 17',
    });
    assert.equal(upcoming.status, 201, JSON.stringify(upcoming.json));
    assert.equal(upcoming.json['status'], 'scheduled');
    const active = await admin(base, 'POST', '/api/admin/maintenances', {
      name: 'Web deploy',
      scheduled_for: new Date(Date.now() - hour).toISOString(),
      scheduled_until: new Date(Date.now() + hour).toISOString(),
      components: ['db'],
    });
    assert.equal(active.json['status'], 'in_progress');
    const override = await admin(base, 'PUT', '/api/admin/components/db/override', { status: 'partial_outage' });
    assert.deepEqual(override.json, { component: 'db', override: 'partial_outage', status: 'partial_outage' });

    const schema = loadStatuspageSchema();
    const endpoints = schema['endpoints'] as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(endpoints).sort(), [...V2].sort(), 'the description covers every endpoint');
    const docs: Record<string, Record<string, unknown>> = {};
    for (const path of V2) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      docs[path] = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(schemaErrors(schema, endpoints[path]!, docs[path]), [], path);
    }
    const summary = docs['/api/v2/summary.json']!;
    assert.deepEqual(summary['status'], { indicator: 'critical', description: 'Major System Outage' });
    const components = summary['components'] as { id: string; status: string; group: boolean; components?: string[] }[];
    const byId = new Map(components.map((c) => [c.id, c]));
    assert.equal(byId.get('api')!.status, 'major_outage', 'the incident beats the SLO status');
    assert.equal(byId.get('web')!.status, 'degraded_performance');
    assert.equal(byId.get('db')!.status, 'partial_outage', 'the override beats maintenance');
    const group = components.find((c) => c.group)!;
    assert.deepEqual(group.components, ['api', 'web']);
    assert.equal(group.status, 'major_outage');
    assert.deepEqual((summary['incidents'] as { name: string }[]).map((i) => i.name), ['API errors']);
    assert.deepEqual((summary['scheduled_maintenances'] as { name: string }[]).map((m) => m.name).sort(), ['DB upgrade', 'Web deploy']);
    assert.equal((docs['/api/v2/incidents.json']!['incidents'] as unknown[]).length, 2);
    assert.deepEqual((docs['/api/v2/scheduled-maintenances/upcoming.json']!['scheduled_maintenances'] as { name: string }[]).map((m) => m.name), ['DB upgrade']);
    assert.deepEqual((docs['/api/v2/scheduled-maintenances/active.json']!['scheduled_maintenances'] as { name: string }[]).map((m) => m.name), ['Web deploy']);

    // Clearing the override shows maintenance; completing the maintenance shows the SLO status.
    await admin(base, 'DELETE', '/api/admin/components/db/override');
    assert.equal(((await (await fetch(`${base}/api/v2/components.json`)).json()) as { components: { id: string; status: string }[] }).components.find((c) => c.id === 'db')!.status, 'under_maintenance');
    const done = await admin(base, 'POST', `/api/admin/maintenances/${active.json['id'] as string}/complete`, { message: 'Done' });
    assert.equal(done.status, 200);
    assert.equal(done.json['status'], 'completed');
    const patched = await admin(base, 'PATCH', `/api/admin/maintenances/${upcoming.json['id'] as string}`, { name: 'DB upgrade (moved)', scheduled_for: new Date(Date.now() + 48 * hour).toISOString(), scheduled_until: new Date(Date.now() + 50 * hour).toISOString() });
    assert.equal(patched.status, 200, JSON.stringify(patched.json));
    assert.equal(patched.json['name'], 'DB upgrade (moved)');
    assert.equal(((await (await fetch(`${base}/api/v2/components.json`)).json()) as { components: { id: string; status: string }[] }).components.find((c) => c.id === 'db')!.status, 'operational');

    // Maintenance windows for the uptime layer: the completed one held db for about an hour.
    const windows = d.daemon.status.store.maintenanceWindows(Date.now() - 2 * hour, Date.now(), 'db');
    assert.equal(windows.length, 1);
    assert.ok(Math.abs(windows[0]!.endMs - windows[0]!.startMs - hour) < 60_000);
    assert.ok(d.daemon.status.store.maintenanceMinutes('db', Date.now() - 2 * hour, Date.now()).size >= 60);
    assert.equal(d.daemon.status.store.maintenanceMinutes('api', Date.now() - 2 * hour, Date.now()).size, 0);
  });

  it('serves cached documents with ETag and Cache-Control, 304 on If-None-Match, a new ETag after a change', async () => {
    for (const path of ['/', '/api/v2/summary.json', '/history.atom', '/badge/api/status.svg']) {
      const first = await fetch(`${base}${path}`);
      await first.arrayBuffer();
      const etag = first.headers.get('etag');
      assert.match(etag ?? '', /^"[\w-]+"$/, path);
      assert.ok(first.headers.get('cache-control'), path);
      const again = await fetch(`${base}${path}`, { headers: { 'if-none-match': etag! } });
      assert.equal(again.status, 304, path);
      assert.equal(again.headers.get('etag'), etag);
      assert.equal((await again.arrayBuffer()).byteLength, 0);
    }
    const before = (await fetch(`${base}/api/v2/summary.json`)).headers.get('etag');
    await admin(base, 'PUT', '/api/admin/components/web/override', { status: 'operational' });
    const after = await fetch(`${base}/api/v2/summary.json`, { headers: { 'if-none-match': before! } });
    assert.equal(after.status, 200);
    assert.notEqual(after.headers.get('etag'), before);
    await admin(base, 'DELETE', '/api/admin/components/web/override');
  });

  it('escapes user text in the page, feeds and badges', async () => {
    // A title and body that would end a CDATA section, open an element or break out of an attribute.
    const title = `]]><b title="x'y">T&amp;</b>`;
    const created = await admin(base, 'POST', '/api/admin/incidents', { name: title, message: `]]></content><script>globalThis.pwned=3</script>` });
    assert.equal(created.status, 201);
    const page = await (await fetch(`${base}/`)).text();
    assert.ok(page.includes(']]&gt;&lt;b title=&quot;x&#39;y&quot;&gt;T&amp;amp;&lt;/b&gt;'), 'the title as text');
    assert.ok(!page.includes('<b title='));
    assert.ok(!page.includes('<script>globalThis'), 'no raw script from the update');
    assert.ok(!page.includes('<img src=x'), 'no raw img from the update');
    assert.ok(page.includes('&lt;script&gt;globalThis.pwned=1&lt;/script&gt;&lt;img src=x onerror=&quot;globalThis.pwned=2&quot;&gt;&amp;amp;&quot;&#39;'));
    for (const feed of ['/history.atom', '/history.rss']) {
      const res = await fetch(`${base}${feed}`);
      assert.match(res.headers.get('content-type') ?? '', feed.endsWith('atom') ? /^application\/atom\+xml/ : /^application\/rss\+xml/);
      const xml = await res.text();
      assert.ok(xml.includes('API errors'));
      assert.ok(!xml.includes('<script>') && !xml.includes('<img'), feed);
      assert.ok(xml.includes('&lt;script&gt;globalThis.pwned=1'), feed);
      assert.ok(!xml.includes(']]>') && !xml.includes('<b title') && !xml.includes('</content><script'), `${feed}: no CDATA end, element or attribute break`);
      assert.ok(xml.includes(']]&gt;&lt;b title=&quot;x&#39;y&quot;&gt;T&amp;amp;&lt;/b&gt;'), `${feed}: the title as text`);
      assert.ok(xml.includes(']]&gt;&lt;/content&gt;&lt;script&gt;globalThis.pwned=3'), `${feed}: the body as text`);
    }
    await admin(base, 'POST', `/api/admin/incidents/${created.json['id'] as string}/updates`, { status: 'resolved', message: 'done' });
    const svg = await fetch(`${base}/badge/api/status.svg`);
    assert.match(svg.headers.get('content-type') ?? '', /^image\/svg\+xml/);
    assert.match(await svg.text(), /aria-label="API: major outage"/);
  });

  it('serves badges and the shields.io endpoint JSON', async () => {
    const shields = (await (await fetch(`${base}/badge/web/shields.json`)).json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(shields).sort(), ['color', 'label', 'message', 'schemaVersion']);
    assert.equal(shields['schemaVersion'], 1);
    assert.equal(shields['label'], 'Website');
    const uptime = await (await fetch(`${base}/badge/web/uptime.svg?window=30d`)).text();
    assert.match(uptime, /Website uptime 30d: 98\.00%/);
    assert.match(await (await fetch(`${base}/badge/db/uptime.svg`)).text(), /no data/);
    const bad = await fetch(`${base}/badge/web/uptime.svg?window=1y`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as Record<string, unknown>)['field'], 'window');
    // The window is parsed once per query string: asking again gives the same answers, each its own window.
    assert.equal((await fetch(`${base}/badge/web/uptime.svg?window=1y`)).status, 400);
    assert.match(await (await fetch(`${base}/badge/web/uptime.svg?window=30d`)).text(), /Website uptime 30d: 98\.00%/);
    assert.match(await (await fetch(`${base}/badge/web/uptime.svg?window=7d`)).text(), /Website uptime 7d: /);
    assert.match(await (await fetch(`${base}/badge/web/uptime.svg`)).text(), /Website uptime 30d: 98\.00%/);
  });

  it('answers unknown routes and path tricks 404, oversize headers without crashing', async () => {
    for (const path of ['/nope', '/badge/nosuch/status.svg', '/badge/..%2F..%2Fetc%2Fpasswd/status.svg', '/api/v2/other.json', '/api/admin/nothing', '/index.html']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 404, path);
      await res.arrayBuffer();
    }
    // Dot segments as sent on the wire (fetch would normalise them away): uWS does not resolve them.
    const { port } = d.daemon.addresses.status;
    const raw = (path: string): Promise<string> =>
      new Promise((resolve, reject) => {
        let text = '';
        const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
        socket.on('data', (chunk) => (text += chunk.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
    for (const path of [
      '/badge/../api/v2/summary.json',
      '/../../etc/passwd',
      '/badge/%2e%2e/status.svg',
      '/badge/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd/status.svg',
      '/badge/%252e%252e%252fapi/status.svg',
      '/badge/api%00/status.svg',
      '/badge/api%2fstatus.svg',
      '/history.atom%00.html',
      '/api/v2/summary.json%00',
      '/api/v2/../v2/summary.json',
      '/./api/v2/summary.json',
      '//api/v2/summary.json',
      '/api/v2/summary.json/',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/..%5c..%5cetc%5cpasswd',
    ]) assert.match(await raw(path), /^HTTP\/1\.1 404 /, path);
    // A raw request with a 64 KiB header: uWS refuses it (431 or a closed socket); the server lives on.
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`));
      socket.on('data', () => socket.destroy());
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
      socket.setTimeout(3000, () => socket.destroy());
    });
    assert.equal((await fetch(`${base}/api/v2/status.json`)).status, 200);
  });

  it('renders the page with landmarks, headings, bars and a Content-Security-Policy', async () => {
    const res = await fetch(`${base}/`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'.*script-src 'sha256-/);
    const html = await res.text();
    for (const landmark of ['<header>', '<main id="main">', '<footer>', '<h1>Acme Status</h1>', 'role="status"']) assert.ok(html.includes(landmark), landmark);
    // 90 bars per component, a few bytes each: most days carry no markup but <i></i>.
    const rows = html.match(/<p class="bars [^>]*>(?:<i[^>]*><\/i>)*<\/p>/g) ?? [];
    assert.equal(rows.length, 3);
    for (const row of rows) assert.equal((row.match(/<i[ >]/g) ?? []).length, 90);
    assert.match(html, /<i class="p x" title="\d{4}-\d{2}-\d{2}: 98\.000% uptime, incidents: API errors"><\/i>/);
    assert.match(html, /aria-label="API: daily uptime, last 90 days, oldest first: 1 day [^,;]+, 89 days no data; \d{4}-\d{2}-\d{2}: [\d.]+% uptime, incidents: API errors"/);
  });
});
