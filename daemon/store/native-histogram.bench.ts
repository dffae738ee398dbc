// Heap bytes per span series of the native histogram each one keeps (SpanNativeHistogram), and the
// nanoseconds record() adds per span (first spans of new series, and steady state), at the default settings (schema 3, at most 160 buckets).
// Durations: lognormal, median 20 ms, sigma 1.2, as native-bench/memory.mjs sends them; plus a
// wide case (1 µs … 60 s, log-uniform) that makes every series coarsen to fit its 160 buckets.
// Reference in the same run: the classic histogram the span series already holds (17 Float64 counts
// plus 17 exemplar slots), measured the same way.
// Needs --expose-gc:  node --expose-gc dist/daemon/store/native-histogram.bench.js [series] [spans]
// Prints one JSON line.

import { EXEMPLAR_ID_BYTES } from '../../collectors/worker/batch.js';
import { DEFAULT_NATIVE_HISTOGRAM, SpanNativeHistogram } from './native-histogram.js';
import { DEFAULT_SPAN_BUCKETS } from './spans.js';
import { random as uniform } from '../../test-support/random.js';

function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const series = Number(process.argv[2] ?? 20_000);
const spansPerSeries = Number(process.argv[3] ?? 200);
const next = uniform(7);
const lognormal = (): number => {
  const u = Math.max(next(), 1e-12);
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  return 0.02 * Math.exp(1.2 * z);
};
const wide = (): number => Math.exp(Math.log(1e-6) + next() * (Math.log(60) - Math.log(1e-6)));

function measure(draw: () => number): { bytesPerSeries: number; byteSizePerSeries: number; nsPerRecord: number; steadyNsPerRecord: number; buckets: number; scale: number } {
  const values = Float64Array.from({ length: spansPerSeries * 64 }, draw);
  const before = heap();
  const held: SpanNativeHistogram[] = [];
  let k = 0;
  const began = process.hrtime.bigint();
  for (let s = 0; s < series; s++) {
    const h = new SpanNativeHistogram(DEFAULT_NATIVE_HISTOGRAM);
    for (let i = 0; i < spansPerSeries; i++) h.record(values[k++ % values.length]!);
    held.push(h);
  }
  const ns = Number(process.hrtime.bigint() - began);
  const after = heap();
  // Steady state: the same durations again into histograms that already span them.
  const again = process.hrtime.bigint();
  for (const h of held) for (let i = 0; i < spansPerSeries; i++) h.record(values[k++ % values.length]!);
  const steadyNs = Number(process.hrtime.bigint() - again);
  const byteSize = held.reduce((a, h) => a + h.byteSize(), 0);
  const buckets = held.reduce((a, h) => a + (h.positive?.counts.length ?? 0), 0) / series;
  return { bytesPerSeries: Math.round((after - before) / series), byteSizePerSeries: Math.round(byteSize / series), nsPerRecord: Math.round((ns / (series * spansPerSeries)) * 10) / 10, steadyNsPerRecord: Math.round((steadyNs / (series * spansPerSeries)) * 10) / 10, buckets: Math.round(buckets * 10) / 10, scale: held[0]!.scale };
}

function classicReference(): number {
  const before = heap();
  const held: unknown[] = [];
  const n = DEFAULT_SPAN_BUCKETS.length + 1;
  for (let s = 0; s < series; s++) held.push([new Float64Array(n), new Uint8Array(n * EXEMPLAR_ID_BYTES), new Float64Array(n), new Float64Array(n)]);
  const after = heap();
  return held.length > 0 ? Math.round((after - before) / series) : 0;
}

const typical = measure(lognormal);
const extreme = measure(wide);
const classic = classicReference();
process.stdout.write(`${JSON.stringify({ series, spansPerSeries, settings: DEFAULT_NATIVE_HISTOGRAM, lognormal20ms: typical, wide1usTo60s: extreme, classicBucketsAndExemplarsBytesPerSeries: classic })}\n`);
