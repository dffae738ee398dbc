// SLO history in SQLite (better-sqlite3, WAL): per-minute rollups, hourly and daily rollups made
// from them, and SLO/component state. Writes are batched by the caller (one transaction per flush).

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { StorageCorruptError, StorageError, StorageLockedError, StorageSchemaTooNewError, StorageUnwritableError } from './errors.js';
import { SCHEMA_VERSION, currentVersion, migrate } from './migrations.js';

/** The file name inside storage.data_dir. */
export const DB_FILE = 'vigil.db';
/** A one-vigild-per-data-dir lock, held as an exclusive SQLite lock (released by the OS if the process dies). */
export const LOCK_FILE = 'vigil.db.lock';

const MINUTE_MS = 60_000;
const HOUR_MINUTES = 60;
const DAY_HOURS = 24;

/** Retention: minutes at least 35 days, hours at least 400 days (issue 4). */
export const MIN_MINUTE_RETENTION_MINUTES = 35 * 1440;
export const HOUR_RETENTION_HOURS = 401 * 24;

/**
 * The history tables grow with SLOs × time (a month of minutes for 10,000 SLOs is GBs): at open
 * only both ends of their b-trees are read; the whole file is checked after ready
 * (Storage.startIntegrityCheck). `key` is the time column, `indexed` whether it has its own index.
 */
const HISTORY_TABLES: ReadonlyMap<string, { key: string; indexed: boolean }> = new Map([
  ['slo_minute', { key: 'minute', indexed: true }],
  ['slo_hour', { key: 'hour', indexed: true }],
  ['slo_day', { key: 'day', indexed: false }],
]);

/** Rows read at each end of a history b-tree at open: a few leaf pages' worth. */
const END_ROWS = 1000;

/** The full check's child process (integrity-check.ts, compiled beside this file). */
const INTEGRITY_CHECK_SCRIPT = fileURLToPath(new URL('./integrity-check.js', import.meta.url));

/**
 * What the integrity check found: the full check after ready ended (`ok`, or `corrupt` with what
 * it found), could not run (`failed`), or a read or write met a damaged page (`corrupt`).
 */
export type IntegrityEvent =
  | { state: 'ok'; seconds: number; cpuSeconds: number; bytes: number }
  | { state: 'corrupt'; error: StorageCorruptError; seconds: number | null }
  | { state: 'failed'; error: Error };

/** Counts to add to one SLO minute (or, with `absolute`, its whole counts to set). */
export interface MinuteDelta {
  slo: string;
  minute: number;
  good: number;
  total: number;
  /** Set the minute to these counts instead of adding them (the engine after a wall-clock step back). */
  absolute?: boolean;
}

/** One stored bucket (a minute or an hour, by epoch number). */
export interface Bucket {
  at: number;
  good: number;
  total: number;
}

/** Persisted status of an SLO. */
export interface SloStateRow {
  slo: string;
  component: string;
  status: string;
  page: boolean;
  ticket: boolean;
  sinceMs: number;
  updatedMs: number;
}

/** Persisted status of a component. */
export interface ComponentStateRow {
  component: string;
  status: string;
  sinceMs: number;
  updatedMs: number;
}

/** Storage settings. */
export interface StorageOptions {
  dataDir: string;
  /** Minutes kept; raised to at least 35 days. */
  minuteRetentionMinutes?: number;
  now?: () => number;
}

/** What one rollup pass did. */
export interface RollupResult {
  hoursWritten: number;
  minutesPruned: number;
  hoursPruned: number;
}

