// Regression: an OTLP/gRPC connection that finished its HTTP/2 preface and then opened no call held
// its otlp.grpc.max_connections slot for good (grpc-js' default idle limit is about 24 days). A
// client that vanished without a FIN, or one that connects and waits, kept the slot; enough of
// them and every exporter was refused. Now otlp.grpc.max_connection_idle closes such connections.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { status } from '@grpc/grpc-js';
import { sampleValue, scrape, startTestDaemon } from '../../test-support/daemon.js';
import type { TestDaemon } from '../../test-support/daemon.js';
import { rawExport } from '../../test-support/grpc-client.js';
import { counterRequest } from '../../test-support/otlp-proto.js';
import { pollUntil } from '../../test-support/wait.js';

const MAX_CONNECTIONS = 2;
const IDLE_MS = 3000;
/** The client connection preface and an empty SETTINGS frame: a complete HTTP/2 start, then nothing. */
const PREFACE_AND_SETTINGS = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

/** Opens a connection that completes the HTTP/2 preface, reads what the server sends, and never calls. */
function idleClient(port: number): { socket: net.Socket; closedAfterMs: Promise<number> } {
  const opened = Date.now();
  const socket = net.connect(port, '127.0.0.1', () => socket.write(PREFACE_AND_SETTINGS));
  socket.on('error', () => {});
  socket.resume();
  return { socket, closedAfterMs: new Promise((resolve) => socket.once('close', () => resolve(Date.now() - opened))) };
}

describe('OTLP/gRPC connections with no call open (otlp.grpc.max_connection_idle)', () => {
  let d: TestDaemon;
  const sockets: net.Socket[] = [];
  before(async () => {
    d = await startTestDaemon((config) => {
      config.otlp.grpc.maxConnections = MAX_CONNECTIONS;
      config.otlp.grpc.maxConnectionIdleMs = IDLE_MS;
    });
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await d.stop();
  });

  it('regression: idle connections that filled max_connections are closed and exporters get in again', { timeout: 30_000 }, async () => {
    const port = Number(d.grpcTarget.split(':').pop());
    const opened = Date.now();
    const idle = [idleClient(port), idleClient(port)];
    sockets.push(...idle.map((c) => c.socket));
    await pollUntil('both idle connections held', 5000, async () =>
      sampleValue(await scrape(d.metricsBase), 'vigil_connections_open{listener="otlp_grpc"}') === MAX_CONNECTIONS ? true : undefined,
    );
    // The cap is full: an exporter is refused while the idle connections hold it.
    const refused = await rawExport(d.grpcTarget, counterRequest({ name: 'idle.refused', value: 1 }), { deadlineMs: 1000 });
    // (On a machine so slow that the idle limit passed meanwhile, the slots were freed legitimately.)
    if (Date.now() - opened < IDLE_MS - 200) assert.notEqual(refused.code, status.OK, 'an export got in while max_connections idle connections were held');
    const closedAfter = await Promise.race([Promise.all(idle.map((c) => c.closedAfterMs)), new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 10_000))]);
    assert.ok(Array.isArray(closedAfter), `idle connections ${closedAfter} 10 s after they were opened (max_connection_idle ${IDLE_MS} ms)`);
    for (const ms of closedAfter) assert.ok(ms >= IDLE_MS - 100, `closed after ${ms} ms, before max_connection_idle (${IDLE_MS} ms)`);
    await pollUntil('the idle connections counted closed', 5000, async () =>
      sampleValue(await scrape(d.metricsBase), 'vigil_connections_open{listener="otlp_grpc"}')! < MAX_CONNECTIONS ? true : undefined,
    );
    const answer = await rawExport(d.grpcTarget, counterRequest({ name: 'idle.after', value: 1 }));
    assert.equal(answer.code, status.OK, answer.details);
  });

  it('a connection with calls more often than the limit stays open, and closes once they stop', { timeout: 30_000 }, async () => {
    const session = http2.connect(`http://${d.grpcTarget}`);
    session.on('error', () => {});
    let goawayAt = 0;
    session.once('goaway', () => (goawayAt = Date.now()));
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    try {
      const started = Date.now();
      let lastCall = 0;
      while (Date.now() - started < IDLE_MS * 3) {
        assert.equal(await grpcCall(session, counterRequest({ name: 'idle.busy', value: 1 })), '0');
        lastCall = Date.now();
        await new Promise((resolve) => setTimeout(resolve, IDLE_MS / 5));
      }
      assert.equal(goawayAt, 0, 'the server sent GOAWAY on a connection that was never idle for max_connection_idle');
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      assert.ok(goawayAt > 0, 'no GOAWAY 10 s after the last call');
      assert.ok(goawayAt - lastCall >= IDLE_MS - 100, `GOAWAY ${goawayAt - lastCall} ms after the last call`);
    } finally {
      session.destroy();
    }
  });
});

/** One unary Export call on `session`; resolves with its grpc-status. */
function grpcCall(session: http2.ClientHttp2Session, message: Buffer): Promise<string> {
  const stream = session.request({ ':method': 'POST', ':path': '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export', 'content-type': 'application/grpc', te: 'trailers' });
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  stream.end(frame);
  stream.resume();
  return new Promise((resolve, reject) => {
    stream.on('trailers', (trailers) => resolve(String(trailers['grpc-status'])));
    stream.on('response', (headers) => headers['grpc-status'] !== undefined && resolve(String(headers['grpc-status'])));
    stream.on('error', reject);
  });
}
