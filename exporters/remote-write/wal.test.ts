// The WAL on real files: replay after a crash, torn and corrupt tails, the size bound, the cursor,
// and a directory that cannot be written.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { BatchWriter, readCounts } from './batch.js';
import { encodeSeries } from './source.js';
import { KEEP_BYTES, Wal, segmentFiles } from './wal.js';
import type { WalOptions } from './wal.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-wal-'));
  dirs.push(d);
  return d;
}

const series = encodeSeries('demo_total', ['series', 'a'])!;

/** A payload of `n` float samples sampled at `atMs`. */
function payload(atMs: number, n = 10) {
  const b = new BatchWriter(atMs);
  for (let i = 0; i < n; i++) b.float(series, i, null);
  return b.cut(true)!;
}

function wal(dir: string, tune: Partial<WalOptions> = {}, warnings: string[] = []): Wal {
  return new Wal({ dir, maxBytes: 64 * 1024 ** 2, segmentBytes: 1024 ** 2, fsync: 'always', warn: (_f, m) => warnings.push(m), ...tune });
}

/** Times of the records the WAL would send, oldest first. */
function pendingTimes(w: Wal): number[] {
  const out = w.take(Number.MAX_SAFE_INTEGER).map((r) => readCounts(r.payload!).sampledAtMs);
  w.release();
  return out;
}