/** The open database. Synchronous API (better-sqlite3); call from the main thread only. */
export class Storage {
  readonly path: string;
  // Not readonly: restoreFile() switches to a new connection after the data dir was removed.
  #db: Db;
  #lock: Db;
  readonly #now: () => number;
  readonly #minuteRetention: number;
  #addMinute!: Statement<[string, number, number, number]>;
  #setMinute!: Statement<[string, number, number, number]>;
  #getMinute!: Statement<[string, number]>;
  #addHour!: Statement<[string, number, number, number]>;
  #addDay!: Statement<[string, number, number, number]>;
  /** The earliest minute written since the last rollup: its hour and later ones are rolled up again. */
  #dirtyFromMinute = Infinity;
  #loadMinutes!: Statement<[string, number]>;
  #loadHours!: Statement<[string, number, number]>;
  #sumMinutes!: Statement<[string, number, number]>;
  #sumHours!: Statement<[string, number, number]>;
  #loadDays!: Statement<[string, number, number]>;
  #saveSlo!: Statement<[string, string, string, number, number, number, number]>;
  #saveComponent!: Statement<[string, string, number, number]>;
  #rangeMinutes!: Statement<[string, number, number]>;
  #deleteMinute!: Statement<[string, number]>;
  #newestMinute!: Statement<[]>;
  #closed = false;
  /** Damage found in the file (by the full check or a read): writes are refused from then on. */
  #damage: StorageCorruptError | null = null;
  #checker: ChildProcess | null = null;
  /**
   * Told when the full check ends and when a read or write meets a damaged page (vigild: its
   * StorageHealth). While it is null, a read that meets damage throws StorageCorruptError; once
   * set, such a read is reported here and answers as if the damaged rows were not there, so that
   * the daemon keeps serving (not ready, with the reason) instead of crashing.
   */
  onIntegrity: ((event: IntegrityEvent) => void) | null = null;

  private constructor(path: string, db: Db, lock: Db, options: StorageOptions) {
    this.path = path;
    this.#db = db;
    this.#lock = lock;
    this.#now = options.now ?? Date.now;
    this.#minuteRetention = Math.max(MIN_MINUTE_RETENTION_MINUTES, options.minuteRetentionMinutes ?? 0);
    this.#prepare(db);
  }

