// The SLO engine: per-minute good/total per SLO fed from the span hook and metric sampling, window
// sums, burn-rate alerts, statuses, the /metrics section, the read API, and the flush to SQLite.

import type { Logger } from 'pino';
import type { ComponentConfig, SloConfig, SpanKindName } from '../config/types.js';
import type { ComponentStateRow, MinuteDelta, SloStateRow, Storage } from '../storage/index.js';
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
import { FLUSH_SLOTS, LATE_MINUTES, LIVE_HOURS, LIVE_MINUTES, SloCounts } from './minutes.js';
import type { CountsShape, HistorySource, MinuteCounts } from './minutes.js';
import { sloFamilies } from './render.js';
import type { FamilyView } from '../model/read-model.js';

const MINUTE_MS = 60_000;
/**
 * Minutes (of one SLO each) kept in memory past the minute ring while flushes fail: about 100 bytes
 * each, 100 MB at most; 1,000 SLOs with traffic hold 16 hours of an outage.
 */
export const HELD_MINUTES_LIMIT = 1_000_000;
/**
 * Longest spacing of the flush's retries while it fails: each failed attempt doubles the spacing,
 * from one flush interval. A failing flush writes every minute since the last one that worked
 * (about 1 CPU-s at 1,000 SLOs × 4 hours of a full disk; native-bench/micro/slo-flush-outage.mjs),
 * so retrying every second kept the main thread busy; this also bounds how long after the disk
 * takes writes again the flush (and /-/ready) notice.
 */
export const FLUSH_RETRY_MAX_MS = 30_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Shared, never written: the stored days of SLOs without history. */
const ZEROS = new Map<number, Float64Array>();
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

/** Good/total per local day, oldest first (SloEngine.dailyCounts). */
export interface DailyCounts {
  days: readonly { date: string; startMs: number; endMs: number }[];
  good: Float64Array;
  total: Float64Array;
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

/** The ring sizes of an SLO: days for its longest window (or 3d, the longest report window), live hours and minutes. */
export function countsShape(window: SloConfig['window'], withStorage: boolean): CountsShape {
  const windowMax = window.kind === 'rolling' ? window.minutes : window.period === 'month' ? MONTH_MAX_MINUTES : QUARTER_MAX_MINUTES;
  const longest = Math.max(windowMax, 3 * 1440) + LATE_MINUTES + 2;
  const daySlots = Math.ceil(longest / 1440) + 2;
  // Without storage the rings are the only place the left edges' hours and minutes can come from.
  if (!withStorage) return { minuteSlots: longest, hourSlots: Math.ceil(longest / 60) + 2, daySlots };
  return { minuteSlots: LIVE_MINUTES, hourSlots: LIVE_HOURS, daySlots };
}

/** Runtime state of one component. */
interface ComponentRuntime {
  config: ComponentConfig;
  status: SloStatus;
  sinceMs: number;
  dirty: boolean;
  slos: SloRuntime[];
}

/** Runtime state of one SLO. */
class SloRuntime {
  readonly config: SloConfig;
  readonly kind: 'availability' | 'latency';
  readonly ring: SloCounts;
  /** History loaded from storage (or nothing to load); set before the first event is counted. */
  hydrated: boolean;
  /** Events counted since the last flush. */
  dirty = false;
  /** Reads this SLO's stored minutes and hours (window left edges); null without storage. */
  source: HistorySource | null = null;
  /** Daily uptime of the days older than the rings, read from storage once (they no longer change). */
  pastDays: { key: string; good: Float64Array; total: Float64Array; nonZero: boolean } | null = null;
  /** The last dailyCounts() answer and what it depended on. */
  daily: { list: readonly { date: string; startMs: number; endMs: number }[]; version: number; inMemory: number; result: DailyCounts } | null = null;
  readonly metric: MetricSli | null;
  readonly windows: WindowSpec[];
  readonly zone: string;
  status: SloStatus = 'no_data';
  sinceMs: number;
  page = false;
  ticket = false;
  stateDirty = true;
  /** Counted events since start (any change of the counts bumps it). */
  version = 0;
  /** The last evaluation, reused by report() for up to a minute while no event arrives (SLOs with counts only). */
  lastReport: SloReport | null = null;
  lastEvalMs = 0;
  lastEvalVersion = -1;
  /** Events counted since start (vigil_slo_events_total): they sum across replicas. */
  eventsGood = 0;
  eventsBad = 0;
  // Window sums of minutes older than LATE_MINUTES, cached per minute (they can no longer change).
  cacheMinute = -1;
  cacheFrom: number[] = [];
  cacheGood: number[] = [];
  cacheTotal: number[] = [];

