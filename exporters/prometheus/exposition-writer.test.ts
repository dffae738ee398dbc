import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpositionBuffers, ExpositionWriter } from './exposition-writer.js';

test('writes multi-byte text across flushes and grows past its size hint', () => {
  const out = new ExpositionWriter(10);
  let expected = '';
  for (let i = 0; i < 20_000; i++) {
    const line = `m{route="/ü/€/${i}",emoji="😀"} ${i}\n`;
    out.write(line);
    expected += line;
  }
  const { bytes } = out.finish();
  assert.equal(bytes.length, Buffer.byteLength(expected));
  assert.equal(bytes.toString('utf8'), expected);
});

test('a released buffer serves the next scrape; one held by a response in flight does not', () => {
  const pool = new ExpositionBuffers(1);
  const first = new ExpositionWriter(1000, pool);
  first.write('a 1\n');
  const a = first.finish();
  // Not released yet: the next writer gets a different buffer, so a's bytes stay intact.
  const second = new ExpositionWriter(1000, pool);
  second.write('b 2\n');
  const b = second.finish();
  assert.notEqual(a.bytes.buffer, b.bytes.buffer);
  assert.equal(a.bytes.toString(), 'a 1\n');
  a.release();
  a.release(); // idempotent: the buffer is pooled once
  const third = new ExpositionWriter(1000, pool);
  third.write('c 3\n');
  const c = third.finish();
  assert.equal(c.bytes.buffer, a.bytes.buffer);
  assert.equal(c.bytes.toString(), 'c 3\n');
  const fourth = new ExpositionWriter(1000, pool);
  assert.notEqual(fourth.finish().bytes.buffer, c.bytes.buffer);
});

test('a buffer far larger than the exposition is not kept', () => {
  const pool = new ExpositionBuffers(1);
  const big = new ExpositionWriter(4_000_000, pool);
  big.write('x 1\n');
  const r = big.finish();
  r.release();
  const next = new ExpositionWriter(0, pool);
  assert.notEqual(next.finish().bytes.buffer, r.bytes.buffer);
});

test('a buffer over the kept-bytes cap is not kept, however well it fits', () => {
  const pool = new ExpositionBuffers(1, 300_000);
  const big = new ExpositionWriter(400_000, pool);
  for (let i = 0; i < 390; i++) big.write('x'.repeat(1000));
  const r = big.finish();
  r.release();
  const next = new ExpositionWriter(400_000, pool);
  assert.ok(next.finish().bytes.buffer !== r.bytes.buffer, 'over the cap it is dropped');
  const small = new ExpositionWriter(50_000, pool);
  for (let i = 0; i < 40; i++) small.write('y'.repeat(1000));
  const s = small.finish();
  s.release();
  assert.ok(new ExpositionWriter(50_000, pool).finish().bytes.buffer === s.bytes.buffer, 'under the cap it is kept');
});
