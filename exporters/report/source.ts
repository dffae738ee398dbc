// Reads what the report needs from the data directory, read-only: SLO minute and hour rollups
// (daemon/storage tables) and incidents and maintenances (exporters/status StatusStore, read-only).
// Never takes vigil.db.lock and never migrates, so it runs beside a live vigild (WAL readers).

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { DB_FILE } from '../../daemon/storage/index.js';
import { StatusStore } from '../status/store.js';
import type { Incident, Maintenance } from '../status/store.js';
import { maintenanceSpan } from '../status/store.js';
import type { IncidentPeriod, MinuteSeries, OutagePeriod, ReportIncidentInput, ReportMaintenanceInput, StoredMinutes } from './compute.js';
import { readOutages } from '../../collectors/heartbeats/index.js';
import { ReportDataError } from './errors.js';

const HOUR_MINUTES = 60;
const DAY_MINUTES = 1440;

/** What the report reads, whoever provides it (the CLI's files, or the running daemon's store). */
export interface ReportSource {
  /** Per-minute counts of an SLO over [fromMinute, toMinute). */
  minutes(slo: string, fromMinute: number, toMinute: number): MinuteSeries;
  /** The last minute before `beforeMinute` (and at or after `notBefore`) in which the SLO had an event. */
  lastEventBefore(slo: string, beforeMinute: number, notBefore: number): number | null;
  /**
   * The SLO's stored minutes of [fromMinute, toMinute) for classifyStored, or null when minutes()
   * would spread hourly rollups there (minutes already pruned) or the database has no daily rollups.
   */
  stored?(slo: string, fromMinute: number, toMinute: number): StoredMinutes | null;
  incidents(): ReportIncidentInput[];
  maintenances(nowMs: number): ReportMaintenanceInput[];
  /** Heartbeat outages overlapping [fromMs, toMs) (collectors/heartbeats). */
  outages(fromMs: number, toMs: number): OutagePeriod[];
  close(): void;
}

/** Opens `dataDir/vigil.db` read-only. Throws ReportDataError when there is no database. */
export function openReportSource(dataDir: string, options: { status?: StatusStore } = {}): ReportSource {
  const path = join(resolve(dataDir), DB_FILE);
  if (!existsSync(path)) throw new ReportDataError(path, 'no database: run vigil start with this --data-dir (or storage.data_dir) first');
  let db: Db;
  try {
    // Read-only: no lock file, no migration; WAL lets this reader see every committed flush.
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 2000 });
    db.pragma('query_only = ON');
  } catch (err) {
    throw new ReportDataError(path, (err as Error).message, { cause: err });
  }
  const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
  if (!tables.has('slo_minute') || !tables.has('slo_hour')) {
    db.close();
    throw new ReportDataError(path, 'not a Vigil database (no slo_minute table)');
  }
  let status = options.status ?? null;
  const ownStatus = status === null && tables.has('status_incident');
  if (ownStatus) status = StatusStore.open({ dataDir, readOnly: true });
  return new SqliteReportSource(db, status, ownStatus, tables.has('slo_day'));
}

class SqliteReportSource implements ReportSource {
  readonly #db: Db;
  readonly #status: StatusStore | null;
  readonly #ownStatus: boolean;

  constructor(db: Db, status: StatusStore | null, ownStatus: boolean, hasDays: boolean) {
    this.#db = db;
    this.#status = status;
    this.#ownStatus = ownStatus;
    this.#hasDays = hasDays;
  }

  readonly #hasDays: boolean;
  #seek: { first: Statement; last: Statement; bad: Statement; days: Statement; hours: Statement; minutes: Statement; hoursWithEvents: Statement } | undefined;