  constructor(config: SloConfig, nowMs: number, withStorage: boolean) {
    this.config = config;
    this.hydrated = !withStorage;
    const ind = config.indicator;
    this.kind = ind.type === 'span_latency' || ind.type === 'metric_latency' ? 'latency' : 'availability';
    this.metric = ind.type === 'metric_availability' ? counterSli(ind.good, ind.total) : ind.type === 'metric_latency' ? histogramSli(ind.histogram, ind.thresholdSeconds) : null;
    const w = config.window;
    this.ring = new SloCounts(countsShape(w, withStorage));
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
  readonly #components: ComponentRuntime[];
  readonly #componentById = new Map<string, ComponentRuntime>();
  readonly #componentOf = new Map<SloRuntime, ComponentRuntime>();
  /** SLOs with events since the last flush: the flush writes and re-evaluates only these... */
  #dirty: SloRuntime[] = [];
  /** ...plus a slice of the others from here on, so that every SLO is re-evaluated each minute. */
  #evalCursor = 0;
  readonly #metricSlos: SloRuntime[];
  readonly #log: Logger | undefined;
  #storage: Storage | null = null;
  #hydrateTimer: NodeJS.Immediate | null = null;
  #hydrateCursor = 0;
  #historyLoading = false;
  #historyWaiters: (() => void)[] = [];
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
  /** Flushes that failed (retried by tick(), backing off). */
  flushFailures = 0;
  /**
   * Minutes the ring dropped while flushes failed (an outage longer than the minute ring), kept here
   * until a flush works; at most HELD_MINUTES_LIMIT, beyond that counted in heldDropped.
   */
  #held: MinuteDelta[] = [];
  heldDropped = 0;
  #flushFailing = false;
  readonly #heldScratch: MinuteCounts[] = [];
  /** Flush intervals between write attempts while flushes fail (0: not failing); doubles per failure. */
  #retrySpacing = 0;
  /** Ticks to skip before the next write attempt. */
  #ticksToRetry = 0;

  constructor(options: SloEngineOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger;
    const now = this.#now();
    this.#lastTickMs = now;
    this.#slos = options.slos.map((c) => new SloRuntime(c, now, options.openStorage !== null));
    for (const s of this.#slos) this.#byId.set(s.config.id, s);
    this.#metricSlos = this.#slos.filter((s) => s.metric !== null);
    this.#components = options.components.map((config) => ({ config, status: 'no_data' as SloStatus, sinceMs: now, dirty: true, slos: [] }));
    for (const c of this.#components) this.#componentById.set(c.config.id, c);
    for (const s of this.#slos) {
      const c = this.#componentById.get(s.config.component);
      if (c === undefined) continue;
      c.slos.push(s);
      this.#componentOf.set(s, c);
    }
    this.#flushFrom = Math.floor(now / MINUTE_MS) - LATE_MINUTES;
  }

  /** Number of configured SLOs. */
  get size(): number {
    return this.#slos.length;
  }

  /**
   * Opens storage, reloads the saved states, and starts the flush and pruning timers. The counts history is loaded per SLO: in the background a few milliseconds at a
   * time, or at once when an SLO is first recorded into or read, whichever comes first.
   */
  start(): void {
    if (this.#storage !== null || this.#options.openStorage === null) return;
    const storage = this.#options.openStorage();
    this.#storage = storage;
    const now = this.#now();
    const nowMinute = Math.floor(now / MINUTE_MS);
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
      const c = this.#componentById.get(row.component);
      if (c === undefined) continue;
      c.status = row.status as SloStatus;
      c.sinceMs = row.sinceMs;
      c.dirty = false;
    }
    this.#flushFrom = nowMinute - LATE_MINUTES;
    this.#flushTimer = setInterval(() => this.tick(), this.#options.flushIntervalMs);
    this.#flushTimer.unref();
    this.#rollupTimer = setInterval(() => this.#rollup(), MINUTE_MS);
    this.#rollupTimer.unref();
    this.#historyLoading = true;
  }

  /**
   * Starts the background load of the SLOs' history (vigild calls this once it is ready, so the
   * load does not delay binding). Until then, and for SLOs not loaded yet, an event or a read
   * loads that SLO at once. Idempotent.
   */
  startHistoryLoad(): void {
    if (!this.#historyLoading || this.#hydrateTimer !== null || this.#storage === null) return;
    // Not unref'd: the load is finite, and whenHistoryLoaded() must be able to resolve in a process with nothing else to do.
    this.#hydrateTimer = setImmediate(this.#hydrateSome);
  }

  /** True while the background load of the SLOs' history (and their first evaluation) runs. */
  get historyLoading(): boolean {
    return this.#historyLoading;
  }

  /** Resolves once every SLO's history is loaded and evaluated, after startHistoryLoad() (at once without storage or before start). */
  whenHistoryLoaded(): Promise<void> {
    return this.#historyLoading ? new Promise((resolve) => this.#historyWaiters.push(resolve)) : Promise.resolve();
  }

  /** SLOs whose history is loaded (all of them once the background load is done). */
  get hydratedCount(): number {
    let n = 0;
    for (const s of this.#slos) if (s.hydrated) n++;
    return n;
  }

  /** Bytes the SLO counts hold (rings and edge caches), for the memory figures. */
  get countsBytes(): number {
    let bytes = 0;
    for (const s of this.#slos) bytes += s.ring.byteSize;
    return bytes;
  }

  /**
   * Loads an SLO's stored history into its rings: days back to its longest window, hours and
   * minutes for the live rings (about 200 rows). Runs before the SLO's first event is counted, so storage holds none of this
   * process's events yet and nothing is counted twice.
   */
  #hydrate(s: SloRuntime): void {
    s.hydrated = true;
    const storage = this.#storage;
    if (storage === null) return;
    const id = s.config.id;
    s.source = {
      minutes: (from, to, out) => this.#storage?.sumMinutes(id, from, to, out),
      hours: (from, to, out) => this.#storage?.sumHours(id, from, to, out),
    };
    const nowMinute = Math.floor(this.#now() / MINUTE_MS);
    const nowHour = Math.floor(nowMinute / 60);
    const nowDay = Math.floor(nowMinute / 1440);
    for (const b of storage.loadDays(id, nowDay - s.ring.daySlots + 1, nowDay + 1)) s.ring.loadDay(b.at, b.good, b.total);
    for (const b of storage.loadHours(id, nowHour - s.ring.hourSlots + 1, nowHour + 1)) s.ring.loadHour(b.at, b.good, b.total);
    for (const b of storage.loadMinutes(id, nowMinute - s.ring.minuteSlots + 1)) {
      if (b.at <= nowMinute) s.ring.loadMinute(b.at, b.good, b.total, nowMinute);
    }
    s.cacheMinute = -1;
  }

  /**
   * The background load: SLOs in config order, about 10 ms per turn of the event loop, each
   * loaded and evaluated once (which reads its window edges), so that the daemon serves while a
   * month of history for thousands of SLOs is read.
   */
  readonly #hydrateSome = (): void => {
    this.#hydrateTimer = null;
    if (this.#storage !== null) {
      const until = performance.now() + 10;
      const now = this.#now();
      while (this.#hydrateCursor < this.#slos.length && performance.now() < until) {
        const s = this.#slos[this.#hydrateCursor++]!;
        this.#evaluate(s, now);
      }
      if (this.#hydrateCursor < this.#slos.length) {
        this.#hydrateTimer = setImmediate(this.#hydrateSome);
        return;
      }
    }
    this.#historyLoading = false;
    for (const resolve of this.#historyWaiters.splice(0)) resolve();
  };

  /** Counts events into an SLO, loading its history first if needed. */
  #add(s: SloRuntime, minute: number, good: number, total: number): void {
    if (!s.hydrated) this.#hydrate(s);
    // While flushes fail, a minute the ring is about to reuse may not be in storage yet: keep it.
    if (this.#flushFailing) {
      const old = s.ring.heldBefore(minute);
      if (old >= this.#flushFrom) this.#hold(s, old);
    }
    s.ring.add(minute, good, total);
    s.version++;
    s.eventsGood += good;
    s.eventsBad += total - good;
    if (!s.dirty) {
      s.dirty = true;
      this.#dirty.push(s);
    }
  }

  /** Keeps the unflushed counts of `minute`, which the ring is about to drop, for the next flush. */
  #hold(s: SloRuntime, minute: number): void {
    const scratch = this.#heldScratch;
    scratch.length = 0;
    s.ring.unflushed(minute, minute, scratch);
    for (const c of scratch) {
      if (this.#held.length >= HELD_MINUTES_LIMIT) this.heldDropped++;
      else this.#held.push({ slo: s.config.id, minute: c.minute, good: c.good, total: c.total });
    }
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
      this.#add(s, minute, good ? 1 : 0, 1);
    }
  };

  /** Records events for an SLO directly (tests, and sources without a hook). */
  record(sloId: string, good: number, total: number, atMs = this.#now()): void {
    const s = this.#byId.get(sloId);
    if (s === undefined) throw new Error(`unknown SLO ${sloId}`);
    this.#add(s, this.#minuteFor(atMs), good, total);
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
   * fleet's counters in Prometheus). Each minute is set, not added, so asking again is harmless.
   * Minutes of any age (a backfill after hours or days down) are written to storage at once, in
   * one transaction with their hours and days (Storage.setMinutes), and moved in the rings that
   * still hold them: the minute ring for recent minutes, the hour and day rings for older ones
   * (what even those no longer hold, windows read from storage). Without storage only the ring's
   * minutes can be set. Minutes in the future are skipped. Nothing is evaluated here: each SLO's
   * next report sees the new counts. Returns the minutes changed; throws (nothing changed) when
   * storage cannot be written. vigil_slo_events_total is not touched: the replicas counted those.
   */
  setMinutes(updates: readonly MinuteDelta[]): number {
    const nowMinute = Math.floor(this.#now() / MINUTE_MS);
    const storage = this.#storage;
    // Added to the ring and storage (SLOs with events not flushed yet, or no storage): the difference with the ring.
    const added: MinuteDelta[] = [];
    // Set in storage, which says what changed; the rings follow.
    const set: MinuteDelta[] = [];
    for (const u of updates) {
      const s = this.#byId.get(u.slo);
      if (s === undefined) throw new Error(`unknown SLO ${u.slo}`);
      if (u.minute > nowMinute) continue;
      const inRing = u.minute > nowMinute - s.ring.minuteSlots;
      if (!inRing && storage === null) continue;
      // Loaded first, so that the rings hold what storage holds.
      if (!s.hydrated) this.#hydrate(s);
      if (inRing) {
        s.ring.sum(u.minute, u.minute, nowMinute, this.#scratch, null);
        const good = u.good - this.#scratch[0]!;
        const total = u.total - this.#scratch[1]!;
        if (good === 0 && total === 0) continue;
        if (storage === null || s.dirty) {
          added.push({ slo: u.slo, minute: u.minute, good, total });
          continue;
        }
      }
      set.push({ slo: u.slo, minute: u.minute, good: u.good, total: u.total });
    }
    if (added.length === 0 && set.length === 0) return 0;
    let changed: MinuteDelta[] = [];
    if (storage !== null) {
      try {
        if (set.length > 0) changed = storage.setMinutes(set);
        // write() moves each minute's hour and day too.
        if (added.length > 0) storage.write(added);
      } catch (err) {
        this.flushFailures++;
        // What set() committed is in storage: the rings follow it, and the rest is asked again.
        this.#applySet(changed, nowMinute);
        throw err;
      }
    }
    this.#applySet(changed, nowMinute);
    for (const c of added) {
      const s = this.#byId.get(c.slo)!;
      s.ring.add(c.minute, c.good, c.total);
      s.version++;
      s.ring.markFlushed(c.minute, c.minute);
      s.cacheMinute = -1;
    }
    return changed.length + added.length;
  }

  /** The rings follow minutes set in storage (differences): the minute ring where it reaches, else hours and days. */
  #applySet(changed: readonly MinuteDelta[], nowMinute: number): void {
    for (const c of changed) {
      const s = this.#byId.get(c.slo)!;
      if (c.minute > nowMinute - s.ring.minuteSlots) {
        s.ring.add(c.minute, c.good, c.total);
        s.ring.markFlushed(c.minute, c.minute);
      } else s.ring.addPast(c.minute, c.good, c.total, nowMinute);
      s.version++;
      s.cacheMinute = -1;
      // Days older than the rings were read from storage once and kept: read them again.
      s.pastDays = null;
    }
  }

  /** The newest minute storage holds for any SLO (null: none, or no storage): where a fleet source's backfill resumes after a restart. */
  newestStoredMinute(): number | null {
    return this.#storage?.newestMinute() ?? null;
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
    if (families !== undefined && this.#metricSlos.length > 0) {
      const byName = new Map<string, Family>();
      for (const f of families()) byName.set(f.name, f);
      const minute = Math.floor(now / MINUTE_MS);
      for (const s of this.#metricSlos) {
        this.#scratch[0] = 0;
        this.#scratch[1] = 0;
        s.metric!.sample(byName, this.#lastTickMs, this.#scratch);
        if (this.#scratch[1]! > 0 || this.#scratch[0]! > 0) this.#add(s, minute, this.#scratch[0]!, this.#scratch[1]!);
      }
    }
    this.#lastTickMs = now;
  }

  /**
   * Every SLO and component: SLOs with events since their last evaluation are evaluated now, the
   * others were within the last minute (the flush keeps it so).
   */
  report(): ComponentReport[] {
    const now = this.#now();
    const bySlo = new Map<SloRuntime, SloReport>();
    // An SLO without events since its last evaluation, less than a minute ago, keeps that report:
    // the flush re-evaluates every SLO at least once a minute, spread over the minute, so a reader
    // of all 10,000 SLOs does not recompute every window (and read every left edge) at once.
    for (const s of this.#slos) {
      const fresh = s.lastReport !== null && s.version === s.lastEvalVersion && now >= s.lastEvalMs && now - s.lastEvalMs < MINUTE_MS;
      bySlo.set(s, fresh ? s.lastReport! : this.#evaluate(s, now));
    }
    return this.#components.map((c) => {
      const slos = c.slos.map((s) => bySlo.get(s)!);
      const status = this.#updateComponent(c, now);
      return { id: c.config.id, name: c.config.name, group: c.config.group, description: c.config.description, status, statusSinceMs: c.sinceMs, slos };
    });
  }

  /** A component's status from its SLOs' last evaluated statuses. */
  #updateComponent(c: ComponentRuntime, now: number): SloStatus {
    const status = componentStatus(c.slos.map((s) => s.status));
    if (status !== c.status) {
      c.status = status;
      c.sinceMs = now;
      c.dirty = true;
    }
    return status;
  }

  /** One SLO's report, or undefined. */
  sloReport(id: string): SloReport | undefined {
    const s = this.#byId.get(id);
    return s === undefined ? undefined : this.#evaluate(s, this.#now());
  }

  #evaluate(s: SloRuntime, now: number): SloReport {
    const report = this.#evaluateNow(s, now);
    // Only SLOs with counts keep their report: an idle SLO is cheap to evaluate and stays small.
    if (s.ring.allocated) {
      s.lastReport = report;
      s.lastEvalMs = now;
      s.lastEvalVersion = s.version;
    }
    return report;
  }

  #evaluateNow(s: SloRuntime, now: number): SloReport {
    if (!s.hydrated) this.#hydrate(s);
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
        s.ring.sum(w.from, nowMinute - LATE_MINUTES - 1, nowMinute, this.#scratch, s.source);
        s.cacheGood.push(this.#scratch[0]!);
        s.cacheTotal.push(this.#scratch[1]!);
      }
    }
    const objective = s.config.objective;
    const windows: WindowReport[] = specs.map((w, i) => {
      s.ring.sum(Math.max(w.from, nowMinute - LATE_MINUTES), nowMinute, nowMinute, this.#scratch, s.source);
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
   * SLO's zone: dailyCounts() as one object per day.
   */
  dailyUptime(sloId: string, days = 90): DailyUptime[] {
    const counts = this.dailyCounts(sloId, days);
    return counts.days.map((d, i) => ({ ...d, good: counts.good[i]!, total: counts.total[i]!, sli: sli(counts.good[i]!, counts.total[i]!) }));
  }

  /**
   * Good and total events per local day of an SLO for the last `days` days of its zone (today
   * last), without an object per day (the status page reads 90 days of every SLO per refresh).
   * An hour belongs to the day its first minute is in (exact for zones with whole-hour offsets).
   * Days the rings hold come from memory; older ones from storage, read once and kept.
   */
  dailyCounts(sloId: string, days = 90): DailyCounts {
    const s = this.#byId.get(sloId);
    if (s === undefined) throw new Error(`unknown SLO ${sloId}`);
    if (!s.hydrated) this.#hydrate(s);
    const now = this.#now();
    const nowMinute = Math.floor(now / MINUTE_MS);
    const list = this.#localDays(now, s.zone, days);
    let inMemory = list.length;
    while (inMemory > 0 && s.ring.localDay(list[inMemory - 1]!.startMs, list[inMemory - 1]!.endMs, nowMinute, this.#scratch)) inMemory--;
    // The same answer as last time while no event arrived and the days did not move (read-only).
    const cached = s.daily;
    if (cached !== null && cached.list === list && cached.version === s.version && cached.inMemory === inMemory) return cached.result;
    const good = new Float64Array(list.length);
    const total = new Float64Array(list.length);
    for (let i = inMemory; i < list.length; i++) {
      s.ring.localDay(list[i]!.startMs, list[i]!.endMs, nowMinute, this.#scratch);
      good[i] = this.#scratch[0]!;
      total[i] = this.#scratch[1]!;
    }
    if (inMemory > 0 && this.#storage !== null) {
      const key = `${list[0]!.startMs}:${inMemory}`;
      if (s.pastDays?.key !== key) s.pastDays = this.#pastDays(sloId, list.slice(0, inMemory), key);
      good.set(s.pastDays.good);
      total.set(s.pastDays.total);
    }
    const result: DailyCounts = { days: list, good, total };
    // Kept for SLOs with counts; an idle SLO recomputes (cheaply) rather than hold 1.5 KiB.
    s.daily = s.ring.allocated || s.pastDays?.nonZero === true ? { list, version: s.version, inMemory, result } : null;
    return result;
  }

  /** Stored good/total of local days: UTC days from the daily rollups, other days from the hourly ones. */
  #pastDays(sloId: string, days: readonly { startMs: number; endMs: number }[], key: string): { key: string; good: Float64Array; total: Float64Array; nonZero: boolean } {
    const good = new Float64Array(days.length);
    const total = new Float64Array(days.length);
    const storage = this.#storage!;
    const first = days[0]!;
    const last = days[days.length - 1]!;
    const utc = days.every((d) => d.startMs % DAY_MS === 0 && d.endMs - d.startMs === DAY_MS);
    const buckets = utc
      ? storage.loadDays(sloId, first.startMs / DAY_MS, last.endMs / DAY_MS).map((b) => ({ ...b, at: b.at * DAY_MS }))
      : storage.loadHours(sloId, Math.floor(first.startMs / HOUR_MS), Math.ceil(last.endMs / HOUR_MS)).map((b) => ({ ...b, at: b.at * HOUR_MS }));
    let k = 0;
    days.forEach((d, i) => {
      while (k < buckets.length && buckets[k]!.at < d.startMs) k++;
      for (; k < buckets.length && buckets[k]!.at < d.endMs; k++) {
        good[i] += buckets[k]!.good;
        total[i] += buckets[k]!.total;
      }
    });
    // No stored history: one shared array of zeros per length instead of two per SLO.
    if (total.every((t) => t === 0) && good.every((g) => g === 0)) {
      let zeros = ZEROS.get(days.length);
      if (zeros === undefined) ZEROS.set(days.length, (zeros = new Float64Array(days.length)));
      return { key, good: zeros, total: zeros, nonZero: false };
    }
    return { key, good, total, nonZero: true };
  }

  readonly #dayLists = new Map<string, { startMs: number; endMs: number; days: { date: string; startMs: number; endMs: number }[] }>();

  /** The last `count` local days of `zone` (today last), cached until the day changes. */
  #localDays(now: number, zone: string, count: number): { date: string; startMs: number; endMs: number }[] {
    const key = `${zone}\n${count}`;
    const cached = this.#dayLists.get(key);
    if (cached !== undefined && now >= cached.startMs && now < cached.endMs) return cached.days;
    const days: { date: string; startMs: number; endMs: number }[] = [];
    let day = localDay(now, zone);
    for (let i = 0; i < count; i++) {
      days.push({ date: formatDate(day.date), startMs: day.startMs, endMs: day.endMs });
      day = localDay(day.startMs - 1, zone);
    }
    days.reverse();
    this.#dayLists.set(key, { startMs: days[days.length - 1]!.startMs, endMs: days[days.length - 1]!.endMs, days });
    return days;
  }

  /** A component's daily uptime: per day, the lowest SLI among its SLOs with events that day. */
  componentDailyUptime(componentId: string, days = 90): { date: string; sli: number | null }[] {
    const c = this.#componentById.get(componentId);
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

  /** The vigil_slo_* families (vigil_slo_events_total included) for the read model. */
  collect(): FamilyView[] {
    if (this.#slos.length === 0 && this.#options.openStorage === null) return [];
    const slos = this.#slos.length === 0 ? [] : this.report().flatMap((c) => c.slos);
    const events = new Map(this.#slos.map((s) => [s.config.id, { good: s.eventsGood, bad: s.eventsBad }]));
    return sloFamilies(slos, events, { flushFailures: this.flushFailures, heldMinutes: this.#held.length, heldDropped: this.heldDropped, storage: this.#options.openStorage !== null });
  }

  /**
   * What the flush timer runs every flush interval: flush(), except while flushes fail, when the
   * write is tried again only after 1, 2, 4… intervals (at most FLUSH_RETRY_MAX_MS); between
   * attempts SLIs are still sampled and states evaluated.
   */
  tick(): void {
    if (this.#ticksToRetry > 0) {
      this.#ticksToRetry--;
      this.sampleMetrics();
      if (this.#storage !== null) this.#evaluateSome(this.#dirty);
      return;
    }
    this.flush();
  }

  /**
   * Samples metric SLIs, evaluates states, and writes everything not yet flushed in one transaction.
   * A failure is logged and counted; the same counts are retried by a later flush (tick() spaces them).
   */
  flush(): void {
    this.sampleMetrics();
    const storage = this.#storage;
    if (storage === null) return;
    const dirty = this.#dirty;
    this.#evaluateSome(dirty);
    const nowMinute = Math.floor(this.#now() / MINUTE_MS);
    const from = this.#flushFrom;
    // Flushes that failed for a while (a full disk) and wall-clock steps forward (issue 15): every
    // minute since the last flush that worked is flushed, in chunks of the FLUSH_SLOTS minutes the
    // bookkeeping remembers (bounded by the ring, which holds them). Steps back: until the clock is past
    // the latest minute flushed, storage may already hold the minutes it comes round to, which
    // the bookkeeping may have forgotten; each such minute's whole count is written (an idempotent
    // upsert, exact because the ring holds the minute complete) instead of a delta added.
    // After an outage longer than the ring, a slot without events since still holds a minute older
    // than the ring's span (neither overwritten nor held): the ranges start at the oldest such minute.
    const rangesFor = (ring: SloRuntime['ring']): [number, number][] => {
      const out: [number, number][] = [];
      const span = nowMinute - ring.minuteSlots + 1;
      const start = from >= span ? from : Math.min(span, ring.oldestSince(from, nowMinute));
      for (let a = start; a <= nowMinute; a += FLUSH_SLOTS) out.push([a, Math.min(nowMinute, a + FLUSH_SLOTS - 1)]);
      return out;
    };
    if (nowMinute < this.#flushedUpTo) this.#revisitUntil = Math.max(this.#revisitUntil, this.#flushedUpTo);
    const revisiting = nowMinute <= this.#revisitUntil;
    // Minutes the rings dropped during a long outage first (none is also in a ring); the rings'
    // minutes are appended to the same array and cut off again if the write fails (no copy of up
    // to HELD_MINUTES_LIMIT rows on every failing flush).
    const deltas = this.#held;
    const heldCount = deltas.length;
    const scratch: MinuteCounts[] = [];
    // Only the SLOs with events since the last flush that worked have anything to write.
    for (const s of dirty) {
      if (revisiting && this.#revisitUntil - nowMinute < s.ring.minuteSlots - LATE_MINUTES - 1) {
        for (let m = nowMinute - LATE_MINUTES; m <= nowMinute; m++) {
          s.ring.sum(m, m, nowMinute, this.#scratch, null);
          if (this.#scratch[1]! > 0 || this.#scratch[0]! > 0) deltas.push({ slo: s.config.id, minute: m, good: this.#scratch[0]!, total: this.#scratch[1]!, absolute: true });
        }
        continue;
      }
      for (const [a, b] of rangesFor(s.ring)) {
        scratch.length = 0;
        s.ring.unflushed(a, b, scratch);
        for (const c of scratch) deltas.push({ slo: s.config.id, minute: c.minute, good: c.good, total: c.total });
      }
    }
    const now = this.#now();
    const sloStates: SloStateRow[] = [];
    for (const s of this.#slos) {
      if (s.stateDirty) sloStates.push({ slo: s.config.id, component: s.config.component, status: s.status, page: s.page, ticket: s.ticket, sinceMs: s.sinceMs, updatedMs: now });
    }
    const componentStates: ComponentStateRow[] = [];
    for (const c of this.#components) if (c.dirty) componentStates.push({ component: c.config.id, status: c.status, sinceMs: c.sinceMs, updatedMs: now });
    if (deltas.length === 0 && sloStates.length === 0 && componentStates.length === 0) {
      this.#flushFrom = nowMinute - LATE_MINUTES;
      this.#flushedUpTo = Math.max(this.#flushedUpTo, nowMinute);
      return;
    }
    try {
      storage.write(deltas, sloStates, componentStates);
    } catch (err) {
      deltas.length = heldCount;
      this.flushFailures++;
      this.#flushFailing = true;
      const maxSpacing = Math.max(1, Math.round(FLUSH_RETRY_MAX_MS / this.#options.flushIntervalMs));
      this.#retrySpacing = Math.min(maxSpacing, this.#retrySpacing === 0 ? 1 : this.#retrySpacing * 2);
      this.#ticksToRetry = this.#retrySpacing - 1;
      if (this.#options.onStorageWrite !== undefined) this.#options.onStorageWrite('slo_flush', err);
      else this.#log?.error({ err, path: storage.path }, 'SLO flush failed; retrying, 1 to 30 s apart');
      return;
    }
    this.#options.onStorageWrite?.('slo_flush', null);
    this.#flushFailing = false;
    this.#retrySpacing = 0;
    this.#ticksToRetry = 0;
    this.#held = [];
    for (const s of dirty) {
      if (revisiting) s.ring.markFlushed(nowMinute - LATE_MINUTES, nowMinute);
      else for (const [a, b] of rangesFor(s.ring)) s.ring.markFlushed(a, b);
      s.dirty = false;
    }
    this.#dirty = [];
    this.#flushedUpTo = Math.max(this.#flushedUpTo, nowMinute);
    for (const s of sloStates) this.#byId.get(s.slo)!.stateDirty = false;
    for (const c of componentStates) this.#componentById.get(c.component)!.dirty = false;
    this.#flushFrom = nowMinute - LATE_MINUTES;
  }

  /**
   * The flush's evaluation: the SLOs with events since the last flush, and a slice of the others
   * (their windows only change at minute boundaries), so that each SLO is evaluated at least once
   * a minute and the cost per flush follows the traffic, not the number of SLOs.
   */
  #evaluateSome(dirty: readonly SloRuntime[]): void {
    const n = this.#slos.length;
    if (n === 0) return;
    const now = this.#now();
    const touched = new Set<ComponentRuntime>();
    for (const s of dirty) {
      this.#evaluate(s, now);
      const c = this.#componentOf.get(s);
      if (c !== undefined) touched.add(c);
    }
    const slice = Math.min(n, Math.ceil((n * this.#options.flushIntervalMs) / MINUTE_MS));
    for (let i = 0; i < slice; i++) {
      const s = this.#slos[this.#evalCursor]!;
      this.#evalCursor = (this.#evalCursor + 1) % n;
      if (s.dirty) continue;
      this.#evaluate(s, now);
      const c = this.#componentOf.get(s);
      if (c !== undefined) touched.add(c);
    }
    for (const c of touched) this.#updateComponent(c, now);
  }

  /** Hours and days are written with the minutes; once a minute, what is past retention is deleted. */
  #rollup(): void {
    if (this.#storage === null) return;
    try {
      this.#storage.prune();
    } catch (err) {
      if (this.#options.onStorageWrite !== undefined) this.#options.onStorageWrite('slo_rollup', err);
      else this.#log?.error({ err }, 'SLO history pruning failed; retrying in a minute');
      return;
    }
    this.#options.onStorageWrite?.('slo_rollup', null);
  }

  /** Stops the timers, flushes everything, rolls up and closes storage. Idempotent; safe without start. */
  shutdown(): Promise<void> {
    this.#stopped ??= (async () => {
      if (this.#flushTimer !== null) clearInterval(this.#flushTimer);
      if (this.#rollupTimer !== null) clearInterval(this.#rollupTimer);
      if (this.#hydrateTimer !== null) clearImmediate(this.#hydrateTimer);
      this.#historyLoading = false;
      for (const resolve of this.#historyWaiters.splice(0)) resolve();
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
