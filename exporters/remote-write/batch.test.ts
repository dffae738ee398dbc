// Reused float bodies (BodyTemplates in batch.ts): a sampling that copies last sampling's
// compressed body and writes its values and time into it must send exactly the bytes a writer
// without templates builds from the same samples. Each test samples the same read model into two
// writers at once (one with templates, one without) and compares every body, decompressed by
// snappyjs, byte for byte, over samplings that keep, add, remove and re-encode series.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import SnappyJS from 'snappyjs';
import { BatchWriter, BodyTemplates, bodiesOf } from './batch.js';
import type { ExemplarPoint } from './batch.js';
import { StoreSampler } from './source.js';
import type { SampleSink } from './source.js';
import { decodeWriteRequest } from './test-receiver.js';
import { SeriesKind, StaticFamily, StaticSeries } from '../../daemon/model/index.js';
import type { ExemplarView, FamilyView } from '../../daemon/model/index.js';

const SHARDS = 3;
const PER_REQUEST = 40;

/** The bodies of one sampling: [kind, shard, decompressed bytes, compressed length]. */
type Bodies = [number, number, Buffer, number][];

function bodies(payloads: Buffer[]): Bodies {
  return payloads.flatMap((p) => bodiesOf(p).map((b): [number, number, Buffer, number] => [b.kind, b.shard, Buffer.from(SnappyJS.uncompress(b.bytes)), b.bytes.length]));
}

/** One sampling into a writer with `kept` and one without; returns both writers' bodies and how many the first reused. */
async function sampleBoth(sampler: StoreSampler, kept: BodyTemplates, atMs: number): Promise<{ withTemplates: Bodies; without: Bodies; reused: number }> {
  const a = new BatchWriter(atMs, SHARDS, PER_REQUEST, kept);
  const b = new BatchWriter(atMs, SHARDS, PER_REQUEST);
  const pa: Buffer[] = [];
  const pb: Buffer[] = [];
  const sink: SampleSink = {
    floatAt: (src, at, length, hash, value, exemplar: ExemplarPoint | null, key) => {
      a.floatAt(src, at, length, hash, value, exemplar, key);
      b.floatAt(src, at, length, hash, value, exemplar, key);
    },
    staleAt: (src, at, length, hash) => {
      a.staleAt(src, at, length, hash);
      b.staleAt(src, at, length, hash);
    },
    histogramAt: (src, at, length, hash, h) => {
      a.histogramAt(src, at, length, hash, h);
      b.histogramAt(src, at, length, hash, h);
    },
  };
  const cut = (final: boolean): void => {
    const x = a.cut(final);
    if (x !== null) pa.push(x.payload);
    const y = b.cut(final);
    if (y !== null) pb.push(y.payload);
  };
  await sampler.collect(sink, () => cut(false));
  cut(true);
  return { withTemplates: bodies(pa), without: bodies(pb), reused: a.reusedBodies };
}

function assertSame(got: { withTemplates: Bodies; without: Bodies }, round: number): void {
  assert.equal(got.withTemplates.length, got.without.length, `round ${round}: as many bodies`);
  for (let i = 0; i < got.without.length; i++) {
    const [kind, shard, bytes] = got.without[i]!;
    const [k2, s2, b2] = got.withTemplates[i]!;
    assert.equal(k2, kind);
    assert.equal(s2, shard);
    assert.ok(b2.equals(bytes), `round ${round}, body ${i}: the reused body decodes to the same WriteRequest bytes`);
  }
  // And the WriteRequests are real ones.
  for (const [, , bytes] of got.withTemplates) assert.ok(decodeWriteRequest(bytes).length > 0);
}

function gauges(name: string, n: number, from = 0): StaticFamily {
  const f = new StaticFamily(name, 'gauge', '');
  for (let i = from; i < from + n; i++) f.add(['job', 'api', 'instance', `host-${i % 7}`, 'i', String(i)], i);
  return f;
}