  stored(slo: string, fromMinute: number, toMinute: number): StoredMinutes | null {
    if (!this.#hasDays) return null;
    const minuteFrom = Math.max(fromMinute, this.#oldestMinute() ?? toMinute);
    const q = (this.#seek ??= {
      first: this.#db.prepare('SELECT minute FROM slo_minute WHERE slo = ? AND minute >= ? AND minute < ? AND total > 0 ORDER BY minute LIMIT 1').pluck(),
      last: this.#db.prepare('SELECT minute FROM slo_minute WHERE slo = ? AND minute >= ? AND minute < ? AND total > 0 ORDER BY minute DESC LIMIT 1').pluck(),
      // The scan stays inside SQLite: only the rare minutes that can be bad reach JavaScript.
      bad: this.#db.prepare('SELECT minute, good, total FROM slo_minute WHERE slo = ? AND minute >= ? AND minute < ? AND total > good AND (total - good) / total >= ? ORDER BY minute').raw(true),
      days: this.#db.prepare('SELECT coalesce(sum(good), 0), coalesce(sum(total), 0) FROM slo_day WHERE slo = ? AND day >= ? AND day < ?').raw(true),
      hours: this.#db.prepare('SELECT coalesce(sum(good), 0), coalesce(sum(total), 0) FROM slo_hour WHERE slo = ? AND hour >= ? AND hour < ?').raw(true),
      minutes: this.#db.prepare('SELECT coalesce(sum(good), 0), coalesce(sum(total), 0) FROM slo_minute WHERE slo = ? AND minute >= ? AND minute < ?').raw(true),
      hoursWithEvents: this.#db.prepare('SELECT 1 FROM slo_hour WHERE slo = ? AND hour >= ? AND hour < ? AND total > 0 LIMIT 1').pluck(),
    });
    // Where minutes() spreads hours, only it gives the same minutes.
    if (fromMinute < minuteFrom && q.hoursWithEvents.get(slo, Math.floor(fromMinute / HOUR_MINUTES), Math.ceil(minuteFrom / HOUR_MINUTES)) !== undefined) return null;
    const add = (out: { good: number; total: number }, row: [number, number] | { good: number; total: number }): void => {
      out.good += Array.isArray(row) ? row[0] : row.good;
      out.total += Array.isArray(row) ? row[1] : row.total;
    };
    /** Whole UTC days from the daily rollups, whole hours from the hourly ones, the rest from minutes. */
    const sums = (from: number, to: number): { good: number; total: number } => {
      const out = { good: 0, total: 0 };
      if (to <= from) return out;
      const dayFrom = Math.ceil(from / DAY_MINUTES);
      const dayTo = Math.floor(to / DAY_MINUTES);
      if (dayFrom < dayTo) {
        add(out, q.days.get(slo, dayFrom, dayTo) as [number, number]);
        for (const [a, b] of [[from, dayFrom * DAY_MINUTES], [dayTo * DAY_MINUTES, to]] as const) add(out, hoursAndMinutes(a, b));
        return out;
      }
      return hoursAndMinutes(from, to);
    };
    const hoursAndMinutes = (from: number, to: number): { good: number; total: number } => {
      const out = { good: 0, total: 0 };
      if (to <= from) return out;
      const hourFrom = Math.ceil(from / HOUR_MINUTES);
      const hourTo = Math.floor(to / HOUR_MINUTES);
      if (hourFrom < hourTo) {
        add(out, q.hours.get(slo, hourFrom, hourTo) as [number, number]);
        add(out, q.minutes.get(slo, from, hourFrom * HOUR_MINUTES) as [number, number]);
        add(out, q.minutes.get(slo, hourTo * HOUR_MINUTES, to) as [number, number]);
      } else add(out, q.minutes.get(slo, from, to) as [number, number]);
      return out;
    };
    return {
      firstEvent: (from, to) => (q.first.get(slo, from, to) as number | undefined) ?? null,
      lastEvent: (from, to) => (q.last.get(slo, from, to) as number | undefined) ?? null,
      badMinutes: (from, to, minShare) => q.bad.all(slo, from, to, minShare) as [number, number, number][],
      sums,
    };
  }

  /** The oldest stored minute (older ones were pruned), asked at most once a second. */
  #oldestMinute(): number | null {
    if (this.#oldest === undefined || Date.now() - this.#oldestAt > 1000) {
      this.#oldest = (this.#db.prepare('SELECT min(minute) AS m FROM slo_minute').get() as { m: number | null }).m;
      this.#oldestAt = Date.now();
    }
    return this.#oldest;
  }

  #oldest: number | null | undefined;
  #oldestAt = 0;
  #minuteRows: Statement | undefined;

