// Oversize headers and bodies on every listener (OTLP/gRPC, OTLP/HTTP, Prometheus, status): each
// is refused without a crash and without holding the bytes, and every listener serves afterwards.
// (Oversize OTLP and admin bodies have their own tests: collectors/otlp/http.e2e.test.ts,
// exporters/status/status.e2e.test.ts; the gRPC message limit: collectors/otlp/bad-input.e2e.test.ts.)

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startTestDaemon } from '../test-support/daemon.js';
import type { TestDaemon } from '../test-support/daemon.js';
import { rawExport } from '../test-support/grpc-client.js';
import { counterRequest } from '../test-support/otlp-proto.js';

/** Sends `request` raw and resolves with what came back before the server closed (or 3 s passed). */
function rawHttp(port: number, request: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      // The status line is enough; some servers keep the connection open.
      if (/\r\n\r\n/.test(text)) socket.destroy();
    });
    socket.on('error', () => resolve(text));
    socket.on('close', () => resolve(text));
    socket.setTimeout(3000, () => socket.destroy());
  });
}

describe('oversize headers and bodies on every listener', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon();
  });
  after(async () => {
    await d.stop();
  });

  const BIG = 'a'.repeat(64 * 1024);
  const HUGE = 'a'.repeat(1024 * 1024);

  it('refuses a 1 MiB header on each HTTP listener (431 or a closed connection); /metrics already at 16 KiB', async () => {
    const { otlpHttp, prometheus, status } = d.daemon.addresses;
    // uWebSockets.js (OTLP/HTTP, status) has a fixed header limit of about 100 KiB and closes the
    // connection beyond it; node:http (Prometheus) answers 431 beyond 16 KiB (docs/operations.md).
    for (const [what, port, path] of [['otlp http', otlpHttp.port, '/v1/metrics'], ['prometheus', prometheus.port, '/metrics'], ['status', status.port, '/']] as const) {
      const answer = await rawHttp(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Big: ${HUGE}\r\n\r\n`);
      assert.ok(answer === '' || /^HTTP\/1\.1 431 /.test(answer), `${what}: ${answer.slice(0, 80)}`);
      // 20000 headers of 40 bytes: the count, not one size, is what is large.
      const many = Array.from({ length: 20_000 }, (_, i) => `X-H${i}: ${'b'.repeat(32)}\r\n`).join('');
      const answerMany = await rawHttp(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n${many}\r\n`);
      assert.ok(answerMany === '' || /^HTTP\/1\.1 431 /.test(answerMany), `${what} (many headers): ${answerMany.slice(0, 80)}`);
    }
    assert.match(await rawHttp(prometheus.port, `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${BIG}\r\n\r\n`), /^HTTP\/1\.1 431 /);
  });

  it('refuses 1 MiB of gRPC metadata with an error status, not a crash', async () => {
    const answer = await rawExport(d.grpcTarget, counterRequest({ name: 'oversize.meta', value: 1 }), { metadata: { 'x-big': HUGE }, deadlineMs: 5000 });
    assert.notEqual(answer.code, 0, 'not accepted');
  });

  it('answers a large body on /metrics 405 without reading it', async () => {
    const { prometheus } = d.daemon.addresses;
    const answer = await rawHttp(prometheus.port, `POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: ${1024 ** 3}\r\n\r\n${BIG}`);
    assert.match(answer, /^HTTP\/1\.1 405 /);
  });

  it('serves on every listener afterwards', async () => {
    assert.equal((await rawExport(d.grpcTarget, counterRequest({ name: 'oversize.after', value: 1 }))).code, 0);
    const { otlpHttp, prometheus, status } = d.daemon.addresses;
    const http = await fetch(`http://127.0.0.1:${otlpHttp.port}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(counterRequest({ name: "oversize.after.http", value: 1 })) });
    assert.equal(http.status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${prometheus.port}/metrics`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${status.port}/api/v2/status.json`)).status, 200);
  });
});
