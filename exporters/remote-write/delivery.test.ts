// Delivery semantics against a receiver of our own: which answers are retried (and how long it
// waits), which are dropped and counted, and that every series' samples arrive in order whatever
// happens on the wire (the receiver checks every request it gets).

import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteWriter, walDirFor } from './index.js';
import { Wal } from './wal.js';
import type { RemoteWriter, RemoteWriteSettings } from './index.js';
import { settings, startReceiver } from './test-receiver.js';
import type { TestReceiver } from './test-receiver.js';
import { freePort, pollUntil } from '../../test-support/wait.js';
import { Family, Series, SeriesData } from '../../daemon/store/series.js';
import { StaticFamily } from '../../daemon/model/index.js';
import type { FamilyView, Gatherer } from '../../daemon/model/index.js';

const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});


/** `n` counter series whose values are the tick number (so every tick differs), as a read-model source. */
function counters(n: number): { tick: number; gatherer: Gatherer } {
  const state = {
    tick: 0,
    gatherer: {
      gather: async (): Promise<FamilyView[]> => {
        const family = new StaticFamily('demo', 'counter', 'demo');
        for (let i = 0; i < n; i++) family.add(['series', `s${i}`], state.tick);
        return [family];
      },
    },
  };
  return state;
}

interface Harness {
  writer: RemoteWriter;
  source: ReturnType<typeof counters>;
  logs: { level: string; message: string; fields: Record<string, unknown> }[];
  tick(): Promise<void>;
}

function harness(endpoints: RemoteWriteSettings[], series = 5): Harness {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-rw-'));
  dirs.push(dataDir);
  const source = counters(series);
  const logs: Harness['logs'] = [];
  const logger = {
    info: () => {},
    warn: (fields: Record<string, unknown>, message: string) => logs.push({ level: 'warn', message, fields }),
    error: (fields: Record<string, unknown>, message: string) => logs.push({ level: 'error', message, fields }),
  };
  const writer = createRemoteWriter({ endpoints, dataDir, logger, gatherer: source.gatherer });
  writer.start();
  cleanups.push(() => writer.shutdown(Date.now() + 500));
  let at = 1_700_000_000_000;
  return {
    writer,
    source,
    logs,
    async tick() {
      source.tick++;
      at += 1000;
      await writer.sampleNow(at);
    },
  };
}

async function receiver(): Promise<TestReceiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

/** Sample timestamps of a request's first series. */
const stampOf = (req: TestReceiver['requests'][number]): number => req.series[0]?.samples?.[0]?.timestamp ?? -1;

