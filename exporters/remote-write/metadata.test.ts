// Metric metadata (WriteRequest.metadata, field 3) against our own receiver, which decodes it with
// protobufjs: what is sent for each family (compared with the `# HELP`/`# TYPE` lines the scrape
// renderer writes for the same families), one round per send_interval, the request size, retries on
// 5xx, none on 4xx, and that metadata never holds samples up or goes through the WAL.

import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteWriter } from './index.js';
import type { RemoteWriter, RemoteWriteSettings } from './index.js';
import { settings, startReceiver } from './test-receiver.js';
import type { DecodedMetadata, TestReceiver } from './test-receiver.js';
import { pollUntil } from '../../test-support/wait.js';
import { Family, Series, SeriesData } from '../../daemon/store/series.js';
import { SeriesKind, StaticFamily } from '../../daemon/model/index.js';
import type { FamilyView } from '../../daemon/model/index.js';
import { renderFamilies } from '../prometheus/render.js';

const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Settings with metadata on (sent only when a test asks, unless `intervalMs` is short). */
function withMetadata(url: string, metadata: Partial<NonNullable<RemoteWriteSettings['metadata']>> = {}, queue: Partial<RemoteWriteSettings['queue']> = {}): RemoteWriteSettings {
  return { ...settings(url, queue), metadata: { send: true, intervalMs: 3_600_000, maxPerSend: 2000, ...metadata } };
}

/** Families of every type the read model has, as the store and the self-metrics make them. */
function families(): FamilyView[] {
  const requests = new StaticFamily('http_requests', 'counter', 'Requests served.');
  requests.add(['route', '/a'], 3);
  const temperature = new StaticFamily('room_temperature_celsius', 'gauge', 'Room temperature.', 'celsius');
  temperature.add([], 21.5);
  const info = new StaticFamily('target_info', 'info', 'Target metadata', '', false);
  info.add(['service_name', 'api'], 1);
  const summary = new StaticFamily('rpc_duration_seconds_percentiles', 'summary', 'Percentiles of rpc durations.', '', false);
  const q = summary.add(['job', 'api'], 0);
  q.data = SeriesKind.Summary;
  q.bounds = Float64Array.from([0.5, 0.99]);
  q.counts = Float64Array.from([0.1, 0.4]);
  q.count = 10;
  q.sum = 1.5;
  // Announced off and no series with a value: /metrics does not show it, so no metadata either.
  const empty = new StaticFamily('nothing_yet', 'gauge', 'Never written.', '', false);
  empty.add([], 0).hasValue = false;
  return [requests, temperature, info, summary, histogramFamily(), empty];
}

/** A store family with one classic histogram series. */
function histogramFamily(): Family {
  const family = new Family('http_request_duration_seconds', 'histogram', 'Request durations.', 'seconds');
  const s = new Series(family, '{job="api"}', false);
  s.reset(SeriesData.Histogram);
  s.bounds = Float64Array.from([0.1, 1]);
  s.counts = Float64Array.from([1, 2, 0]);
  s.count = 3;
  s.sum = 1.2;
  s.hasValue = true;
  family.series.add(s);
  return family;
}

interface Setup {
  writer: RemoteWriter;
  all: FamilyView[];
}

function setup(endpoints: RemoteWriteSettings[], start = true): Setup {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-rw-meta-'));
  dirs.push(dataDir);
  const own = families();
  // Vigil's own families go out too, as in vigild (the writer's collect() is one of the sources).
  const holder: { writer?: RemoteWriter } = {};
  const gatherer = { gather: async (): Promise<FamilyView[]> => [...own, ...holder.writer!.collect()] };
  const writer = createRemoteWriter({ endpoints, dataDir, gatherer, logger: { info: () => {}, warn: () => {}, error: () => {} } });
  holder.writer = writer;
  if (start) writer.start();
  cleanups.push(() => writer.shutdown(Date.now() + 500));
  return { writer, all: own };
}

async function receiver(): Promise<TestReceiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

const metadataRequests = (r: TestReceiver): TestReceiver['requests'] => r.requests.filter((q) => q.metadata.length > 0);

