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
  /** Per SLO id: already classified (classifyStored); these SLOs need no entry in `minutes`. */
  classified?: ReadonlyMap<string, ClassifiedSlo>;
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
    out[m - from] = lastEvent === null || lastEvent < windowStart ? 'no_data' : minuteStatus(kind, good, total, budget, scaledThreshold(fastPage, windowMinutes));
  }
  return out;
}

/**
 * The status of a minute with data in its SLO window, from its own events: the rules of
 * classifyMinutes. Only a minute whose bad share is at least min(0.5, threshold × budget) can be
 * other than operational (BAD_SHARE_MARGIN below relies on it).
 */
export function minuteStatus(kind: 'availability' | 'latency', good: number, total: number, budget: number, threshold: number): SloStatus {
  if (total <= 0) return 'operational';
  const badShare = Math.max(0, total - good) / total;
  // Compared as a burn rate, like the live rules (and with the same 12-digit scaling).
  const burning = badShare / budget >= threshold;
  if (kind === 'availability') return good / total < 0.5 ? 'major_outage' : burning ? 'partial_outage' : 'operational';
  return burning ? 'degraded_performance' : 'operational';
}

/**
 * An SLO's minute statuses over [from, to) as runs: status[i] holds from minute at[i] up to
 * at[i + 1] (the last run up to `to`). Neighbouring runs differ.
 */
export interface StatusRuns {
  at: number[];
  status: SloStatus[];
}

/** An SLO classified without per-minute arrays (classifyStored): its runs and the month's sums. */
export interface ClassifiedSlo {
  runs: StatusRuns;
  good: number;
  total: number;
}

/** Appends a run from `at` (at or after the last run's start); a zero-length last run is replaced. */
function pushRun(runs: StatusRuns, at: number, status: SloStatus): void {
  let n = runs.at.length;
  if (n > 0 && runs.at[n - 1] === at) {
    runs.at.pop();
    runs.status.pop();
    n--;
  }
  if (n > 0 && runs.status[n - 1] === status) return;
  runs.at.push(at);
  runs.status.push(status);
}

/** Per-minute statuses (classifyMinutes) as runs. */
export function runsFromStatuses(statuses: readonly SloStatus[], from: number): StatusRuns {
  const runs: StatusRuns = { at: [], status: [] };
  for (let i = 0; i < statuses.length; i++) if (i === 0 || statuses[i] !== statuses[i - 1]) pushRun(runs, from + i, statuses[i]!);
  return runs;
}

/** What classifyStored reads of one SLO's stored minutes: index seeks and one filtered scan, never every row. */
export interface StoredMinutes {
  /** The first minute in [from, to) with an event (total > 0), or null. */
  firstEvent(from: number, to: number): number | null;
  /** The last minute in [from, to) with an event, or null. */
  lastEvent(from: number, to: number): number | null;
  /**
   * Every minute in [from, to) with total > good and a bad share (total − good) / total of at least
   * `minShare` (more is harmless), ascending, as [minute, good, total].
   */
  badMinutes(from: number, to: number, minShare: number): [number, number, number][];
  /** good and total over [from, to) (from the day and hour rollups, minutes at the edges). */
  sums(from: number, to: number): { good: number; total: number };
}

/**
 * Relative slack on the bad-share floor that badMinutes() is asked for: the floor is compared in
 * floating point by SQLite and the rules by classifyMinutes, so a minute exactly at a threshold
 * must not fall below the floor by a rounding. Asking for a little more is harmless.
 */
const BAD_SHARE_MARGIN = 1e-9;

/**
 * classifyMinutes without reading every minute (the same statuses, as runs): a minute with data
 * in its window is operational unless its bad share reaches min(0.5, threshold × budget)
 * (minuteStatus), so only those minutes are read and classified one by one; where the SLO has data
 * (an event within its window) comes from a few event seeks per window length or calendar period.
 */
