// The SLO engine: per-minute good/total per SLO fed from the span hook and metric sampling, window
// sums, burn-rate alerts, statuses, the /metrics section, the read API, and the flush to SQLite.

import type { Logger } from 'pino';
import type { ComponentConfig, SloConfig, SpanKindName } from '../config/types.js';
import type { Bucket, ComponentStateRow, MinuteDelta, SloStateRow, Storage } from '../storage/index.js';
import type { Family } from '../store/series.js';
import type { SpanSeriesLabels } from '../store/spans.js';
import { calendarPeriod, formatDate, localDay } from './calendar.js';
import {
  REPORT_WINDOWS,
  budgetRemaining,
  burnRate,
  componentStatus,
  firingRules,
  scaledThreshold,
  sli,
  sloStatus,
  ALERT_RULES,
} from './math.js';
import type { SloStatus, WindowSpec } from './math.js';
import { counterSli, histogramSli } from './metric-sli.js';
import type { MetricSli } from './metric-sli.js';
import { FLUSH_SLOTS, LATE_MINUTES, MinuteRing } from './minutes.js';
import type { MinuteCounts } from './minutes.js';
import { renderSloMetrics, sloFamilies } from './render.js';
import type { FamilyView } from '../model/read-model.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
/** Longest calendar periods, in minutes, with an hour for a DST change. */
const MONTH_MAX_MINUTES = 31 * 1440 + 60;
const QUARTER_MAX_MINUTES = 92 * 1440 + 60;

/** One window's figures; sli/burnRate are null when the window has no events. */
export interface WindowReport {
  window: string;
  good: number;
  total: number;
  sli: number | null;
  burnRate: number | null;
}

/** An SLO as the read API and /metrics see it. */
export interface SloReport {
  id: string;
  name: string;
  component: string;
  kind: 'availability' | 'latency';
  objective: number;
  /** The SLO window's label (`30d`, `month`, …). */
  window: string;
  /** Start of the SLO window (calendar: the period start; rolling: now − length). */
  windowStartMs: number;
  /** Report windows, then the SLO window. */
  windows: WindowReport[];
  budgetRemaining: number | null;
  alerts: { page: boolean; ticket: boolean };
  /** Burn-rate thresholds in force (scaled to the SLO window), by rule. */
  thresholds: { severity: 'page' | 'ticket'; long: string; short: string; burnRate: number }[];
  status: SloStatus;
  statusSinceMs: number;
}

/** A component with its SLOs. */
export interface ComponentReport {
  id: string;
  name: string;
  group: string | null;
  description: string | null;
  status: SloStatus;
  statusSinceMs: number;
  slos: SloReport[];
}

/** One local day of an SLO (or component): null sli = no events that day. */
export interface DailyUptime {
  date: string;
  startMs: number;
  endMs: number;
  good: number;
  total: number;
  sli: number | null;
}

/** Settings of the engine. */
export interface SloEngineOptions {
  components: readonly ComponentConfig[];
  slos: readonly SloConfig[];
  /** Opened by start(); null runs without durability (tests of the math). */
  openStorage: (() => Storage) | null;
  flushIntervalMs: number;
  /** The store's families, for metric-based SLIs. */
  families?: () => readonly Family[];
  /** Wall clock; injectable for tests. */
  now?: () => number;
  logger?: Logger;
  /**
   * Told about every flush and rollup write: null when it committed, else the error. When given,
   * the caller counts and logs failures (once per state change) instead of the engine (every one).
   */
  onStorageWrite?: (writer: 'slo_flush' | 'slo_rollup', err: unknown) => void;
}

