// Steady load retains nothing per request: the soak's question (docs/operations.md, "Soak") asked
// of the JavaScript heap in a minute instead of an hour. The same series are exported again and
// again, with scrapes and summary.json reads in between; after a warm-up, a heap snapshot census
// (objects by constructor) is taken before and after thousands more requests. A Map keyed by
// request, a listener or timer added per call, a retained payload: each adds an object (or an
// entry's bytes) per request. Counted in objects and in their bytes, not in heap used: V8's
// optimized code grows for minutes under a new load (measured: +590 KiB over 6,000 requests,
// none of it data), which would hide a small leak or fail a bound that caught one.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { startTestDaemon } from '../test-support/daemon.js';
import type { TestDaemon } from '../test-support/daemon.js';
import { counterRequest } from '../test-support/otlp-proto.js';

const EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
const identity = (b: Buffer): Buffer => b;
/** Distinct requests, cycled: the series set stays fixed, so the store does not grow either. */
const PAYLOADS = 50;
const IN_FLIGHT = 16;
const WARMUP_REQUESTS = 600;
const MEASURED_REQUESTS = 4000;
/**
 * Objects of one kind that may appear over the measured requests: a quarter of one per request.
 * Measured without a leak: at most ~400 plain Objects and heap numbers, whatever the request
 * count (44,700 requests in the soak added 136 Objects): state that follows the clock, not requests.
 */
const MAX_NEW_OF_A_KIND = MEASURED_REQUESTS / 4;
/** Bytes of data (not code) the measured requests may leave behind, per request. */
const MAX_BYTES_PER_REQUEST = 64;
/** A scrape and a summary.json read every this many requests. */
const READ_EVERY = 250;

/** Heap snapshot node types that are V8's own (compiled code, hidden classes, internals), not the program's data. */
const V8_INTERNAL = /^(code|hidden|object shape|synthetic)$/;
/** Node types whose bytes are bounded per request (see Census.dataBytes). */
const DATA_TYPES = /^(object|closure|string|concatenated string|sliced string|number)$/;

interface Census {
  /** Objects by `type name` (strings and numbers each counted as one kind): [count, self bytes]. */
  counts: Map<string, [number, number]>;
  /**
   * Self bytes of objects, closures, strings and heap numbers. Not arrays (V8 resizes caches of
   * its own, e.g. the number-string cache, 256 KiB) and not ArrayBuffer contents (the daemon's
   * bounded buffer pools hold a varying number between any two moments); a Map or array that
   * grows per request still adds its keys or values here, a retained buffer its objects.
   */
  dataBytes: number;
}

function fullGc(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Collects garbage, writes a heap snapshot and counts its nodes by kind. */
function census(dir: string, name: string): Census {
  const gc = fullGc();
  gc();
  gc();
  const file = writeHeapSnapshot(join(dir, `${name}.heapsnapshot`));
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  rmSync(file);
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const counts = new Map<string, [number, number]>();
  let dataBytes = 0;
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + iType]!]!;
    if (V8_INTERNAL.test(type)) continue;
    const size = snap.nodes[i + iSize]!;
    if (DATA_TYPES.test(type)) dataBytes += size;
    const key = type === 'object' || type === 'closure' || type === 'native' || type === 'array' ? `${type} ${snap.strings[snap.nodes[i + iName]!]}` : type;
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, [1, size]);
    else {
      entry[0]++;
      entry[1] += size;
    }
  }
  return { counts, dataBytes };
}
describe('steady load', () => {
  let d: TestDaemon;
  let client: grpc.Client;
  const payloads = Array.from({ length: PAYLOADS }, (_, i) =>
    counterRequest({ name: 'steady_requests_total', value: 1, attributes: { route: `/r${i % 10}`, code: String(200 + (i % 5)) }, resource: { 'service.name': 'steady' } }),
  );

  before(async () => {
    d = await startTestDaemon();
    client = new grpc.Client(d.grpcTarget, grpc.credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await d?.stop();
  });

  function exportOnce(payload: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(EXPORT_PATH, identity, identity, payload, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (err) => (err ? reject(err) : resolve()));
    });
  }

  async function run(requests: number): Promise<void> {
    let next = 0;
    const reads = async (): Promise<void> => {
      const [m, s] = await Promise.all([fetch(`${d.metricsBase}/metrics`, { headers: { 'accept-encoding': 'gzip' } }), fetch(`${d.statusBase}/api/v2/summary.json`)]);
      await Promise.all([m.arrayBuffer(), s.arrayBuffer()]);
      assert.equal(m.status, 200);
      assert.equal(s.status, 200);
    };
    const lane = async (): Promise<void> => {
      while (next < requests) {
        const i = next++;
        await exportOnce(payloads[i % PAYLOADS]!);
        if (i % READ_EVERY === 0) await reads();
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  }

  it(`keeps no object per request over ${MEASURED_REQUESTS} requests with scrapes and summary.json reads`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-steady-'));
    try {
      await run(WARMUP_REQUESTS);
      // Kept in a file: held in the heap, the first census (thousands of keys) would be counted by the second.
      const saved = join(dir, 'before.json');
      writeFileSync(saved, JSON.stringify(census(dir, 'before'), (_, v: unknown) => (v instanceof Map ? [...v] : v)));
      await run(MEASURED_REQUESTS);
      const second = census(dir, 'after');
      const parsed = JSON.parse(readFileSync(saved, 'utf8')) as { counts: [string, [number, number]][]; dataBytes: number };
      const first = { counts: new Map(parsed.counts), dataBytes: parsed.dataBytes };
      const growth = [...second.counts].map(([kind, [n, bytes]]) => {
        const [n0, bytes0] = first.counts.get(kind) ?? [0, 0];
        return { kind, added: n - n0, bytes: bytes - bytes0 };
      });
      const grown = growth.filter((g) => g.added > MAX_NEW_OF_A_KIND);
      assert.deepEqual(grown, [], `kinds of object that grew by more than ${MAX_NEW_OF_A_KIND} over ${MEASURED_REQUESTS} requests`);
      const perRequest = (second.dataBytes - first.dataBytes) / MEASURED_REQUESTS;
      const largest = growth.filter((g) => !/^(native|array)/.test(g.kind)).sort((a, b) => b.bytes - a.bytes).slice(0, 5);
      assert.ok(perRequest < MAX_BYTES_PER_REQUEST, `data ${first.dataBytes} → ${second.dataBytes} bytes: ${perRequest.toFixed(1)} bytes per request; grew most: ${JSON.stringify(largest)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
