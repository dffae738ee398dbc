// Real heap bytes per HDR series: feeds `series` span-duration series with lognormal latencies
// (median 40 ms, σ `sigma`) at `rate` values/s each for 70 minutes (every window full), scrapes every
// window once, forces GC and divides the growth of heapUsed + arrayBuffers by the series count.
// Needs --expose-gc:  node --expose-gc dist/daemon/percentiles/memory.bench.js [rate] [sigma] [series]
// Prints one JSON line: { rate, sigma, series, heapBytesPerSeries, byteSizePerSeries, recordNs }.

import { createPercentiles, spanPercentileSettings } from './index.js';
import type { WindowedPercentiles } from './index.js';
import { random } from '../../test-support/random.js';

const settings = spanPercentileSettings({
  significantDigits: 2,
  windowsMs: [60_000, 300_000, 3_600_000],
  windowLabels: ['1m', '5m', '1h'],
  quantiles: [0.5, 0.9, 0.95, 0.99, 0.999],
});


function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Feeds the series and returns per-series figures. */
export function measure(rate: number, sigma: number, seriesCount: number, minutes = 70) {
  const clock = { t: 0 };
  const now = () => clock.t;
  // Warm the per-process scratch (one per layout, not per series) before the baseline.
  const warm = createPercentiles(settings, now);
  warm.record(0.04, 1);
  warm.snapshot(0);
  const rand = random(Math.round(rate * 1000 + sigma * 10));
  // Draws come from a pool so the feed loop costs little beside record().
  const pool = new Float64Array(1 << 16);
  for (let i = 0; i < pool.length; i++) {
    const n = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    pool[i] = 0.04 * Math.exp(sigma * n);
  }
  const before = heap();
  const series: WindowedPercentiles[] = [];
  for (let s = 0; s < seriesCount; s++) series.push(createPercentiles(settings, now));
  let draw = 0;
  let recordMs = 0;
  let records = 0;
  const step = 1000 / rate;
  const seconds = minutes * 60;
  // Time advances one second at a time; every series gets that second's values (interleaved, as in
  // the daemon). Offsets inside the second spread the values evenly.
  for (let sec = 0; sec < seconds; sec++) {
    const t0 = performance.now();
    for (let s = 0; s < seriesCount; s++) {
      const p = series[s]!;
      for (let k = 0; k < rate; k++) {
        clock.t = sec * 1000 + k * step;
        p.record(pool[draw++ & 0xffff]!, 1);
      }
    }
    recordMs += performance.now() - t0;
    records += seriesCount * rate;
    draw += 7; // decorrelate series
  }
  let byteSize = 0;
  for (const p of series) {
    for (let w = 0; w < 3; w++) p.snapshot(w);
    byteSize += p.byteSize();
  }
  const after = heap();
  return {
    rate,
    sigma,
    series: seriesCount,
    heapBytesPerSeries: Math.round((after - before) / seriesCount),
    byteSizePerSeries: Math.round(byteSize / seriesCount),
    recordNs: Math.round((recordMs * 1e6) / records),
    keep: series.length,
  };
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const rate = Number(process.argv[2] ?? 100);
  const sigma = Number(process.argv[3] ?? 0.5);
  const seriesCount = Number(process.argv[4] ?? (rate >= 100 ? 200 : rate >= 10 ? 500 : 2000));
  const { keep: _keep, ...out } = measure(rate, sigma, seriesCount);
  console.log(JSON.stringify(out));
}
