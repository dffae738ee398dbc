import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { memoryMaps } from '../lib/proc.mjs';

const MIB = 1024 * 1024;
/** 64 KiB: under glibc's default mmap threshold (128 KiB), so malloc serves it from an arena. */
const CHUNK = 64 * 1024;
const HELD_BYTES = 32 * MIB;

function vmRss() {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
}

const total = (m) => m.mainArena + m.threadArenas + m.otherAnon + m.file + m.stack;

test('the groups add up to the process RSS', { skip: process.platform !== 'linux' }, () => {
  const maps = memoryMaps(process.pid);
  const rss = vmRss();
  assert.ok(Math.abs(total(maps) - rss) < 0.05 * rss, `groups ${total(maps)} vs VmRSS ${rss}`);
  assert.ok(maps.file > 10 * MIB, 'the node binary is file-backed');
});

test("Buffers malloc'd on the main thread show in the main arena", { skip: process.platform !== 'linux' }, () => {
  const before = memoryMaps(process.pid);
  const held = [];
  for (let n = 0; n < HELD_BYTES; n += CHUNK) held.push(Buffer.alloc(CHUNK, 1));
  const after = memoryMaps(process.pid);
  assert.ok(after.mainArena - before.mainArena > HELD_BYTES / 2, `main arena ${before.mainArena} → ${after.mainArena}`);
  assert.equal(held.length, HELD_BYTES / CHUNK);
});

test("Buffers malloc'd on a worker thread show in the thread arenas", { skip: process.platform !== 'linux' || process.env.MALLOC_ARENA_MAX !== undefined }, async () => {
  const before = memoryMaps(process.pid);
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const held = [];
     for (let n = 0; n < ${HELD_BYTES}; n += ${CHUNK}) held.push(Buffer.alloc(${CHUNK}, 1));
     parentPort.postMessage('held');
     parentPort.once('message', () => process.exit(0));`,
    { eval: true },
  );
  try {
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const after = memoryMaps(process.pid);
    assert.ok(after.threadArenas - before.threadArenas > HELD_BYTES / 2, `thread arenas ${before.threadArenas} → ${after.threadArenas}`);
  } finally {
    worker.postMessage('done');
    await new Promise((resolve) => worker.once('exit', resolve));
  }
});