export function classifyStored(slo: SloConfig, stored: StoredMinutes, lastEventBefore: number | null, from: number, to: number): ClassifiedSlo {
  const kind = slo.indicator.type === 'span_latency' || slo.indicator.type === 'metric_latency' ? 'latency' : 'availability';
  const budget = Number((1 - slo.objective).toPrecision(12));
  const fastPage = ALERT_RULES[0]!.baseThreshold;
  const w = slo.window;
  // The window each minute is judged in: one piece for a rolling window, one per calendar period.
  const pieces: { from: number; to: number; periodStart: number; threshold: number }[] = [];
  if (w.kind === 'rolling') pieces.push({ from, to, periodStart: NaN, threshold: scaledThreshold(fastPage, w.minutes) });
  else {
    for (let m = from; m < to; ) {
      const p = calendarPeriod(m * MINUTE_MS, w.period, w.timezone);
      const end = Math.max(m + 1, Math.min(to, Math.ceil(p.endMs / MINUTE_MS)));
      pieces.push({ from: m, to: end, periodStart: Math.ceil(p.startMs / MINUTE_MS), threshold: scaledThreshold(fastPage, (p.endMs - p.startMs) / MINUTE_MS) });
      m = end;
    }
  }
  // Minutes with data, as [start, end) intervals, ascending.
  const data: [number, number][] = [];
  if (w.kind === 'rolling') {
    // A minute has data while an event is at most window − 1 minutes old: coverage runs on from
    // an event as long as the next one comes within the window, so each seek moves a window on.
    const length = w.minutes;
    let last = lastEventBefore;
    let pos = from;
    while (pos < to) {
      if (last !== null && last + length > pos) {
        let end = last + length;
        while (end < to) {
          const next = stored.lastEvent(Math.max(last + 1, from), Math.min(end + 1, to));
          if (next === null) break;
          last = next;
          end = next + length;
        }
        data.push([pos, Math.min(end, to)]);
        pos = end;
      } else {
        const next = stored.firstEvent(pos, to);
        if (next === null) break;
        last = next;
        pos = next;
      }
    }
  } else {
    // A minute has data once its calendar period had an event.
    for (const p of pieces) {
      const before = Math.max(from, p.periodStart);
      const had = (lastEventBefore !== null && lastEventBefore >= p.periodStart) || (before < p.from && stored.lastEvent(before, p.from) !== null);
      const first = had ? p.from : stored.firstEvent(p.from, p.to);
      if (first !== null) {
        if (data.length > 0 && data[data.length - 1]![1] === first) data[data.length - 1]![1] = p.to;
        else data.push([first, p.to]);
      }
    }
  }
  let minShare = 0.5;
  for (const p of pieces) minShare = Math.min(minShare, p.threshold * budget);
  const bad = stored.badMinutes(from, to, minShare * (1 - BAD_SHARE_MARGIN));
  const runs: StatusRuns = { at: [], status: [] };
  let k = 0;
  let piece = 0;
  let pos = from;
  for (const [a, b] of data) {
    if (a > pos) pushRun(runs, pos, 'no_data');
    pushRun(runs, a, 'operational');
    while (k < bad.length && bad[k]![0] < a) k++;
    for (; k < bad.length && bad[k]![0] < b; k++) {
      const [minute, good, total] = bad[k]!;
      while (pieces[piece]!.to <= minute) piece++;
      const status = minuteStatus(kind, good, total, budget, pieces[piece]!.threshold);
      if (status === 'operational') continue;
      pushRun(runs, minute, status);
      if (minute + 1 < b) pushRun(runs, minute + 1, 'operational');
    }
    pos = b;
  }
  if (pos < to || runs.at.length === 0) pushRun(runs, pos, 'no_data');
  const sums = stored.sums(from, to);
  return { runs, good: sums.good, total: sums.total };
}

