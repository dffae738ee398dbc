// HEAD on the status listener (uptime monitors and link checkers use it): every GET path answers
// with the GET's status and headers, Content-Length included, and no body, on a connection that
// stays usable. Regression: HEAD answered 404 (no HEAD routes), because this uWS build aborts on
// endWithoutBody(n > 0) and writes Content-Length: 0 on end().

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { applyStatusConfig } from './testing.js';

/** Sends raw HTTP/1.1 requests on one connection; resolves with everything read once `until` holds. */
function rawExchange(host: string, port: number, requests: string, until: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out; read so far:\n${text}`));
    }, 5000);
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (until(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.write(requests);
  });
}

describe('HEAD on the status listener', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon(applyStatusConfig);
  });
  after(async () => {
    await d.stop();
  });

  for (const path of ['/', '/api/v2/summary.json', '/history.atom', '/badge/api/status.svg', '/api/v1/reports/2026-01.json']) {
    it(`answers HEAD ${path} like GET, without the body`, async () => {
      const get = await fetch(`${d.statusBase}${path}`);
      const body = Buffer.from(await get.arrayBuffer());
      assert.equal(get.status, 200);
      const head = await fetch(`${d.statusBase}${path}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-type'), get.headers.get('content-type'));
      assert.equal(head.headers.get('content-length'), String(body.length), 'the length a GET would send');
      assert.equal(head.headers.get('etag'), get.headers.get('etag'));
      assert.equal((await head.arrayBuffer()).byteLength, 0);
    });
  }

  it('answers HEAD of an unknown path 404 and of an unknown badge 404, without a body', async () => {
    for (const path of ['/nope', '/badge/ghost/status.svg']) {
      const head = await fetch(`${d.statusBase}${path}`, { method: 'HEAD' });
      assert.equal(head.status, 404, path);
      assert.equal((await head.arrayBuffer()).byteLength, 0);
    }
  });

  it('answers 304 to HEAD with a matching If-None-Match', async () => {
    const etag = (await fetch(`${d.statusBase}/api/v2/status.json`)).headers.get('etag')!;
    const head = await fetch(`${d.statusBase}/api/v2/status.json`, { method: 'HEAD', headers: { 'if-none-match': etag } });
    assert.equal(head.status, 304);
  });

  it('keeps the connection: HEAD, HEAD, GET on one socket read back as three answers, bodies only for GET', async () => {
    const { host, port } = d.daemon.addresses.status;
    const request = (method: string) => `${method} /api/v2/status.json HTTP/1.1\r\nHost: x\r\n\r\n`;
    const text = await rawExchange(host, port, request('HEAD') + request('HEAD') + request('GET'), (t) => (t.match(/HTTP\/1\.1 200/g) ?? []).length === 3 && t.trimEnd().endsWith('}'));
    const answers = text.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 3, text);
    const length = Number(/content-length: (\d+)/i.exec(answers[2]!)![1]);
    for (const head of answers.slice(0, 2)) {
      assert.ok(head.endsWith('\r\n\r\n'), `a HEAD answer ends with its headers: ${JSON.stringify(head)}`);
      assert.match(head, new RegExp(`content-length: ${length}\\r\\n`, 'i'));
      assert.equal((head.match(/content-length/gi) ?? []).length, 1, 'one Content-Length');
    }
    assert.equal(answers[2]!.split('\r\n\r\n')[1]!.length, length);
  });
});
