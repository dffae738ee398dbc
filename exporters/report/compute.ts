// The monthly report's arithmetic, as pure functions over per-minute counts: each minute's SLO status
// from that minute's events, combined with incidents and maintenance into a per-minute component
// status, then weighted uptime and each SLO's attainment (docs/reports.md).

import { ALERT_RULES, componentStatus, scaledThreshold } from '../../daemon/slo/math.js';
import type { SloStatus } from '../../daemon/slo/math.js';
import { calendarPeriod, localMidnight } from '../../daemon/slo/calendar.js';
import type { ComponentConfig, SloConfig } from '../../daemon/config/types.js';

const MINUTE_MS = 60_000;

/** Per-minute good/total of one SLO over [fromMinute, fromMinute + good.length). */
export interface MinuteSeries {
  fromMinute: number;
  good: Float64Array;
  total: Float64Array;
  /** Whether any minute of the range came from spread hourly rollups (minutes already pruned). */
  fromHours: boolean;
}

/** A component status an incident declared, from one update to the next (or to resolution). */
export interface IncidentPeriod {
  component: string;
  /** under_maintenance counts as maintenance (excluded), operational adds nothing. */
  status: SloStatus | 'under_maintenance';
  fromMs: number;
  /** null while the incident is unresolved. */
  toMs: number | null;
}

/** An incident as the report lists it. */
export interface ReportIncidentInput {
  id: string;
  name: string;
  impact: string;
  status: string;
  createdMs: number;
  resolvedMs: number | null;
  components: string[];
  periods: IncidentPeriod[];
}

/** A maintenance window: its minutes are excluded from the components' uptime. */
export interface ReportMaintenanceInput {
  id: string;
  name: string;
  /** Actual start if it started, else the scheduled start. */
  fromMs: number;
  /** Actual end if completed, else the scheduled end. */
  toMs: number;
  components: string[];
}

/** Everything the report is computed from. */
export interface ReportInput {
  year: number;
  month: number;
  timezone: string;
  /** The clock: a month in progress is reported up to this minute. */
  nowMs: number;
  partialOutageWeight: number;
  components: readonly ComponentConfig[];
  slos: readonly SloConfig[];
  /** Per SLO id: the month's minutes (so far). */
  minutes: ReadonlyMap<string, MinuteSeries>;
  /** Per SLO id: the last minute before the month with an event, within the SLO window (no_data). */
  lastEventBeforeMinute: ReadonlyMap<string, number | null>;
  incidents: readonly ReportIncidentInput[];
  maintenances: readonly ReportMaintenanceInput[];
  /** Heartbeat outages: from a missed deadline (or failure) to the next success, down by time. */
  outages?: readonly OutagePeriod[];
}

/** A span of time a component was down by a source other than traffic (a heartbeat); toMs null = still down. */
export interface OutagePeriod {
  component: string;
  fromMs: number;
  toMs: number | null;
}

/** Minute counts per component, by what the minute was. */
export interface MinuteTally {
  operational: number;
  degradedPerformance: number;
  partialOutage: number;
  majorOutage: number;
  /** Under maintenance: excluded from the denominator. */
  maintenance: number;
  /** No SLO had data in its window and no incident declared a status: excluded. */
  noData: number;
}

/** One component's line of the report. */
export interface ComponentUptime {
  id: string;
  name: string;
  group: string | null;
  /** Minutes counted: the month (so far) minus maintenance and no-data minutes. */
  countedMinutes: number;
  /** major + weight × partial, in minutes. */
  downtimeMinutes: number;
  /** 1 − downtime/counted, or null when no minute counted. */
  uptimeRatio: number | null;
  minutes: MinuteTally;
  /** Ids of incidents that named this component. */
  incidents: string[];
}

