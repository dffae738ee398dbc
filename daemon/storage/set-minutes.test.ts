// Storage.setMinutes (a status instance's backfill): whole minutes set, not added, in one
// transaction; the differences returned; hours and days moved by them; 0/0 removes the minute;
// asking again changes nothing. newestMinute() is where a restarted backfill resumes.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage } from './index.js';

const root = mkdtempSync(join(tmpdir(), 'vigil-set-minutes-'));
after(() => rmSync(root, { recursive: true, force: true }));

const DAY = 1440;
const M0 = 20_000 * DAY + 59; // the last minute of an hour, the next one starts a new hour

test('setMinutes sets whole minutes, returns the differences, moves hours and days once, and is idempotent', () => {
  const storage = Storage.open({ dataDir: join(root, 'a'), now: () => (M0 + 100) * 60_000 });
  try {
    assert.equal(storage.newestMinute(), null);
    storage.write([{ slo: 'a', minute: M0, good: 5, total: 6 }]);
    const first = storage.setMinutes([
      { slo: 'a', minute: M0, good: 9, total: 10 },
      { slo: 'a', minute: M0 + 1, good: 3, total: 3 },
      { slo: 'b', minute: M0 - 30 * DAY, good: 1, total: 2 },
    ]);
    assert.deepEqual(first, [
      { slo: 'a', minute: M0, good: 4, total: 4 },
      { slo: 'a', minute: M0 + 1, good: 3, total: 3 },
      { slo: 'b', minute: M0 - 30 * DAY, good: 1, total: 2 },
    ]);
    assert.deepEqual(storage.setMinutes([{ slo: 'a', minute: M0, good: 9, total: 10 }, { slo: 'a', minute: M0 + 1, good: 3, total: 3 }]), [], 'asked again: nothing changes');
    assert.deepEqual(storage.loadMinutes('a', 0).map((b) => [b.at, b.good, b.total]), [[M0, 9, 10], [M0 + 1, 3, 3]]);
    const hour = Math.floor(M0 / 60);
    assert.deepEqual(storage.loadHours('a', hour, hour + 2).map((b) => [b.at, b.good, b.total]), [[hour, 9, 10], [hour + 1, 3, 3]]);
    assert.deepEqual(storage.loadDays('a', 0, 1e9).map((b) => [b.good, b.total]), [[12, 13]]);
    assert.deepEqual(storage.loadDays('b', 0, 1e9).map((b) => [b.at, b.good, b.total]), [[Math.floor((M0 - 30 * DAY) / DAY), 1, 2]]);
    assert.equal(storage.newestMinute(), M0 + 1);
    // No events after all: the minute is removed (no data), its hour and day move back.
    assert.deepEqual(storage.setMinutes([{ slo: 'a', minute: M0 + 1, good: 0, total: 0 }]), [{ slo: 'a', minute: M0 + 1, good: -3, total: -3 }]);
    assert.deepEqual(storage.loadMinutes('a', 0).map((b) => b.at), [M0]);
    assert.deepEqual(storage.loadHours('a', hour + 1, hour + 2).map((b) => [b.good, b.total]), [[0, 0]]);
    assert.deepEqual(storage.loadDays('a', 0, 1e9).map((b) => [b.good, b.total]), [[9, 10]]);
    assert.equal(storage.newestMinute(), M0);
  } finally {
    storage.close();
  }
});
