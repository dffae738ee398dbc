// The sampler's label arena (source.ts): what a sampling sends must be exactly what the read model
// holds at that sampling, however the series changed since the encodings were kept. The expected
// samples come from the read model's own forEachSample and the one-shot encodeSeries, decoded by
// protobufjs (the oracle) from the compressed requests the sampler built.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import SnappyJS from 'snappyjs';
import { BatchWriter, bodiesOf } from './batch.js';
import { ProtoWriter } from './proto.js';
import { StoreSampler, encodeSeries } from './source.js';
import { decodeWriteRequest, seriesKey } from './test-receiver.js';
import { SeriesKind, StaticFamily, StaticSeries, forEachSample, formatValue } from '../../daemon/model/index.js';
import type { ExemplarView, FamilyView, Gatherer } from '../../daemon/model/index.js';

/** One sampling through `sampler`: series key → [value, exemplar trace id or null]; staleness markers (NaN: no test series holds one) apart. */
async function sample(sampler: StoreSampler, atMs = 1_000): Promise<{ sent: Map<string, [number, string | null]>; invalid: number; stale: Set<string> }> {
  const batch = new BatchWriter(atMs, 3, 50);
  const payloads: Buffer[] = [];
  const result = await sampler.collect(batch, () => {
    const part = batch.cut();
    if (part !== null) payloads.push(part.payload);
  });
  const last = batch.cut(true);
  if (last !== null) payloads.push(last.payload);
  const sent = new Map<string, [number, string | null]>();
  const stale = new Set<string>();
  for (const payload of payloads) {
    for (const body of bodiesOf(payload)) {
      for (const ts of decodeWriteRequest(SnappyJS.uncompress(body.bytes))) {
        const key = seriesKey(ts.labels);
        if (Number.isNaN(ts.samples![0]!.value)) {
          stale.add(key);
          continue;
        }
        assert.ok(!sent.has(key), `${key} sent once`);
        assert.equal(ts.samples!.length, 1);
        assert.equal(Number(ts.samples![0]!.timestamp), atMs);
        const trace = ts.exemplars?.[0]?.labels.find((l) => l.name === 'trace_id')?.value ?? null;
        sent.set(key, [ts.samples![0]!.value ?? 0, trace]);
      }
    }
  }
  return { sent, invalid: result.invalid, stale };
}

/** What a sampling must send: every float sample of the read model, labelled as encodeSeries does. */
function expected(families: FamilyView[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const family of families) {
    for (const s of family.series) {
      const flat: string[] = [];
      const text = s.labelText.slice(1, -1);
      for (const m of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) flat.push(m[1]!, m[2]!);
      forEachSample(family, s, (suffix, extraLabel, extraValue, value) => {
        const e = encodeSeries(family.name + suffix, extraLabel === null ? flat : [...flat, extraLabel, formatValue(extraValue)]);
        if (e === null) return;
        const w = new ProtoWriter();
        w.nested(1, () => w.bytes(e.labels));
        out.set(seriesKey(decodeWriteRequest(w.view())[0]!.labels), value);
      });
    }
  }
  return out;
}

function assertSent(sent: Map<string, [number, string | null]>, families: FamilyView[]): void {
  const want = expected(families);
  assert.deepEqual([...sent.keys()].sort(), [...want.keys()].sort());
  for (const [key, value] of want) assert.equal(sent.get(key)![0], value, key);
}

function gatherer(families: () => FamilyView[]): Gatherer {
  return { gather: async () => families() };
}

function histogram(labels: string[], bounds: number[], counts: number[]): StaticSeries {
  const s = new StaticSeries(labels);
  s.data = SeriesKind.Histogram;
  s.bounds = Float64Array.from(bounds);
  s.counts = Float64Array.from(counts);
  s.count = counts.reduce((a, b) => a + b, 0);
  s.sum = 42;
  return s;
}