/** Minutes per status of runs over [from, to). */
function runMinutes(runs: StatusRuns, to: number): Record<Exclude<SloStatus, 'no_data'>, number> {
  const out = { operational: 0, degraded_performance: 0, partial_outage: 0, major_outage: 0 };
  for (let i = 0; i < runs.at.length; i++) {
    const s = runs.status[i]!;
    if (s !== 'no_data') out[s] += (i + 1 < runs.at.length ? runs.at[i + 1]! : to) - runs.at[i]!;
  }
  return out;
}

/** The minutes [first, end) a span [fromMs, toMs) touches (toMs null: open-ended). */
function touchedMinutes(fromMs: number, toMs: number | null): [number, number] {
  return [Math.floor(fromMs / MINUTE_MS), toMs === null ? Infinity : Math.ceil(toMs / MINUTE_MS)];
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

  // Per SLO: its statuses as runs and the month's sums.
  const replayed = new Map<string, StatusRuns>();
  // Without `classified`, everything runs minute by minute as it always did: the reference.
  const perMinute = input.classified === undefined ? new Map<string, SloStatus[]>() : null;
  const slos: SloAttainment[] = [];
  let fromHours = false;
  for (const slo of input.slos) {
    let runs: StatusRuns;
    let good = 0;
    let total = 0;
    const classified = input.classified?.get(slo.id);
    if (classified !== undefined) ({ runs, good, total } = classified);
    else {
      const series = input.minutes.get(slo.id) ?? { fromMinute: from, good: new Float64Array(length), total: new Float64Array(length), fromHours: false };
      fromHours ||= series.fromHours;
      const statuses = classifyMinutes(slo, series, input.lastEventBeforeMinute.get(slo.id) ?? null, from, to);
      perMinute?.set(slo.id, statuses);
      runs = runsFromStatuses(statuses, from);
      for (let m = from; m < to; m++) {
        const i = m - series.fromMinute;
        if (i < 0 || i >= series.good.length) continue;
        good += series.good[i]!;
        total += series.total[i]!;
      }
    }
    replayed.set(slo.id, runs);
    let statusMinutes = runMinutes(runs, to);
    if (perMinute !== null) {
      statusMinutes = { operational: 0, degraded_performance: 0, partial_outage: 0, major_outage: 0 };
      for (const s of perMinute.get(slo.id)!) if (s !== 'no_data') statusMinutes[s]++;
    }
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

  const byComponent = new Map<string, StatusRuns[]>();
  for (const s of input.slos) {
    const list = byComponent.get(s.component);
    if (list === undefined) byComponent.set(s.component, [replayed.get(s.id)!]);
    else list.push(replayed.get(s.id)!);
  }
  const components: ComponentUptime[] = input.components.map((c) => {
    const own = byComponent.get(c.id) ?? [];
    const declared = input.incidents.flatMap((inc) => inc.periods.filter((p) => p.component === c.id));
    // A heartbeat outage holds its component down by time, like an incident declaring major_outage.
    for (const o of input.outages ?? []) if (o.component === c.id) declared.push({ component: c.id, status: 'major_outage', fromMs: o.fromMs, toMs: o.toMs });
    // Any part of a minute under maintenance excludes the whole minute; otherwise the minute takes
    // the worst status that held during any part of it: both as the minutes a span touches.
    const maintained: [number, number][] = input.maintenances.filter((mw) => mw.components.includes(c.id)).map((mw) => touchedMinutes(mw.fromMs, mw.toMs));
    const stated: { minutes: [number, number]; status: SloStatus }[] = [];
    for (const p of declared) {
      if (p.status === 'under_maintenance') maintained.push(touchedMinutes(p.fromMs, p.toMs));
      else stated.push({ minutes: touchedMinutes(p.fromMs, p.toMs), status: p.status });
    }
    const tally =
      perMinute === null
        ? tallyRuns(own, maintained, stated, from, to)
        : tallyMinutes(
            input.slos.filter((s) => s.component === c.id).map((s) => perMinute.get(s.id)!),
            input.maintenances.filter((mw) => mw.components.includes(c.id)),
            declared,
            from,
            to,
          );
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

/** A component's minutes by status over [from, to), a stretch at a time: the status only changes where a run or span starts or ends. */
function tallyRuns(own: readonly StatusRuns[], maintained: readonly [number, number][], stated: readonly { minutes: [number, number]; status: SloStatus }[], from: number, to: number): MinuteTally {
  const cuts = new Set<number>([from, to]);
  for (const runs of own) for (const at of runs.at) cuts.add(at);
  for (const [a, b] of maintained) for (const m of [a, b]) if (m > from && m < to) cuts.add(m);
  for (const { minutes } of stated) for (const m of minutes) if (m > from && m < to) cuts.add(m);
  const edges = [...cuts].filter((m) => m >= from && m <= to).sort((a, b) => a - b);
  const next = own.map(() => 0);
  const tally: MinuteTally = { operational: 0, degradedPerformance: 0, partialOutage: 0, majorOutage: 0, maintenance: 0, noData: 0 };
  const statuses: SloStatus[] = [];
  for (let e = 0; e + 1 < edges.length; e++) {
    const m = edges[e]!;
    own.forEach((runs, i) => {
      while (next[i]! + 1 < runs.at.length && runs.at[next[i]! + 1]! <= m) next[i]!++;
    });
    statuses.length = 0;
    own.forEach((runs, i) => statuses.push(runs.status[next[i]!]!));
    addMinutes(tally, statuses, maintained, stated, m, edges[e + 1]! - m);
  }
  return tally;
}

/** A component's minutes by status, minute by minute from per-minute statuses, spans compared in milliseconds (the reference tallyRuns is held to). */
function tallyMinutes(own: readonly SloStatus[][], maintenance: readonly { fromMs: number; toMs: number }[], declared: readonly IncidentPeriod[], from: number, to: number): MinuteTally {
  const tally: MinuteTally = { operational: 0, degradedPerformance: 0, partialOutage: 0, majorOutage: 0, maintenance: 0, noData: 0 };
  const statuses: SloStatus[] = [];
  const maintained = (startMs: number): boolean =>
    maintenance.some((mw) => mw.fromMs < startMs + MINUTE_MS && mw.toMs > startMs) ||
    declared.some((p) => p.status === 'under_maintenance' && p.fromMs < startMs + MINUTE_MS && (p.toMs === null || p.toMs > startMs));
  for (let m = from; m < to; m++) {
    const atMs = m * MINUTE_MS;
    statuses.length = 0;
    for (const s of own) statuses.push(s[m - from]!);
    for (const p of declared) {
      if (p.status !== 'under_maintenance' && p.fromMs < atMs + MINUTE_MS && (p.toMs === null || p.toMs > atMs)) statuses.push(p.status);
    }
    addMinutes(tally, statuses, maintained(atMs) ? [[m, m + 1]] : [], [], m, 1);
  }
  return tally;
}

/** Counts `minutes` minutes from `m` on: maintenance, else the worst of the SLOs' and the declared statuses. */
function addMinutes(tally: MinuteTally, statuses: SloStatus[], maintained: readonly [number, number][], stated: readonly { minutes: [number, number]; status: SloStatus }[], m: number, minutes: number): void {
  if (maintained.some(([a, b]) => a <= m && b > m)) {
    tally.maintenance += minutes;
    return;
  }
  for (const p of stated) if (p.minutes[0] <= m && p.minutes[1] > m) statuses.push(p.status);
  switch (componentStatus(statuses)) {
    case 'no_data':
      tally.noData += minutes;
      break;
    case 'operational':
      tally.operational += minutes;
      break;
    case 'degraded_performance':
      tally.degradedPerformance += minutes;
      break;
    case 'partial_outage':
      tally.partialOutage += minutes;
      break;
    case 'major_outage':
      tally.majorOutage += minutes;
      break;
  }
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
