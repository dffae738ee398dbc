// Incidents, scheduled maintenances, their updates and component overrides, kept in SQLite
// (tables of migration 3, daemon/storage/migrations.ts) and mirrored in memory. Every change is
// one transaction, then announced to onChange listeners (the page's live feed, webhooks).

import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { DB_FILE, SCHEMA_VERSION, StorageSchemaTooNewError, StorageUnavailableError, classifyStorageError, currentVersion, migrate } from '../../daemon/storage/index.js';

/** A component's status as Statuspage names it. */
export type ComponentStatus = 'operational' | 'degraded_performance' | 'partial_outage' | 'major_outage' | 'under_maintenance';
export const COMPONENT_STATUSES: readonly ComponentStatus[] = ['operational', 'degraded_performance', 'partial_outage', 'major_outage', 'under_maintenance'];

/** Incident impact (Statuspage). */
export type IncidentImpact = 'none' | 'minor' | 'major' | 'critical';
export const INCIDENT_IMPACTS: readonly IncidentImpact[] = ['none', 'minor', 'major', 'critical'];

/** Incident lifecycle (Statuspage). */
export type IncidentStatus = 'investigating' | 'identified' | 'monitoring' | 'resolved';
export const INCIDENT_STATUSES: readonly IncidentStatus[] = ['investigating', 'identified', 'monitoring', 'resolved'];

/** Maintenance lifecycle (Statuspage). */
export type MaintenanceStatus = 'scheduled' | 'in_progress' | 'verifying' | 'completed';
export const MAINTENANCE_STATUSES: readonly MaintenanceStatus[] = ['scheduled', 'in_progress', 'verifying', 'completed'];

/** A component whose status an update changed. */
export interface AffectedComponent {
  code: string;
  old_status: ComponentStatus;
  new_status: ComponentStatus;
}

/** One posted update of an incident or maintenance. */
export interface EventUpdate {
  id: string;
  /** The incident's or maintenance's id. */
  eventId: string;
  status: IncidentStatus | MaintenanceStatus;
  body: string;
  affected: AffectedComponent[];
  createdMs: number;
}

/** An incident with its updates (newest first). */
export interface Incident {
  id: string;
  name: string;
  status: IncidentStatus;
  impact: IncidentImpact;
  /** Affected components and the status this incident gives each. */
  components: Record<string, ComponentStatus>;
  createdMs: number;
  updatedMs: number;
  monitoringMs: number | null;
  resolvedMs: number | null;
  updates: EventUpdate[];
  /** A draft is shown to nobody but the admin API until published (automatic incidents with publish: false). */
  draft: boolean;
  /** The component an automatic incident was opened for; null for incidents opened by hand. */
  autoComponent: string | null;
}

/** Input of editDraft; absent fields keep their value. */
export interface DraftEdit {
  name?: string;
  impact?: IncidentImpact;
  /** Replaces the text of the first update. */
  message?: string;
  components?: Record<string, ComponentStatus>;
}

/** A scheduled maintenance with its updates (newest first). */
export interface Maintenance {
  id: string;
  name: string;
  /** Set by an operator; `auto` follows the schedule. */
  state: 'auto' | 'in_progress' | 'verifying' | 'completed';
  components: string[];
  scheduledForMs: number;
  scheduledUntilMs: number;
  startedMs: number | null;
  completedMs: number | null;
  createdMs: number;
  updatedMs: number;
  updates: EventUpdate[];
}

/** A component status set by an operator, shown instead of the computed one. */
export interface ComponentOverride {
  component: string;
  status: ComponentStatus;
  setMs: number;
}

/** What changed; listeners get it after the change is committed. */
export type StatusChange =
  | { kind: 'incident.created' | 'incident.updated'; atMs: number; incident: Incident }
  | { kind: 'maintenance.created' | 'maintenance.updated'; atMs: number; maintenance: Maintenance }
  | { kind: 'component.override_set'; atMs: number; override: ComponentOverride }
  | { kind: 'component.override_cleared'; atMs: number; component: string }
  /** Emitted by the exporter (not the store) when a component's shown status changes. */
  | { kind: 'component.status_changed'; atMs: number; component: string; oldStatus: string; newStatus: string };

/** A half-open interval [startMs, endMs) during which components were under maintenance. */
export interface MaintenanceWindow {
  maintenanceId: string;
  startMs: number;
  endMs: number;
  components: string[];
}

