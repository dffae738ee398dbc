// SIGTERM on a vigild child process: a quiet stop, a stop under load that loses no acknowledged
// point, and what a client sees after the signal (UNAVAILABLE with RetryInfo).

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { connect, constants as h2 } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { scrape, spawnDaemon } from '../test-support/daemon.js';
import type { ChildDaemon } from '../test-support/daemon.js';
import { valueWith } from '../test-support/exposition.js';
import { rawExport } from '../test-support/grpc-client.js';
import { counterRequest, statusDetails } from '../test-support/otlp-proto.js';

const EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
const EXIT_WITHIN_MS = 5000;
const identity = (b: Buffer): Buffer => b;

const children: ChildDaemon[] = [];

after(async () => {
  for (const d of children) {
    if (d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill('SIGKILL');
      await d.exited;
    }
    rmSync(d.dataDir, { recursive: true, force: true });
  }
});

async function spawnTracked(): Promise<ChildDaemon> {
  const d = await spawnDaemon();
  children.push(d);
  return d;
}

/** Resolves with how long after `since` the child exited and its code; rejects after `limitMs`. */
async function exitWithin(d: ChildDaemon, since: number, limitMs: number): Promise<{ code: number | null; ms: number }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`vigild still running ${limitMs} ms after SIGTERM; stderr: ${d.stderr()}`)), limitMs - (Date.now() - since));
  });
  try {
    const code = await Promise.race([d.exited, timeout]);
    return { code, ms: Date.now() - since };
  } finally {
    clearTimeout(timer);
  }
}

/** One unary Export on an existing client; resolves with the status code. */
function exportOnce(client: grpc.Client, payload: Buffer): Promise<grpc.status> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(EXPORT_PATH, identity, identity, payload, { deadline: Date.now() + 5000 }, (err) => resolve(err ? err.code : grpc.status.OK));
  });
}

