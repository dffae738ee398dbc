import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HashMap53 } from './hash-map.js';
import { random as rng } from '../../test-support/random.js';

const TWO_32 = 4294967296;


function assertSame(map: HashMap53<number>, oracle: Map<number, number>): void {
  assert.equal(map.size, oracle.size);
  for (const [k, v] of oracle) assert.equal(map.get(k), v, `key ${k}`);
  const seen = new Map<number, number>();
  map.forEach((v, k) => seen.set(k, v));
  assert.deepEqual(seen, oracle);
}

test('random sets, gets and deletes agree with a Map, through growth and clustered keys', () => {
  const next = rng(7);
  const map = new HashMap53<number>();
  const oracle = new Map<number, number>();
  // Keys share their low bits in clusters (k + n·2^32 all land in one home slot), and some
  // neighbour each other, so probe runs wrap, interleave and shift back on delete.
  const key = (): number => {
    const low = Math.floor(next() * 64);
    const high = Math.floor(next() * 2000);
    return high * TWO_32 + low;
  };
  for (let op = 0; op < 60_000; op++) {
    const k = key();
    const r = next();
    if (r < 0.55) {
      assert.equal(map.set(k, op), !oracle.has(k));
      oracle.set(k, op);
    } else if (r < 0.85) {
      assert.equal(map.delete(k), oracle.delete(k));
    } else {
      assert.equal(map.get(k), oracle.get(k));
      assert.equal(map.has(k), oracle.has(k));
    }
    if (op % 5000 === 0) assertSame(map, oracle);
  }
  assertSame(map, oracle);
});

test('full 53-bit hashes: the largest, zero, and keys that differ only in the high bits', () => {
  const map = new HashMap53<string>();
  const max = 2 ** 53 - 1;
  map.set(max, 'max');
  map.set(0, 'zero');
  map.set(5, 'low');
  map.set(5 + TWO_32, 'high');
  assert.equal(map.get(max), 'max');
  assert.equal(map.get(0), 'zero');
  assert.equal(map.get(5), 'low');
  assert.equal(map.get(5 + TWO_32), 'high');
  assert.equal(map.get(6), undefined);
  assert.equal(map.delete(5), true);
  assert.equal(map.get(5 + TWO_32), 'high', 'the later entry of the run is still found after the delete');
  assert.equal(map.size, 3);
});

test('clear empties the map and it works again afterwards', () => {
  const map = new HashMap53<number>();
  for (let i = 0; i < 1000; i++) map.set(i * 7919, i);
  assert.ok(map.byteSize() > 1000 * 8);
  map.clear();
  assert.equal(map.size, 0);
  assert.equal(map.get(7919), undefined);
  map.set(7919, 1);
  assert.equal(map.get(7919), 1);
});