/** Store settings. */
export interface StatusStoreOptions {
  dataDir: string;
  /** Read-only access for another process (vigil report) while vigild runs. */
  readOnly?: boolean;
  now?: () => number;
}

/** Input of createIncident. */
export interface NewIncident {
  name: string;
  impact: IncidentImpact;
  status: IncidentStatus;
  message: string;
  components: Record<string, ComponentStatus>;
}

/** Input of addIncidentUpdate; absent fields keep their value. */
export interface IncidentUpdateInput {
  status?: IncidentStatus;
  message: string;
  components?: Record<string, ComponentStatus>;
  impact?: IncidentImpact;
}

/** Input of createMaintenance. */
export interface NewMaintenance {
  name: string;
  scheduledForMs: number;
  scheduledUntilMs: number;
  components: string[];
  message: string;
}

/** Input of updateMaintenance; absent fields keep their value. */
export interface MaintenanceChange {
  name?: string;
  scheduledForMs?: number;
  scheduledUntilMs?: number;
  components?: string[];
  status?: MaintenanceStatus;
  message?: string;
}

/** A change listener; throwing does not undo the change (the error is reported to `onListenerError`). */
export type StatusListener = (change: StatusChange) => void;

/** Statuspage-style 12-character ids. */
function newId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(12);
  let id = '';
  for (const b of bytes) id += alphabet[b % 36];
  return id;
}

type IncidentRow = {
  id: string;
  name: string;
  status: string;
  impact: string;
  components: string;
  created_ms: number;
  updated_ms: number;
  monitoring_ms: number | null;
  resolved_ms: number | null;
  draft: number;
  auto_component: string | null;
};
type MaintenanceRow = {
  id: string;
  name: string;
  state: string;
  components: string;
  scheduled_for_ms: number;
  scheduled_until_ms: number;
  started_ms: number | null;
  completed_ms: number | null;
  created_ms: number;
  updated_ms: number;
};
type UpdateRow = { id: string; event: string; status: string; body: string; components: string; created_ms: number };

/** The status store. Synchronous (better-sqlite3); main thread only. */
export class StatusStore {
  readonly path: string;
  // Not readonly: reopen() switches to the restored file after the data dir was removed.
  #db: Db;
  readonly #now: () => number;
  readonly #readOnly: boolean;
  readonly #incidents = new Map<string, Incident>();
  readonly #maintenances = new Map<string, Maintenance>();
  readonly #overrides = new Map<string, ComponentOverride>();
  readonly #listeners = new Set<StatusListener>();
  #closed = false;
  /** Told about a listener that threw (the daemon logs it). */
  onListenerError: (err: unknown) => void = () => {};
  /**
   * Told about every write: null when it committed, else the error (the daemon's StorageHealth
   * counts and logs it, and may answer the fault it found: disk_full, read_only, removed, io_error).
   */
  onWrite: (err: unknown) => string | void = () => {};

  private constructor(path: string, db: Db, options: StatusStoreOptions) {
    this.path = path;
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#readOnly = options.readOnly === true;
    this.#load();
  }

  /**
   * Opens `dataDir/vigil.db` on its own connection (WAL lets it sit beside the SLO engine's) and
   * brings the schema up to date unless read-only.
   */
  static open(options: StatusStoreOptions): StatusStore {
    const path = join(resolve(options.dataDir), DB_FILE);
    const db = new Database(path, { timeout: 1000, readonly: options.readOnly === true, fileMustExist: options.readOnly === true });
    try {
      if (options.readOnly !== true) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
        const found = currentVersion(db);
        if (found > SCHEMA_VERSION) throw new StorageSchemaTooNewError(path, found, SCHEMA_VERSION);
        migrate(db, SCHEMA_VERSION, options.now);
      }
      return new StatusStore(path, db, options);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  #load(): void {
    const updates = new Map<string, EventUpdate[]>();
    for (const r of this.#db.prepare('SELECT id, event, status, body, components, created_ms FROM status_update ORDER BY created_ms DESC, rowid DESC').all() as UpdateRow[]) {
      const list = updates.get(r.event) ?? [];
      list.push(toUpdate(r));
      updates.set(r.event, list);
    }
    for (const r of this.#db.prepare('SELECT * FROM status_incident').all() as IncidentRow[]) {
      this.#incidents.set(r.id, toIncident(r, updates.get(r.id) ?? []));
    }
    for (const r of this.#db.prepare('SELECT * FROM status_maintenance').all() as MaintenanceRow[]) {
      this.#maintenances.set(r.id, toMaintenance(r, updates.get(r.id) ?? []));
    }
    for (const r of this.#db.prepare('SELECT component, status, set_ms FROM status_component_override').all() as { component: string; status: string; set_ms: number }[]) {
      this.#overrides.set(r.component, { component: r.component, status: r.status as ComponentStatus, setMs: r.set_ms });
    }
  }

