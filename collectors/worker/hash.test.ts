import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnorderedHash, combineOrdered, hashBytes, hashString } from './hash.js';

const utf8 = new TextEncoder();

test('hashString equals hashBytes over the UTF-8 bytes, wherever the bytes sit in a buffer', () => {
  for (const s of ['', 'a', 'abc', 'abcd', 'abcdefg', 'abcdefgh', 'abcdefghi', 'http.route=/api/v1/users/{id}', 'ünïcødé ✓']) {
    const bytes = utf8.encode(s);
    const expected = hashString(s);
    assert.equal(hashBytes(bytes, 0, bytes.length), expected, s);
    // The same bytes at every alignment inside a larger buffer, with different neighbours.
    for (let offset = 0; offset < 8; offset++) {
      const big = new Uint8Array(offset + bytes.length + 9).fill(0xa5);
      big.set(bytes, offset);
      assert.equal(hashBytes(big, offset, offset + bytes.length), expected, `${s} at offset ${offset}`);
      // And through a view that itself starts inside its ArrayBuffer.
      const view = big.subarray(offset);
      assert.equal(hashBytes(view, 0, bytes.length), expected, `${s} through a view at ${offset}`);
    }
  }
});

test('results are 53-bit integers and distinct over 300,000 structured inputs', () => {
  const seen = new Set<number>();
  const add = (h: number, what: string): void => {
    assert.ok(Number.isSafeInteger(h) && h >= 0, `${what}: ${h}`);
    assert.ok(!seen.has(h), `collision at ${what}`);
    seen.add(h);
  };
  // Near-identical label encodings: one counter in different places and lengths.
  for (let i = 0; i < 100_000; i++) add(hashString(`http.route=/api/v${i}`), `route ${i}`);
  for (let i = 0; i < 100_000; i++) add(hashString(`${i}`.padStart(12, '0')), `padded ${i}`);
  // Every length 0..63 of zero bytes, and one bit flipped in every position of a 64-byte buffer.
  const zeros = new Uint8Array(64);
  for (let n = 0; n < 64; n++) add(hashBytes(zeros, 0, n), `zeros[${n}]`);
  for (let bit = 0; bit < 512; bit++) {
    const b = new Uint8Array(64);
    b[bit >> 3] = 1 << (bit & 7);
    add(hashBytes(b, 0, 64), `bit ${bit}`);
  }
  // Every pair of flipped bits in a 24-byte buffer (18,336 inputs): differences that could
  // cancel each other across words and lanes.
  for (let x = 0; x < 192; x++) {
    for (let y = x + 1; y < 192; y++) {
      const b = new Uint8Array(24);
      b[x >> 3]! |= 1 << (x & 7);
      b[y >> 3]! |= 1 << (y & 7);
      add(hashBytes(b, 0, 24), `bits ${x},${y}`);
    }
  }
  for (let i = 0; i < 81_088; i++) add(combineOrdered(i, 7), `combine ${i}`);
});

test('one flipped input bit changes about half of the low 32 output bits', () => {
  const base = utf8.encode('service.name=checkout;http.method=GET');
  const h0 = hashBytes(base, 0, base.length) >>> 0;
  let total = 0;
  for (let bit = 0; bit < base.length * 8; bit++) {
    const b = base.slice();
    b[bit >> 3]! ^= 1 << (bit & 7);
    let x = (hashBytes(b, 0, b.length) >>> 0) ^ h0;
    while (x !== 0) {
      total += x & 1;
      x >>>= 1;
    }
  }
  const mean = total / (base.length * 8);
  assert.ok(mean > 14 && mean < 18, `mean changed bits ${mean}`);
});

test('UnorderedHash ignores order and counts multiplicity', () => {
  const h = new UnorderedHash();
  const a = utf8.encode('a=1');
  const b = utf8.encode('b=2');
  h.addBytes(a, 0, a.length);
  h.addBytes(b, 0, b.length);
  const ab = h.digest();
  h.reset();
  h.addBytes(b, 0, b.length);
  h.addBytes(a, 0, a.length);
  assert.equal(h.digest(), ab);
  h.addBytes(a, 0, a.length);
  assert.notEqual(h.digest(), ab);
});