describe('remote_write delivery', () => {
  for (const [status, reason] of [[400, 'bad_request'], [401, 'unauthorized'], [404, 'not_found'], [413, 'too_large']] as const) {
    it(`drops a batch answered ${status} without retrying it, counted as ${reason}`, async () => {
      const r = await receiver();
      r.respond = () => (r.requests.length === 1 ? { status, body: `refused: ${status}` } : { status: 204 });
      const h = harness([settings(r.url)]);
      await h.tick();
      await pollUntil('the refused request', 5000, async () => (r.requests.length >= 1 ? true : undefined));
      await h.tick();
      await pollUntil('the next tick', 5000, async () => (r.requests.length >= 2 ? true : undefined));
      await new Promise((res) => setTimeout(res, 200));
      // The second request is the second tick, not the first one again.
      assert.equal(r.requests.length, 2);
      assert.ok(stampOf(r.requests[1]!) > stampOf(r.requests[0]!));
      const [e] = h.writer.endpoints();
      assert.equal(e!.stats.dropped.get(reason), 5);
      assert.equal(e!.stats.retries, 0);
      assert.equal(e!.stats.samplesSent, 5);
      assert.ok(h.logs.some((l) => l.fields['status'] === status && String(l.fields['body']).includes(`refused: ${status}`)), 'the response body is logged');
      assert.deepEqual(r.violations, []);
      assert.equal(r.requests[0]!.headers['x-scope-orgid'], 'team-a');
    });
  }

  for (const status of [500, 502, 503, 504]) {
    it(`retries a batch answered ${status} with growing delays until it is taken`, async () => {
      const r = await receiver();
      r.respond = () => (r.requests.length <= 4 ? { status, body: 'try later' } : { status: 204 });
      const h = harness([settings(r.url, { minBackoffMs: 100, maxBackoffMs: 5000 })]);
      await h.tick();
      await pollUntil('delivery after 4 failures', 10_000, async () => (r.accepted().length === 1 ? true : undefined));
      const times = r.requests.map((q) => q.atMs);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      // The n-th delay is 50–100% of 100 ms·2^(n−1): at least 50, 100, 200, 400 ms (timers only add).
      // So the 4th (≥ 400 ms) is longer than the 1st could be (≤ 100 ms): the delays grow. Upper
      // bounds are not asserted: on a loaded machine timers and requests only come later.
      gaps.forEach((gap, i) => assert.ok(gap >= (100 * 2 ** i) / 2 - 5, `delay ${i + 1} at least ${(100 * 2 ** i) / 2} ms: ${gaps.join(', ')}`));
      // Every attempt carried the same samples.
      assert.deepEqual(new Set(r.requests.map(stampOf)).size, 1);
      const [e] = h.writer.endpoints();
      assert.equal(e!.stats.failed.get('http_5xx'), 4);
      assert.equal(e!.stats.retries, 4);
      assert.equal(e!.stats.samplesSent, 5);
      assert.deepEqual(r.violations, []);
    });
  }

  it('honours Retry-After on 429', async () => {
    const r = await receiver();
    r.respond = () => (r.requests.length === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 });
    const h = harness([settings(r.url, { minBackoffMs: 10, maxBackoffMs: 20 })]);
    await h.tick();
    await pollUntil('delivery after 429', 5000, async () => (r.accepted().length === 1 ? true : undefined));
    const wait = r.requests[1]!.atMs - r.requests[0]!.atMs;
    assert.ok(wait >= 950, `waited ${wait} ms for Retry-After: 1 (backoff alone would be ≤ 20 ms)`);
    assert.equal(h.writer.endpoints()[0]!.stats.failed.get('http_429'), 1);
  });

  it('survives connection refused, a response slower than the timeout, a reset and a garbage response', async () => {
    const port = await freePort();
    const h = harness([settings(`http://127.0.0.1:${port}/api/v1/write`, { timeoutMs: 300, minBackoffMs: 20, maxBackoffMs: 200 })]);
    await h.tick();
    await pollUntil('a refused connection', 5000, async () => (h.writer.endpoints()[0]!.stats.failed.get('connection_refused') ?? 0) >= 2 ? true : undefined);
    const r = await startReceiver(port);
    cleanups.push(() => r.close());
    const script = ['hang', 'destroy', 'garbage'] as const;
    r.respond = () => {
      const next = script[r.requests.length - 1];
      return next === undefined ? { status: 204 } : { action: next };
    };
    await h.tick();
    await pollUntil('both ticks delivered', 10_000, async () => (r.accepted().length >= 1 && h.writer.endpoints()[0]!.pendingSamples === 0 ? true : undefined));
    const e = h.writer.endpoints()[0]!;
    assert.ok((e.stats.failed.get('timeout') ?? 0) >= 1, `timeouts: ${[...e.stats.failed]}`);
    assert.ok((e.stats.failed.get('connection_reset') ?? 0) >= 1, `resets: ${[...e.stats.failed]}`);
    assert.ok((e.stats.failed.get('bad_response') ?? 0) + (e.stats.failed.get('connection_reset') ?? 0) >= 2, `garbage: ${[...e.stats.failed]}`);
    assert.equal(e.stats.samplesSent, 10);
    // Both ticks, in order, each series once per tick.
    const got = r.accepted().flatMap((q) => q.series.map((s) => s.samples![0]!.timestamp));
    assert.deepEqual([...new Set(got)].length, 2);
    assert.deepEqual(r.violations, []);
  });

  it('keeps every series in order across shards and requests during retries', async () => {
    const r = await receiver();
    let n = 0;
    r.respond = () => (++n % 3 === 0 ? { status: 503 } : { status: 204 });
    const h = harness([settings(r.url, { shards: 4, maxSamplesPerSend: 7, minBackoffMs: 5, maxBackoffMs: 20 })], 60);
    for (let i = 0; i < 5; i++) await h.tick();
    await pollUntil('all ticks delivered', 10_000, async () => (h.writer.endpoints()[0]!.pendingSamples === 0 ? true : undefined));
    assert.ok(r.requests.length > 5 * 60 / 7, `${r.requests.length} requests`);
    assert.ok(r.requests.every((q) => q.series.length <= 7), 'max_samples_per_send holds');
    assert.equal(h.writer.endpoints()[0]!.stats.samplesSent, 300);
    // Each series' newest value is the last tick's.
    assert.equal(r.latest().size, 60);
    for (const v of r.latest().values()) assert.equal(v.value, 5);
    assert.deepEqual(r.violations, []);
  });

  it('a dead endpoint does not delay another one', async () => {
    const dead = await receiver();
    dead.respond = () => ({ action: 'hang' });
    const live = await receiver();
    const h = harness([settings(dead.url, { timeoutMs: 5000 }), settings(live.url)]);
    for (let i = 0; i < 3; i++) await h.tick();
    await pollUntil('the live endpoint has every tick', 3000, async () => (h.writer.endpoints()[1]!.stats.samplesSent === 15 ? true : undefined));
    assert.equal(dead.accepted().length, 0);
    assert.equal(h.writer.endpoints()[0]!.pendingSamples, 15);
  });

  it('stops sending native histograms to an endpoint that answers "native histograms are disabled", keeps floats flowing', async () => {
    const r = await receiver();
    r.respond = (req) =>
      req.series.some((s) => (s.histograms?.length ?? 0) > 0)
        ? { status: 500, body: 'native histograms are disabled\n' }
        : { status: 204 };
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-rw-'));
    dirs.push(dataDir);
    const logs: string[] = [];
    const gauge = new StaticFamily('g', 'gauge', 'g');
    gauge.add([], 1);
    const families: FamilyView[] = [expHistogramFamily(), gauge];
    const writer = createRemoteWriter({
      endpoints: [settings(r.url)],
      dataDir,
      logger: { info: () => {}, warn: () => {}, error: (_f: Record<string, unknown>, m: string) => logs.push(m) },
      gatherer: { gather: async () => families },
    });
    writer.start();
    cleanups.push(() => writer.shutdown(Date.now() + 500));
    await writer.sampleNow(1_700_000_000_000);
    await writer.sampleNow(1_700_000_001_000);
    await pollUntil('floats delivered', 5000, async () => (writer.endpoints()[0]!.pendingSamples === 0 ? true : undefined));
    const e = writer.endpoints()[0]!;
    assert.equal(e.histogramsDisabled, true);
    const floatsAccepted = r.accepted().reduce((n, q) => n + q.series.length, 0);
    assert.ok(floatsAccepted >= 2 * 8, `classic buckets, sum, count and the gauge of both ticks: ${floatsAccepted}`);
    assert.equal(e.stats.samplesSent, floatsAccepted);
    assert.equal(e.stats.dropped.get('native_histograms_disabled'), 2);
    assert.equal(logs.filter((m) => m.includes('--enable-feature=native-histograms')).length, 1, 'the fix is logged once');
    // One 500, then only float requests: no retry loop on the 500.
    assert.equal(r.requests.filter((q) => q.status === 0 || q.series.some((s) => s.histograms?.length)).length, 1);
    assert.equal(e.stats.retries, 0);
  });

  it('regression: a WAL record that passes its checksum but cannot be read is dropped and counted, delivery goes on', async () => {
    const r = await receiver();
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-rw-'));
    dirs.push(dataDir);
    // A record claiming three request bodies that are not there (the CRC is right: the WAL computes it).
    const bad = Buffer.alloc(29);
    bad[0] = 2;
    bad.writeDoubleLE(1_700_000_000_000, 1);
    bad.writeUInt32LE(5, 9);
    bad.writeUInt32LE(5, 13);
    bad.writeUInt32LE(3, 25);
    const wal = new Wal({ dir: walDirFor(dataDir, r.url), maxBytes: 1 << 20, segmentBytes: 1 << 16, fsync: 'never', warn: () => {} });
    wal.open();
    wal.append(bad, { sampledAtMs: 1_700_000_000_000, entries: 5, floats: 5, histograms: 0, exemplars: 0 });
    wal.close();
    const source = counters(3);
    const errors: string[] = [];
    const writer = createRemoteWriter({ endpoints: [settings(r.url)], dataDir, logger: { info: () => {}, warn: () => {}, error: (_f: Record<string, unknown>, m: string) => errors.push(m) }, gatherer: source.gatherer });
    writer.start();
    cleanups.push(() => writer.shutdown(Date.now() + 500));
    await writer.sampleNow(1_700_000_001_000);
    await pollUntil('the next sampling delivered', 5000, async () => (writer.endpoints()[0]!.stats.samplesSent === 3 ? true : undefined));
    assert.equal(writer.endpoints()[0]!.stats.dropped.get('wal_unreadable'), 5);
    assert.ok(errors.some((m) => m.includes('could not read queued records')));
    assert.deepEqual(r.violations, []);
  });
});

/** A store family holding one exponential-histogram series, as the store's merge leaves it. */
function expHistogramFamily(): Family {
  const family = new Family('rpc_latency_seconds', 'histogram', 'latency', 'seconds');
  const s = new Series(family, '{job="api"}', false);
  s.reset(SeriesData.ExpHistogram);
  s.scale = 2;
  s.positive = { offset: -3, counts: new Float64Array([1, 0, 4]) };
  s.negative = null;
  s.zeroCount = 1;
  s.count = 6;
  s.sum = 3.5;
  s.hasValue = true;
  family.series.add(s);
  return family;
}