  #prepare(db: Db): void {
    this.#addMinute = db.prepare(
      `INSERT INTO slo_minute (slo, minute, good, total) VALUES (?, ?, ?, ?)
       ON CONFLICT (slo, minute) DO UPDATE SET good = good + excluded.good, total = total + excluded.total`,
    );
    this.#setMinute = db.prepare(
      `INSERT INTO slo_minute (slo, minute, good, total) VALUES (?, ?, ?, ?)
       ON CONFLICT (slo, minute) DO UPDATE SET good = excluded.good, total = excluded.total`,
    );
    this.#getMinute = db.prepare('SELECT good, total FROM slo_minute WHERE slo = ? AND minute = ?').raw(true);
    // Hours and days are kept current by every write (same transaction), so nothing has to scan
    // the minutes to roll them up: a restart reads them as they are.
    this.#addHour = db.prepare(
      `INSERT INTO slo_hour (slo, hour, good, total) VALUES (?, ?, ?, ?)
       ON CONFLICT (slo, hour) DO UPDATE SET good = good + excluded.good, total = total + excluded.total`,
    );
    this.#addDay = db.prepare(
      `INSERT INTO slo_day (slo, day, good, total) VALUES (?, ?, ?, ?)
       ON CONFLICT (slo, day) DO UPDATE SET good = good + excluded.good, total = total + excluded.total`,
    );
    this.#loadMinutes = db.prepare('SELECT minute AS at, good, total FROM slo_minute WHERE slo = ? AND minute >= ? ORDER BY minute');
    this.#sumMinutes = db.prepare('SELECT coalesce(sum(good), 0), coalesce(sum(total), 0) FROM slo_minute WHERE slo = ? AND minute >= ? AND minute <= ?').raw(true);
    this.#sumHours = db.prepare('SELECT coalesce(sum(good), 0), coalesce(sum(total), 0) FROM slo_hour WHERE slo = ? AND hour >= ? AND hour <= ?').raw(true);
    this.#loadDays = db.prepare('SELECT day AS at, good, total FROM slo_day WHERE slo = ? AND day >= ? AND day < ? ORDER BY day');
    this.#loadHours = db.prepare('SELECT hour AS at, good, total FROM slo_hour WHERE slo = ? AND hour >= ? AND hour < ? ORDER BY hour');
    this.#rangeMinutes = db.prepare('SELECT minute, good, total FROM slo_minute WHERE slo = ? AND minute >= ? AND minute <= ?').raw(true);
    this.#deleteMinute = db.prepare('DELETE FROM slo_minute WHERE slo = ? AND minute = ?');
    this.#newestMinute = db.prepare('SELECT max(minute) FROM slo_minute').raw(true);
    this.#saveSlo = db.prepare(
      `INSERT INTO slo_state (slo, component, status, page, ticket, since_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (slo) DO UPDATE SET component = excluded.component, status = excluded.status, page = excluded.page,
         ticket = excluded.ticket, since_ms = excluded.since_ms, updated_ms = excluded.updated_ms`,
    );
    this.#saveComponent = db.prepare(
      `INSERT INTO component_state (component, status, since_ms, updated_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (component) DO UPDATE SET status = excluded.status, since_ms = excluded.since_ms, updated_ms = excluded.updated_ms`,
    );
  }

  /**
   * Opens (creating if needed) `dataDir/vigil.db`, checks it (checkAtOpen: milliseconds whatever its
   * size), and migrates it to the current schema. Throws a StorageError naming the file and what to
   * do. The whole file is checked by startIntegrityCheck(), which vigild runs once it is ready.
   */
  static open(options: StorageOptions): Storage {
    const dir = resolve(options.dataDir);
    const path = join(dir, DB_FILE);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new StorageUnwritableError(dir, (err as Error).message, { cause: err });
    }
    let db: Db | undefined;
    let lock: Db | undefined;
    const lockPath = join(dir, LOCK_FILE);
    try {
      // One vigild per data dir. The lock lives in its own file so that the database itself stays
      // readable by other processes (sqlite3 .backup, inspection) while vigild runs.
      lock = new Database(lockPath, { timeout: 200 });
      lock.pragma('locking_mode = EXCLUSIVE');
      lock.pragma(`user_version = ${process.pid}`);
    } catch (err) {
      lock?.close();
      throw toStorageError(err, lockPath);
    }
    try {
      db = new Database(path, { timeout: 1000 });
      db.pragma('journal_mode = WAL');
      // FULL: each flush's commit is fsynced, so even a power loss loses at most one flush interval.
      db.pragma('synchronous = FULL');
      checkAtOpen(db, path);
      const found = currentVersion(db);
      if (found > SCHEMA_VERSION) throw new StorageSchemaTooNewError(path, found, SCHEMA_VERSION);
      migrate(db, SCHEMA_VERSION, options.now);
      return new Storage(path, db, lock, options);
    } catch (err) {
      db?.close();
      lock.close();
      throw toStorageError(err, path);
    }
  }

  /** Stored minutes of `slo` from epoch minute `fromMinute` on, ascending. */
  loadMinutes(slo: string, fromMinute: number): Bucket[] {
    try {
      return this.#loadMinutes.all(slo, fromMinute) as Bucket[];
    } catch (err) {
      this.#readFailed(err);
      return [];
    }
  }

  /** Adds the sums of `slo`'s stored minutes in [fromMinute, toMinute] to out[0] (good) and out[1] (total): a window's left edge. */
  sumMinutes(slo: string, fromMinute: number, toMinute: number, out: Float64Array): void {
    let row: [number, number];
    try {
      row = this.#sumMinutes.get(slo, fromMinute, toMinute) as [number, number];
    } catch (err) {
      return this.#readFailed(err);
    }
    out[0] += row[0];
    out[1] += row[1];
  }

  /** Adds the sums of `slo`'s stored hours in [fromHour, toHour] to out (a long window's left partial day). */
  sumHours(slo: string, fromHour: number, toHour: number, out: Float64Array): void {
    let row: [number, number];
    try {
      row = this.#sumHours.get(slo, fromHour, toHour) as [number, number];
    } catch (err) {
      return this.#readFailed(err);
    }
    out[0] += row[0];
    out[1] += row[1];
  }

  /** Stored days (UTC epoch days) of `slo` in [fromDay, toDay), ascending; current as of the last rollup. */
  loadDays(slo: string, fromDay: number, toDay: number): Bucket[] {
    try {
      return this.#loadDays.all(slo, fromDay, toDay) as Bucket[];
    } catch (err) {
      this.#readFailed(err);
      return [];
    }
  }

  /** Stored hours of `slo` in [fromHour, toHour), ascending. */
  loadHours(slo: string, fromHour: number, toHour: number): Bucket[] {
    try {
      return this.#loadHours.all(slo, fromHour, toHour) as Bucket[];
    } catch (err) {
      this.#readFailed(err);
      return [];
    }
  }

  /** Adds every delta to its minute, hour and day (and saves the given states) in one transaction. */
  write(deltas: readonly MinuteDelta[], slos: readonly SloStateRow[] = [], components: readonly ComponentStateRow[] = []): void {
    this.#refuseIfDamaged();
    try {
      this.#writeTx(deltas, slos, components);
    } catch (err) {
      throw this.#writeFailed(err);
    }
  }

  readonly #writeTx = (deltas: readonly MinuteDelta[], slos: readonly SloStateRow[], components: readonly ComponentStateRow[]): void => {
    this.#db.transaction(() => {
      for (const d of deltas) {
        // An absolute write sets the minute: its hour and day change by the difference.
        let good = d.good;
        let total = d.total;
        if (d.absolute === true) {
          const old = this.#getMinute.get(d.slo, d.minute) as [number, number] | undefined;
          if (old !== undefined) {
            good -= old[0];
            total -= old[1];
          }
          this.#setMinute.run(d.slo, d.minute, d.good, d.total);
        } else this.#addMinute.run(d.slo, d.minute, d.good, d.total);
        this.#addHour.run(d.slo, Math.floor(d.minute / HOUR_MINUTES), good, total);
        this.#addDay.run(d.slo, Math.floor(d.minute / (HOUR_MINUTES * DAY_HOURS)), good, total);
      }
      for (const s of slos) this.#saveSlo.run(s.slo, s.component, s.status, s.page ? 1 : 0, s.ticket ? 1 : 0, s.sinceMs, s.updatedMs);
      for (const c of components) this.#saveComponent.run(c.component, c.status, c.sinceMs, c.updatedMs);
    })();
    for (const d of deltas) if (d.minute < this.#dirtyFromMinute) this.#dirtyFromMinute = d.minute;
  };

  /**
   * Sets whole minutes to the given counts (an outside source of truth: slo.source), in one
   * transaction, and returns what changed as differences (new − stored), minutes without change
   * left out. Built for backfills of many minutes: the stored minutes are read one range per SLO,
   * only changed minutes are written (0/0 deletes the row: no data), and each hour and day is
   * moved once by the sum of its minutes' differences.
   */
  setMinutes(rows: readonly MinuteDelta[]): MinuteDelta[] {
    this.#refuseIfDamaged();
    const bySlo = new Map<string, MinuteDelta[]>();
    for (const r of rows) {
      const list = bySlo.get(r.slo);
      if (list === undefined) bySlo.set(r.slo, [r]);
      else list.push(r);
    }
    return this.#db.transaction((): MinuteDelta[] => {
      const changed: MinuteDelta[] = [];
      for (const [slo, list] of bySlo) {
        let lo = Infinity;
        let hi = -Infinity;
        for (const r of list) {
          if (r.minute < lo) lo = r.minute;
          if (r.minute > hi) hi = r.minute;
        }
        const stored = new Map<number, [number, number]>();
        for (const [minute, good, total] of this.#rangeMinutes.all(slo, lo, hi) as [number, number, number][]) stored.set(minute, [good, total]);
        const hours = new Map<number, [number, number]>();
        const days = new Map<number, [number, number]>();
        for (const r of list) {
          const old = stored.get(r.minute) ?? [0, 0];
          const good = r.good - old[0];
          const total = r.total - old[1];
          if (good === 0 && total === 0) continue;
          if (r.good === 0 && r.total === 0) this.#deleteMinute.run(slo, r.minute);
          else this.#setMinute.run(slo, r.minute, r.good, r.total);
          // A minute given twice: the second is compared with the first.
          stored.set(r.minute, [r.good, r.total]);
          changed.push({ slo, minute: r.minute, good, total });
          for (const [map, key] of [[hours, Math.floor(r.minute / HOUR_MINUTES)], [days, Math.floor(r.minute / (HOUR_MINUTES * DAY_HOURS))]] as const) {
            const sum = map.get(key);
            if (sum === undefined) map.set(key, [good, total]);
            else {
              sum[0] += good;
              sum[1] += total;
            }
          }
        }
        for (const [hour, [good, total]] of hours) this.#addHour.run(slo, hour, good, total);
        for (const [day, [good, total]] of days) this.#addDay.run(slo, day, good, total);
        if (lo < this.#dirtyFromMinute && hours.size > 0) this.#dirtyFromMinute = lo;
      }
      return changed;
    })();
  }

  /** The newest minute any SLO has stored (null: none): where a status instance's backfill resumes. */
  newestMinute(): number | null {
    const row = this.#newestMinute.get() as [number | null] | undefined;
    return row?.[0] ?? null;
  }

  /** Saved SLO and component states. */
  loadStates(): { slos: SloStateRow[]; components: ComponentStateRow[] } {
    const slos = (
      this.#db.prepare('SELECT slo, component, status, page, ticket, since_ms, updated_ms FROM slo_state').all() as {
        slo: string;
        component: string;
        status: string;
        page: number;
        ticket: number;
        since_ms: number;
        updated_ms: number;
      }[]
    ).map((r) => ({ slo: r.slo, component: r.component, status: r.status, page: r.page === 1, ticket: r.ticket === 1, sinceMs: r.since_ms, updatedMs: r.updated_ms }));
    const components = (
      this.#db.prepare('SELECT component, status, since_ms, updated_ms FROM component_state').all() as {
        component: string;
        status: string;
        since_ms: number;
        updated_ms: number;
      }[]
    ).map((r) => ({ component: r.component, status: r.status, sinceMs: r.since_ms, updatedMs: r.updated_ms }));
    return { slos, components };
  }

  /**
   * Recomputes hours from the minutes (from the last hour already rolled up) and days from those
   * hours, then prunes. write() keeps hours and days current, so this only repairs what another
   * writer (an older Vigil, a hand edit) left behind. One transaction.
   */
  rollup(): RollupResult {
    this.#refuseIfDamaged();
    const nowMinute = Math.floor(this.#now() / MINUTE_MS);
    const nowHour = Math.floor(nowMinute / HOUR_MINUTES);
    const result = this.#db.transaction((): RollupResult => {
      const last = this.#db.prepare('SELECT max(hour) AS h FROM slo_hour').get() as { h: number | null };
      let fromHour: number;
      // From the hour before the last one rolled up, or from an earlier minute written since (late
      // events, or a wall clock stepped back: issue 15), whichever is earlier.
      if (last.h !== null) fromHour = Math.min(last.h - 1, Math.floor(this.#dirtyFromMinute / HOUR_MINUTES));
      else {
        const first = this.#db.prepare('SELECT min(minute) AS m FROM slo_minute').get() as { m: number | null };
        fromHour = first.m === null ? nowHour : Math.floor(first.m / HOUR_MINUTES);
      }
      const written = this.#db
        .prepare(
          `INSERT INTO slo_hour (slo, hour, good, total)
           SELECT slo, minute / ${HOUR_MINUTES}, sum(good), sum(total) FROM slo_minute WHERE minute >= ? GROUP BY slo, minute / ${HOUR_MINUTES}
           ON CONFLICT (slo, hour) DO UPDATE SET good = excluded.good, total = excluded.total`,
        )
        .run(fromHour * HOUR_MINUTES).changes;
      this.#db
        .prepare(
          `INSERT INTO slo_day (slo, day, good, total)
           SELECT slo, hour / ${DAY_HOURS}, sum(good), sum(total) FROM slo_hour WHERE hour >= ? GROUP BY slo, hour / ${DAY_HOURS}
           ON CONFLICT (slo, day) DO UPDATE SET good = excluded.good, total = excluded.total`,
        )
        .run(Math.floor(fromHour / DAY_HOURS) * DAY_HOURS);
      return { hoursWritten: written, ...this.prune() };
    })();
    this.#dirtyFromMinute = Infinity;
    return result;
  }

  /** Deletes minutes, hours and days past retention (index range deletes; what the engine runs every minute). */
  prune(): { minutesPruned: number; hoursPruned: number } {
    this.#refuseIfDamaged();
    const nowMinute = Math.floor(this.#now() / MINUTE_MS);
    const nowHour = Math.floor(nowMinute / HOUR_MINUTES);
    return this.#db.transaction(() => {
      const minutesPruned = this.#db.prepare('DELETE FROM slo_minute WHERE minute < ?').run(nowMinute - this.#minuteRetention).changes;
      const hoursPruned = this.#db.prepare('DELETE FROM slo_hour WHERE hour < ?').run(nowHour - HOUR_RETENTION_HOURS).changes;
      this.#db.prepare('DELETE FROM slo_day WHERE day < ?').run(Math.floor((nowHour - HOUR_RETENTION_HOURS) / DAY_HOURS));
      return { minutesPruned, hoursPruned };
    })();
  }

  /**
   * For a data dir removed while vigild runs: the open connection still reads and writes the
   * removed file, so nothing is lost yet. Once the directory exists again, this writes that file's
   * whole content to `vigil.db` there (VACUUM INTO a temporary name, then an atomic rename), takes
   * the lock file again and switches to the new file. Throws if the file exists or cannot be written.
   */
  restoreFile(): void {
    if (existsSync(this.path)) throw new StorageUnwritableError(this.path, 'a database file is already there; vigild does not overwrite it');
    const tmp = `${this.path}.restoring`;
    rmSync(tmp, { force: true });
    this.#db.prepare('VACUUM INTO ?').run(tmp);
    renameSync(tmp, this.path);
    const lock = new Database(join(resolve(this.path, '..'), LOCK_FILE), { timeout: 200 });
    let db: Db | undefined;
    try {
      lock.pragma('locking_mode = EXCLUSIVE');
      lock.pragma(`user_version = ${process.pid}`);
      db = new Database(this.path, { timeout: 1000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
    } catch (err) {
      db?.close();
      lock.close();
      throw toStorageError(err, this.path);
    }
    const [oldDb, oldLock] = [this.#db, this.#lock];
    this.#db = db;
    this.#lock = lock;
    this.#prepare(db);
    oldDb.close();
    oldLock.close();
  }

  /** Recomputes the hourly rollups from the hour of `fromMinute` on (after minutes older than the last rollup changed). */
  rollupFrom(fromMinute: number): void {
    this.#refuseIfDamaged();
    const fromHour = Math.floor(fromMinute / HOUR_MINUTES);
    this.#db
      .prepare(
        `INSERT INTO slo_hour (slo, hour, good, total)
         SELECT slo, minute / ${HOUR_MINUTES}, sum(good), sum(total) FROM slo_minute WHERE minute >= ? GROUP BY slo, minute / ${HOUR_MINUTES}
         ON CONFLICT (slo, hour) DO UPDATE SET good = excluded.good, total = excluded.total`,
      )
      .run(fromHour * HOUR_MINUTES);
  }

  /** The schema version of the open database. */
  schemaVersion(): number {
    return currentVersion(this.#db);
  }

  /**
   * Runs `PRAGMA quick_check` of the whole file in a child process (integrity-check.ts, a read-only
   * connection, nice 10), so that a file of GBs is checked without holding up the start or the
   * event loop; the outcome goes to onIntegrity. Damage found refuses writes from then on (a write
   * into a damaged b-tree can spread the damage). Once per call; close() stops a check in progress.
   */
  startIntegrityCheck(): void {
    if (this.#closed || this.#checker !== null) return;
    const started = performance.now();
    const child = spawn(process.execPath, [INTEGRITY_CHECK_SCRIPT, this.path], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#checker = child;
    try {
      if (child.pid !== undefined) setPriority(child.pid, 10);
    } catch {
      // Not allowed here: it runs at the daemon's priority.
    }
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', (error) => {
      this.#checker = null;
      this.onIntegrity?.({ state: 'failed', error });
    });
    child.on('close', (code, signal) => {
      if (this.#checker !== child) return;
      this.#checker = null;
      if (this.#closed) return;
      const seconds = (performance.now() - started) / 1000;
      let result: { problems?: string[]; corrupt?: string; error?: string; cpuSeconds?: number } = {};
      try {
        result = JSON.parse(out.trim().split('\n').pop() ?? '') as typeof result;
      } catch {
        const why = signal !== null ? `killed by ${signal}` : `exit code ${String(code)}`;
        this.onIntegrity?.({ state: 'failed', error: new Error(`the integrity check process ended without a result (${why}): ${err.trim().slice(0, 500)}`) });
        return;
      }
      if (result.error !== undefined) {
        this.onIntegrity?.({ state: 'failed', error: new Error(result.error) });
      } else if (result.corrupt !== undefined || (result.problems?.length ?? 0) > 0) {
        const detail = result.corrupt ?? `integrity check: ${result.problems!.join('; ')}`;
        this.#damaged(new StorageCorruptError(this.path, detail), seconds);
      } else {
        let bytes = 0;
        try {
          bytes = statSync(this.path).size;
        } catch {
          // Removed meanwhile: StorageHealth's probe reports that.
        }
        this.onIntegrity?.({ state: 'ok', seconds, cpuSeconds: result.cpuSeconds ?? 0, bytes });
      }
    });
  }

  /** The damage found in the file (full check, or a read or write), or null. */
  get damage(): StorageCorruptError | null {
    return this.#damage;
  }

  #damaged(error: StorageCorruptError, seconds: number | null = null): void {
    if (this.#damage !== null) return;
    this.#damage = error;
    this.onIntegrity?.({ state: 'corrupt', error, seconds });
  }

  #refuseIfDamaged(): void {
    if (this.#damage !== null) throw this.#damage;
  }

  /** A read failed: damage is reported (and answered as no rows when someone listens); anything else is thrown. */
  #readFailed(err: unknown): void {
    if (!isCorruption(err)) throw err;
    this.#damaged(toStorageError(err, this.path) as StorageCorruptError);
    if (this.onIntegrity === null) throw this.#damage;
  }

  /** A write failed: damage is remembered (further writes refused); the error to throw. */
  #writeFailed(err: unknown): unknown {
    if (!isCorruption(err)) return err;
    this.#damaged(toStorageError(err, this.path) as StorageCorruptError);
    return this.#damage;
  }

  /** Checkpoints the WAL and closes. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // The check's read snapshot would hold up the checkpoint below.
    this.#checker?.kill('SIGKILL');
    this.#checker = null;
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.#db.close();
      this.#lock.close();
    }
  }
}

/**
 * The check at open, milliseconds whatever the file's size: the header (read as the connection
 * opens: a file that is not SQLite fails there), the schema, every table but the history ones in
 * full with its indexes (`PRAGMA quick_check(table)`: migrations, SLO and component states, the
 * status page's and heartbeats' tables, all small), and both ends of each history b-tree (every
 * row of the first and last few leaves: where the time index keeps the newest minutes, which the
 * next flush and a restart's reads touch first). Damage in the middle of the history tables is
 * found by the full check after ready (startIntegrityCheck), or by a read that meets it first.
 */
function checkAtOpen(db: Db, path: string): void {
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[];
  for (const table of tables) {
    const quoted = `"${table.replaceAll('"', '""')}"`;
    const history = HISTORY_TABLES.get(table);
    if (history === undefined) {
      const check = db.pragma(`quick_check(${quoted})`, { simple: true });
      if (check !== 'ok') throw new StorageCorruptError(path, `integrity check of ${table}: ${String(check)}`);
      continue;
    }
    // Every cell of the first and last few leaves of the table's b-tree and of its time index.
    for (const order of ['ASC', 'DESC']) {
      db.prepare(`SELECT count(good) FROM (SELECT good FROM ${quoted} ORDER BY slo ${order}, ${history.key} ${order} LIMIT ${END_ROWS})`).get();
      if (history.indexed) db.prepare(`SELECT count(k) FROM (SELECT ${history.key} AS k FROM ${quoted} ORDER BY ${history.key} ${order} LIMIT ${END_ROWS})`).get();
    }
  }
}

function isCorruption(err: unknown): boolean {
  if (err instanceof StorageCorruptError) return true;
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  return code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT');
}

/** Maps SQLite and file-system failures to the StorageError that tells the operator what to do. */
function toStorageError(err: unknown, path: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = String((err as { code?: unknown }).code ?? '');
  const message = (err as Error).message ?? String(err);
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return new StorageCorruptError(path, message, { cause: err });
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return new StorageLockedError(path, { cause: err });
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_PERM' || code === 'SQLITE_FULL') {
    return new StorageUnwritableError(path, message, { cause: err });
  }
  return new StorageError(`storage: cannot open ${path}: ${message}`, 'VIGIL_STORAGE_FAILED', path, { cause: err });
}