  /** Subscribes to committed changes; returns the unsubscribe function. */
  onChange(listener: StatusListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells every listener; used by the store and by the exporter for component.status_changed. */
  emit(change: StatusChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  /** Every published incident, newest first (drafts are left out: this is what the public sees). */
  incidents(): Incident[] {
    return [...this.#incidents.values()].filter((i) => !i.draft).sort((a, b) => b.createdMs - a.createdMs);
  }

  /** Draft incidents, newest first (admin API only). */
  drafts(): Incident[] {
    return [...this.#incidents.values()].filter((i) => i.draft).sort((a, b) => b.createdMs - a.createdMs);
  }

  /** Unresolved incidents naming `component`, drafts included. */
  openIncidentsFor(component: string): Incident[] {
    return [...this.#incidents.values()].filter((i) => i.status !== 'resolved' && component in i.components);
  }

  /** One incident (draft or published), or undefined. */
  incident(id: string): Incident | undefined {
    return this.#incidents.get(id);
  }

  /** Every maintenance, by scheduled start, latest first. */
  maintenances(): Maintenance[] {
    return [...this.#maintenances.values()].sort((a, b) => b.scheduledForMs - a.scheduledForMs);
  }

  /** One maintenance, or undefined. */
  maintenance(id: string): Maintenance | undefined {
    return this.#maintenances.get(id);
  }

  /** Component overrides in force. */
  overrides(): ReadonlyMap<string, ComponentOverride> {
    return this.#overrides;
  }

  /**
   * Opens an incident with its first update. A draft is announced to nobody (no live feed, no
   * webhook) until publishIncident(); `autoComponent` marks one opened by automatic incidents.
   */
  createIncident(input: NewIncident, options: { draft?: boolean; autoComponent?: string } = {}): Incident {
    const now = this.#now();
    const incident: Incident = {
      id: newId(),
      name: input.name,
      status: input.status,
      impact: input.impact,
      components: { ...input.components },
      createdMs: now,
      updatedMs: now,
      monitoringMs: input.status === 'monitoring' ? now : null,
      resolvedMs: input.status === 'resolved' ? now : null,
      updates: [],
      draft: options.draft === true,
      autoComponent: options.autoComponent ?? null,
    };
    const affected = Object.entries(input.components).map(([code, status]) => ({ code, old_status: 'operational' as ComponentStatus, new_status: status }));
    const update: EventUpdate = { id: newId(), eventId: incident.id, status: input.status, body: input.message, affected, createdMs: now };
    incident.updates = [update];
    this.#tx(() => {
      this.#saveIncident(incident);
      this.#saveUpdate(update);
    });
    this.#incidents.set(incident.id, incident);
    if (!incident.draft) this.emit({ kind: 'incident.created', atMs: now, incident });
    return incident;
  }

  /** Makes a draft public: from now on it is shown, and announced as created (feeds, webhooks). Undefined when no such draft. */
  publishIncident(id: string): Incident | undefined {
    const old = this.#incidents.get(id);
    if (old === undefined || !old.draft) return undefined;
    const now = this.#now();
    const incident: Incident = { ...old, draft: false, updatedMs: now };
    this.#tx(() => this.#saveIncident(incident));
    this.#incidents.set(id, incident);
    this.emit({ kind: 'incident.created', atMs: now, incident });
    return incident;
  }

  /** Edits a draft before it is published: name, impact, components, the first update's text. Undefined when no such draft. */
  editDraft(id: string, edit: DraftEdit): Incident | undefined {
    const old = this.#incidents.get(id);
    if (old === undefined || !old.draft) return undefined;
    const now = this.#now();
    const components = edit.components ?? old.components;
    const first = old.updates[old.updates.length - 1];
    const updates = [...old.updates];
    if (first !== undefined && (edit.message !== undefined || edit.components !== undefined)) {
      const affected = Object.entries(components).map(([code, status]) => ({ code, old_status: 'operational' as ComponentStatus, new_status: status }));
      updates[updates.length - 1] = { ...first, body: edit.message ?? first.body, affected };
    }
    const incident: Incident = { ...old, name: edit.name ?? old.name, impact: edit.impact ?? old.impact, components: { ...components }, updatedMs: now, updates };
    this.#tx(() => {
      this.#saveIncident(incident);
      if (first !== undefined) this.#db.prepare('UPDATE status_update SET body = ?, components = ? WHERE id = ?').run(updates[updates.length - 1]!.body, JSON.stringify(updates[updates.length - 1]!.affected), first.id);
    });
    this.#incidents.set(id, incident);
    return incident;
  }

  /** Deletes a draft and its updates. False when no such draft (a published incident is never deleted). */
  discardDraft(id: string): boolean {
    const old = this.#incidents.get(id);
    if (old === undefined || !old.draft) return false;
    this.#tx(() => {
      this.#db.prepare('DELETE FROM status_update WHERE event = ?').run(id);
      this.#db.prepare('DELETE FROM status_incident WHERE id = ?').run(id);
    });
    this.#incidents.delete(id);
    return true;
  }

