// SQLite storage: migrations (including an upgrade from v1), the engine's flush (one transaction,
// upserts that add), reload after restart, hourly rollups and pruning, and the startup errors.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { VigilError } from '../../collectors/errors.js';
import type { SloConfig } from '../config/types.js';
import { SloEngine } from '../slo/engine.js';
import {
  DB_FILE,
  MIGRATIONS,
  SCHEMA_VERSION,
  Storage,
  StorageCorruptError,
  StorageError,
  StorageLockedError,
  StorageSchemaTooNewError,
  StorageUnwritableError,
  migrate,
} from './index.js';

const root = mkdtempSync(join(tmpdir(), 'vigil-storage-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${++dirs}`);

const MIN = 60_000;
const T0 = Date.UTC(2025, 0, 10);
const SLO: SloConfig = {
  id: 'api-availability',
  name: 'api-availability',
  component: 'api',
  objectivePercent: 99.9,
  objective: 0.999,
  window: { kind: 'rolling', label: '30d', minutes: 43_200, timezone: 'UTC' },
  indicator: { type: 'span_availability', spans: { service: 'checkout', spanKind: 'SERVER', spanName: null } },
};

function engineOn(dataDir: string, clock: { now: number }, opened: (s: Storage) => void = () => {}): SloEngine {
  return new SloEngine({
    components: [{ id: 'api', name: 'API', group: null, description: null }],
    slos: [SLO],
    openStorage: () => {
      const s = Storage.open({ dataDir, now: () => clock.now });
      opened(s);
      return s;
    },
    flushIntervalMs: 60_000,
    now: () => clock.now,
  });
}

const minutesIn = (dataDir: string) => {
  const db = new Database(join(dataDir, DB_FILE), { readonly: true });
  try {
    return db.prepare('SELECT minute, good, total FROM slo_minute ORDER BY minute').all() as { minute: number; good: number; total: number }[];
  } finally {
    db.close();
  }
};

describe('migrations', () => {
  test('a new database is created at the current version, with every migration recorded', () => {
    const dir = freshDir();
    const s = Storage.open({ dataDir: dir });
    assert.equal(s.schemaVersion(), SCHEMA_VERSION);
    s.close();
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    assert.deepEqual(
      (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map((r) => r.version),
      MIGRATIONS.map((m) => m.version),
    );
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
  });

  test('a v1 database is upgraded in place and keeps its rollups', () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const db = new Database(join(dir, DB_FILE));
    assert.deepEqual(migrate(db, 1), [1]);
    db.prepare('INSERT INTO slo_minute (slo, minute, good, total) VALUES (?, ?, ?, ?)').run('api-availability', T0 / MIN, 7, 8);
    db.close();
    const s = Storage.open({ dataDir: dir });
    assert.equal(s.schemaVersion(), SCHEMA_VERSION);
    assert.deepEqual(s.loadMinutes('api-availability', 0), [{ at: T0 / MIN, good: 7, total: 8 }]);
    assert.deepEqual(s.loadStates(), { slos: [], components: [] });
    s.close();
  });

  test('migrate is idempotent', () => {
    const db = new Database(':memory:');
    assert.deepEqual(migrate(db), MIGRATIONS.map((m) => m.version));
    assert.deepEqual(migrate(db), []);
    db.close();
  });
});

describe('flush and reload', () => {
  test('the engine flushes minute deltas (upserts that add) and a restart reloads them', async () => {
    const dir = freshDir();
    const clock = { now: T0 };
    const engine = engineOn(dir, clock);
    engine.start();
    engine.record('api-availability', 9, 10);
    engine.flush();
    assert.deepEqual(minutesIn(dir), [{ minute: T0 / MIN, good: 9, total: 10 }]);
    // More events in the same minute, and a late one for the previous minute: only deltas are added.
    engine.record('api-availability', 1, 1);
    engine.record('api-availability', 0, 1, T0 - MIN);
    engine.flush();
    engine.flush();
    assert.deepEqual(minutesIn(dir), [
      { minute: T0 / MIN - 1, good: 0, total: 1 },
      { minute: T0 / MIN, good: 10, total: 11 },
    ]);
    clock.now += 30_000;
    engine.record('api-availability', 5, 5);
    await engine.shutdown();
    await engine.shutdown();
    assert.deepEqual(minutesIn(dir).at(-1), { minute: T0 / MIN, good: 15, total: 16 });

    clock.now = T0 + 2 * MIN;
    const again = engineOn(dir, clock);
    again.start();
    const slo = again.sloReport('api-availability')!;
    assert.deepEqual(slo.windows.find((w) => w.window === '5m'), { window: '5m', good: 15, total: 17, sli: 15 / 17, burnRate: (2 / 17) / 0.001 });
    // Reloaded minutes are known to storage: flushing again adds nothing twice.
    again.record('api-availability', 1, 1);
    await again.shutdown();
    assert.deepEqual(minutesIn(dir), [
      { minute: T0 / MIN - 1, good: 0, total: 1 },
      { minute: T0 / MIN, good: 15, total: 16 },
      { minute: T0 / MIN + 2, good: 1, total: 1 },
    ]);
  });

  test('statuses are saved and their start time survives a restart', async () => {
    const dir = freshDir();
    const clock = { now: T0 };
    const engine = engineOn(dir, clock);
    engine.start();
    engine.record('api-availability', 1, 1);
    engine.flush();
    await engine.shutdown();
    clock.now += 5 * MIN;
    const again = engineOn(dir, clock);
    again.start();
    const [component] = again.report();
    assert.equal(component!.status, 'operational');
    assert.equal(component!.statusSinceMs, T0);
    assert.equal(component!.slos[0]!.statusSinceMs, T0);
    await again.shutdown();
  });

  test('a failed flush is counted and its counts are written by the next one', async () => {
    const dir = freshDir();
    const clock = { now: T0 };
    let storage: Storage | undefined;
    const engine = engineOn(dir, clock, (s) => (storage = s));
    engine.start();
    engine.record('api-availability', 3, 4);
    engine.flush();
    assert.equal(engine.flushFailures, 0);
    assert.deepEqual(minutesIn(dir), [{ minute: T0 / MIN, good: 3, total: 4 }]);
    engine.record('api-availability', 1, 1);
    storage!.write = () => {
      throw new Error('disk I/O error');
    };
    engine.flush();
    assert.equal(engine.flushFailures, 1);
    delete (storage as unknown as { write?: unknown }).write;
    engine.flush();
    assert.equal(engine.flushFailures, 1);
    assert.deepEqual(minutesIn(dir), [{ minute: T0 / MIN, good: 4, total: 5 }]);
  });
});

describe('hourly rollups and retention', () => {
  test('minutes roll up into hours; minutes older than 35 days and hours older than 400 days are pruned', () => {
    const dir = freshDir();
    const clock = { now: T0 };
    const s = Storage.open({ dataDir: dir, now: () => clock.now });
    const m0 = T0 / MIN;
    s.write([
      { slo: 'a', minute: m0, good: 1, total: 2 },
      { slo: 'a', minute: m0 + 59, good: 3, total: 3 },
      { slo: 'a', minute: m0 + 60, good: 5, total: 5 },
      { slo: 'b', minute: m0 + 61, good: 0, total: 1 },
    ]);
    assert.deepEqual(s.rollup(), { hoursWritten: 3, minutesPruned: 0, hoursPruned: 0 });
    assert.deepEqual(s.loadHours('a', 0, Number.MAX_SAFE_INTEGER), [
      { at: m0 / 60, good: 4, total: 5 },
      { at: m0 / 60 + 1, good: 5, total: 5 },
    ]);
    // A late minute in the last hour rolled up is included on the next pass (recomputed, not added).
    s.write([{ slo: 'a', minute: m0 + 90, good: 1, total: 1 }]);
    s.rollup();
    assert.deepEqual(s.loadHours('a', m0 / 60 + 1, m0 / 60 + 2), [{ at: m0 / 60 + 1, good: 6, total: 6 }]);
    clock.now = T0 + 36 * 86_400_000;
    assert.equal(s.rollup().minutesPruned, 5);
    assert.deepEqual(s.loadMinutes('a', 0), []);
    assert.equal(s.loadHours('a', 0, Number.MAX_SAFE_INTEGER).length, 2, 'hours outlive minutes');
    clock.now = T0 + 402 * 86_400_000;
    assert.equal(s.rollup().hoursPruned, 3);
    s.close();
  });
});

describe('startup errors name the file and what to do', () => {
  test('a file that is not a database', () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, DB_FILE), 'this is not SQLite, just some text that is long enough to be a header '.repeat(100));
    assert.throws(
      () => Storage.open({ dataDir: dir }),
      (err: unknown) => {
        assert.ok(err instanceof StorageCorruptError);
        assert.equal(err.code, 'VIGIL_STORAGE_CORRUPT');
        assert.ok(err.message.includes(join(dir, DB_FILE)));
        assert.match(err.message, /file is not a database/);
        assert.match(err.message, /move it aside/);
        return true;
      },
    );
  });

  test('a database with a damaged page', () => {
    const dir = freshDir();
    const s = Storage.open({ dataDir: dir });
    s.write(Array.from({ length: 5000 }, (_, i) => ({ slo: 'a', minute: i, good: i, total: i })));
    s.close();
    const file = join(dir, DB_FILE);
    const db = new Database(file);
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    // Overwrite the middle of the file (b-tree pages) with garbage.
    const fd = require_fs().openSync(file, 'r+');
    require_fs().writeSync(fd, Buffer.alloc(pageSize * 3, 0x5a), 0, pageSize * 3, pageSize * 4);
    require_fs().closeSync(fd);
    assert.throws(() => Storage.open({ dataDir: dir }), (err: unknown) => err instanceof StorageCorruptError && err.code === 'VIGIL_STORAGE_CORRUPT');
  });

  test('a data dir that cannot be created', () => {
    const file = join(freshDir() + '-file');
    writeFileSync(file, 'x');
    const dir = join(file, 'data');
    assert.throws(
      () => Storage.open({ dataDir: dir }),
      (err: unknown) => err instanceof StorageUnwritableError && err.code === 'VIGIL_STORAGE_UNWRITABLE' && err.message.includes(dir) && /writable/.test(err.message),
    );
  });

  test('the database path is a directory', () => {
    const dir = freshDir();
    mkdirSync(join(dir, DB_FILE), { recursive: true });
    assert.throws(() => Storage.open({ dataDir: dir }), (err: unknown) => err instanceof StorageUnwritableError && err.message.includes(join(dir, DB_FILE)));
  });

  test('a second process on the same data dir', () => {
    const dir = freshDir();
    const first = Storage.open({ dataDir: dir });
    try {
      assert.throws(() => Storage.open({ dataDir: dir }), (err: unknown) => err instanceof StorageLockedError && err.code === 'VIGIL_STORAGE_LOCKED');
    } finally {
      first.close();
    }
    Storage.open({ dataDir: dir }).close();
  });

  test('a schema newer than this build', () => {
    const dir = freshDir();
    Storage.open({ dataDir: dir }).close();
    const db = new Database(join(dir, DB_FILE));
    db.prepare('INSERT INTO schema_migrations (version, description, applied_ms) VALUES (?, ?, ?)').run(SCHEMA_VERSION + 1, 'future', 0);
    db.close();
    assert.throws(() => Storage.open({ dataDir: dir }), (err: unknown) => err instanceof StorageSchemaTooNewError && new RegExp(`knows versions up to ${SCHEMA_VERSION}\\b`).test((err as Error).message));
  });

  test('every error class has a stable code and name and is a VigilError', () => {
    const cases: [StorageError, string, string][] = [
      [new StorageCorruptError('/x/vigil.db', 'd'), 'StorageCorruptError', 'VIGIL_STORAGE_CORRUPT'],
      [new StorageUnwritableError('/x', 'd'), 'StorageUnwritableError', 'VIGIL_STORAGE_UNWRITABLE'],
      [new StorageLockedError('/x/vigil.db'), 'StorageLockedError', 'VIGIL_STORAGE_LOCKED'],
      [new StorageSchemaTooNewError('/x/vigil.db', 3, 2), 'StorageSchemaTooNewError', 'VIGIL_STORAGE_SCHEMA_TOO_NEW'],
      [new StorageError('m', 'VIGIL_STORAGE_FAILED', '/x'), 'StorageError', 'VIGIL_STORAGE_FAILED'],
    ];
    for (const [err, name, code] of cases) {
      assert.ok(err instanceof VigilError);
      assert.ok(err instanceof StorageError);
      assert.equal(err.name, name);
      assert.equal(err.code, code);
      assert.ok(err.path.startsWith('/x'));
    }
  });
});

import * as fs from 'node:fs';
function require_fs(): typeof fs {
  return fs;
}
