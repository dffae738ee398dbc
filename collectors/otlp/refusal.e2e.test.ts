// A gRPC call refused on its headers (unauthenticated, or over the memory limit) gets its status
// and then RST_STREAM NO_ERROR, so the daemon stops reading the message the client is still sending.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';

describe('gRPC calls refused on their headers', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon((config) => {
      config.otlp.auth.tokens = [{ token: 'refusal-test-token-0123456789', tenant: '' }];
    });
  });
  after(async () => {
    await d.stop();
  });

  it('are reset after their status (regression: grpc-js kept reading every refused body into memory)', async () => {
    const session = http2.connect(`http://${d.grpcTarget}`);
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.resume();
      const closed = new Promise<number>((resolve) => stream.once('close', () => resolve(stream.rstCode ?? -1)));
      // Half of a large message; the rest is never sent, so only the server can end the stream.
      const frame = Buffer.alloc(5 + 256 * 1024);
      frame.writeUInt32BE(1024 * 1024, 1);
      stream.write(frame);
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
      assert.equal(headers['grpc-status'], '16', 'UNAUTHENTICATED, trailers-only');
      const rstCode = await Promise.race([
        closed,
        new Promise<string>((resolve) => setTimeout(() => resolve('still open after 2 s: the daemon is reading the body'), 2000)),
      ]);
      assert.equal(rstCode, http2.constants.NGHTTP2_NO_ERROR);
    } finally {
      session.destroy();
    }
  });
});