/** One SLO over the month. */
export interface SloAttainment {
  id: string;
  name: string;
  component: string;
  kind: 'availability' | 'latency';
  objective: number;
  good: number;
  total: number;
  /** good/total over the month, or null without events. */
  sli: number | null;
  met: boolean | null;
  /** (bad/total)/(1 − objective) over the month: 1 = the month's whole budget; null without events. */
  budgetConsumed: number | null;
  /** Minutes per status, each minute classified from its own events. */
  statusMinutes: Record<Exclude<SloStatus, 'no_data'>, number>;
}

/** An incident with its duration inside and overall. */
export interface IncidentLine {
  id: string;
  name: string;
  impact: string;
  status: string;
  createdMs: number;
  resolvedMs: number | null;
  /** From creation to resolution (or to the report's end while unresolved). */
  durationMinutes: number;
  /** The part inside the reported month. */
  minutesInMonth: number;
  components: string[];
}

/** A maintenance line. */
export interface MaintenanceLine {
  id: string;
  name: string;
  fromMs: number;
  toMs: number;
  minutesInMonth: number;
  components: string[];
}

/** The computed report. */
export interface MonthlyReport {
  month: string;
  timezone: string;
  startMs: number;
  endMs: number;
  /** Where the figures stop: the month end, or now for a month in progress. */
  untilMs: number;
  complete: boolean;
  generatedMs: number;
  /** minute: every minute from per-minute rollups; hour: some from hourly rollups spread evenly. */
  resolution: 'minute' | 'hour';
  partialOutageWeight: number;
  components: ComponentUptime[];
  slos: SloAttainment[];
  incidents: IncidentLine[];
  maintenances: MaintenanceLine[];
}

/** [start, end) of a local calendar month. */
export function monthBounds(year: number, month: number, zone: string): { startMs: number; endMs: number } {
  return { startMs: localMidnight(year, month, 1, zone), endMs: localMidnight(year, month + 1, 1, zone) };
}

/**
 * Each minute's SLO status from that minute's own events (docs/reports.md):
 * - no event in the SLO window up to this minute: no_data;
 * - availability, fewer than half the minute's events good: major_outage;
 * - availability, the minute's bad share at or above the fast-page burn rate (14.4 for 30 days,
 *   scaled to the SLO window) times the error budget: partial_outage;
 * - latency, the same bad share: degraded_performance;
 * - otherwise (including minutes without events) operational.
 */
export function classifyMinutes(slo: SloConfig, series: MinuteSeries, lastEventBefore: number | null, from: number, to: number): SloStatus[] {
  const n = series.good.length;
  const kind = slo.indicator.type === 'span_latency' || slo.indicator.type === 'metric_latency' ? 'latency' : 'availability';
  const budget = Number((1 - slo.objective).toPrecision(12));
  const fastPage = ALERT_RULES[0]!.baseThreshold;
  const out: SloStatus[] = new Array(Math.max(0, to - from));
  let lastEvent = lastEventBefore;
  for (let m = series.fromMinute; m < from; m++) if (series.total[m - series.fromMinute]! > 0) lastEvent = m;
  let periodEnd = -Infinity;
  let periodStart = 0;
  let windowMinutes = slo.window.kind === 'rolling' ? slo.window.minutes : 0;
  for (let m = from; m < to; m++) {
    const w = slo.window;
    if (w.kind === 'calendar' && m * MINUTE_MS >= periodEnd) {
      const p = calendarPeriod(m * MINUTE_MS, w.period, w.timezone);
      periodStart = Math.ceil(p.startMs / MINUTE_MS);
      periodEnd = p.endMs;
      windowMinutes = (p.endMs - p.startMs) / MINUTE_MS;
    }
    const i = m - series.fromMinute;
    const good = i >= 0 && i < n ? series.good[i]! : 0;
    const total = i >= 0 && i < n ? series.total[i]! : 0;
    if (total > 0) lastEvent = m;
    const windowStart = w.kind === 'rolling' ? m - w.minutes + 1 : periodStart;
    let status: SloStatus;
    if (lastEvent === null || lastEvent < windowStart) status = 'no_data';
    else if (total <= 0) status = 'operational';
    else {
      const badShare = Math.max(0, total - good) / total;
      // Compared as a burn rate, like the live rules (and with the same 12-digit scaling).
      const burning = badShare / budget >= scaledThreshold(fastPage, windowMinutes);
      if (kind === 'availability') status = good / total < 0.5 ? 'major_outage' : burning ? 'partial_outage' : 'operational';
      else status = burning ? 'degraded_performance' : 'operational';
    }
    out[m - from] = status;
  }
  return out;
}