describe('remote-write sampler (label arena)', () => {
  it('sends every sample of the read model, the same on every sampling, keeping one encoding per series', async () => {
    const counters = new StaticFamily('requests', 'counter', '');
    const gauges = new StaticFamily('temperature_celsius', 'gauge', '');
    const hist = new StaticFamily('latency_seconds', 'histogram', '');
    for (let i = 0; i < 300; i++) counters.add(['job', 'api', 'i', String(i)], i);
    for (let i = 0; i < 10; i++) gauges.add(['room', `r${i}`], i / 2);
    hist.series.push(histogram(['job', 'api'], [0.1, 0.5, 1], [1, 2, 3, 4]));
    const families = [counters, gauges, hist];
    const sampler = new StoreSampler(gatherer(() => families));
    for (let round = 0; round < 3; round++) {
      for (const s of counters.series) s.value += round;
      const { sent, invalid } = await sample(sampler, 1_000 + round);
      assert.equal(invalid, 0);
      assertSent(sent, families);
      assert.equal(sampler.seriesKept, 311);
    }
  });

  it('regression: a histogram whose bucket bounds change is sent with its new le labels, not the kept ones', async () => {
    const hist = new StaticFamily('latency_seconds', 'histogram', '');
    const s = histogram(['job', 'api'], [0.1, 0.5, 1], [1, 2, 3, 4]);
    hist.series.push(s);
    const sampler = new StoreSampler(gatherer(() => [hist]));
    assertSent((await sample(sampler)).sent, [hist]);
    s.bounds = Float64Array.from([0.25, 0.5, 2.5, 10]);
    s.counts = Float64Array.from([5, 0, 1, 1, 2]);
    s.count = 9;
    const { sent } = await sample(sampler);
    assertSent(sent, [hist]);
    assert.ok([...sent.keys()].some((k) => k.includes('le="2.5"')));
    assert.ok(![...sent.keys()].some((k) => k.includes('le="0.1"')));
    // Fewer buckets again, and a sum no longer known: the block is trimmed.
    s.bounds = Float64Array.from([0.25]);
    s.counts = Float64Array.from([5, 4]);
    s.sum = Number.NaN;
    assertSent((await sample(sampler)).sent, [hist]);
  });

  it('forgets series gone from the read model and sends them again when they come back', async () => {
    const gauges = new StaticFamily('queue_depth', 'gauge', '');
    for (let i = 0; i < 100; i++) gauges.add(['queue', `q${i}`], i);
    let families: FamilyView[] = [gauges];
    const sampler = new StoreSampler(gatherer(() => families));
    await sample(sampler);
    assert.equal(sampler.seriesKept, 100);
    const fewer = new StaticFamily('queue_depth', 'gauge', '');
    for (let i = 0; i < 100; i += 10) fewer.add(['queue', `q${i}`], i + 0.5);
    families = [fewer];
    assertSent((await sample(sampler)).sent, families);
    assert.equal(sampler.seriesKept, 10);
    families = [gauges];
    assertSent((await sample(sampler)).sent, families);
    assert.equal(sampler.seriesKept, 100);
  });

  it('regression: a family that comes back after its series were forgotten is sent with its own labels, not those of the series that took their ids', async () => {
    const family = (name: string, labels: string[], value: number): StaticFamily => {
      const f = new StaticFamily(name, 'gauge', '');
      f.add(labels, value);
      return f;
    };
    let families: FamilyView[] = [family('f', ['k', 'x'], 1), family('g', ['k', 'y'], 2)];
    const sampler = new StoreSampler(gatherer(() => families));
    assertSent((await sample(sampler)).sent, families);
    assertSent((await sample(sampler)).sent, families);
    // f's series is forgotten; then a new family takes its freed id in the sampling where f is back.
    families = [family('g', ['k', 'y'], 2)];
    assertSent((await sample(sampler)).sent, families);
    families = [family('h', ['k', 'w'], 3), family('f', ['k', 'x'], 4), family('g', ['k', 'y'], 2)];
    assertSent((await sample(sampler)).sent, families);
    assertSent((await sample(sampler)).sent, families);
    // Series in another order, some without a value.
    const many = new StaticFamily('m', 'gauge', '');
    for (let i = 0; i < 50; i++) many.add(['i', String(i)], i);
    families = [many];
    assertSent((await sample(sampler)).sent, families);
    many.series.reverse();
    for (let i = 0; i < 50; i += 3) many.series[i]!.hasValue = false;
    assertSent((await sample(sampler)).sent, families);
    for (const s of many.series) s.hasValue = true;
    assertSent((await sample(sampler)).sent, families);
  });

  it('sends one staleness marker (StaleNaN, its exact bits) per float sample of each series gone from the read model, in the next sampling only', async () => {
    const gauges = new StaticFamily('queue_depth', 'gauge', '');
    for (let i = 0; i < 20; i++) gauges.add(['queue', `q${i}`], i);
    const hist = new StaticFamily('latency_seconds', 'histogram', '');
    hist.series.push(histogram(['job', 'api'], [0.1, 0.5], [1, 2, 3]));
    let families: FamilyView[] = [gauges, hist];
    const sampler = new StoreSampler(gatherer(() => families));
    const markers = async (): Promise<{ nan: Set<string>; pattern: number; values: Map<string, number> }> => {
      const batch = new BatchWriter(5_000, 3, 50);
      await sampler.collect(batch, () => undefined);
      const nan = new Set<string>();
      const values = new Map<string, number>();
      let pattern = 0;
      const marker = Buffer.from([0x09, 0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f]);
      for (const body of bodiesOf(batch.cut(true)!.payload)) {
        const raw = Buffer.from(SnappyJS.uncompress(body.bytes));
        for (let at = raw.indexOf(marker); at >= 0; at = raw.indexOf(marker, at + 1)) pattern++;
        for (const ts of decodeWriteRequest(raw)) {
          const v = ts.samples![0]!.value ?? 0;
          if (Number.isNaN(v)) nan.add(seriesKey(ts.labels));
          else values.set(seriesKey(ts.labels), v);
        }
      }
      return { nan, pattern, values };
    };
    assert.equal((await markers()).nan.size, 0);
    const fewer = new StaticFamily('queue_depth', 'gauge', '');
    for (let i = 0; i < 20; i += 2) fewer.add(['queue', `q${i}`], i);
    families = [fewer];
    const gone = await markers();
    const want = new Set([...Array.from({ length: 10 }, (_, k) => `__name__="queue_depth",queue="q${2 * k + 1}"`),
      '__name__="latency_seconds_bucket",job="api",le="0.1"', '__name__="latency_seconds_bucket",job="api",le="0.5"', '__name__="latency_seconds_bucket",job="api",le="+Inf"',
      '__name__="latency_seconds_sum",job="api"', '__name__="latency_seconds_count",job="api"']);
    assert.deepEqual([...gone.nan].sort(), [...want].sort());
    assert.equal(gone.pattern, want.size, 'every marker carries the StaleNaN bits');
    assertSent(new Map([...gone.values].map(([k, v]) => [k, [v, null]])), families);
    // Only once: the next sampling has no marker.
    assert.equal((await markers()).nan.size, 0);
  });

  it('compacts the arena after churn and still sends the series it keeps exactly', async () => {
    const stable = new StaticFamily('stable', 'gauge', '');
    for (let i = 0; i < 50; i++) stable.add(['i', String(i)], i);
    let churn = new StaticFamily('churn', 'gauge', '');
    const sampler = new StoreSampler(gatherer(() => [stable, churn]));
    let compacted = false;
    for (let round = 0; round < 6; round++) {
      churn = new StaticFamily('churn', 'gauge', '');
      for (let i = 0; i < 4000; i++) churn.add(['round', String(round), 'i', String(i), 'pad', 'x'.repeat(80)], i);
      const before = sampler.arenaBytes;
      assertSent((await sample(sampler)).sent, [stable, churn]);
      if (sampler.arenaBytes.used < before.used) compacted = true;
    }
    assert.ok(compacted, 'the arena was compacted at least once');
    assert.ok(sampler.arenaBytes.garbage * 2 <= sampler.arenaBytes.used || sampler.arenaBytes.garbage < 1024 * 1024);
  });

  it('counts invalid label sets every sampling and sends nothing for them', async () => {
    const bad = new StaticFamily('ok_name', 'gauge', '');
    bad.add(['bad-label', 'x'], 1);
    bad.add(['good', 'y'], 2);
    const sampler = new StoreSampler(gatherer(() => [bad]));
    for (let round = 0; round < 2; round++) {
      const { sent, invalid } = await sample(sampler);
      assert.equal(invalid, 1);
      assert.deepEqual([...sent.keys()], ['__name__="ok_name",good="y"']);
    }
  });

  it('sends each exemplar once, with the sample it belongs to', async () => {
    let exemplar: ExemplarView | null = { labels: ['trace_id', 'aa'.repeat(16)], value: 1, timeMs: 500 };
    class WithExemplar extends StaticSeries {
      override exemplar(): ExemplarView | null {
        return exemplar;
      }
    }
    const calls = new StaticFamily('calls', 'counter', '');
    calls.series.push(new WithExemplar(['op', 'get'], 3));
    const sampler = new StoreSampler(gatherer(() => [calls]));
    assert.equal((await sample(sampler)).sent.get('__name__="calls_total",op="get"')![1], 'aa'.repeat(16));
    assert.equal((await sample(sampler)).sent.get('__name__="calls_total",op="get"')![1], null);
    exemplar = { labels: ['trace_id', 'bb'.repeat(16)], value: 1, timeMs: 900 };
    assert.equal((await sample(sampler)).sent.get('__name__="calls_total",op="get"')![1], 'bb'.repeat(16));
    exemplar = null;
    assert.equal((await sample(sampler)).sent.get('__name__="calls_total",op="get"')![0], 3);
  });
});
