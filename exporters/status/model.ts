// The status page's view of the world at one instant: components with the status they show and
// their 90-day uptime, SLOs, incidents and maintenances. Every public output (page, JSON, feeds,
// badges, live feed) is rendered from one StatusModel, built once per change.

import type { ComponentConfig } from '../../daemon/config/types.js';
import { componentStatus } from '../../daemon/slo/index.js';
import type { ComponentReport, SloEngine, SloStatus } from '../../daemon/slo/index.js';
import { formatDate, localDay } from '../../daemon/slo/calendar.js';
import { maintenanceSpan, maintenanceStatus } from './store.js';
import type { ComponentStatus, Incident, IncidentImpact, Maintenance, MaintenanceStatus, StatusStore } from './store.js';

/** What a component shows: a Statuspage status, or no_data when nothing says anything. */
export type ShownStatus = ComponentStatus | 'no_data';

/** Statuspage's overall indicator. */
export type Indicator = 'none' | 'minor' | 'major' | 'critical';

/** Days of uptime history on the page. */
export const HISTORY_DAYS = 90;

/** Uptime colour bands (percent, lower bounds), worst last; documented in README.md and docs/status.md. */
export const UPTIME_BANDS: readonly { min: number; tone: UptimeTone; label: string }[] = [
  { min: 99.9, tone: 'good', label: '99.9% or more' },
  { min: 99, tone: 'fair', label: '99% to 99.9%' },
  { min: 95, tone: 'poor', label: '95% to 99%' },
  { min: -Infinity, tone: 'bad', label: 'below 95%' },
];
export type UptimeTone = 'good' | 'fair' | 'poor' | 'bad' | 'none';

/** The colour band of an uptime ratio (null = no data). */
export function uptimeTone(ratio: number | null): UptimeTone {
  if (ratio === null) return 'none';
  const percent = ratio * 100;
  return UPTIME_BANDS.find((b) => percent >= b.min)!.tone;
}

/** One day of a component's history. */
export interface DayView {
  date: string;
  startMs: number;
  endMs: number;
  /** Lowest SLI among the component's SLOs that had traffic that day; null = no data. */
  uptime: number | null;
  incidents: { id: string; name: string }[];
}

/** A component as shown. */
export interface ComponentView {
  id: string;
  name: string;
  group: string | null;
  description: string | null;
  position: number;
  status: ShownStatus;
  /** Why it shows that status. */
  source: 'override' | 'incident' | 'maintenance' | 'slo' | 'none';
  sloStatus: SloStatus;
  sinceMs: number;
  days: DayView[];
  /** Event-weighted uptime over the history days (the lowest among its SLOs), or null. */
  uptime: number | null;
}

/** An SLO as shown. */
export interface SloView {
  id: string;
  name: string;
  component: string;
  kind: 'availability' | 'latency';
  /** Objective as a ratio (0.999). */
  objective: number;
  window: string;
  sli: number | null;
  budgetRemaining: number | null;
  status: SloStatus;
}

/** Everything the public outputs render. */
export interface StatusModel {
  title: string;
  timeZone: string;
  indicator: Indicator;
  description: string;
  components: ComponentView[];
  slos: SloView[];
  /** Newest first. */
  incidents: Incident[];
  /** Latest scheduled start first, each with its status at build time. */
  maintenances: { maintenance: Maintenance; status: MaintenanceStatus }[];
}

const SEVERITY: Record<ShownStatus, number> = {
  no_data: 0,
  operational: 1,
  under_maintenance: 1,
  degraded_performance: 2,
  partial_outage: 3,
  major_outage: 4,
};

const INDICATOR_OF: Record<ShownStatus, Indicator> = {
  no_data: 'none',
  operational: 'none',
  under_maintenance: 'none',
  degraded_performance: 'minor',
  partial_outage: 'major',
  major_outage: 'critical',
};

const INDICATOR_RANK: Record<Indicator, number> = { none: 0, minor: 1, major: 2, critical: 3 };

