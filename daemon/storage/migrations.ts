// Schema migrations. Each is a numbered function run once, in order, inside one transaction with
// its row in schema_migrations; never edit a released migration, add the next one.

import type { Database } from 'better-sqlite3';

/** One step of the schema; `version` is the schema version after it. */
export interface Migration {
  version: number;
  description: string;
  up(db: Database): void;
}

/** Every migration, ascending. The last version is the schema this build writes. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'per-minute and per-hour good/total rollups per SLO',
    up(db) {
      // Epoch minutes and hours (UTC) as integer keys; WITHOUT ROWID keeps each table one b-tree.
      db.exec(`
        CREATE TABLE slo_minute (
          slo TEXT NOT NULL, minute INTEGER NOT NULL, good REAL NOT NULL, total REAL NOT NULL,
          PRIMARY KEY (slo, minute)
        ) WITHOUT ROWID;
        CREATE TABLE slo_hour (
          slo TEXT NOT NULL, hour INTEGER NOT NULL, good REAL NOT NULL, total REAL NOT NULL,
          PRIMARY KEY (slo, hour)
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 2,
    description: 'SLO and component state (status, alerts, since when)',
    up(db) {
      db.exec(`
        CREATE TABLE slo_state (
          slo TEXT PRIMARY KEY, component TEXT NOT NULL, status TEXT NOT NULL,
          page INTEGER NOT NULL, ticket INTEGER NOT NULL, since_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL
        );
        CREATE TABLE component_state (
          component TEXT PRIMARY KEY, status TEXT NOT NULL, since_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL
        );
      `);
    },
  },
  {
    version: 3,
    description: 'status page: incidents, maintenances, their updates, component overrides',
    up(db) {
      // Owned by exporters/status/store.ts. Component maps and lists are JSON text; times are epoch ms.
      db.exec(`
        CREATE TABLE status_incident (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, impact TEXT NOT NULL,
          components TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
          monitoring_ms INTEGER, resolved_ms INTEGER
        );
        CREATE INDEX status_incident_created ON status_incident (created_ms);
        CREATE TABLE status_maintenance (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL, components TEXT NOT NULL,
          scheduled_for_ms INTEGER NOT NULL, scheduled_until_ms INTEGER NOT NULL,
          started_ms INTEGER, completed_ms INTEGER, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL
        );
        CREATE INDEX status_maintenance_window ON status_maintenance (scheduled_for_ms);
        CREATE TABLE status_update (
          id TEXT PRIMARY KEY, event TEXT NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL,
          components TEXT NOT NULL, created_ms INTEGER NOT NULL
        );
        CREATE INDEX status_update_event ON status_update (event, created_ms);
        CREATE TABLE status_component_override (
          component TEXT PRIMARY KEY, status TEXT NOT NULL, set_ms INTEGER NOT NULL
        );
      `);
    },
  },
  {
    version: 4,
    description: 'heartbeats: state per heartbeat, outages from a missed deadline to the next success',
    up(db) {
      // Owned by collectors/heartbeats/store.ts. The state is JSON (schedule position, open slots,
      // runs in progress) so that a restart of vigild in the middle of a run keeps the run.
      db.exec(`
        CREATE TABLE heartbeat_state (
          heartbeat TEXT PRIMARY KEY, state TEXT NOT NULL, updated_ms INTEGER NOT NULL
        );
        CREATE TABLE heartbeat_outage (
          heartbeat TEXT NOT NULL, component TEXT NOT NULL, from_ms INTEGER NOT NULL, to_ms INTEGER,
          reason TEXT NOT NULL,
          PRIMARY KEY (heartbeat, from_ms)
        );
        CREATE INDEX heartbeat_outage_component ON heartbeat_outage (component, from_ms);
      `);
    },
  },
  {
    version: 5,
    description: 'status page: draft incidents and the component an automatic incident was opened for',
    up(db) {
      // A draft is invisible to the public page, API, feeds and webhooks until published (docs/status.md).
      db.exec(`
        ALTER TABLE status_incident ADD COLUMN draft INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE status_incident ADD COLUMN auto_component TEXT;
      `);
    },
  },
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The version recorded in `db` (0 for a new database). Creates schema_migrations if absent. */
export function currentVersion(db: Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_ms INTEGER NOT NULL)');
  const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

/** Applies the migrations above `currentVersion` up to `target`; returns the versions applied. */
export function migrate(db: Database, target = SCHEMA_VERSION, now: () => number = Date.now): number[] {
  const applied: number[] = [];
  currentVersion(db);
  const record = db.prepare('INSERT INTO schema_migrations (version, description, applied_ms) VALUES (?, ?, ?)');
  for (const m of MIGRATIONS) {
    if (m.version > target) break;
    if (m.version <= currentVersion(db)) continue;
    db.transaction(() => {
      m.up(db);
      record.run(m.version, m.description, now());
    })();
    applied.push(m.version);
  }
  return applied;
}
