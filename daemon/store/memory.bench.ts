// Heap bytes per counter series held by the store: `series` cumulative counters with 6 labels
// (one of them distinct per series, the rest shared, as in native-bench/memory.mjs), defined and
// merged in batches of 2000 like the worker's. Definitions go through structuredClone, as through
// postMessage, so every label string is a fresh copy just like in the daemon.
// Needs --expose-gc:  node --expose-gc dist/daemon/store/memory.bench.js [series]
// Prints one JSON line: { series, heapBytesPerSeries (heapUsed + arrayBuffers), mergeNsPerPoint (fastest of 5 passes) }.

import { HEADER_SLOTS, RecordKind } from '../../collectors/worker/batch.js';
import type { MetricBatch, SeriesDefinition } from '../../collectors/worker/batch.js';
import { Store } from './store.js';

const ROUTES = ['/', '/health', '/login', '/cart', '/checkout', '/orders', '/products', '/search', '/users/{id}', '/payments'];

function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Batch `b` of `size` series starting at `first`, with their definitions. */
function makeBatch(first: number, size: number, withDefinitions: boolean, timeMs: number): MetricBatch {
  const slots = HEADER_SLOTS + 1;
  const records = new Float64Array(size * slots);
  const definitions: SeriesDefinition[] = [];
  for (let i = 0; i < size; i++) {
    const n = first + i;
    const hash = 1_000_000_007 * 4096 + n; // a 53-bit value, like the worker's hashes
    records.set([RecordKind.Sum, hash, timeMs, timeMs - 3_600_000, 0, 1000 + n], i * slots);
    if (!withDefinitions) continue;
    const service = `svc-${Math.floor(first / size) % 10}`;
    definitions.push({
      hash, name: 'bench_requests', type: 'counter', help: 'Requests, one series per client.', unit: '',
      labels: ['client_id', `client-${n}`, 'http_route', ROUTES[n % ROUTES.length]!, 'http_status_code', String(200 + (n % 5)),
        'instance', `${service}-0`, 'job', service, 'otel_scope_name', 'vigil.native-bench.memory'],
    });
  }
  return { records, length: records.length, recordCount: size, pointsReceived: size, definitions: structuredClone(definitions), rejected: {}, generation: 1 };
}

export function measure(seriesCount: number) {
  const batchSize = 2000;
  const store = new Store({ limit: seriesCount + 10, stalenessMs: 3_600_000 });
  const before = heap();
  const now = Date.now();
  for (let first = 0; first < seriesCount; first += batchSize) {
    store.merge(makeBatch(first, Math.min(batchSize, seriesCount - first), true, now));
  }
  const after = heap();
  if (store.seriesCount !== seriesCount) throw new Error(`store holds ${store.seriesCount} series, expected ${seriesCount}`);
  // Steady state: every series updated again, definitions already known.
  const batches: MetricBatch[] = [];
  for (let first = 0; first < seriesCount; first += batchSize) batches.push(makeBatch(first, Math.min(batchSize, seriesCount - first), false, now + 1000));
  // The fastest of five passes: the machine may be shared.
  let mergeNs = Infinity;
  for (let pass = 0; pass < 5; pass++) {
    const t0 = process.hrtime.bigint();
    for (const b of batches) store.merge(b);
    mergeNs = Math.min(mergeNs, Number(process.hrtime.bigint() - t0));
  }
  return { series: seriesCount, heapBytesPerSeries: Math.round((after - before) / seriesCount), mergeNsPerPoint: Math.round(mergeNs / seriesCount) };
}

const count = Number(process.argv[2] ?? 200_000);
process.stdout.write(`${JSON.stringify(measure(count))}\n`);
