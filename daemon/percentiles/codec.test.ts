// The compact payload of finished slots against a dense counts array as the oracle.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addPayloadToDense, encodeDense, encodeEntries, payloadEntries } from './codec.js';
import { touched } from './sparse.js';

function random(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

function denseOf(n: number, size: number, maxCount: number, seed: number): Float64Array {
  const rand = random(seed);
  const dense = new Float64Array(size);
  for (let i = 0; i < n; i++) dense[Math.floor(rand() * size)]! += 1 + Math.floor(rand() * maxCount);
  return dense;
}

describe('compact slot payloads', () => {
  for (const [n, size, maxCount] of [[0, 10, 1], [1, 4000, 1], [50, 4000, 3], [3000, 1500, 200], [700, 4400, 2 ** 45], [20_000, 600, 1]] as const) {
    it(`round-trip ${n} values over ${size} indices, counts up to ${maxCount}`, () => {
      const dense = denseOf(n, size, maxCount, n + size);
      const payload = encodeDense(dense, 0, size - 1);
      const back = new Float64Array(size);
      touched.low = Number.MAX_SAFE_INTEGER;
      touched.high = -1;
      addPayloadToDense(back, payload);
      assert.deepEqual(back, dense);
      const want = [...dense].flatMap((c, i) => (c > 0 ? [[i, c] as [number, number]] : []));
      assert.deepEqual(payloadEntries(payload), want);
      if (want.length > 0) assert.deepEqual([touched.low, touched.high], [want[0]![0], want.at(-1)![0]]);
      const again = encodeEntries(Int32Array.from(want, (e) => e[0]), Float64Array.from(want, (e) => e[1]), want.length);
      assert.deepEqual(again, payload);
    });
  }

  it('decodes a payload stored at an offset of a larger buffer (the arena)', () => {
    const dense = denseOf(300, 2000, 40, 3);
    const payload = encodeDense(dense, 0, 1999);
    const arena = new Uint8Array(payload.length + 11);
    arena.set(payload, 7);
    const back = new Float64Array(2000);
    addPayloadToDense(back, arena, 7);
    assert.deepEqual(back, dense);
  });

  it('costs about a byte per bucket on a busy slot, against two for V2 LEB128', () => {
    // 800 contiguous buckets with counts around 100–200, like a 10-minute slot at 100 values/s.
    const dense = new Float64Array(1000);
    const rand = random(5);
    for (let i = 100; i < 900; i++) dense[i] = 100 + Math.floor(rand() * 100);
    const payload = encodeDense(dense, 0, 999);
    assert.ok(payload.length <= 900, `${payload.length} bytes`);
  });
});