/** Runtime state of one SLO. */
class SloRuntime {
  readonly config: SloConfig;
  readonly kind: 'availability' | 'latency';
  readonly ring: MinuteRing;
  readonly metric: MetricSli | null;
  readonly windows: WindowSpec[];
  readonly zone: string;
  status: SloStatus = 'no_data';
  sinceMs: number;
  page = false;
  ticket = false;
  stateDirty = true;
  /** Events counted since start (vigil_slo_events_total): they sum across replicas. */
  eventsGood = 0;
  eventsBad = 0;
  // Window sums of minutes older than LATE_MINUTES, cached per minute (they can no longer change).
  cacheMinute = -1;
  cacheFrom: number[] = [];
  cacheGood: number[] = [];
  cacheTotal: number[] = [];

  constructor(config: SloConfig, nowMs: number) {
    this.config = config;
    const ind = config.indicator;
    this.kind = ind.type === 'span_latency' || ind.type === 'metric_latency' ? 'latency' : 'availability';
    this.metric = ind.type === 'metric_availability' ? counterSli(ind.good, ind.total) : ind.type === 'metric_latency' ? histogramSli(ind.histogram, ind.thresholdSeconds) : null;
    const w = config.window;
    const windowMax = w.kind === 'rolling' ? w.minutes : w.period === 'month' ? MONTH_MAX_MINUTES : QUARTER_MAX_MINUTES;
    this.ring = new MinuteRing(Math.max(windowMax, 3 * 1440) + LATE_MINUTES + 2);
    this.windows = REPORT_WINDOWS.filter((r) => r.label !== w.label);
    this.zone = w.timezone;
    this.sinceMs = nowMs;
  }

  /** First minute of the SLO window at `nowMs`, and the window's full length in minutes (for scaling). */
  sloWindow(nowMs: number): { from: number; lengthMinutes: number; startMs: number } {
    const w = this.config.window;
    const nowMinute = Math.floor(nowMs / MINUTE_MS);
    if (w.kind === 'rolling') return { from: nowMinute - w.minutes + 1, lengthMinutes: w.minutes, startMs: (nowMinute - w.minutes + 1) * MINUTE_MS };
    const p = calendarPeriod(nowMs, w.period, w.timezone);
    return { from: Math.ceil(p.startMs / MINUTE_MS), lengthMinutes: (p.endMs - p.startMs) / MINUTE_MS, startMs: p.startMs };
  }
}

/** The SLO engine. Call start() before traffic and shutdown() on the way out. */
export class SloEngine {
  readonly #options: SloEngineOptions;
  readonly #now: () => number;
  readonly #slos: SloRuntime[];
  readonly #byId = new Map<string, SloRuntime>();
  readonly #components: { config: ComponentConfig; status: SloStatus; sinceMs: number; dirty: boolean; slos: SloRuntime[] }[];
  readonly #log: Logger | undefined;
  #storage: Storage | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  #rollupTimer: NodeJS.Timeout | null = null;
  #flushFrom = 0;
  /** The latest minute a flush covered: a wall clock stepped back comes round to minutes up to it again. */
  #flushedUpTo = -Infinity;
  /** After a step back: minutes up to this one may already be in storage (whole counts are written). */
  #revisitUntil = -Infinity;
  #lastTickMs: number;
  #stopped: Promise<void> | null = null;
  readonly #scratch = new Float64Array(2);
  /** Statuses pinned by overrideStatus, by SLO id. */
  readonly #statusOverrides = new Map<string, SloStatus>();
  /** Flushes that failed (retried on the next tick). */
  flushFailures = 0;