  /** Posts an update: new status, message, component statuses. Undefined when the incident does not exist. */
  addIncidentUpdate(id: string, input: IncidentUpdateInput): Incident | undefined {
    const old = this.#incidents.get(id);
    if (old === undefined) return undefined;
    const now = this.#now();
    const status = input.status ?? old.status;
    const components = { ...old.components, ...(input.components ?? {}) };
    const affected: AffectedComponent[] = [];
    for (const [code, next] of Object.entries(input.components ?? {})) {
      const prev = old.components[code] ?? 'operational';
      if (prev !== next) affected.push({ code, old_status: prev, new_status: next });
    }
    const update: EventUpdate = { id: newId(), eventId: id, status, body: input.message, affected, createdMs: now };
    const incident: Incident = {
      ...old,
      status,
      impact: input.impact ?? old.impact,
      components,
      updatedMs: now,
      monitoringMs: status === 'monitoring' && old.monitoringMs === null ? now : old.monitoringMs,
      resolvedMs: status === 'resolved' ? (old.resolvedMs ?? now) : null,
      updates: [update, ...old.updates],
    };
    this.#tx(() => {
      this.#saveIncident(incident);
      this.#saveUpdate(update);
    });
    this.#incidents.set(id, incident);
    if (!incident.draft) this.emit({ kind: 'incident.updated', atMs: now, incident });
    return incident;
  }

  /** Schedules a maintenance (its first update says `scheduled`, or `in_progress` if it has begun). */
  createMaintenance(input: NewMaintenance): Maintenance {
    const now = this.#now();
    const m: Maintenance = {
      id: newId(),
      name: input.name,
      state: 'auto',
      components: [...input.components],
      scheduledForMs: input.scheduledForMs,
      scheduledUntilMs: input.scheduledUntilMs,
      startedMs: null,
      completedMs: null,
      createdMs: now,
      updatedMs: now,
      updates: [],
    };
    const update: EventUpdate = { id: newId(), eventId: m.id, status: maintenanceStatus(m, now), body: input.message, affected: [], createdMs: now };
    m.updates = [update];
    this.#tx(() => {
      this.#saveMaintenance(m);
      this.#saveUpdate(update);
    });
    this.#maintenances.set(m.id, m);
    this.emit({ kind: 'maintenance.created', atMs: now, maintenance: m });
    return m;
  }

  /**
   * Changes a maintenance: reschedule, rename, set its status (`completed` ends it now, `in_progress`
   * starts it early), post a message. Undefined when it does not exist.
   */
  updateMaintenance(id: string, change: MaintenanceChange): Maintenance | undefined {
    const old = this.#maintenances.get(id);
    if (old === undefined) return undefined;
    const now = this.#now();
    const m: Maintenance = { ...old, components: change.components ?? old.components, updatedMs: now };
    if (change.name !== undefined) m.name = change.name;
    if (change.scheduledForMs !== undefined) m.scheduledForMs = change.scheduledForMs;
    if (change.scheduledUntilMs !== undefined) m.scheduledUntilMs = change.scheduledUntilMs;
    if (change.status !== undefined) {
      if (change.status === 'scheduled') {
        m.state = 'auto';
        m.startedMs = null;
        m.completedMs = null;
      } else {
        m.state = change.status;
        if (m.startedMs === null) m.startedMs = Math.min(now, m.scheduledForMs);
        m.completedMs = change.status === 'completed' ? (old.completedMs ?? now) : null;
      }
    }
    const updates = [...old.updates];
    if (change.message !== undefined || change.status !== undefined) {
      const update: EventUpdate = { id: newId(), eventId: id, status: maintenanceStatus(m, now), body: change.message ?? '', affected: [], createdMs: now };
      updates.unshift(update);
      this.#tx(() => {
        this.#saveMaintenance(m);
        this.#saveUpdate(update);
      });
    } else {
      this.#tx(() => this.#saveMaintenance(m));
    }
    m.updates = updates;
    this.#maintenances.set(id, m);
    this.emit({ kind: 'maintenance.updated', atMs: now, maintenance: m });
    return m;
  }

  /** Sets (status) or clears (null) a component's override. */
  setOverride(component: string, status: ComponentStatus | null): ComponentOverride | null {
    const now = this.#now();
    if (status === null) {
      // Saved first: a refused write (full disk) leaves the override in force, in memory as on disk.
      this.#tx(() => this.#db.prepare('DELETE FROM status_component_override WHERE component = ?').run(component));
      const had = this.#overrides.delete(component);
      if (had) this.emit({ kind: 'component.override_cleared', atMs: now, component });
      return null;
    }
    const override: ComponentOverride = { component, status, setMs: now };
    this.#tx(() =>
      this.#db
        .prepare('INSERT INTO status_component_override (component, status, set_ms) VALUES (?, ?, ?) ON CONFLICT (component) DO UPDATE SET status = excluded.status, set_ms = excluded.set_ms')
        .run(component, status, now),
    );
    this.#overrides.set(component, override);
    this.emit({ kind: 'component.override_set', atMs: now, override });
    return override;
  }

  /**
   * Maintenance windows overlapping [fromMs, toMs), clipped to it, for one component or all:
   * the SLO and report layers exclude these from uptime.
   */
  maintenanceWindows(fromMs: number, toMs: number, component?: string): MaintenanceWindow[] {
    const now = this.#now();
    const out: MaintenanceWindow[] = [];
    for (const m of this.#maintenances.values()) {
      if (component !== undefined && !m.components.includes(component)) continue;
      const span = maintenanceSpan(m, now);
      if (span === null) continue;
      const startMs = Math.max(fromMs, span.startMs);
      const endMs = Math.min(toMs, span.endMs);
      if (startMs < endMs) out.push({ maintenanceId: m.id, startMs, endMs, components: [...m.components] });
    }
    return out.sort((a, b) => a.startMs - b.startMs);
  }

  /**
   * Epoch minutes (UTC, floor(ms / 60000)) in [fromMs, toMs) during which `component` was under
   * maintenance for any part of the minute.
   */
  maintenanceMinutes(component: string, fromMs: number, toMs: number): Set<number> {
    const minutes = new Set<number>();
    for (const w of this.maintenanceWindows(fromMs, toMs, component)) {
      for (let m = Math.floor(w.startMs / 60_000); m * 60_000 < w.endMs; m++) minutes.add(m);
    }
    return minutes;
  }

  /** Whether `component` is under an active maintenance at `atMs`. */
  underMaintenance(component: string, atMs = this.#now()): boolean {
    // A maintenance in progress has held its components up to now; asking about now itself needs the next ms.
    const asOf = Math.max(this.#now(), atMs + 1);
    for (const m of this.#maintenances.values()) {
      if (!m.components.includes(component)) continue;
      const span = maintenanceSpan(m, asOf);
      if (span !== null && span.startMs <= atMs && atMs < span.endMs) return true;
    }
    return false;
  }

  /** Opens `path` again (after the SLO storage restored the removed file there) and closes the old connection. */
  reopen(): void {
    if (this.#closed || this.#readOnly) return;
    const db = new Database(this.path, { timeout: 1000, fileMustExist: true });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    const old = this.#db;
    this.#db = db;
    old.close();
  }

  /** Closes the connection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    this.#db.close();
  }

  #tx(work: () => void): void {
    if (this.#readOnly) throw new Error('the status store was opened read-only');
    try {
      this.#db.transaction(work)();
    } catch (err) {
      // A full, read-only or removed data dir: the change is not applied in memory either (callers
      // update their maps after #tx), and the admin API answers 503 instead of 201.
      const fault = this.onWrite(err);
      const code = String((err as { code?: unknown }).code ?? '');
      if (code.startsWith('SQLITE_') || /^E[A-Z]+$/.test(code)) throw new StorageUnavailableError(this.path, fault ?? classifyStorageError(err), `${code}: ${(err as Error).message}`, { cause: err });
      throw err;
    }
    this.onWrite(null);
  }

  #saveIncident(i: Incident): void {
    this.#db
      .prepare(
        `INSERT INTO status_incident (id, name, status, impact, components, created_ms, updated_ms, monitoring_ms, resolved_ms, draft, auto_component) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status, impact = excluded.impact, components = excluded.components,
           updated_ms = excluded.updated_ms, monitoring_ms = excluded.monitoring_ms, resolved_ms = excluded.resolved_ms, draft = excluded.draft`,
      )
      .run(i.id, i.name, i.status, i.impact, JSON.stringify(i.components), i.createdMs, i.updatedMs, i.monitoringMs, i.resolvedMs, i.draft ? 1 : 0, i.autoComponent);
  }

  #saveMaintenance(m: Maintenance): void {
    this.#db
      .prepare(
        `INSERT INTO status_maintenance (id, name, state, components, scheduled_for_ms, scheduled_until_ms, started_ms, completed_ms, created_ms, updated_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, state = excluded.state, components = excluded.components,
           scheduled_for_ms = excluded.scheduled_for_ms, scheduled_until_ms = excluded.scheduled_until_ms, started_ms = excluded.started_ms,
           completed_ms = excluded.completed_ms, updated_ms = excluded.updated_ms`,
      )
      .run(m.id, m.name, m.state, JSON.stringify(m.components), m.scheduledForMs, m.scheduledUntilMs, m.startedMs, m.completedMs, m.createdMs, m.updatedMs);
  }

  #saveUpdate(u: EventUpdate): void {
    this.#db
      .prepare('INSERT INTO status_update (id, event, status, body, components, created_ms) VALUES (?, ?, ?, ?, ?, ?)')
      .run(u.id, u.eventId, u.status, u.body, JSON.stringify(u.affected), u.createdMs);
  }
}

/** A maintenance's status at `nowMs`: an operator's choice, else from its schedule. */
export function maintenanceStatus(m: Maintenance, nowMs: number): MaintenanceStatus {
  if (m.state === 'completed') return 'completed';
  if (m.state === 'in_progress' || m.state === 'verifying') return nowMs >= m.scheduledUntilMs ? 'completed' : m.state;
  if (nowMs < m.scheduledForMs) return 'scheduled';
  return nowMs < m.scheduledUntilMs ? 'in_progress' : 'completed';
}

/** When a maintenance actually held its components (so far), or null if it has not begun. */
export function maintenanceSpan(m: Maintenance, nowMs: number): { startMs: number; endMs: number } | null {
  const startMs = m.startedMs ?? m.scheduledForMs;
  if (startMs > nowMs) return null;
  const endMs = Math.min(m.completedMs ?? m.scheduledUntilMs, m.scheduledUntilMs, nowMs);
  return endMs > startMs ? { startMs, endMs } : null;
}

function toUpdate(r: UpdateRow): EventUpdate {
  return { id: r.id, eventId: r.event, status: r.status as EventUpdate['status'], body: r.body, affected: JSON.parse(r.components) as AffectedComponent[], createdMs: r.created_ms };
}

function toIncident(r: IncidentRow, updates: EventUpdate[]): Incident {
  return {
    id: r.id,
    name: r.name,
    status: r.status as IncidentStatus,
    impact: r.impact as IncidentImpact,
    components: JSON.parse(r.components) as Record<string, ComponentStatus>,
    createdMs: r.created_ms,
    updatedMs: r.updated_ms,
    monitoringMs: r.monitoring_ms,
    resolvedMs: r.resolved_ms,
    updates,
    // Databases of builds before migration 5 have neither column (read-only readers do not migrate).
    draft: r.draft === 1,
    autoComponent: r.auto_component ?? null,
  };
}

function toMaintenance(r: MaintenanceRow, updates: EventUpdate[]): Maintenance {
  return {
    id: r.id,
    name: r.name,
    state: r.state as Maintenance['state'],
    components: JSON.parse(r.components) as string[],
    scheduledForMs: r.scheduled_for_ms,
    scheduledUntilMs: r.scheduled_until_ms,
    startedMs: r.started_ms,
    completedMs: r.completed_ms,
    createdMs: r.created_ms,
    updatedMs: r.updated_ms,
    updates,
  };
}