describe('remote-write reused bodies (templates)', () => {
  it('regression: a steady sampling sends exactly what compressing anew sends, with new values and times, and reuses the bodies', async () => {
    const counters = new StaticFamily('requests', 'counter', '');
    for (let i = 0; i < 500; i++) counters.add(['job', 'api', 'route', `/r/${i % 13}`, 'i', String(i)], i);
    const g = gauges('temperature_celsius', 200);
    const families: FamilyView[] = [counters, g];
    const sampler = new StoreSampler({ gather: async () => families });
    const kept = new BodyTemplates(SHARDS);
    for (let round = 0; round < 6; round++) {
      for (const s of counters.series) s.value += round * 1.5;
      // Values of every kind: equal to others, NaN, infinities, negative zero.
      g.series[0]!.value = round % 2 === 0 ? Number.NaN : -0;
      g.series[1]!.value = round % 2 === 0 ? Infinity : -Infinity;
      const got = await sampleBoth(sampler, kept, 1_700_000_000_000 + round * 15_000);
      assertSame(got, round);
      // The first sampling encodes the labels (no keys yet), the second keeps its bodies, and
      // from the third on every body is a reused one.
      assert.equal(got.reused, round < 2 ? 0 : got.withTemplates.length, `round ${round}: bodies reused`);
    }
    assert.ok(kept.get(0, 0) !== null, 'bodies are kept');
  });

  it('series added, removed and re-encoded between samplings: bodies that no longer fit are built again, exactly', async () => {
    let families: FamilyView[] = [gauges('a', 300), gauges('b', 100)];
    const sampler = new StoreSampler({ gather: async () => families });
    const kept = new BodyTemplates(SHARDS);
    assertSame(await sampleBoth(sampler, kept, 10_000), 0);
    // One series more in the middle, then fewer at the end, then a family gone.
    families = [gauges('a', 301), gauges('b', 100)];
    assertSame(await sampleBoth(sampler, kept, 25_000), 1);
    families = [gauges('a', 301), gauges('b', 60)];
    assertSame(await sampleBoth(sampler, kept, 40_000), 2);
    families = [gauges('b', 60)];
    assertSame(await sampleBoth(sampler, kept, 55_000), 3);
    // A histogram whose bounds change (its block is encoded again: new keys).
    const hist = new StaticFamily('latency_seconds', 'histogram', '');
    const h = new StaticSeries(['job', 'api']);
    h.data = SeriesKind.Histogram;
    h.bounds = Float64Array.from([0.1, 0.5, 1]);
    h.counts = Float64Array.from([1, 2, 3, 4]);
    h.count = 10;
    h.sum = 4.5;
    hist.series.push(h);
    families = [gauges('b', 60), hist];
    assertSame(await sampleBoth(sampler, kept, 70_000), 4);
    h.bounds = Float64Array.from([0.25, 0.5, 2.5]);
    assertSame(await sampleBoth(sampler, kept, 85_000), 5);
    assertSame(await sampleBoth(sampler, kept, 100_000), 6);
  });

  it('a sampling time of another varint length, and an exemplar that arrives, are sent exactly', async () => {
    let exemplar: ExemplarView | null = null;
    class WithExemplar extends StaticSeries {
      override exemplar(): ExemplarView | null {
        return exemplar;
      }
    }
    const calls = new StaticFamily('calls', 'counter', '');
    for (let i = 0; i < 90; i++) calls.series.push(new WithExemplar(['op', `op${i}`], i));
    const sampler = new StoreSampler({ gather: async () => [calls] });
    const kept = new BodyTemplates(SHARDS);
    assertSame(await sampleBoth(sampler, kept, 100), 0);
    assertSame(await sampleBoth(sampler, kept, 120), 1);
    // 100 takes one varint byte, 2^35 six: the kept bodies cannot serve.
    assertSame(await sampleBoth(sampler, kept, 2 ** 35), 2);
    assertSame(await sampleBoth(sampler, kept, 2 ** 35 + 15_000), 3);
    exemplar = { labels: ['trace_id', 'ab'.repeat(16)], value: 1, timeMs: 2 ** 35 };
    assertSame(await sampleBoth(sampler, kept, 2 ** 35 + 30_000), 4);
    assertSame(await sampleBoth(sampler, kept, 2 ** 35 + 45_000), 5);
  });

  it('after the arena is compacted (new keys) the bodies are built again, exactly', async () => {
    const stable = gauges('stable', 120);
    let churn = new StaticFamily('churn', 'gauge', '');
    const sampler = new StoreSampler({ gather: async () => [stable, churn] });
    const kept = new BodyTemplates(SHARDS);
    let compacted = false;
    for (let round = 0; round < 6; round++) {
      churn = new StaticFamily('churn', 'gauge', '');
      for (let i = 0; i < 4000; i++) churn.add(['round', String(round), 'i', String(i), 'pad', 'x'.repeat(80)], i);
      const before = sampler.arenaBytes.used;
      assertSame(await sampleBoth(sampler, kept, 1_000_000 + round * 15_000), round);
      if (sampler.arenaBytes.used < before) compacted = true;
    }
    assert.ok(compacted, 'the arena was compacted at least once');
  });
});