  constructor(options: SloEngineOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger;
    const now = this.#now();
    this.#lastTickMs = now;
    this.#slos = options.slos.map((c) => new SloRuntime(c, now));
    for (const s of this.#slos) this.#byId.set(s.config.id, s);
    this.#components = options.components.map((config) => ({
      config,
      status: 'no_data' as SloStatus,
      sinceMs: now,
      dirty: true,
      slos: this.#slos.filter((s) => s.config.component === config.id),
    }));
    this.#flushFrom = Math.floor(now / MINUTE_MS) - LATE_MINUTES;
  }

  /** Number of configured SLOs. */
  get size(): number {
    return this.#slos.length;
  }

  /** Opens storage, reloads the rollups and saved states, and starts the flush and rollup timers. */
  start(): void {
    if (this.#storage !== null || this.#options.openStorage === null) return;
    const storage = this.#options.openStorage();
    this.#storage = storage;
    const now = this.#now();
    const nowMinute = Math.floor(now / MINUTE_MS);
    storage.rollup();
    for (const s of this.#slos) {
      for (const b of storage.loadMinutes(s.config.id, nowMinute - s.ring.size + 1)) {
        if (b.at <= nowMinute) s.ring.load(b.at, b.good, b.total, nowMinute);
      }
      s.cacheMinute = -1;
    }
    const states = storage.loadStates();
    for (const row of states.slos) {
      const s = this.#byId.get(row.slo);
      if (s === undefined) continue;
      s.status = row.status as SloStatus;
      s.sinceMs = row.sinceMs;
      s.page = row.page;
      s.ticket = row.ticket;
      s.stateDirty = false;
    }
    for (const row of states.components) {
      const c = this.#components.find((x) => x.config.id === row.component);
      if (c === undefined) continue;
      c.status = row.status as SloStatus;
      c.sinceMs = row.sinceMs;
      c.dirty = false;
    }
    this.#flushFrom = nowMinute - LATE_MINUTES;
    this.#flushTimer = setInterval(() => this.flush(), this.#options.flushIntervalMs);
    this.#flushTimer.unref();
    this.#rollupTimer = setInterval(() => this.#rollup(), MINUTE_MS);
    this.#rollupTimer.unref();
  }

  /**
   * The store calls this once per new span series: the slots of the SLOs whose span selector
   * matches, or null. The store caches the answer on the series.
   */
  readonly spanSeriesHook = (labels: SpanSeriesLabels): Int32Array | null => {
    const kind = labels.spanKind.toUpperCase().replace(/^SPAN_KIND_/, '') as SpanKindName;
    const slots: number[] = [];
    this.#slos.forEach((s, slot) => {
      const ind = s.config.indicator;
      if (ind.type !== 'span_availability' && ind.type !== 'span_latency') return;
      const sel = ind.spans;
      if (sel.service === labels.service && sel.spanKind === kind && (sel.spanName === null || sel.spanName === labels.spanName)) slots.push(slot);
    });
    return slots.length === 0 ? null : Int32Array.from(slots);
  };

  /**
   * Hot path, once per span of a series with SLO slots: availability counts it good unless it is
   * an error, latency when its duration is at or under the threshold (exact, no buckets).
   */
  readonly onSpan = (slots: Int32Array, durationSeconds: number, isError: boolean, endTimeMs: number): void => {
    const minute = this.#minuteFor(endTimeMs);
    for (let i = 0; i < slots.length; i++) {
      const s = this.#slos[slots[i]!]!;
      const ind = s.config.indicator;
      const good = ind.type === 'span_latency' ? durationSeconds <= ind.thresholdSeconds : !isError;
      s.ring.add(minute, good ? 1 : 0, 1);
      if (good) s.eventsGood++;
      else s.eventsBad++;
    }
  };

  /** Records events for an SLO directly (tests, and sources without a hook). */
  record(sloId: string, good: number, total: number, atMs = this.#now()): void {
    const s = this.#byId.get(sloId);
    if (s === undefined) throw new Error(`unknown SLO ${sloId}`);
    s.ring.add(this.#minuteFor(atMs), good, total);
    s.eventsGood += good;
    s.eventsBad += total - good;
  }

  /**
   * Pins the status an SLO shows (probes: up or down only after `confirm` consecutive results);
   * null lets the burn-rate math decide again. Counts, budgets and alerts are not affected.
   */
  overrideStatus(sloId: string, status: SloStatus | null): void {
    if (!this.#byId.has(sloId)) throw new Error(`unknown SLO ${sloId}`);
    if (status === null) this.#statusOverrides.delete(sloId);
    else this.#statusOverrides.set(sloId, status);
  }

  /**
   * Replaces whole minutes' counts with those of an outside source of truth (slo.source: the
   * fleet's counters in Prometheus). Each minute is set, not added, so asking again is harmless;
   * the differences are written to storage at once (hourly rollups included), as a backfill may
   * reach past the flush's recent minutes. Minutes in the future or older than the ring are
   * skipped. Returns the minutes changed; throws (nothing changed) when storage cannot be written.
   * vigil_slo_events_total is not touched: those events were counted by the replicas.
   */
  setMinutes(updates: readonly MinuteDelta[]): number {
    const nowMinute = Math.floor(this.#now() / MINUTE_MS);
    const changed: MinuteDelta[] = [];
    for (const u of updates) {
      const s = this.#byId.get(u.slo);
      if (s === undefined) throw new Error(`unknown SLO ${u.slo}`);
      if (u.minute > nowMinute || u.minute <= nowMinute - s.ring.size) continue;
      s.ring.sum(u.minute, u.minute, this.#scratch);
      const good = u.good - this.#scratch[0]!;
      const total = u.total - this.#scratch[1]!;
      if (good !== 0 || total !== 0) changed.push({ slo: u.slo, minute: u.minute, good, total });
    }
    if (changed.length === 0) return 0;
    if (this.#storage !== null) {
      let oldest = nowMinute;
      for (const c of changed) oldest = Math.min(oldest, c.minute);
      try {
        this.#storage.write(changed);
        this.#storage.rollupFrom(oldest);
      } catch (err) {
        this.flushFailures++;
        throw err;
      }
    }
    for (const c of changed) {
      const s = this.#byId.get(c.slo)!;
      s.ring.add(c.minute, c.good, c.total);
      s.ring.markFlushed(c.minute, c.minute);
      s.cacheMinute = -1;
    }
    return changed.length;
  }

  /** Events are counted in their own minute if it is at most LATE_MINUTES old and not in the future. */
  #minuteFor(atMs: number): number {
    const nowMinute = Math.floor(this.#now() / MINUTE_MS);
    const minute = Math.floor(atMs / MINUTE_MS);
    return minute > nowMinute || minute < nowMinute - LATE_MINUTES || !(minute === minute) ? nowMinute : minute;
  }

  /** Samples metric-based SLIs from the store: their increases since the last tick go to this minute. */
  sampleMetrics(): void {
    const now = this.#now();
    const families = this.#options.families;
    if (families !== undefined && this.#slos.some((s) => s.metric !== null)) {
      const byName = new Map<string, Family>();
      for (const f of families()) byName.set(f.name, f);
      const minute = Math.floor(now / MINUTE_MS);
      for (const s of this.#slos) {
        if (s.metric === null) continue;
        this.#scratch[0] = 0;
        this.#scratch[1] = 0;
        s.metric.sample(byName, this.#lastTickMs, this.#scratch);
        if (this.#scratch[1]! > 0 || this.#scratch[0]! > 0) {
          s.ring.add(minute, this.#scratch[0]!, this.#scratch[1]!);
          s.eventsGood += this.#scratch[0]!;
          s.eventsBad += this.#scratch[1]! - this.#scratch[0]!;
        }
      }
    }
    this.#lastTickMs = now;
  }

  /** Evaluates every SLO and component now. */
  report(): ComponentReport[] {
    const now = this.#now();
    const bySlo = new Map<SloRuntime, SloReport>();
    for (const s of this.#slos) bySlo.set(s, this.#evaluate(s, now));
    return this.#components.map((c) => {
      const slos = c.slos.map((s) => bySlo.get(s)!);
      const status = componentStatus(slos.map((r) => r.status));
      if (status !== c.status) {
        c.status = status;
        c.sinceMs = now;
        c.dirty = true;
      }
      return { id: c.config.id, name: c.config.name, group: c.config.group, description: c.config.description, status, statusSinceMs: c.sinceMs, slos };
    });
  }

  /** One SLO's report, or undefined. */
  sloReport(id: string): SloReport | undefined {
    const s = this.#byId.get(id);
    return s === undefined ? undefined : this.#evaluate(s, this.#now());
  }

  #evaluate(s: SloRuntime, now: number): SloReport {
    const nowMinute = Math.floor(now / MINUTE_MS);
    const slo = s.sloWindow(now);
    const specs: { label: string; from: number }[] = s.windows.map((w) => ({ label: w.label, from: nowMinute - w.minutes + 1 }));
    specs.push({ label: s.config.window.label, from: slo.from });
    if (s.cacheMinute !== nowMinute || s.cacheFrom.length !== specs.length || specs.some((w, i) => w.from !== s.cacheFrom[i])) {
      s.cacheMinute = nowMinute;
      s.cacheFrom = specs.map((w) => w.from);
      s.cacheGood = [];
      s.cacheTotal = [];
      for (const w of specs) {
        s.ring.sum(w.from, nowMinute - LATE_MINUTES - 1, this.#scratch);
        s.cacheGood.push(this.#scratch[0]!);
        s.cacheTotal.push(this.#scratch[1]!);
      }
    }
    const objective = s.config.objective;
    const windows: WindowReport[] = specs.map((w, i) => {
      s.ring.sum(Math.max(w.from, nowMinute - LATE_MINUTES), nowMinute, this.#scratch);
      const good = s.cacheGood[i]! + this.#scratch[0]!;
      const total = s.cacheTotal[i]! + this.#scratch[1]!;
      return { window: w.label, good, total, sli: sli(good, total), burnRate: burnRate(good, total, objective) };
    });
    const burn = new Map<string, number | null>(windows.map((w) => [w.window, w.burnRate]));
    const firing = firingRules(burn, slo.lengthMinutes);
    const page = firing.some((r) => r.severity === 'page');
    const ticket = firing.some((r) => r.severity === 'ticket');
    const sloWindow = windows[windows.length - 1]!;
    const status = this.#statusOverrides.get(s.config.id) ?? sloStatus({ hasData: sloWindow.total > 0, kind: s.kind, page, ticket, sli5m: windows.find((w) => w.window === '5m')?.sli ?? null });
    if (status !== s.status || page !== s.page || ticket !== s.ticket) {
      if (status !== s.status) s.sinceMs = now;
      s.status = status;
      s.page = page;
      s.ticket = ticket;
      s.stateDirty = true;
    }
    return {
      id: s.config.id,
      name: s.config.name,
      component: s.config.component,
      kind: s.kind,
      objective,
      window: s.config.window.label,
      windowStartMs: slo.startMs,
      windows,
      budgetRemaining: budgetRemaining(sloWindow.good, sloWindow.total, objective),
      alerts: { page, ticket },
      thresholds: ALERT_RULES.map((r) => ({ severity: r.severity, long: r.long, short: r.short, burnRate: scaledThreshold(r.baseThreshold, slo.lengthMinutes) })),
      status,
      statusSinceMs: s.sinceMs,
    };
  }

  /**
   * Daily uptime of an SLO for the last `days` local days (today included, oldest first) in the
   * SLO's zone. Recent days come from memory (minute-exact); older ones from the hourly rollups.
   */
  dailyUptime(sloId: string, days = 90): DailyUptime[] {
    const s = this.#byId.get(sloId);
    if (s === undefined) throw new Error(`unknown SLO ${sloId}`);
    const now = this.#now();
    const nowMinute = Math.floor(now / MINUTE_MS);
    const ringFirst = nowMinute - s.ring.size + LATE_MINUTES + 1;
    const out: DailyUptime[] = [];
    let day = localDay(now, s.zone);
    for (let i = 0; i < days; i++) {
      out.push({ date: formatDate(day.date), startMs: day.startMs, endMs: day.endMs, good: 0, total: 0, sli: null });
      day = localDay(day.startMs - 1, s.zone);
    }
    out.reverse();
    let hours: Bucket[] = [];
    const oldest = out[0]!;
    if (this.#storage !== null && Math.floor(oldest.startMs / MINUTE_MS) < ringFirst) {
      hours = this.#storage.loadHours(sloId, Math.floor(oldest.startMs / HOUR_MS), Math.ceil((ringFirst * MINUTE_MS) / HOUR_MS));
    }
    let h = 0;
    for (const d of out) {
      const from = Math.ceil(d.startMs / MINUTE_MS);
      const to = Math.ceil(d.endMs / MINUTE_MS) - 1;
      if (from >= ringFirst) {
        s.ring.sum(from, Math.min(to, nowMinute), this.#scratch);
        d.good = this.#scratch[0]!;
        d.total = this.#scratch[1]!;
      } else {
        // An hour belongs to the day its first minute is in (exact for zones with whole-hour offsets).
        while (h < hours.length && hours[h]!.at * HOUR_MS < d.startMs) h++;
        for (; h < hours.length && hours[h]!.at * HOUR_MS < d.endMs; h++) {
          d.good += hours[h]!.good;
          d.total += hours[h]!.total;
        }
      }
      d.sli = sli(d.good, d.total);
    }
    return out;
  }

  /** A component's daily uptime: per day, the lowest SLI among its SLOs with events that day. */
  componentDailyUptime(componentId: string, days = 90): { date: string; sli: number | null }[] {
    const c = this.#components.find((x) => x.config.id === componentId);
    if (c === undefined) throw new Error(`unknown component ${componentId}`);
    const byDate = new Map<string, number | null>();
    for (const s of c.slos) {
      for (const d of this.dailyUptime(s.config.id, days)) {
        const prev = byDate.get(d.date) ?? null;
        byDate.set(d.date, d.sli === null ? prev : prev === null ? d.sli : Math.min(prev, d.sli));
      }
    }
    return [...byDate].sort((a, b) => (a[0] < b[0] ? -1 : 1)).slice(-days).map(([date, value]) => ({ date, sli: value }));
  }

  /** The vigil_slo_* families (and storage counters) as exposition text. */
  render(format: 'text' | 'openmetrics'): string {
    if (this.#slos.length === 0 && this.#options.openStorage === null) return '';
    const slos = this.#slos.length === 0 ? [] : this.report().flatMap((c) => c.slos);
    return renderSloMetrics(slos, format, { flushFailures: this.flushFailures, storage: this.#options.openStorage !== null });
  }

  /** The vigil_slo_* families (vigil_slo_events_total included) for the read model. */
  collect(): FamilyView[] {
    if (this.#slos.length === 0 && this.#options.openStorage === null) return [];
    const slos = this.#slos.length === 0 ? [] : this.report().flatMap((c) => c.slos);
    const events = new Map(this.#slos.map((s) => [s.config.id, { good: s.eventsGood, bad: s.eventsBad }]));
    return sloFamilies(slos, events, { flushFailures: this.flushFailures, storage: this.#options.openStorage !== null });
  }

  /**
   * Samples metric SLIs, evaluates states, and writes everything not yet flushed in one transaction.
   * A failure is logged and counted; the same counts are retried on the next flush.
   */
  flush(): void {
    this.sampleMetrics();
    const storage = this.#storage;
    if (storage === null) return;
    if (this.#slos.length > 0) this.report();
    const nowMinute = Math.floor(this.#now() / MINUTE_MS);
    const from = this.#flushFrom;
    // Flushes that failed for a while (a full disk) and wall-clock steps forward (issue 15): every
    // minute since the last flush that worked is flushed, in chunks of the FLUSH_SLOTS minutes the
    // bookkeeping remembers (bounded by the ring, which holds them). Steps back: until the clock is past
    // the latest minute flushed, storage may already hold the minutes it comes round to, which
    // the bookkeeping may have forgotten; each such minute's whole count is written (an idempotent
    // upsert, exact because the ring holds the minute complete) instead of a delta added.
    const rangesFor = (ringSize: number): [number, number][] => {
      const out: [number, number][] = [];
      for (let a = Math.max(from, nowMinute - ringSize + LATE_MINUTES + 2); a <= nowMinute; a += FLUSH_SLOTS) out.push([a, Math.min(nowMinute, a + FLUSH_SLOTS - 1)]);
      return out;
    };
    if (nowMinute < this.#flushedUpTo) this.#revisitUntil = Math.max(this.#revisitUntil, this.#flushedUpTo);
    const revisiting = nowMinute <= this.#revisitUntil;
    const deltas: MinuteDelta[] = [];
    const scratch: MinuteCounts[] = [];
    for (const s of this.#slos) {
      if (revisiting && this.#revisitUntil - nowMinute < s.ring.size - LATE_MINUTES - 1) {
        for (let m = nowMinute - LATE_MINUTES; m <= nowMinute; m++) {
          s.ring.sum(m, m, this.#scratch);
          if (this.#scratch[1]! > 0 || this.#scratch[0]! > 0) deltas.push({ slo: s.config.id, minute: m, good: this.#scratch[0]!, total: this.#scratch[1]!, absolute: true });
        }
        continue;
      }
      for (const [a, b] of rangesFor(s.ring.size)) {
        scratch.length = 0;
        s.ring.unflushed(a, b, scratch);
        for (const c of scratch) deltas.push({ slo: s.config.id, minute: c.minute, good: c.good, total: c.total });
      }
    }
    const now = this.#now();
    const sloStates: SloStateRow[] = this.#slos
      .filter((s) => s.stateDirty)
      .map((s) => ({ slo: s.config.id, component: s.config.component, status: s.status, page: s.page, ticket: s.ticket, sinceMs: s.sinceMs, updatedMs: now }));
    const componentStates: ComponentStateRow[] = this.#components
      .filter((c) => c.dirty)
      .map((c) => ({ component: c.config.id, status: c.status, sinceMs: c.sinceMs, updatedMs: now }));
    if (deltas.length === 0 && sloStates.length === 0 && componentStates.length === 0) {
      this.#flushFrom = nowMinute - LATE_MINUTES;
      this.#flushedUpTo = Math.max(this.#flushedUpTo, nowMinute);
      return;
    }
    try {
      storage.write(deltas, sloStates, componentStates);
    } catch (err) {
      this.flushFailures++;
      if (this.#options.onStorageWrite !== undefined) this.#options.onStorageWrite('slo_flush', err);
      else this.#log?.error({ err, path: storage.path }, 'SLO flush failed; retrying on the next flush');
      return;
    }
    this.#options.onStorageWrite?.('slo_flush', null);
    for (const s of this.#slos) {
      if (revisiting) s.ring.markFlushed(nowMinute - LATE_MINUTES, nowMinute);
      else for (const [a, b] of rangesFor(s.ring.size)) s.ring.markFlushed(a, b);
      s.stateDirty = false;
    }
    this.#flushedUpTo = Math.max(this.#flushedUpTo, nowMinute);
    for (const c of this.#components) c.dirty = false;
    this.#flushFrom = nowMinute - LATE_MINUTES;
  }

  #rollup(): void {
    if (this.#storage === null) return;
    try {
      this.#storage.rollup();
    } catch (err) {
      if (this.#options.onStorageWrite !== undefined) this.#options.onStorageWrite('slo_rollup', err);
      else this.#log?.error({ err }, 'SLO hourly rollup failed; retrying in a minute');
      return;
    }
    this.#options.onStorageWrite?.('slo_rollup', null);
  }

  /** Stops the timers, flushes everything, rolls up and closes storage. Idempotent; safe without start. */
  shutdown(): Promise<void> {
    this.#stopped ??= (async () => {
      if (this.#flushTimer !== null) clearInterval(this.#flushTimer);
      if (this.#rollupTimer !== null) clearInterval(this.#rollupTimer);
      const storage = this.#storage;
      if (storage === null) return;
      this.flush();
      this.#rollup();
      this.#storage = null;
      storage.close();
    })();
    return this.#stopped;
  }
}
