// Webhooks against a real HTTP receiver on 127.0.0.1: signature verified, first attempts failed,
// retried with backoff until delivered, in order; refusals, timeouts, a full queue and shutdown counted.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createWebhookDispatcher, signDelivery, toWebhookEvent, DEFAULTS, SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER, EVENT_HEADER } from './index.js';
import type { WebhookDispatcher } from './index.js';
import { renderFamilies } from '../prometheus/index.js';

const SECRET = 'a-webhook-secret-of-some-length';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  valid: boolean;
  at: number;
}

/** A receiver that verifies the signature as a user would, and answers from a script. */
function receiver(answer: (n: number, req: IncomingMessage) => number | 'hang'): Promise<{ server: Server; url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const ts = String(req.headers[TIMESTAMP_HEADER] ?? '');
      const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`);
      const given = Buffer.from(String(req.headers[SIGNATURE_HEADER] ?? ''));
      const valid = given.length === expected.length && timingSafeEqual(given, expected) && Math.abs(Date.now() / 1000 - Number(ts)) < 300;
      got.push({ headers: req.headers, body, valid, at: Date.now() });
      const status = answer(got.length, req);
      if (status === 'hang') return;
      res.writeHead(valid ? status : 401).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    resolve({ server, url: `http://127.0.0.1:${port}/hook?token=x`, got });
  }));
}

const hook = (url: string, extra: Partial<{ maxAttempts: number; timeoutMs: number; maxQueue: number }> = {}) => ({ url, secret: SECRET, ...DEFAULTS, ...extra });
const event = (n: number) => ({ type: 'component.status_changed', occurredMs: Date.UTC(2026, 9, 10, 12, n), data: { component: 'api', old_status: 'operational', new_status: 'major_outage', n } });

describe('webhooks', () => {
  const servers: Server[] = [];
  const dispatchers: WebhookDispatcher[] = [];
  after(async () => {
    for (const d of dispatchers) await d.shutdown();
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  test('signed, retried with backoff after failures, then delivered in order, counted', async () => {
    // The first three attempts fail (503, 500, 429), then every attempt succeeds.
    const r = await receiver((n) => (n === 1 ? 503 : n === 2 ? 500 : n === 3 ? 429 : 204));
    servers.push(r.server);
    const d = createWebhookDispatcher({ hooks: [hook(r.url)], initialBackoffMs: 20, random: () => 1 });
    dispatchers.push(d);
    d.enqueue(event(1));
    d.enqueue(event(2));
    assert.equal(d.queued, 2);
    await d.idle();
    assert.equal(r.got.length, 5);
    assert.ok(r.got.every((g) => g.valid), 'every signature verifies');
    const bodies = r.got.map((g) => JSON.parse(g.body) as { id: string; type: string; occurred_at: string; data: { n: number } });
    // Four attempts of the first change (same delivery id), then the second: order kept.
    assert.deepEqual(bodies.map((b) => b.data.n), [1, 1, 1, 1, 2]);
    assert.equal(new Set(bodies.slice(0, 4).map((b) => b.id)).size, 1);
    assert.equal(r.got[0]!.headers[DELIVERY_HEADER], bodies[0]!.id);
    assert.equal(r.got[0]!.headers[EVENT_HEADER], 'component.status_changed');
    assert.equal(bodies[0]!.occurred_at, '2026-10-10T12:01:00.000Z');
    // Exponential: gaps of about 20, 40, 80 ms (random() = 1 gives the cap itself).
    const gaps = [1, 2, 3].map((i) => r.got[i]!.at - r.got[i - 1]!.at);
    assert.ok(gaps[0]! >= 15 && gaps[1]! >= 35 && gaps[2]! >= 70, `gaps ${gaps.join(', ')}`);
    assert.deepEqual(d.stats(), {
      deliveries: { delivered: 2, failed: 0, dropped: 0, abandoned: 0 },
      attempts: { success: 2, http_4xx: 1, http_5xx: 2, network_error: 0, timeout: 0 },
    });
    const text = renderFamilies(d.collect(), 'text');
    assert.match(text, /^vigil_webhook_deliveries_total\{outcome="delivered"\} 2$/m);
    assert.match(text, /^vigil_webhook_attempts_total\{result="http_5xx"\} 2$/m);
    assert.match(text, /^vigil_webhook_queue_deliveries 0$/m);
    assert.match(renderFamilies(d.collect(), 'openmetrics'), /^# TYPE vigil_webhook_deliveries counter$/m);
  });

  test('attempts are bounded; a refusal (4xx) is not retried; a wrong secret fails verification', async () => {
    const r = await receiver((n) => (n <= 3 ? 502 : 400));
    servers.push(r.server);
    const d = createWebhookDispatcher({ hooks: [hook(r.url, { maxAttempts: 3 })], initialBackoffMs: 5 });
    dispatchers.push(d);
    d.enqueue(event(1)); // 502 ×3 → failed
    d.enqueue(event(2)); // 400 → failed at once
    await d.idle();
    assert.equal(r.got.length, 4);
    assert.deepEqual(d.stats().deliveries, { delivered: 0, failed: 2, dropped: 0, abandoned: 0 });
    assert.notEqual(signDelivery('other-secret', '1', r.got[0]!.body), r.got[0]!.headers[SIGNATURE_HEADER]);
  });

  test('timeouts and unreachable receivers are counted; the queue is bounded; shutdown abandons the rest', async () => {
    const r = await receiver(() => 'hang');
    servers.push(r.server);
    const d = createWebhookDispatcher({ hooks: [hook(r.url, { timeoutMs: 50, maxAttempts: 2, maxQueue: 3 }), hook('http://127.0.0.1:1/closed', { maxAttempts: 1 })], initialBackoffMs: 5 });
    dispatchers.push(d);
    for (let i = 0; i < 5; i++) d.enqueue(event(i));
    // Hanging receiver: 3 queued, 2 dropped; closed port: 5 queued.
    assert.equal(d.stats().deliveries.dropped, 2);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const s = d.stats();
    assert.ok(s.attempts.timeout >= 2, `timeouts ${s.attempts.timeout}`);
    assert.equal(s.attempts.network_error, 5);
    await d.shutdown(Date.now() + 10);
    const end = d.stats().deliveries;
    assert.equal(end.dropped + end.failed + end.abandoned + end.delivered, 10);
    assert.equal(d.queued, 0);
    d.enqueue(event(9));
    assert.equal(d.queued, 0, 'nothing is queued after shutdown');
  });

  test('status changes map to typed events', () => {
    assert.deepEqual(toWebhookEvent({ kind: 'component.override_cleared', atMs: 5, component: 'api' }), { type: 'component.override_cleared', occurredMs: 5, data: { component: 'api' } });
  });
});

before(() => {
  // A receiver compares signatures in constant time; this is the same computation the test receiver does.
  assert.equal(signDelivery('k', '1', 'b'), `sha256=${createHmac('sha256', 'k').update('1.b').digest('hex')}`);
});
