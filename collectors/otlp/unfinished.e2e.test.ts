// Regression: unfinished gRPC messages bypassed admission control. One client opened 300 Export
// streams on 6 HTTP/2 connections, each announcing a 15 MiB message and sending 8 MiB of it:
// grpc-js buffered all of it before Vigil's admission saw a byte, and RSS went to 2.5 GiB against
// a 1 GiB hard limit. Scaled down here (100 streams on 4 connections announcing 4 MiB, sending
// 2 MiB: 200 MiB offered against a 96 MiB hard limit and a 16 MiB in-flight budget), and the same
// for OTLP/HTTP bodies that trickle in and never finish.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { sampleValue, scrape, spawnDaemon } from '../../test-support/daemon.js';
import type { ChildDaemon } from '../../test-support/daemon.js';
import { rawExport } from '../../test-support/grpc-client.js';
import { counterRequest } from '../../test-support/otlp-proto.js';
import { pollUntil } from '../../test-support/wait.js';

const MiB = 1024 ** 2;
const BUDGET = 16 * MiB;
const HARD = 96 * MiB;
const RECEIVE_TIMEOUT_MS = 3000;
const EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

let d: ChildDaemon;
const dir = mkdtempSync(join(tmpdir(), 'vigil-unfinished-'));

before(async () => {
  const config = join(dir, 'vigil.yaml');
  writeFileSync(
    config,
    [
      'otlp:',
      `  max_inflight_size: ${BUDGET}`,
      `  receive_timeout: ${RECEIVE_TIMEOUT_MS}ms`,
      `  grpc: { max_message_size: ${8 * MiB} }`,
      `  http: { max_message_size: ${8 * MiB} }`,
      'limits:',
      `  memory_hard: ${HARD}`,
      `  memory_soft: ${72 * MiB}`,
      '  check_interval: 100ms',
      'workers: { threads: 1 }',
      '',
    ].join('\n'),
  );
  d = await spawnDaemon(['--config', config], join(dir, 'data'));
});

