// The sparse payload against hdr-histogram-js as the oracle: a payload wrapped in a V2 header must
// decode, with the library, to exactly the counts that were merged into it.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import hdr from 'hdr-histogram-js';
import { Slot, addToDense, entriesOf, mergeEntries, mergeSlot, touched } from './sparse.js';

/** A V2 (uncompressed) encoding of `slot`: the 40-byte header hdr-histogram-js writes, then the payload. */
function v2(slot: Slot, digits: number, highest: number): Uint8Array {
  const out = new Uint8Array(40 + slot.length);
  const view = new DataView(out.buffer);
  view.setInt32(0, 0x1c849303 | 0x10);
  view.setInt32(4, slot.length);
  view.setInt32(8, 1);
  view.setInt32(12, digits);
  view.setBigInt64(16, 1n);
  view.setBigInt64(24, BigInt(highest));
  view.setFloat64(32, 1);
  out.set(slot.bytes.subarray(0, slot.length), 40);
  return out;
}

function randomEntries(n: number, maxIndex: number, maxCount: number, seed: number): Map<number, number> {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const m = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const index = Math.floor(rand() * maxIndex);
    m.set(index, (m.get(index) ?? 0) + 1 + Math.floor(rand() * maxCount));
  }
  return m;
}

function sorted(m: Map<number, number>): [number, number][] {
  return [...m].sort((a, b) => a[0] - b[0]);
}

function fill(slot: Slot, m: Map<number, number>): void {
  const entries = sorted(m);
  for (let at = 0; at < entries.length; at += 16) {
    const part = entries.slice(at, at + 16);
    mergeEntries(slot, Int32Array.from(part.map((e) => e[0])), Float64Array.from(part.map((e) => e[1])), part.length);
  }
}

describe('sparse HDR payloads', () => {
  it('decode with hdr-histogram-js to the counts merged in (the V2 oracle)', () => {
    const layout = new hdr.PackedHistogram(1, 3.6e12, 2);
    for (const [n, maxCount] of [[1, 1], [50, 3], [700, 100_000], [3000, 2 ** 40]] as const) {
      const m = randomEntries(n, layout.countsArrayLength, maxCount, n);
      const slot = new Slot();
      fill(slot, m);
      const decoded = (hdr.JsHistogram as unknown as { decode(b: Uint8Array, bits: number): { getCountAtIndex(i: number): number } }).decode(v2(slot, 2, 3.6e12), 64);
      for (let i = 0; i < layout.countsArrayLength; i++) assert.equal(decoded.getCountAtIndex(i), m.get(i) ?? 0, `index ${i}`);
    }
  });

  it('merging two payloads adds their counts and totals', () => {
    const a = randomEntries(400, 4000, 50, 7);
    const b = randomEntries(300, 4000, 50, 8);
    const sa = new Slot();
    const sb = new Slot();
    fill(sa, a);
    fill(sb, b);
    sa.count = 5;
    sb.count = 6;
    mergeSlot(sa, sb);
    const want = new Map(a);
    for (const [i, c] of b) want.set(i, (want.get(i) ?? 0) + c);
    assert.deepEqual(entriesOf(sa), sorted(want));
    assert.equal(sa.count, 11);
  });

  it('adds a payload into a dense array and reports the range it touched', () => {
    const m = new Map([[3, 2], [200, 1], [7, 9]]);
    const slot = new Slot();
    fill(slot, m);
    const dense = new Float64Array(300);
    touched.low = Number.MAX_SAFE_INTEGER;
    touched.high = -1;
    addToDense(dense, slot.bytes, slot.length);
    assert.deepEqual([dense[3], dense[7], dense[200], touched.low, touched.high], [2, 9, 1, 3, 200]);
  });

  it('costs about a byte per populated bucket', () => {
    const slot = new Slot();
    fill(slot, new Map(Array.from({ length: 500 }, (_, i) => [1000 + i, 1 + (i % 60)])));
    assert.ok(slot.length <= 502, `${slot.length} bytes`);
  });
});
