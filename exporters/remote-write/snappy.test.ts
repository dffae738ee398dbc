// Our snappy compressor (snappy.ts) against snappyjs' decoder: every input comes back byte for
// byte, whatever its shape (runs longer than a copy, matches beyond 64 KiB, literals of every
// length class, inputs shorter than a hash window).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import SnappyJS from 'snappyjs';
import { compressInto, maxCompressedLength } from './snappy.js';

function roundTrip(input: Uint8Array): number {
  const out = Buffer.alloc(maxCompressedLength(input.length) + 7, 0xee);
  const end = compressInto(input, input.length, out, 7);
  assert.ok(end - 7 <= maxCompressedLength(input.length), 'within the bound');
  const back = Buffer.from(SnappyJS.uncompress(out.subarray(7, end)));
  assert.equal(back.length, input.length);
  assert.ok(back.equals(Buffer.from(input)), 'decodes to the input');
  return end - 7;
}

describe('snappy compressor', () => {
  it('round-trips empty, tiny and incompressible inputs', () => {
    for (const n of [0, 1, 3, 4, 5, 15, 16, 17, 60, 61, 256, 257, 65536, 65537, 70_000, 1 << 20]) roundTrip(randomBytes(n));
  });

  it('round-trips repetitive inputs and compresses them', () => {
    assert.ok(roundTrip(Buffer.alloc(300_000, 7)) < 20_000, 'a run compresses');
    const pattern = Buffer.from('__name__http_server_requests_total job shop/service-1 instance instance-1 ');
    const text = Buffer.concat(Array.from({ length: 5000 }, (_, i) => Buffer.concat([pattern, Buffer.from(String(i))])));
    assert.ok(roundTrip(text) < text.length / 4);
  });

  it('round-trips repeats farther apart than copies reach (64 KiB) and long literals between them', () => {
    const block = randomBytes(40_000);
    const far = Buffer.concat([block, randomBytes(70_000), block, randomBytes(5), block.subarray(0, 100)]);
    roundTrip(far);
    // Mixed: short repeats at every distance class (offset < 2048, < 65536) with lengths 4…200.
    const parts: Buffer[] = [];
    let total = 0;
    for (let i = 0; total < 400_000; i++) {
      const piece = i % 3 === 0 || total < 300 ? randomBytes(1 + (i % 90)) : Buffer.concat(parts).subarray(Math.max(0, total - ((i * 7919) % 60_000) - 300), Math.max(0, total - ((i * 7919) % 60_000) - 300) + 4 + (i % 200));
      parts.push(piece);
      total += piece.length;
    }
    roundTrip(Buffer.concat(parts));
  });
});
