// HashSet53 against Set<number> as the oracle, with keys crowded into few slots so probe runs
// wrap around the table and deletions shift members back.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HashSet53 } from './hash-set.js';

function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('HashSet53', () => {
  it('agrees with Set<number> over random adds, deletes and lookups, through growth', () => {
    const rand = random(7);
    const set = new HashSet53();
    const oracle = new Set<number>();
    // 53-bit keys from a small pool: many repeats, deletes of present and absent keys.
    const pool = Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? i : Math.floor(rand() * 2 ** 53)));
    for (let step = 0; step < 60_000; step++) {
      const key = pool[Math.floor(rand() * pool.length)]!;
      const op = rand();
      if (op < 0.55) assert.equal(set.add(key), !oracle.has(key) && oracle.add(key) !== undefined);
      else if (op < 0.85) assert.equal(set.delete(key), oracle.delete(key));
      else assert.equal(set.has(key), oracle.has(key));
      assert.equal(set.size, oracle.size);
    }
    for (const key of pool) assert.equal(set.has(key), oracle.has(key), `key ${key}`);
  });

  it('keeps members reachable when deletions happen inside probe runs that wrap around', () => {
    const set = new HashSet53();
    // Multiples of 2^32 + the same low word all share a low half: heavy clustering.
    const keys = Array.from({ length: 700 }, (_, i) => i * 4294967296 + 12345);
    for (const k of keys) set.add(k);
    for (let i = 0; i < keys.length; i += 2) assert.ok(set.delete(keys[i]!));
    for (let i = 0; i < keys.length; i++) assert.equal(set.has(keys[i]!), i % 2 === 1, `key #${i}`);
    assert.equal(set.size, 350);
    set.clear();
    assert.equal(set.size, 0);
    assert.equal(set.has(keys[1]!), false);
  });

  it('refuses NaN, its empty-slot marker', () => {
    assert.throws(() => new HashSet53().add(Number.NaN), RangeError);
  });
});
