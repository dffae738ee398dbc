// Heartbeat state and outages in SQLite (tables of migration 4, daemon/storage/migrations.ts), on
// a connection of their own beside the SLO engine's and the status store's (WAL). Pings are rare
// (a job pings a few times per run), so every change is written at once, in one transaction.

import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { DB_FILE, SCHEMA_VERSION, StorageSchemaTooNewError, currentVersion, migrate } from '../../daemon/storage/index.js';
import type { MonitorSnapshot } from './monitor.js';

/** An outage opened (the heartbeat went down) or closed (a success), in the order they happened. */
export type OutageChange = { op: 'open'; fromMs: number; reason: string } | { op: 'close'; atMs: number };

/** A change to write: the new snapshot and the outages opened or closed since the last write. */
export interface HeartbeatWrite {
  heartbeat: string;
  component: string;
  snapshot: MonitorSnapshot;
  outages: readonly OutageChange[];
}

/** One outage row: from the missed deadline (or failure) to the next success; open while toMs is null. */
export interface HeartbeatOutage {
  heartbeat: string;
  component: string;
  fromMs: number;
  toMs: number | null;
  reason: string;
}

/** The heartbeat tables. Synchronous (better-sqlite3); main thread only. */
export class HeartbeatStore {
  readonly path: string;
  readonly #db: Db;
  readonly #save: Statement<[string, string, number]>;
  readonly #open: Statement<[string, string, number, string]>;
  readonly #close: Statement<[number, string]>;
  #closed = false;

  private constructor(path: string, db: Db) {
    this.path = path;
    this.#db = db;
    this.#save = db.prepare('INSERT INTO heartbeat_state (heartbeat, state, updated_ms) VALUES (?, ?, ?) ON CONFLICT (heartbeat) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms');
    this.#open = db.prepare('INSERT OR IGNORE INTO heartbeat_outage (heartbeat, component, from_ms, to_ms, reason) VALUES (?, ?, ?, NULL, ?)');
    this.#close = db.prepare('UPDATE heartbeat_outage SET to_ms = ? WHERE heartbeat = ? AND to_ms IS NULL');
  }

  /** Opens `dataDir/vigil.db` and brings the schema up to date. */
  static open(dataDir: string, now: () => number = Date.now): HeartbeatStore {
    const path = join(resolve(dataDir), DB_FILE);
    const db = new Database(path, { timeout: 1000 });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      const found = currentVersion(db);
      if (found > SCHEMA_VERSION) throw new StorageSchemaTooNewError(path, found, SCHEMA_VERSION);
      migrate(db, SCHEMA_VERSION, now);
      return new HeartbeatStore(path, db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Every saved snapshot, by heartbeat id; an unreadable one is left out (the heartbeat starts new). */
  load(): Map<string, MonitorSnapshot> {
    const out = new Map<string, MonitorSnapshot>();
    for (const row of this.#db.prepare('SELECT heartbeat, state FROM heartbeat_state').all() as { heartbeat: string; state: string }[]) {
      try {
        out.set(row.heartbeat, JSON.parse(row.state) as MonitorSnapshot);
      } catch {
        // Written by this module as JSON; a row that does not parse is treated as no history.
      }
    }
    return out;
  }

  /** Writes the changes in one transaction. */
  write(changes: readonly HeartbeatWrite[], nowMs: number): void {
    if (changes.length === 0) return;
    this.#db.transaction(() => {
      for (const c of changes) {
        for (const o of c.outages) {
          if (o.op === 'open') this.#open.run(c.heartbeat, c.component, o.fromMs, o.reason);
          else this.#close.run(o.atMs, c.heartbeat);
        }
        this.#save.run(c.heartbeat, JSON.stringify(c.snapshot), nowMs);
      }
    })();
  }

  /** Outages overlapping [fromMs, toMs), oldest first. */
  outages(fromMs: number, toMs: number): HeartbeatOutage[] {
    return readOutages(this.#db, fromMs, toMs);
  }

  /** Closes the connection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

/** Outages overlapping [fromMs, toMs) from any connection to vigil.db (the report opens it read-only). */
export function readOutages(db: Db, fromMs: number, toMs: number): HeartbeatOutage[] {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'heartbeat_outage'").get();
  if (exists === undefined) return [];
  const rows = db
    .prepare('SELECT heartbeat, component, from_ms, to_ms, reason FROM heartbeat_outage WHERE from_ms < ? AND (to_ms IS NULL OR to_ms > ?) ORDER BY from_ms')
    .all(toMs, fromMs) as { heartbeat: string; component: string; from_ms: number; to_ms: number | null; reason: string }[];
  return rows.map((r) => ({ heartbeat: r.heartbeat, component: r.component, fromMs: r.from_ms, toMs: r.to_ms, reason: r.reason }));
}