after(async () => {
  if (d !== undefined && d.child.exitCode === null) {
    d.child.kill('SIGTERM');
    await d.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

function rssBytes(): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${d.child.pid}/status`, 'utf8'))![1]) * 1024;
}

/** What the daemon holds: live memory (what the limits compare), in-flight bytes, and RSS. */
async function held(): Promise<{ live: number; inflight: number; rss: number }> {
  const text = await scrape(d.metricsBase);
  return { live: sampleValue(text, 'vigil_memory_used_bytes')!, inflight: sampleValue(text, 'vigil_inflight_bytes')!, rss: rssBytes() };
}

/** Samples `held()` every 100 ms until `stop` resolves; returns the highest of each. */
async function peakWhile(stop: Promise<unknown>): Promise<{ live: number; inflight: number; rss: number }> {
  const peak = { live: 0, inflight: 0, rss: 0 };
  let done = false;
  void stop.finally(() => (done = true));
  while (!done) {
    const now = await held();
    peak.live = Math.max(peak.live, now.live);
    peak.inflight = Math.max(peak.inflight, now.inflight);
    peak.rss = Math.max(peak.rss, now.rss);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return peak;
}

/** Opens `streams` Export calls on `sessions` connections, each announcing `announce` bytes and sending `send` of them, never ending. */
function unfinishedGrpc(sessions: number, streams: number, announce: number, send: number): { clients: http2.ClientHttp2Session[]; sent: Promise<void>; outcomes: Map<string, number> } {
  const clients: http2.ClientHttp2Session[] = [];
  const outcomes = new Map<string, number>();
  const writes: Promise<void>[] = [];
  for (let c = 0; c < sessions; c++) {
    const client = http2.connect(`http://${d.grpcTarget}`);
    client.on('error', () => {});
    clients.push(client);
  }
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  for (let i = 0; i < streams; i++) {
    const stream = clients[i % sessions]!.request({ ':method': 'POST', ':path': EXPORT_PATH, 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('error', () => {});
    stream.on('response', (headers) => {
      const code = String(headers['grpc-status'] ?? 'headers');
      outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
    });
    stream.on('trailers', (trailers) => {
      const code = String(trailers['grpc-status']);
      outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
    });
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(announce, 1);
    writes.push(
      (async () => {
        if (!stream.write(prefix)) await new Promise((resolve) => stream.once('drain', resolve));
        for (let sent = 0; sent < send && !stream.closed && !stream.destroyed; sent += chunk.length) {
          if (!stream.write(chunk)) {
            await Promise.race([new Promise((resolve) => stream.once('drain', resolve)), new Promise((resolve) => stream.once('close', resolve))]);
          }
        }
      })(),
    );
  }
  return { clients, sent: Promise.all(writes).then(() => undefined), outcomes };
}

describe('unfinished gRPC messages', () => {
  it('100 streams announcing 4 MiB and sending 2 MiB: memory held stays under the hard limit, most are refused, and it all falls back after', { timeout: 120_000 }, async (t) => {
    const baseline = await held();
    const attack = unfinishedGrpc(4, 100, 4 * MiB, 2 * MiB);
    // Admitted streams stall on flow control once their 2 MiB is out; 8 s covers sending the rest.
    const sending = Promise.race([attack.sent, new Promise((resolve) => setTimeout(resolve, 8000))]);
    const peak = await peakWhile(sending);
    t.diagnostic(`baseline live ${baseline.live} rss ${baseline.rss}; peak live ${peak.live} inflight ${peak.inflight} rss ${peak.rss}; outcomes ${JSON.stringify([...attack.outcomes])}`);
    assert.ok(peak.inflight <= BUDGET, `in-flight bytes ${peak.inflight} over the budget ${BUDGET}`);
    assert.ok(peak.live < HARD, `live memory peaked at ${peak.live} bytes, over the hard limit ${HARD} (baseline ${baseline.live})`);
    // 100 × 2 MiB held would be 200 MiB more; allow the allocator its slack but not the attack.
    assert.ok(peak.rss - baseline.rss < 96 * MiB, `RSS grew ${(peak.rss - baseline.rss) / MiB} MiB`);
    assert.ok((attack.outcomes.get(String(status.UNAVAILABLE)) ?? 0) >= 50, `expected most streams refused: ${JSON.stringify([...attack.outcomes])}`);
    // The streams admitted but stalled are ended after otlp.receive_timeout and their bytes released, clients still connected.
    await pollUntil('in-flight bytes back to 0 with the stalled streams timed out', RECEIVE_TIMEOUT_MS + 10_000, async () => ((await held()).inflight === 0 ? true : undefined));
    assert.ok((attack.outcomes.get(String(status.DEADLINE_EXCEEDED)) ?? 0) >= 1, `expected stalled streams timed out: ${JSON.stringify([...attack.outcomes])}`);
    // With the attackers still connected, a real export is admitted.
    const answer = await rawExport(d.grpcTarget, counterRequest({ name: 'after.unfinished.grpc', value: 1 }));
    assert.equal(answer.code, status.OK, answer.details);
    for (const client of attack.clients) client.destroy();
    await pollUntil('live memory back under the soft limit', 15_000, async () => ((await held()).live < 72 * MiB ? true : undefined));
    const text = await scrape(d.metricsBase);
    assert.ok((sampleValue(text, 'vigil_otlp_requests_rejected_total{signal="metrics",transport="grpc",reason="receive_timeout"}') ?? 0) >= 1);
    assert.ok((sampleValue(text, 'vigil_otlp_requests_rejected_total{signal="metrics",transport="grpc",reason="inflight_budget"}') ?? 0) >= 50);
  });
});

/** An OTLP/HTTP upload announcing `length` bytes that sends `chunk` bytes every `everyMs` (enough to keep uWS from closing it) and never finishes. */
function tricklingUpload(length: number, chunk: number, everyMs: number): { socket: net.Socket; answer: Promise<string> } {
  const socket = net.connect(Number(new URL(d.otlpHttpBase).port), '127.0.0.1');
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (b) => (text += b.toString('latin1')));
  socket.once('connect', () => socket.write(`POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${length}\r\n\r\n`));
  const trickle = setInterval(() => socket.writable && socket.write(Buffer.alloc(chunk, 0x61)), everyMs);
  const answer = new Promise<string>((resolve) =>
    socket.once('close', () => {
      clearInterval(trickle);
      resolve(text);
    }),
  );
  return { socket, answer };
}

describe('unfinished OTLP/HTTP bodies', () => {
  it('uploads that trickle and never finish are timed out (408) and release the budget, so large requests are admitted again', { timeout: 60_000 }, async () => {
    // Four 4 MiB uploads fill the 16 MiB budget; each sends 64 KiB a second, which keeps uWS from closing it.
    const uploads = Array.from({ length: 4 }, () => tricklingUpload(4 * MiB, 64 * 1024, 1000));
    await pollUntil('the budget held by the trickling uploads', 5000, async () => ((await held()).inflight >= BUDGET - MiB ? true : undefined));
    const large = (): Promise<Response> => fetch(`${d.otlpHttpBase}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(counterRequest({ name: 'large.after.trickle', value: 1 })) });
    const refused = await fetch(`${d.otlpHttpBase}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(3 * MiB) });
    await refused.arrayBuffer();
    assert.equal(refused.status, 429, 'a large request is refused while the budget is held');
    const answers = await Promise.all(uploads.map((u) => u.answer));
    for (const text of answers) assert.match(text, /^HTTP\/1\.1 408 /, `expected 408 Request Timeout, got ${JSON.stringify(text.slice(0, 60))}`);
    assert.equal((await held()).inflight, 0, 'the timed-out uploads released their budget');
    const res = await large();
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    const text = await scrape(d.metricsBase);
    assert.equal(sampleValue(text, 'vigil_otlp_requests_rejected_total{signal="metrics",transport="http",reason="receive_timeout"}'), 4);
  });
});
