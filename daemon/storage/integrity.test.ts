// The database check in two steps (issue 13: ready in seconds with GBs of history): at open, the
// header, the schema, the small tables and both ends of the history b-trees; after ready, the whole
// file in a child process. Real files with one page made unreadable: damage in a small table or at
// the newest end of the history stops the open; damage in the middle of the history is left to
// the full check, which finds it, after which writes are refused; a read that meets it is reported.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DB_FILE, Storage, StorageCorruptError } from './index.js';
import type { IntegrityEvent } from './index.js';
import { damageMiddleLeaf, damagePage, leafPages } from '../../test-support/sqlite-damage.js';

const root = mkdtempSync(join(tmpdir(), 'vigil-integrity-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

const MIN = 60_000;
const T0 = Date.UTC(2025, 0, 10);
const SLOS = Array.from({ length: 300 }, (_, k) => `slo-${String(k).padStart(3, '0')}`);

/** A data dir with 300 SLOs × 4 hours of minutes (hundreds of leaf pages) and one SLO state. */
function dataDirWithHistory(): string {
  const dir = join(root, `d${++dirs}`);
  const s = Storage.open({ dataDir: dir, now: () => T0 });
  const now = T0 / MIN;
  s.write(
    SLOS.flatMap((slo) => Array.from({ length: 240 }, (_, m) => ({ slo, minute: now - 240 + m, good: 99, total: 100 }))),
    [{ slo: SLOS[0]!, component: 'api', status: 'operational', page: false, ticket: false, sinceMs: T0, updatedMs: T0 }],
  );
  s.close();
  return dir;
}

/** Runs the full check and resolves with its outcome (the first event). */
function fullCheck(s: Storage): Promise<IntegrityEvent> {
  return new Promise((resolve) => {
    s.onIntegrity = resolve;
    s.startIntegrityCheck();
  });
}

const write = (s: Storage) => s.write([{ slo: SLOS[0]!, minute: T0 / MIN, good: 1, total: 1 }]);

describe('integrity: a quick check at open, the whole file after ready', () => {
  test('a healthy file opens and passes the full check, which says how long it took and how big the file is', async () => {
    const dir = dataDirWithHistory();
    const s = Storage.open({ dataDir: dir, now: () => T0 });
    try {
      const event = await fullCheck(s);
      assert.equal(event.state, 'ok', JSON.stringify(event));
      if (event.state !== 'ok') return;
      assert.ok(event.bytes > 300 * 1024, `${event.bytes} bytes`);
      assert.ok(event.seconds > 0 && event.cpuSeconds > 0);
      assert.equal(s.damage, null);
      write(s);
    } finally {
      s.close();
    }
  });

  test('damage in the middle of the history: open does not read it; the full check finds it and writes are refused from then on', async () => {
    const dir = dataDirWithHistory();
    const page = damageMiddleLeaf(join(dir, DB_FILE), 'slo_minute');
    const s = Storage.open({ dataDir: dir, now: () => T0 });
    try {
      write(s);
      const event = await fullCheck(s);
      assert.equal(event.state, 'corrupt', JSON.stringify(event));
      if (event.state !== 'corrupt') return;
      assert.ok(event.error instanceof StorageCorruptError);
      assert.equal(event.error.code, 'VIGIL_STORAGE_CORRUPT');
      assert.ok(event.error.message.includes(join(dir, DB_FILE)), event.error.message);
      assert.match(event.error.message, new RegExp(`integrity check: .*page ${page}\\b`));
      assert.match(event.error.message, /restore it from a backup, or move it aside/);
      assert.equal(s.damage, event.error);
      assert.throws(() => write(s), (err: unknown) => err === event.error, 'no write into a damaged file');
      assert.throws(() => s.prune(), StorageCorruptError);
    } finally {
      s.close();
    }
  });

  test('a read that meets the damaged page: thrown without a listener; with one, reported once and answered as no rows', () => {
    const dir = dataDirWithHistory();
    damageMiddleLeaf(join(dir, DB_FILE), 'slo_minute');
    let damaged: string | undefined;
    const s1 = Storage.open({ dataDir: dir, now: () => T0 });
    try {
      for (const slo of SLOS) {
        try {
          s1.loadMinutes(slo, 0);
        } catch (err) {
          assert.ok(err instanceof StorageCorruptError, String(err));
          damaged = slo;
          break;
        }
      }
      assert.ok(damaged !== undefined, 'one SLO has rows on the damaged page');
      assert.throws(() => write(s1), StorageCorruptError);
    } finally {
      s1.close();
    }
    const s2 = Storage.open({ dataDir: dir, now: () => T0 });
    try {
      const events: IntegrityEvent[] = [];
      s2.onIntegrity = (e) => events.push(e);
      assert.deepEqual(s2.loadMinutes(damaged, 0), []);
      const sums = new Float64Array(2);
      s2.sumMinutes(damaged, 0, T0 / MIN, sums);
      assert.deepEqual([...sums], [0, 0]);
      assert.equal(events.length, 1, 'reported once');
      assert.equal(events[0]!.state, 'corrupt');
      assert.equal(s2.loadMinutes(SLOS[0]!, 0).length, 240, 'other SLOs still read');
    } finally {
      s2.close();
    }
  });

  test('damage in a small table (the SLO states) is found at open', () => {
    const dir = dataDirWithHistory();
    damagePage(join(dir, DB_FILE), leafPages(join(dir, DB_FILE), 'slo_state')[0]!);
    assert.throws(() => Storage.open({ dataDir: dir }), (err: unknown) => err instanceof StorageCorruptError && /integrity check of slo_state/.test(err.message) && err.message.includes(join(dir, DB_FILE)));
  });

  test('damage at the newest end of the history (the last leaf of the minute index) is found at open', () => {
    const dir = dataDirWithHistory();
    const leaves = leafPages(join(dir, DB_FILE), 'slo_minute_by_minute');
    damagePage(join(dir, DB_FILE), leaves[leaves.length - 1]!);
    assert.throws(() => Storage.open({ dataDir: dir }), (err: unknown) => err instanceof StorageCorruptError && err.code === 'VIGIL_STORAGE_CORRUPT');
  });

  test('close() during the full check stops it: no event afterwards, and the file closes cleanly', async () => {
    const dir = dataDirWithHistory();
    const s = Storage.open({ dataDir: dir, now: () => T0 });
    const events: IntegrityEvent[] = [];
    s.onIntegrity = (e) => events.push(e);
    s.startIntegrityCheck();
    s.close();
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(events, []);
    const again = Storage.open({ dataDir: dir, now: () => T0 });
    again.close();
  });
});
