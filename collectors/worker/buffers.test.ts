import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, pooledCopy, recordBuffers } from './buffers.js';

test('a buffer given back is handed out again for any request of its size class', () => {
  const pool = new BufferPool();
  const a = pool.take(5000);
  assert.equal(a.byteLength, 8192, 'rounded up to a power of two');
  pool.give(a);
  assert.equal(pool.take(8000), a);
  assert.notEqual(pool.take(8000), a, 'handed out once only');
  assert.equal(pool.take(10).byteLength, 4096, 'small requests share the smallest class');
});

test('detached, odd-sized and oversized buffers are not kept; each class is bounded', () => {
  const pool = new BufferPool(2, 1 << 20);
  const detached = new ArrayBuffer(4096);
  structuredClone(detached, { transfer: [detached] });
  pool.give(detached);
  pool.give(new ArrayBuffer(5000));
  pool.give(new ArrayBuffer(2 << 20));
  assert.equal(pool.kept, 0);
  for (let i = 0; i < 5; i++) pool.give(new ArrayBuffer(4096));
  assert.equal(pool.kept, 2);
});

test('pooledCopy copies exactly n values into a recycled buffer', () => {
  const scratch = Float64Array.from([1, 2, 3, 4, 5]);
  const first = pooledCopy(scratch, 3);
  assert.deepEqual([...first], [1, 2, 3]);
  recordBuffers.give(first.buffer as ArrayBuffer);
  const second = pooledCopy(Float64Array.from([9, 8]), 2);
  assert.equal(second.buffer, first.buffer, 'the buffer was reused');
  assert.deepEqual([...second], [9, 8]);
});