/** Statuspage's wording of each indicator. */
export const INDICATOR_DESCRIPTION: Record<Indicator, string> = {
  none: 'All Systems Operational',
  minor: 'Partially Degraded Service',
  major: 'Partial System Outage',
  critical: 'Major System Outage',
};

/**
 * The status a component shows (first match):
 * 1. an operator's override;
 * 2. the worst of the statuses unresolved incidents give it and its SLO-derived status, when that
 *    is worse than operational or an unresolved incident names it;
 * 3. under_maintenance while a maintenance that names it is in progress;
 * 4. its SLO-derived status (operational, …), or no_data.
 */
export function shownStatus(input: {
  override: ComponentStatus | null;
  incidentStatuses: readonly ComponentStatus[];
  sloStatus: SloStatus;
  inMaintenance: boolean;
}): { status: ShownStatus; source: ComponentView['source'] } {
  if (input.override !== null) return { status: input.override, source: 'override' };
  let worst: ShownStatus = input.sloStatus;
  let source: ComponentView['source'] = input.sloStatus === 'no_data' ? 'none' : 'slo';
  for (const s of input.incidentStatuses) {
    if (SEVERITY[s] > SEVERITY[worst] || (SEVERITY[s] === SEVERITY[worst] && source !== 'incident')) {
      worst = s;
      source = 'incident';
    }
  }
  if (input.inMaintenance && source !== 'incident' && SEVERITY[worst] <= SEVERITY.operational) return { status: 'under_maintenance', source: 'maintenance' };
  return { status: worst, source };
}

/** The overall indicator: the worst component's, raised to the worst unresolved incident's impact. */
export function overallIndicator(components: readonly { status: ShownStatus }[], unresolved: readonly { impact: IncidentImpact }[]): Indicator {
  let indicator: Indicator = 'none';
  for (const c of components) if (INDICATOR_RANK[INDICATOR_OF[c.status]] > INDICATOR_RANK[indicator]) indicator = INDICATOR_OF[c.status];
  for (const i of unresolved) if (INDICATOR_RANK[i.impact] > INDICATOR_RANK[indicator]) indicator = i.impact;
  return indicator;
}

/** Inputs of buildModel. */
export interface ModelSources {
  title: string;
  timeZone: string;
  components: readonly ComponentConfig[];
  slo: SloEngine;
  store: StatusStore;
  /** Components held down by a source other than traffic SLOs (a heartbeat down), with the status it gives. */
  componentsDown?: () => ReadonlyMap<string, SloStatus>;
}

/** Builds the model at `nowMs`. */
export function buildModel(src: ModelSources, nowMs: number): StatusModel {
  const reports = new Map<string, ComponentReport>(src.slo.report().map((r) => [r.id, r]));
  const incidents = src.store.incidents();
  const unresolved = incidents.filter((i) => i.status !== 'resolved');
  const maintenances = src.store.maintenances().map((m) => ({ maintenance: m, status: maintenanceStatus(m, nowMs) }));
  const days = historyDays(nowMs, src.timeZone);
  const down = src.componentsDown?.() ?? new Map<string, SloStatus>();
  const components = src.components.map((config, position): ComponentView => {
    const report = reports.get(config.id);
    // A heartbeat that is down holds its component down until its next success, whatever the SLOs say.
    const sloStatus: SloStatus = componentStatus([report?.status ?? 'no_data', down.get(config.id) ?? 'no_data']);
    const override = src.store.overrides().get(config.id)?.status ?? null;
    const incidentStatuses = unresolved.flatMap((i) => (i.components[config.id] === undefined ? [] : [i.components[config.id]!]));
    const inMaintenance = maintenances.some(({ maintenance: m, status }) => (status === 'in_progress' || status === 'verifying') && m.components.includes(config.id));
    const shown = shownStatus({ override, incidentStatuses, sloStatus, inMaintenance });
    const history = componentHistory(src.slo, report, days, incidents, config.id, nowMs);
    return {
      id: config.id,
      name: config.name,
      group: config.group,
      description: config.description,
      position: position + 1,
      status: shown.status,
      source: shown.source,
      sloStatus,
      sinceMs: report?.statusSinceMs ?? nowMs,
      days: history.days,
      uptime: history.uptime,
    };
  });
  const slos: SloView[] = [...reports.values()].flatMap((c) =>
    c.slos.map((s) => ({
      id: s.id,
      name: s.name,
      component: s.component,
      kind: s.kind,
      objective: s.objective,
      window: s.window,
      sli: round(s.windows[s.windows.length - 1]?.sli ?? null),
      budgetRemaining: round(s.budgetRemaining),
      status: s.status,
    })),
  );
  const indicator = overallIndicator(components, unresolved);
  const maintenanceNow = maintenances.some((m) => m.status === 'in_progress' || m.status === 'verifying');
  const description = indicator === 'none' && maintenanceNow ? 'Service Under Maintenance' : INDICATOR_DESCRIPTION[indicator];
  return { title: src.title, timeZone: src.timeZone, indicator, description, components, slos, incidents, maintenances };
}