/** Polls `probe` every 20 ms until it returns true; fails after `timeoutMs`. */
async function waitFor(what: string, timeoutMs: number, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function readyStatus(metricsBase: string): Promise<number> {
  const res = await fetch(`${metricsBase}/-/ready`);
  await res.arrayBuffer();
  return res.status;
}

/** The answer to a raw HTTP/2 gRPC call. */
interface SlowCallResult {
  code: number;
  message: string;
  metadata: grpc.Metadata;
}

/**
 * An Export call whose message is sent in two parts: the first now, the rest on `finish()`.
 * While it is open the server has a stream it must let finish, so a graceful gRPC shutdown waits
 * for it (like a client uploading a large request over a slow link).
 */
async function slowExport(target: string, payload: Buffer): Promise<{ finish(): Promise<SlowCallResult>; cancel(): void }> {
  const session = connect(`http://${target}`);
  session.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  const stream = session.request({
    [h2.HTTP2_HEADER_METHOD]: 'POST',
    [h2.HTTP2_HEADER_PATH]: EXPORT_PATH,
    [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => {});
  const frame = Buffer.alloc(5 + payload.length);
  frame.writeUInt32BE(payload.length, 1);
  payload.copy(frame, 5);
  const split = 5 + Math.floor(payload.length / 2);
  stream.write(frame.subarray(0, split));
  const answered = new Promise<SlowCallResult>((resolve, reject) => {
    const fromHeaders = (headers: Record<string, string | string[] | undefined>): boolean => {
      const code = headers['grpc-status'];
      if (code === undefined) return false;
      const metadata = new grpc.Metadata();
      const details = headers['grpc-status-details-bin'];
      if (typeof details === 'string') metadata.set('grpc-status-details-bin', Buffer.from(details, 'base64'));
      resolve({ code: Number(code), message: decodeURIComponent(String(headers['grpc-message'] ?? '')), metadata });
      session.close();
      return true;
    };
    stream.on('response', (headers) => void fromHeaders(headers));
    stream.on('trailers', (trailers) => void fromHeaders(trailers));
    stream.on('data', () => {});
    stream.on('close', () => reject(new Error(`stream closed without a gRPC status (rst code ${stream.rstCode})`)));
  });
  answered.catch(() => {});
  // A PING answered after the HEADERS and first DATA frames: the server has opened the stream.
  await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
  return {
    finish() {
      stream.end(frame.subarray(split));
      return answered;
    },
    cancel() {
      stream.close(h2.NGHTTP2_CANCEL);
      session.destroy();
    },
  };
}

describe('vigild stops on SIGTERM', () => {
  it('exits 0 within 5 s with no load', { timeout: 30_000 }, async () => {
    const d = await spawnTracked();
    assert.equal(await readyStatus(d.metricsBase), 200);
    const signalled = Date.now();
    d.child.kill('SIGTERM');
    const { code, ms } = await exitWithin(d, signalled, EXIT_WITHIN_MS);
    assert.equal(code, 0, `exit code; stderr: ${d.stderr()}`);
    assert.ok(ms < EXIT_WITHIN_MS, `exited after ${ms} ms`);
  });

  it('loses no acknowledged point when stopped under load', { timeout: 60_000 }, async () => {
    const d = await spawnTracked();
    const LOOPS = 6;
    const payloads = Array.from({ length: LOOPS }, (_, i) => counterRequest({ name: 'shutdown.acked', value: 1, attributes: { loop: String(i) } }));
    const clients = Array.from({ length: LOOPS }, () => new grpc.Client(d.grpcTarget, grpc.credentials.createInsecure()));
    const ok = new Array<number>(LOOPS).fill(0);
    const okInPhase = new Array<number>(LOOPS).fill(0);
    const refusals: string[] = [];
    const acked = (text: string, i: number): number => valueWith(text, 'shutdown_acked_total', { loop: String(i) }) ?? 0;

    // A scraper running throughout, remembering its last successful scrape and when it began.
    let scraping = true;
    let lastScrape: { began: number; text: string } | undefined;
    const scraper = (async () => {
      while (scraping) {
        const began = Date.now();
        try {
          lastScrape = { began, text: await scrape(d.metricsBase) };
        } catch {
          // refused once the endpoint is closed
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    /** Each loop sends until `keepGoing()` is false or it gets an answer other than OK. */
    const runLoops = (keepGoing: () => boolean): Promise<void[]> =>
      Promise.all(
        clients.map(async (client, i) => {
          while (keepGoing()) {
            const code = await exportOnce(client, payloads[i]!);
            if (code !== grpc.status.OK) {
              refusals.push(`loop ${i}: ${grpc.status[code]}`);
              return;
            }
            ok[i]!++;
            okInPhase[i]!++;
          }
        }),
      );

    try {
      // Phase 1: load, then stop the senders; once every answer is in, /metrics holds every OK.
      let phase1 = true;
      const phase1Done = runLoops(() => phase1);
      await waitFor('each loop to get 20 OKs', 20_000, () => ok.every((n) => n >= 20));
      phase1 = false;
      await phase1Done;
      assert.deepEqual(refusals, [], 'no refusal before the signal');
      const quiet = await scrape(d.metricsBase);
      for (let i = 0; i < LOOPS; i++) assert.equal(acked(quiet, i), ok[i], `loop ${i}: every acknowledged point is on /metrics before the signal`);

      // Phase 2: a slow upload keeps the gRPC server's graceful close waiting (and so the
      // Prometheus endpoint, which closes after it, open) until we have scraped.
      const slow = await slowExport(d.grpcTarget, counterRequest({ name: 'shutdown.slow', value: 1 }));
      okInPhase.fill(0);
      const burst = runLoops(() => true);
      await waitFor('the burst to be under way', 20_000, () => okInPhase.every((n) => n >= 3));
      const signalled = Date.now();
      d.child.kill('SIGTERM');
      await burst;
      const allAnswered = Date.now();
      for (const c of clients) c.close();

      // Every loop ended on UNAVAILABLE (the daemon's answer or a refused connection), nothing else.
      assert.equal(refusals.length, LOOPS, refusals.join('; '));
      for (const r of refusals) assert.match(r, /: UNAVAILABLE$/);

      // Between the last answer and the exit: /metrics holds every acknowledged point.
      const last = await scrape(d.metricsBase);
      assert.equal(d.child.exitCode, null, 'scraped before the exit');
      assert.equal(await readyStatus(d.metricsBase), 503, 'not ready while stopping');
      for (let i = 0; i < LOOPS; i++) assert.equal(acked(last, i), ok[i], `loop ${i}: every acknowledged point is on /metrics after the signal`);
      const total = ok.reduce((a, b) => a + b, 0);
      assert.equal(valueWith(last, 'vigil_otlp_requests_total', { signal: 'metrics', transport: 'grpc', code: 'OK' }), total, 'the daemon answered OK exactly as often as the clients saw it');

      // The continuous scraper gets there too, before anything closes.
      await waitFor('a continuous scrape begun after the last answer', 2000, () => lastScrape !== undefined && lastScrape.began >= allAnswered);

      // Release the slow upload: its message arrives after the signal, so it is refused.
      const slowAnswer = await slow.finish();
      assert.equal(slowAnswer.code, grpc.status.UNAVAILABLE, slowAnswer.message);
      scraping = false;
      await scraper;

      const { code, ms } = await exitWithin(d, signalled, EXIT_WITHIN_MS);
      assert.equal(code, 0, `exit code; stderr: ${d.stderr()}`);
      assert.ok(ms < EXIT_WITHIN_MS, `exited ${ms} ms after SIGTERM`);
      // The continuous scraper agrees: its last successful scrape (before the exit) began after
      // every answer was in and holds every acknowledged point.
      assert.ok(lastScrape !== undefined && lastScrape.began >= allAnswered, 'a continuous scrape succeeded after the last answer');
      for (let i = 0; i < LOOPS; i++) assert.equal(acked(lastScrape.text, i), ok[i], `loop ${i}: the last scrape before exit`);
      assert.equal(valueWith(lastScrape.text, 'shutdown_slow_total'), undefined, 'the refused slow request was not merged');
    } finally {
      scraping = false;
      await scraper;
      for (const c of clients) c.close();
    }
  });

  it('answers a request that arrives after SIGTERM with UNAVAILABLE and RetryInfo', { timeout: 30_000 }, async () => {
    const d = await spawnTracked();
    // Started before the signal, its message completes after it: the daemon itself must answer.
    const slow = await slowExport(d.grpcTarget, counterRequest({ name: 'after.signal', value: 1 }));
    try {
      const signalled = Date.now();
      d.child.kill('SIGTERM');
      await waitFor('the daemon to start stopping', EXIT_WITHIN_MS, async () => (await readyStatus(d.metricsBase)) === 503);

      // A new connection now: the daemon's UNAVAILABLE, or a refused connection (also UNAVAILABLE).
      const late = await rawExport(d.grpcTarget, counterRequest({ name: 'after.signal', value: 1 }), { deadlineMs: 3000 });
      assert.equal(late.code, grpc.status.UNAVAILABLE, late.details);
      const lateDetails = statusDetails(late.metadata);
      if (lateDetails !== undefined) assert.ok(lateDetails.retryDelayMs! > 0, 'RetryInfo when the daemon answered');

      const answer = await slow.finish();
      assert.equal(answer.code, grpc.status.UNAVAILABLE, answer.message);
      assert.match(answer.message, /shutting down/);
      const details = statusDetails(answer.metadata);
      assert.ok(details !== undefined, 'grpc-status-details-bin is present');
      assert.equal(details.code, grpc.status.UNAVAILABLE, 'google.rpc.Status.code');
      assert.match(details.message, /shutting down/);
      assert.deepEqual(details.typeUrls, ['type.googleapis.com/google.rpc.RetryInfo']);
      assert.ok(details.retryDelayMs! > 0, `RetryInfo.retry_delay is positive (${details.retryDelayMs} ms)`);

      const { code, ms } = await exitWithin(d, signalled, EXIT_WITHIN_MS);
      assert.equal(code, 0);
      assert.ok(ms < EXIT_WITHIN_MS, `exited ${ms} ms after SIGTERM`);
    } finally {
      slow.cancel();
    }
  });
});