/** Minutes of [fromMs, toMs) that overlap [aMs, bMs), on whole-minute boundaries. */
function overlapMinutes(fromMs: number, toMs: number, aMs: number, bMs: number): number {
  const lo = Math.max(fromMs, aMs);
  const hi = Math.min(toMs, bMs);
  return hi > lo ? Math.round((hi - lo) / MINUTE_MS) : 0;
}

/** Builds the report from its inputs (no I/O). */
export function computeReport(input: ReportInput): MonthlyReport {
  const { startMs, endMs } = monthBounds(input.year, input.month, input.timezone);
  if (input.nowMs < startMs) throw new RangeError(`the month ${formatMonth(input.year, input.month)} has not started yet in ${input.timezone}`);
  const untilMs = Math.min(endMs, Math.floor(input.nowMs / MINUTE_MS) * MINUTE_MS);
  const from = Math.ceil(startMs / MINUTE_MS);
  const to = Math.ceil(untilMs / MINUTE_MS);
  const length = Math.max(0, to - from);
  const weight = input.partialOutageWeight;

  // Per SLO: replayed statuses and the month's sums.
  const replayed = new Map<string, SloStatus[]>();
  const slos: SloAttainment[] = [];
  let fromHours = false;
  for (const slo of input.slos) {
    const series = input.minutes.get(slo.id) ?? { fromMinute: from, good: new Float64Array(length), total: new Float64Array(length), fromHours: false };
    fromHours ||= series.fromHours;
    const statuses = classifyMinutes(slo, series, input.lastEventBeforeMinute.get(slo.id) ?? null, from, to);
    replayed.set(slo.id, statuses);
    let good = 0;
    let total = 0;
    for (let m = from; m < to; m++) {
      const i = m - series.fromMinute;
      if (i < 0 || i >= series.good.length) continue;
      good += series.good[i]!;
      total += series.total[i]!;
    }
    const statusMinutes = { operational: 0, degraded_performance: 0, partial_outage: 0, major_outage: 0 };
    for (const s of statuses) if (s !== 'no_data') statusMinutes[s]++;
    const kind = slo.indicator.type === 'span_latency' || slo.indicator.type === 'metric_latency' ? 'latency' : 'availability';
    const budget = Number((1 - slo.objective).toPrecision(12));
    const sli = total > 0 ? Math.min(1, Math.max(0, good / total)) : null;
    slos.push({
      id: slo.id,
      name: slo.name,
      component: slo.component,
      kind,
      objective: slo.objective,
      good,
      total,
      sli,
      met: sli === null ? null : sli >= slo.objective,
      budgetConsumed: total > 0 ? Math.max(0, total - good) / total / budget : null,
      statusMinutes,
    });
  }

  const components: ComponentUptime[] = input.components.map((c) => {
    const own = input.slos.filter((s) => s.component === c.id).map((s) => replayed.get(s.id)!);
    const declared = input.incidents.flatMap((inc) => inc.periods.filter((p) => p.component === c.id));
    // A heartbeat outage holds its component down by time, like an incident declaring major_outage.
    for (const o of input.outages ?? []) if (o.component === c.id) declared.push({ component: c.id, status: 'major_outage', fromMs: o.fromMs, toMs: o.toMs });
    const maintenance = input.maintenances.filter((mw) => mw.components.includes(c.id));
    const tally: MinuteTally = { operational: 0, degradedPerformance: 0, partialOutage: 0, majorOutage: 0, maintenance: 0, noData: 0 };
    const statuses: SloStatus[] = [];
    const maintained = (startMs: number): boolean =>
      maintenance.some((mw) => mw.fromMs < startMs + MINUTE_MS && mw.toMs > startMs) ||
      declared.some((p) => p.status === 'under_maintenance' && p.fromMs < startMs + MINUTE_MS && (p.toMs === null || p.toMs > startMs));
    for (let m = from; m < to; m++) {
      const atMs = m * MINUTE_MS;
      // Any part of a minute under maintenance excludes the whole minute; otherwise the minute takes
      // the worst status that held during any part of it.
      if (maintained(atMs)) {
        tally.maintenance++;
        continue;
      }
      statuses.length = 0;
      for (const s of own) statuses.push(s[m - from]!);
      for (const p of declared) {
        if (p.status !== 'under_maintenance' && p.fromMs < atMs + MINUTE_MS && (p.toMs === null || p.toMs > atMs)) statuses.push(p.status);
      }
      switch (componentStatus(statuses)) {
        case 'no_data':
          tally.noData++;
          break;
        case 'operational':
          tally.operational++;
          break;
        case 'degraded_performance':
          tally.degradedPerformance++;
          break;
        case 'partial_outage':
          tally.partialOutage++;
          break;
        case 'major_outage':
          tally.majorOutage++;
          break;
      }
    }
    const counted = length - tally.maintenance - tally.noData;
    const downtime = tally.majorOutage + weight * tally.partialOutage;
    return {
      id: c.id,
      name: c.name,
      group: c.group,
      countedMinutes: counted,
      downtimeMinutes: downtime,
      uptimeRatio: counted > 0 ? 1 - downtime / counted : null,
      minutes: tally,
      incidents: input.incidents.filter((inc) => inc.components.includes(c.id)).map((inc) => inc.id),
    };
  });

  const incidents: IncidentLine[] = input.incidents
    .filter((inc) => inc.createdMs < untilMs && (inc.resolvedMs === null || inc.resolvedMs > startMs))
    .map((inc) => {
      const end = inc.resolvedMs ?? untilMs;
      return {
        id: inc.id,
        name: inc.name,
        impact: inc.impact,
        status: inc.status,
        createdMs: inc.createdMs,
        resolvedMs: inc.resolvedMs,
        durationMinutes: Math.max(0, Math.round((end - inc.createdMs) / MINUTE_MS)),
        minutesInMonth: overlapMinutes(startMs, untilMs, inc.createdMs, end),
        components: inc.components,
      };
    })
    .sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : 1));
  const maintenances: MaintenanceLine[] = input.maintenances
    .filter((mw) => mw.fromMs < untilMs && mw.toMs > startMs)
    .map((mw) => ({ id: mw.id, name: mw.name, fromMs: mw.fromMs, toMs: mw.toMs, minutesInMonth: overlapMinutes(startMs, untilMs, mw.fromMs, mw.toMs), components: mw.components }))
    .sort((a, b) => a.fromMs - b.fromMs);

  return {
    month: formatMonth(input.year, input.month),
    timezone: input.timezone,
    startMs,
    endMs,
    untilMs,
    complete: untilMs >= endMs,
    generatedMs: input.nowMs,
    resolution: fromHours ? 'hour' : 'minute',
    partialOutageWeight: weight,
    components,
    slos,
    incidents,
    maintenances,
  };
}

/** `YYYY-MM`. */
export function formatMonth(year: number, month: number): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`;
}

/** Parses `YYYY-MM`; undefined if it is not one. */
export function parseMonth(text: string): { year: number; month: number } | undefined {
  const m = /^(\d{4})-(\d{2})$/.exec(text);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  return month >= 1 && month <= 12 && year >= 1970 ? { year, month } : undefined;
}