  minutes(slo: string, fromMinute: number, toMinute: number): MinuteSeries {
    const n = Math.max(0, toMinute - fromMinute);
    const good = new Float64Array(n);
    const total = new Float64Array(n);
    // Minutes older than the oldest stored one were pruned (retention): take those from hours.
    // Asked at most once a second, not per SLO (a month of 1,000 SLOs reads 43 million rows already);
    // the source may live as long as the status server, and backfills can add older minutes.
    const minuteFrom = Math.max(fromMinute, this.#oldestMinute() ?? toMinute);
    // Raw rows: no object per minute.
    this.#minuteRows ??= this.#db.prepare('SELECT minute, good, total FROM slo_minute WHERE slo = ? AND minute >= ? AND minute < ?').raw(true);
    for (const r of this.#minuteRows.iterate(slo, minuteFrom, toMinute) as Iterable<[number, number, number]>) {
      good[r[0] - fromMinute] = r[1];
      total[r[0] - fromMinute] = r[2];
    }
    let fromHours = false;
    if (fromMinute < minuteFrom) {
      const hours = this.#db
        .prepare('SELECT hour, good, total FROM slo_hour WHERE slo = ? AND hour >= ? AND hour < ?')
        .all(slo, Math.floor(fromMinute / HOUR_MINUTES), Math.ceil(minuteFrom / HOUR_MINUTES)) as { hour: number; good: number; total: number }[];
      // Every stored minute of an hour counts against that hour's rollup, also the minutes at or
      // after toMinute (the minute in progress, or past the month's end) that the report leaves out:
      // otherwise their events were spread, as fractions, over the minutes before the oldest one.
      const storedInHour = this.#db.prepare('SELECT coalesce(sum(good), 0) AS good, coalesce(sum(total), 0) AS total FROM slo_minute WHERE slo = ? AND minute >= ? AND minute < ?');
      for (const h of hours) {
        const start = h.hour * HOUR_MINUTES;
        // The hour holding the oldest minute is partly in minutes already: spread only the rest.
        const end = Math.min(start + HOUR_MINUTES, minuteFrom);
        const stored = storedInHour.get(slo, end, start + HOUR_MINUTES) as { good: number; total: number };
        const hourTotal = Math.max(0, Math.round(h.total - stored.total));
        const hourBad = Math.min(hourTotal, Math.max(0, Math.round(h.total - h.good - (stored.total - stored.good))));
        if (hourTotal === 0) continue;
        fromHours = true;
        // Whole events per minute (the counts stay integers, so every sum and ratio is exact): the
        // remainder goes one event each to the first minutes; bad ≤ total holds minute by minute.
        const span = end - start;
        for (let k = 0; k < span; k++) {
          const m = start + k;
          if (m < fromMinute || m >= toMinute) continue;
          const t = spreadShare(hourTotal, span, k);
          good[m - fromMinute] = t - spreadShare(hourBad, span, k);
          total[m - fromMinute] = t;
        }
      }
    }
    return { fromMinute, good, total, fromHours };
  }

  lastEventBefore(slo: string, beforeMinute: number, notBefore: number): number | null {
    const m = this.#db.prepare('SELECT max(minute) AS m FROM slo_minute WHERE slo = ? AND minute < ? AND minute >= ? AND total > 0').get(slo, beforeMinute, notBefore) as { m: number | null };
    if (m.m !== null) return m.m;
    const h = this.#db
      .prepare('SELECT max(hour) AS h FROM slo_hour WHERE slo = ? AND hour < ? AND hour >= ? AND total > 0')
      .get(slo, Math.floor(beforeMinute / HOUR_MINUTES), Math.floor(notBefore / HOUR_MINUTES)) as { h: number | null };
    return h.h === null ? null : Math.min(beforeMinute - 1, h.h * HOUR_MINUTES + HOUR_MINUTES - 1);
  }

  incidents(): ReportIncidentInput[] {
    return this.#status === null ? [] : this.#status.incidents().map(incidentInput);
  }

  outages(fromMs: number, toMs: number): OutagePeriod[] {
    return readOutages(this.#db, fromMs, toMs).map((o) => ({ component: o.component, fromMs: o.fromMs, toMs: o.toMs }));
  }

  maintenances(nowMs: number): ReportMaintenanceInput[] {
    if (this.#status === null) return [];
    const out: ReportMaintenanceInput[] = [];
    for (const m of this.#status.maintenances()) {
      const input = maintenanceInput(m, nowMs);
      if (input !== null) out.push(input);
    }
    return out;
  }

  close(): void {
    if (this.#ownStatus) this.#status?.close();
    this.#db.close();
  }
}

/**
 * The share of `count` whole events that minute `k` of `span` gets when they are spread evenly:
 * floor(count / span), plus one for the first count mod span minutes. The shares sum to `count`.
 */
export function spreadShare(count: number, span: number, k: number): number {
  const base = Math.floor(count / span);
  return base + (k < count - base * span ? 1 : 0);
}

/** The component statuses an incident declared over time, from its updates (oldest first) to its resolution. */
export function incidentInput(incident: Incident): ReportIncidentInput {
  const updates = [...incident.updates].sort((a, b) => a.createdMs - b.createdMs);
  const open = new Map<string, { status: string; fromMs: number }>();
  const periods: IncidentPeriod[] = [];
  const close = (component: string, atMs: number): void => {
    const p = open.get(component);
    if (p === undefined) return;
    open.delete(component);
    if (p.status !== 'operational' && atMs > p.fromMs) periods.push({ component, status: p.status as IncidentPeriod['status'], fromMs: p.fromMs, toMs: atMs });
  };
  for (const u of updates) {
    for (const a of u.affected) {
      close(a.code, u.createdMs);
      open.set(a.code, { status: a.new_status, fromMs: u.createdMs });
    }
  }
  for (const [component, p] of [...open]) {
    if (incident.resolvedMs !== null) close(component, incident.resolvedMs);
    else if (p.status !== 'operational') periods.push({ component, status: p.status as IncidentPeriod['status'], fromMs: p.fromMs, toMs: null });
  }
  return {
    id: incident.id,
    name: incident.name,
    impact: incident.impact,
    status: incident.status,
    createdMs: incident.createdMs,
    resolvedMs: incident.resolvedMs,
    components: Object.keys(incident.components).sort(),
    periods,
  };
}

/** A maintenance's actual span (start to completion, capped by its schedule), or null if it has not begun. */
export function maintenanceInput(m: Maintenance, nowMs: number): ReportMaintenanceInput | null {
  const span = maintenanceSpan(m, nowMs);
  return span === null ? null : { id: m.id, name: m.name, fromMs: span.startMs, toMs: span.endMs, components: [...m.components] };
}