/** The last HISTORY_DAYS local days (today last) in `zone`. */
function historyDays(nowMs: number, zone: string): { date: string; startMs: number; endMs: number }[] {
  const out: { date: string; startMs: number; endMs: number }[] = [];
  let day = localDay(nowMs, zone);
  for (let i = 0; i < HISTORY_DAYS; i++) {
    out.push({ date: formatDate(day.date), startMs: day.startMs, endMs: day.endMs });
    day = localDay(day.startMs - 1, zone);
  }
  return out.reverse();
}

/** Per-day uptime (lowest SLI among the component's SLOs with traffic) and incidents; overall uptime. */
function componentHistory(
  slo: SloEngine,
  report: ComponentReport | undefined,
  days: readonly { date: string; startMs: number; endMs: number }[],
  incidents: readonly Incident[],
  componentId: string,
  nowMs: number,
): { days: DayView[]; uptime: number | null } {
  const byDate = new Map<string, number>();
  let uptime: number | null = null;
  for (const s of report?.slos ?? []) {
    let good = 0;
    let total = 0;
    for (const d of slo.dailyUptime(s.id, HISTORY_DAYS)) {
      good += d.good;
      total += d.total;
      if (d.sli === null) continue;
      const prev = byDate.get(d.date);
      byDate.set(d.date, prev === undefined ? d.sli : Math.min(prev, d.sli));
    }
    if (total > 0) uptime = Math.min(uptime ?? 1, good / total);
  }
  const touching = incidents.filter((i) => i.components[componentId] !== undefined);
  return {
    days: days.map((d) => ({
      ...d,
      uptime: round(byDate.get(d.date) ?? null),
      incidents: touching.filter((i) => i.createdMs < d.endMs && (i.resolvedMs ?? nowMs) >= d.startMs).map((i) => ({ id: i.id, name: i.name })),
    })),
    uptime: round(uptime),
  };
}

/** Uptime of a component over the last `days` days (event-weighted, the lowest among its SLOs), or null. */
export function windowUptime(slo: SloEngine, report: ComponentReport | undefined, days: number): number | null {
  let uptime: number | null = null;
  for (const s of report?.slos ?? []) {
    let good = 0;
    let total = 0;
    for (const d of slo.dailyUptime(s.id, days)) {
      good += d.good;
      total += d.total;
    }
    if (total > 0) uptime = Math.min(uptime ?? 1, good / total);
  }
  return round(uptime);
}

/** Whether a maintenance holds its components now (for callers without the model). */
export function maintenanceActive(m: Maintenance, nowMs: number): boolean {
  return maintenanceSpan(m, nowMs) !== null && maintenanceStatus(m, nowMs) !== 'completed';
}

/** Ratios kept to 6 decimals, so the model changes only when a shown figure could. */
function round(x: number | null): number | null {
  return x === null ? null : Math.round(x * 1e6) / 1e6;
}
