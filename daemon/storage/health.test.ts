// StorageHealth without root (the e2e tests mount file systems): how failures are classified,
// counted and logged (once per change of state), what /-/ready is told, and the probe's view of a
// removed and re-created data dir.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { StorageCorruptError, StorageHealth, classifyStorageError } from './index.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function logger(): { log: Logger; lines: { level: number; msg: string; writer?: string; fault?: string; [key: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream) as unknown as Logger, lines };
}

const err = (code: string): Error => Object.assign(new Error(code), { code });

describe('StorageHealth', () => {
  it('classifies SQLite and file-system errors', () => {
    assert.equal(classifyStorageError(err('SQLITE_FULL')), 'disk_full');
    assert.equal(classifyStorageError(err('ENOSPC')), 'disk_full');
    assert.equal(classifyStorageError(err('SQLITE_READONLY')), 'read_only');
    assert.equal(classifyStorageError(err('EROFS')), 'read_only');
    assert.equal(classifyStorageError(err('SQLITE_READONLY_DBMOVED')), 'removed');
    assert.equal(classifyStorageError(err('ENOENT')), 'removed');
    assert.equal(classifyStorageError(err('SQLITE_IOERR_WRITE')), 'io_error');
    assert.equal(classifyStorageError(new Error('no code')), 'io_error');
    assert.equal(classifyStorageError(err('SQLITE_CORRUPT')), 'corrupt');
    assert.equal(classifyStorageError(err('SQLITE_NOTADB')), 'corrupt');
    assert.equal(classifyStorageError(new StorageCorruptError('/x/vigil.db', 'integrity check: damaged')), 'corrupt');
  });

  it('counts every failure, logs once per change of state, and tells /-/ready why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-health-'));
    dirs.push(dir);
    const { log, lines } = logger();
    const h = new StorageHealth({ dataDir: dir, logger: log, checkIntervalMs: 0 });
    assert.equal(h.notReadyReason(), null);
    for (let i = 0; i < 5; i++) h.failed('slo_flush', err('SQLITE_FULL'));
    assert.equal(h.failures('slo_flush', 'disk_full'), 5);
    assert.match(h.notReadyReason() ?? '', /^storage: the disk is full .*slo_flush failing since .*SQLITE_FULL/);
    h.failed('slo_flush', err('SQLITE_READONLY'));
    h.succeeded('slo_flush');
    h.succeeded('slo_flush');
    assert.equal(h.notReadyReason(), null);
    await new Promise((r) => setImmediate(r));
    const mine = lines.map((l) => l.msg);
    assert.equal(mine.filter((m) => m.includes('slo_flush cannot write') && m.includes('disk is full')).length, 1, mine.join('\n'));
    assert.equal(mine.filter((m) => m.includes('slo_flush cannot write') && m.includes('read-only')).length, 1);
    assert.equal(mine.filter((m) => m.includes('slo_flush writes to')).length, 1);
    const [failures, writable] = h.collect();
    assert.equal([...failures!.series].length, 25, 'every writer × reason, from 0');
    assert.equal([...writable!.series][0]!.value, 1);
  });

  it('the integrity check: passed is logged; damage keeps /-/ready at 503 with the fix, and a later "ok" does not clear it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-health-'));
    dirs.push(dir);
    const { log, lines } = logger();
    const h = new StorageHealth({ dataDir: dir, logger: log, checkIntervalMs: 0 });
    const state = () => [...h.collect().find((f) => f.name === 'vigil_storage_integrity_state')!.series][0]!.value;
    assert.equal(state(), 0, 'checking until the check ends');
    h.integrity({ state: 'ok', seconds: 2.5, cpuSeconds: 1.5, bytes: 10 * 1024 * 1024 });
    assert.equal(state(), 1);
    assert.equal([...h.collect().find((f) => f.name === 'vigil_storage_integrity_check_seconds')!.series][0]!.value, 2.5);
    assert.equal(h.notReadyReason(), null);
    const damage = new StorageCorruptError(join(dir, 'vigil.db'), 'integrity check: Tree 12 page 345 cell 0: invalid page number 4000');
    h.integrity({ state: 'corrupt', error: damage, seconds: 3 });
    h.integrity({ state: 'corrupt', error: damage, seconds: null });
    assert.equal(state(), 2);
    assert.match(h.notReadyReason() ?? '', /is not a usable SQLite database \(integrity check: Tree 12 page 345/);
    assert.match(h.notReadyReason() ?? '', /restore it from a backup, or move it aside/);
    h.integrity({ state: 'ok', seconds: 1, cpuSeconds: 1, bytes: 1 });
    h.succeeded('slo_flush');
    assert.equal(state(), 2, 'damage stays until the file is replaced (a restart)');
    assert.notEqual(h.notReadyReason(), null);
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.filter((l) => l.msg.includes('passed (10.0 MiB in 2.5 s')).length, 1);
    const errors = lines.filter((l) => l.level === 50);
    assert.equal(errors.length, 1, 'logged once');
    assert.equal(errors[0]!['code'], 'VIGIL_STORAGE_CORRUPT');
  });

  it('the probe: a removed data dir is "removed" until it is back, then restore() writes the database again', () => {
    const root = mkdtempSync(join(tmpdir(), 'vigil-health-'));
    dirs.push(root);
    const dir = join(root, 'data');
    mkdirSync(dir);
    writeFileSync(join(dir, 'vigil.db'), 'x');
    let restored = 0;
    const h = new StorageHealth({ dataDir: dir, checkIntervalMs: 0, restore: () => {
      restored++;
      writeFileSync(join(dir, 'vigil.db'), 'restored');
    } });
    h.start();
    h.check();
    assert.equal(h.notReadyReason(), null);
    rmSync(dir, { recursive: true });
    h.check();
    assert.match(h.notReadyReason() ?? '', /removed or replaced/);
    assert.equal(h.failures('probe', 'removed'), 1);
    assert.equal(restored, 0);
    mkdirSync(dir);
    h.check();
    assert.equal(restored, 1);
    assert.equal(h.notReadyReason(), null);
    h.stop();
  });
});