/** `# HELP`/`# TYPE` of the text exposition, by the name on the TYPE line. */
function scrapeHeaders(all: readonly FamilyView[]): Map<string, { type: string; help: string }> {
  const out = new Map<string, { type: string; help: string }>();
  const text = renderFamilies(all, 'text');
  const help = new Map<string, string>();
  for (const line of text.split('\n')) {
    const h = /^# HELP (\S+) (.*)$/.exec(line);
    if (h !== null) help.set(h[1]!, h[2]!);
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t !== null) out.set(t[1]!, { type: t[2]!.toUpperCase(), help: help.get(t[1]!) ?? '' });
  }
  return out;
}

describe('remote_write metadata', () => {
  it('sends the family name, type, help and unit of every family /metrics shows, as its # TYPE line names it', async () => {
    const r = await receiver();
    const { writer, all } = setup([withMetadata(r.url)]);
    const walBytes = writer.endpoints()[0]!.wal.bytes;
    await writer.sendMetadataNow();
    const sent = metadataRequests(r);
    assert.equal(sent.length, 1, 'every family fits in one request');
    assert.equal(sent[0]!.series.length, 0, 'a metadata request holds no samples');
    const got = new Map<string, DecodedMetadata>(sent[0]!.metadata.map((m) => [m.metric_family_name, m]));
    // Known families, by hand.
    assert.deepEqual(got.get('http_requests_total'), { type: 'COUNTER', metric_family_name: 'http_requests_total', help: 'Requests served.', unit: '' });
    assert.deepEqual(got.get('room_temperature_celsius'), { type: 'GAUGE', metric_family_name: 'room_temperature_celsius', help: 'Room temperature.', unit: 'celsius' });
    assert.deepEqual(got.get('http_request_duration_seconds'), { type: 'HISTOGRAM', metric_family_name: 'http_request_duration_seconds', help: 'Request durations.', unit: 'seconds' });
    assert.deepEqual(got.get('rpc_duration_seconds_percentiles'), { type: 'SUMMARY', metric_family_name: 'rpc_duration_seconds_percentiles', help: 'Percentiles of rpc durations.', unit: '' });
    assert.equal(got.get('target_info')?.type, 'GAUGE', 'the text exposition shows info families as gauges');
    assert.equal(got.get('vigil_remote_write_samples_sent_total')?.type, 'COUNTER');
    assert.equal(got.has('nothing_yet'), false, 'a family /metrics does not show has no metadata');
    // And every one against the scrape renderer: the same names, types and help.
    const scrape = scrapeHeaders([...all, ...writer.collect()]);
    assert.deepEqual([...got.keys()].sort(), [...scrape.keys()].sort());
    for (const [name, m] of got) assert.deepEqual({ type: m.type, help: m.help }, scrape.get(name), name);
    // Counted, not through the WAL.
    const e = writer.endpoints()[0]!;
    assert.equal(e.stats.metadataSent, got.size);
    assert.equal(e.wal.bytes, walBytes, 'nothing was appended to the WAL');
    assert.equal(e.pendingSamples, 0);
    assert.deepEqual(r.violations, []);
    assert.equal(sent[0]!.headers['x-scope-orgid'], 'team-a', 'the endpoint headers go with metadata too');
  });

  it('sends one round per send_interval', async () => {
    const r = await receiver();
    const startedAt = Date.now();
    setup([withMetadata(r.url, { intervalMs: 200 })]);
    await pollUntil('three rounds', 10_000, async () => (metadataRequests(r).length >= 3 ? true : undefined));
    const elapsed = Date.now() - startedAt;
    const rounds = metadataRequests(r);
    // Never more than one per interval (timers only come late), every round complete.
    assert.ok(rounds.length <= Math.floor(elapsed / 200), `${rounds.length} rounds in ${elapsed} ms`);
    assert.ok(rounds.every((q) => q.metadata.length === rounds[0]!.metadata.length));
    // Arrival times carry each request's own delay on a loaded machine: a round sent twice would be ~0 ms apart.
    for (let i = 1; i < rounds.length; i++) assert.ok(rounds[i]!.atMs - rounds[i - 1]!.atMs >= 100, `gap ${rounds[i]!.atMs - rounds[i - 1]!.atMs} ms`);
    assert.equal(r.requests.length, rounds.length, 'no sample request (interval 1h)');
  });

  it('splits a round into requests of metadata.max_samples_per_send entries', async () => {
    const r = await receiver();
    const { writer } = setup([withMetadata(r.url, { maxPerSend: 4 })]);
    await writer.sendMetadataNow();
    const sent = metadataRequests(r);
    const names = sent.flatMap((q) => q.metadata.map((m) => m.metric_family_name));
    assert.ok(sent.length >= 3, `${sent.length} requests`);
    assert.ok(sent.every((q) => q.metadata.length <= 4));
    assert.equal(new Set(names).size, names.length, 'each family once');
    assert.equal(writer.endpoints()[0]!.stats.metadataSent, names.length);
  });

  it('retries a metadata request answered 5xx until it is taken', async () => {
    const r = await receiver();
    r.respond = () => (r.requests.length <= 2 ? { status: 503, body: 'later' } : { status: 204 });
    const { writer } = setup([withMetadata(r.url, {}, { minBackoffMs: 20, maxBackoffMs: 100 })]);
    await writer.sendMetadataNow();
    assert.equal(r.requests.length, 3);
    assert.deepEqual(r.requests[2]!.metadata, r.requests[0]!.metadata, 'the same request again');
    const e = writer.endpoints()[0]!;
    assert.equal(e.stats.metadataFailed.get('http_5xx'), 2);
    assert.equal(e.stats.metadataSent, r.requests[2]!.metadata.length);
    assert.equal(e.stats.retries, 0, 'sample retries are not metadata retries');
  });

  for (const [status, reason] of [[400, 'bad_request'], [401, 'unauthorized']] as const) {
    it(`does not retry a metadata request answered ${status} (counted as ${reason}); samples still flow`, async () => {
      const r = await receiver();
      r.respond = (q) => (q.metadata.length > 0 ? { status, body: 'no metadata here' } : { status: 204 });
      const { writer } = setup([withMetadata(r.url, {}, { minBackoffMs: 10, maxBackoffMs: 20 })]);
      await writer.sendMetadataNow();
      await new Promise((res) => setTimeout(res, 150));
      assert.equal(metadataRequests(r).length, 1);
      const e = writer.endpoints()[0]!;
      assert.equal(e.stats.metadataFailed.get(reason), 1);
      assert.equal(e.stats.metadataSent, 0);
      assert.equal(e.stats.dropped.size, 0, 'no sample is counted dropped');
      await writer.sampleNow(1_700_000_000_000);
      await pollUntil('the sampling delivered', 5000, async () => (writer.endpoints()[0]!.pendingSamples === 0 && r.accepted().length > 0 ? true : undefined));
      assert.ok(e.stats.samplesSent > 0);
    });
  }

  it('never holds samples up: a metadata request that hangs leaves the sample requests going', async () => {
    const r = await receiver();
    r.respond = (q) => (q.metadata.length > 0 ? { action: 'hang' } : { status: 204 });
    const { writer } = setup([withMetadata(r.url, {}, { timeoutMs: 20_000 })]);
    const round = writer.sendMetadataNow();
    await pollUntil('the metadata request is in flight', 5000, async () => (metadataRequests(r).length === 1 ? true : undefined));
    for (let i = 0; i < 3; i++) await writer.sampleNow(1_700_000_000_000 + i * 1000);
    await pollUntil('three samplings delivered', 5000, async () => (writer.endpoints()[0]!.pendingSamples === 0 && r.accepted().length === 3 ? true : undefined));
    // A second round while the first still waits is skipped (it would say the same).
    await writer.sendMetadataNow();
    assert.equal(metadataRequests(r).length, 1);
    void round;
  });

  it('sends nothing to an endpoint with metadata.send: false, beside one with it on', async () => {
    const off = await receiver();
    const on = await receiver();
    const { writer } = setup([withMetadata(off.url, { send: false, intervalMs: 100 }), withMetadata(on.url, { intervalMs: 100 })]);
    await writer.sendMetadataNow();
    await pollUntil('rounds to the other endpoint', 5000, async () => (metadataRequests(on).length >= 3 ? true : undefined));
    assert.equal(off.requests.length, 0);
    assert.equal(writer.endpoints()[0]!.stats.metadataSent, 0);
  });
});