describe('remote_write WAL', () => {
  it('sends a handed-over payload from memory (nothing read back) within KEEP_BYTES, and reads back past it', () => {
    const dir = tempDir();
    const w = wal(dir);
    w.open();
    const kept = payload(1);
    w.append(kept.payload, kept.counts, true);
    const copied = payload(2);
    w.append(copied.payload, copied.counts);
    // Big handed-over payloads past the bound are read back from their segment.
    const big = Buffer.alloc(KEEP_BYTES, 7);
    big.set(payload(3).payload);
    w.append(big, payload(3).counts, true);
    w.sync();
    const [a, b, c] = w.take(Number.MAX_SAFE_INTEGER);
    assert.equal(a!.payload, kept.payload, 'the same buffer, not read back');
    assert.notEqual(b!.payload, copied.payload);
    assert.ok(b!.payload!.equals(copied.payload));
    assert.notEqual(c!.payload, big);
    assert.ok(c!.payload!.equals(big));
    w.ack(3);
    // Room again once acknowledged.
    const again = payload(4);
    w.append(again.payload, again.counts, true);
    assert.equal(w.take(Number.MAX_SAFE_INTEGER)[0]!.payload, again.payload);
    w.close();
  });

  it('replays what was appended and not acknowledged, in order, after a crash (no close)', () => {
    const dir = tempDir();
    const a = wal(dir);
    a.open();
    for (let t = 1; t <= 5; t++) {
      const p = payload(t);
      a.append(p.payload, p.counts);
    }
    a.sync();
    const sent = a.take(25);
    assert.equal(sent.length, 2);
    a.ack(2);
    // kill -9: no close(), the fd is simply dropped.
    const b = wal(dir);
    b.open();
    assert.deepEqual(pendingTimes(b), [3, 4, 5]);
    assert.equal(b.stats.replayedRecords, 3);
    assert.equal(b.pendingSamples, 30);
  });

  it('truncates a torn tail at start, counts and logs it, and replays the records before it', () => {
    const dir = tempDir();
    const a = wal(dir);
    a.open();
    for (let t = 1; t <= 3; t++) {
      const p = payload(t);
      a.append(p.payload, p.counts);
    }
    a.close();
    const [seg] = segmentFiles(dir);
    const full = seg!.bytes;
    truncateSync(join(dir, seg!.name), full - 7);
    const warnings: string[] = [];
    const b = wal(dir, {}, warnings);
    b.open();
    assert.deepEqual(pendingTimes(b), [1, 2]);
    assert.equal(b.stats.corruptions, 1);
    assert.ok(warnings.some((m) => m.includes('truncated')));
    assert.ok(segmentFiles(dir)[0]!.bytes < full - 7, 'the torn record is cut from the file');
  });

  it('truncates at a record whose checksum does not match (corruption mid-segment)', () => {
    const dir = tempDir();
    const a = wal(dir);
    a.open();
    for (let t = 1; t <= 4; t++) {
      const p = payload(t);
      a.append(p.payload, p.counts);
    }
    a.close();
    const [seg] = segmentFiles(dir);
    const path = join(dir, seg!.name);
    const bytes = readFileSync(path);
    const recordBytes = bytes.length / 4;
    bytes[recordBytes * 2 + 20]! ^= 0xff; // inside the third record's payload
    writeFileSync(path, bytes);
    const b = wal(dir);
    b.open();
    assert.deepEqual(pendingTimes(b), [1, 2]);
    assert.equal(b.stats.corruptions, 1);
    assert.equal(segmentFiles(dir)[0]!.bytes, recordBytes * 2);
  });

  it('starts with garbage segments and an empty one without failing', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '00000001.seg'), Buffer.from('not a wal at all, just junk bytes here'));
    writeFileSync(join(dir, '00000002.seg'), Buffer.alloc(0));
    appendFileSync(join(dir, 'cursor'), 'garbage');
    const b = wal(dir);
    b.open();
    assert.deepEqual(pendingTimes(b), []);
    assert.equal(b.stats.corruptions, 1);
    const p = payload(9);
    b.append(p.payload, p.counts);
    assert.deepEqual(pendingTimes(b), [9]);
  });

  it('drops the oldest segment past max_size, counting its samples (wal_full)', () => {
    const dir = tempDir();
    const one = payload(0).payload.length + 8;
    // Segments of 3 records, room for about 7 records.
    const w = wal(dir, { segmentBytes: one * 3, maxBytes: one * 7 + 1 });
    w.open();
    for (let t = 1; t <= 12; t++) {
      const p = payload(t);
      w.append(p.payload, p.counts);
    }
    const times = pendingTimes(w);
    assert.ok(w.stats.bytes <= one * 7 + 1, `bytes ${w.stats.bytes}`);
    assert.equal(times[times.length - 1], 12, 'the newest is kept');
    assert.deepEqual(times, [...times].sort((x, y) => x - y));
    assert.equal(w.stats.dropped.get('wal_full'), (12 - times.length) * 10);
    assert.ok(times.length >= 6);
  });

  it('acknowledging deletes finished segments and the cursor survives a restart', () => {
    const dir = tempDir();
    const one = payload(0).payload.length + 8;
    const w = wal(dir, { segmentBytes: one * 2 });
    w.open();
    for (let t = 1; t <= 6; t++) {
      const p = payload(t);
      w.append(p.payload, p.counts);
    }
    assert.equal(segmentFiles(dir).length, 3);
    w.take(50);
    w.ack(5);
    assert.equal(segmentFiles(dir).length, 1);
    w.close();
    const again = wal(dir);
    again.open();
    assert.deepEqual(pendingTimes(again), [6]);
  });

  it('a WAL directory that cannot be created keeps records in memory, counted and logged', () => {
    const parent = tempDir();
    // A file where the directory should be: fails even for root.
    writeFileSync(join(parent, 'blocked'), 'x');
    const warnings: string[] = [];
    const w = wal(join(parent, 'blocked', 'wal'), {}, warnings);
    w.open();
    for (let t = 1; t <= 3; t++) {
      const p = payload(t);
      w.append(p.payload, p.counts);
    }
    assert.deepEqual(pendingTimes(w), [1, 2, 3]);
    assert.ok((w.stats.errors.get('open') ?? 0) >= 1);
    assert.ok(warnings.length >= 1 && warnings.length <= 2, `rate-limited warnings: ${warnings.length}`);
    assert.equal(readdirSync(parent).length, 1);
    w.take(100);
    w.ack(3);
    assert.equal(w.pendingSamples, 0);
    assert.equal(w.stats.bytes, 0);
  });

  it('a full disk (a 64 KiB tmpfs) keeps records in memory, counted, and sends them all in order', (t) => {
    const mountPoint = tempDir();
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint]).status !== 0) {
      t.skip('mounting a tmpfs needs root');
      return;
    }
    const w = wal(join(mountPoint, 'wal'));
    try {
      w.open();
      const n = 40;
      for (let t2 = 1; t2 <= n; t2++) {
        // Random label values: compressed bodies of several KiB each, so the 64 KiB fill up.
        const b = new BatchWriter(t2);
        for (let i = 0; i < 200; i++) b.float(encodeSeries('demo_total', ['r', randomBytes(24).toString('hex')])!, i, null);
        const p = b.cut(true)!;
        w.append(p.payload, p.counts);
        w.sync();
      }
      assert.ok((w.stats.errors.get('write') ?? 0) >= 1, `write errors: ${[...w.stats.errors]}`);
      const times = pendingTimes(w);
      assert.deepEqual(times, Array.from({ length: n }, (_, i) => i + 1));
      w.take(Number.MAX_SAFE_INTEGER);
      w.ack(n);
      assert.equal(w.pendingSamples, 0);
    } finally {
      w.close();
      if (spawnSync('umount', [mountPoint]).status !== 0) spawnSync('umount', ['-l', mountPoint]);
    }
  });
});
