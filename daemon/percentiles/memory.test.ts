// Real heap per HDR series, not just payload bytes: memory.bench.js in a child with --expose-gc
// (300 series — fewer make V8's own heap noise a kilobyte per series — 70 minutes of lognormal latencies at 10 values/s, σ 0.8, all windows full).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bench = fileURLToPath(new URL('./memory.bench.js', import.meta.url));

describe('HDR series memory, measured on the V8 heap', () => {
  it('a series at 10 values/s (σ 0.8) holds at most 8 KiB of heap, and byteSize() tracks the heap within 25 %', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', bench, '10', '0.8', '300'], { encoding: 'utf8' });
    const { heapBytesPerSeries, byteSizePerSeries } = JSON.parse(out) as { heapBytesPerSeries: number; byteSizePerSeries: number };
    assert.ok(heapBytesPerSeries <= 8 * 1024, `${heapBytesPerSeries} heap bytes per series`);
    assert.ok(Math.abs(byteSizePerSeries / heapBytesPerSeries - 1) <= 0.25, `byteSize ${byteSizePerSeries} vs heap ${heapBytesPerSeries}`);
  });
});
