// The heartbeats collector: ping routes on the status listener, one monitor per configured
// heartbeat, a timer that wakes at the next deadline, SLI events into the SLO engine, outages and
// state in SQLite, and the vigil_heartbeat_* families (README.md).

import type { Logger } from 'pino';
import type { Config, HeartbeatConfig, SloConfig } from '../../daemon/config/types.js';
import { SeriesKind, StaticFamily, StaticSeries } from '../../daemon/model/index.js';
import type { FamilyView } from '../../daemon/model/index.js';
import type { StatusRequest, StatusResponse, StatusRoute } from '../../exporters/status/index.js';
import { AdminRateLimiter } from '../../exporters/status/rate-limit.js';
import { HEARTBEAT_STATES, HeartbeatMonitor, RUN_OUTCOMES } from './monitor.js';
import type { HeartbeatState, MonitorEvents, PingKind, RunOutcome } from './monitor.js';
import { HeartbeatStore } from './store.js';
import type { HeartbeatOutage, HeartbeatWrite, OutageChange } from './store.js';

/** Where SLI events go: the SLO engine's public record(). */
export interface SliSink {
  record(sloId: string, good: number, total: number, atMs: number): void;
}

/** Settings of the collector. */
export interface HeartbeatsOptions {
  heartbeats: readonly HeartbeatConfig[];
  /** Every SLO; those with `indicator: { availability: { heartbeat: id } }` get that heartbeat's runs. */
  slos: readonly SloConfig[];
  sli: SliSink;
  /** storage.data_dir; null keeps state in memory only (tests of the state machine). */
  dataDir: string | null;
  rateLimit: Config['status']['pingRateLimit'];
  /** Wall clock; injectable for tests. */
  now?: () => number;
  logger?: Logger;
  /**
   * Told about every state write: null when it committed, else the error (the daemon's StorageHealth
   * counts it and logs once per change of state). Without it a failure is logged every time.
   */
  onStorageWrite?: (err: unknown) => void;
}

/** A heartbeat that is down: what automatic incidents are opened from. */
export interface HeartbeatAlert {
  heartbeat: string;
  component: string;
  sinceMs: number;
  reason: Exclude<RunOutcome, 'success'>;
  lastSuccessMs: number | null;
}

/** What /ping answered (also returned by ping() for tests). */
export interface PingAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** Reasons a ping is refused, as counted in vigil_heartbeat_pings_rejected_total. */
const REJECT_REASONS = ['unknown_key', 'rate_limited', 'bad_request'] as const;
type RejectReason = (typeof REJECT_REASONS)[number];

/** Run durations, seconds: a few seconds to a day (backups, batch jobs). */
const DURATION_BUCKETS = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400];
/** The timer wakes at least this often, so a jump of the wall clock is noticed within it. */
const MAX_SLEEP_MS = 60_000;
/** A failed state write is tried again this often until it succeeds (not only with the next change). */
const WRITE_RETRY_MS = 5_000;
const RID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** One heartbeat at run time: its monitor, counters and histogram. */
interface Entry {
  config: HeartbeatConfig;
  monitor: HeartbeatMonitor;
  slos: string[];
  pings: Record<PingKind, number>;
  runs: Record<RunOutcome, number>;
  buckets: number[];
  durationSum: number;
  durationCount: number;
  /** Outage changes since the last write, in order. */
  outages: OutageChange[];
}

/** The collector. start() before the status listener binds; shutdown() on the way out. */
export class Heartbeats {
  readonly #options: HeartbeatsOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #byKey = new Map<string, Entry>();
  readonly #limiter: AdminRateLimiter;
  readonly #rejected: Record<RejectReason, number> = { unknown_key: 0, rate_limited: 0, bad_request: 0 };
  #store: HeartbeatStore | null = null;
  #timer: NodeJS.Timeout | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #started = false;
  #stopped = false;
  /** Writes that failed (retried with the next change). */
  #unsaved = new Set<Entry>();

  constructor(options: HeartbeatsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const r = options.rateLimit;
    // The admin limiter's two buckets: requests, and "failures", here pings with an unknown key.
    this.#limiter = new AdminRateLimiter(
      { requestsPerSecond: r.requestsPerSecond, burst: r.burst, authFailuresPerMinute: r.unknownKeysPerMinute, authFailureBurst: r.unknownKeyBurst, maxClients: r.maxClients },
    );
  }

  /** Opens the database, restores every heartbeat's state, closes what fell due, arms the timer. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const now = this.#now();
    const saved = this.#options.dataDir === null ? new Map() : (this.#store = HeartbeatStore.open(this.#options.dataDir, this.#now)).load();
    for (const config of this.#options.heartbeats) {
      // The monitor reports into its entry's counters, so the entry exists before the monitor.
      const counters: Omit<Entry, 'monitor'> = {
        config,
        slos: this.#options.slos.filter((s) => s.indicator.type === 'heartbeat_availability' && s.indicator.heartbeat === config.id).map((s) => s.id),
        pings: { success: 0, start: 0, fail: 0 },
        runs: { success: 0, failed: 0, missed: 0, overran: 0 },
        buckets: DURATION_BUCKETS.map(() => 0),
        durationSum: 0,
        durationCount: 0,
        outages: [],
      };
      const entry: Entry = Object.assign(counters, { monitor: new HeartbeatMonitor(config, this.#eventsFor(counters), now, saved.get(config.id)) });
      this.#entries.set(config.id, entry);
      this.#byKey.set(config.key, entry);
    }
    this.tick();
  }

  /** Closes expected runs whose deadline passed, persists, and re-arms the timer. */
  tick(): void {
    if (!this.#started || this.#stopped) return;
    const now = this.#now();
    const changed: Entry[] = [];
    for (const entry of this.#entries.values()) if (entry.monitor.tick(now)) changed.push(entry);
    this.#persist(changed, now);
    this.#arm(now);
  }

  /**
   * A ping: `action` is undefined (success), `start`, `fail` or an exit status 0–255; `rid` pairs a
   * start with its end. Unknown keys are 404 whatever the action, so nothing tells which keys exist.
   */
  ping(key: string, action: string | undefined, rid: string | null, client: string): PingAnswer {
    const limited = this.#limiter.admit(client);
    if (limited !== null) {
      this.#rejected.rate_limited++;
      const why = limited.reason === 'requests' ? 'too many pings' : 'too many pings with unknown keys';
      return { status: 429, body: `rate limited: ${why} from this client (status.ping_rate_limit); retry after ${limited.retryAfterSeconds} s\n`, headers: { 'retry-after': String(limited.retryAfterSeconds) } };
    }
    let kind: PingKind;
    let exitStatus: number | null = null;
    if (action === undefined) kind = 'success';
    else if (action === 'start' || action === 'fail') kind = action;
    else if (/^\d{1,3}$/.test(action) && Number(action) <= 255) {
      exitStatus = Number(action);
      kind = exitStatus === 0 ? 'success' : 'fail';
    } else {
      this.#rejected.bad_request++;
      return { status: 400, body: 'bad ping: the path ends in /ping/<key>, /start, /fail or an exit status 0-255\n' };
    }
    if (rid !== null && !RID_PATTERN.test(rid)) {
      this.#rejected.bad_request++;
      return { status: 400, body: "bad ping: rid must be 1 to 64 letters, digits, '.', '_', ':' or '-' (a UUID fits)\n" };
    }
    const entry = this.#byKey.get(key);
    if (entry === undefined || this.#stopped) {
      this.#limiter.authFailed(client);
      this.#rejected.unknown_key++;
      return { status: 404, body: 'not found\n' };
    }
    const now = this.#now();
    entry.pings[kind]++;
    entry.monitor.ping(kind, now, rid, exitStatus);
    this.#persist([entry], now);
    this.#arm(now);
    return { status: 200, body: 'OK\n' };
  }

  /** The /ping routes for the status listener (GET and POST; HEAD comes with GET). */
  routes(): StatusRoute[] {
    const handler = (req: StatusRequest): StatusResponse => {
      const answer = this.ping(req.params['key'] ?? '', req.params['action'], req.query.get('rid'), req.client);
      return { status: answer.status, body: answer.body, contentType: 'text/plain; charset=utf-8', headers: { 'cache-control': 'no-store', ...(answer.headers ?? {}) } };
    };
    return (['GET', 'POST'] as const).flatMap((method) => [
      { method, pattern: '/ping/:key', handler },
      { method, pattern: '/ping/:key/:action', handler },
    ]);
  }

  /** Heartbeats that are down now (a missed deadline, a failure or an overrun, until the next success). */
  alerts(): HeartbeatAlert[] {
    const out: HeartbeatAlert[] = [];
    for (const e of this.#entries.values()) {
      const v = e.monitor.view;
      if (v.downSinceMs !== null && v.downReason !== null) out.push({ heartbeat: e.config.id, component: e.config.component, sinceMs: v.downSinceMs, reason: v.downReason, lastSuccessMs: v.lastSuccessMs });
    }
    return out;
  }

  /** One heartbeat's state and times, or undefined. */
  status(id: string): { state: HeartbeatState; lastSuccessMs: number | null; lastStartMs: number | null; lastDurationMs: number | null; downSinceMs: number | null; runs: Readonly<Record<RunOutcome, number>> } | undefined {
    const e = this.#entries.get(id);
    if (e === undefined) return undefined;
    const v = e.monitor.view;
    return { state: e.monitor.state(this.#now()), lastSuccessMs: v.lastSuccessMs, lastStartMs: v.lastStartMs, lastDurationMs: v.lastDurationMs, downSinceMs: v.downSinceMs, runs: { ...e.runs } };
  }

  /** Outages overlapping [fromMs, toMs) from the database ([] without one). */
  outages(fromMs: number, toMs: number): HeartbeatOutage[] {
    return this.#store?.outages(fromMs, toMs) ?? [];
  }

  /** The vigil_heartbeat_* families for the read model (announced from start, so docs/metrics.md can be checked). */
  collect(): FamilyView[] {
    const now = this.#now();
    const entries = [...this.#entries.values()];
    // Ids are restricted to [A-Za-z0-9_.-] by the config schema; the read model escapes anyway.
    const labels = (e: Entry, ...more: string[]): string[] => ['heartbeat', e.config.id, 'component', e.config.component, ...more];
    const pings = new StaticFamily('vigil_heartbeat_pings', 'counter', 'Pings accepted, by kind: success (also exit status 0), start, fail (also exit status 1-255).');
    for (const e of entries) for (const k of ['success', 'start', 'fail'] as const) pings.add(labels(e, 'kind', k), e.pings[k]);
    const rejected = new StaticFamily('vigil_heartbeat_pings_rejected', 'counter', 'Pings refused, by reason: unknown_key (404), rate_limited (429), bad_request (400).');
    for (const r of REJECT_REASONS) rejected.add(['reason', r], this.#rejected[r]);
    const runs = new StaticFamily('vigil_heartbeat_runs', 'counter', 'Expected runs ended, by outcome: success (good), failed, missed, overran (bad); one SLI event each.');
    for (const e of entries) for (const o of RUN_OUTCOMES) runs.add(labels(e, 'outcome', o), e.runs[o]);
    const state = new StaticFamily('vigil_heartbeat_state', 'gauge', 'The heartbeat state: 1 for the current one of new, up, late, running, down.');
    for (const e of entries) {
      const current = e.monitor.state(now);
      for (const s of HEARTBEAT_STATES) state.add(labels(e, 'state', s), s === current ? 1 : 0);
    }
    const lastSuccess = new StaticFamily('vigil_heartbeat_last_success_timestamp_seconds', 'gauge', 'When the last success ping arrived (Unix seconds); absent before the first.');
    const lastStart = new StaticFamily('vigil_heartbeat_last_start_timestamp_seconds', 'gauge', 'When the last /start ping arrived (Unix seconds); absent before the first.');
    const lastDuration = new StaticFamily('vigil_heartbeat_last_run_duration_seconds', 'gauge', 'Time from /start to the end of the last timed run; absent before the first.');
    const durations = new StaticFamily('vigil_heartbeat_run_duration_seconds', 'histogram', 'Time from /start to success or failure, per run (runs that sent /start).');
    for (const e of entries) {
      const v = e.monitor.view;
      if (v.lastSuccessMs !== null) lastSuccess.add(labels(e), v.lastSuccessMs / 1000);
      if (v.lastStartMs !== null) lastStart.add(labels(e), v.lastStartMs / 1000);
      if (v.lastDurationMs !== null) lastDuration.add(labels(e), v.lastDurationMs / 1000);
      const h = new StaticSeries(labels(e));
      h.data = SeriesKind.Histogram;
      h.bounds = Float64Array.from(DURATION_BUCKETS);
      // The read model wants per-bucket counts (the last one above every bound).
      const cumulative = [...e.buckets, e.durationCount];
      h.counts = Float64Array.from(cumulative.map((n, i) => n - (i === 0 ? 0 : cumulative[i - 1]!)));
      h.count = e.durationCount;
      h.sum = e.durationSum;
      durations.series.push(h);
    }
    return [pings, rejected, runs, state, lastSuccess, lastStart, lastDuration, durations];
  }

  /** Stops the timer, writes what is unsaved and closes the database. Idempotent; safe without start. */
  shutdown(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#persist([], this.#now());
    this.#store?.close();
    this.#store = null;
  }

  #eventsFor(entry: Omit<Entry, 'monitor'>): MonitorEvents {
    return {
      outcome: (outcome, atMs) => {
        entry.runs[outcome]++;
        const good = outcome === 'success' ? 1 : 0;
        for (const slo of entry.slos) this.#options.sli.record(slo, good, 1, atMs);
      },
      down: (sinceMs, reason) => {
        entry.outages.push({ op: 'open', fromMs: sinceMs, reason });
        this.#options.logger?.warn({ heartbeat: entry.config.id, component: entry.config.component, sinceMs, reason }, `heartbeat ${entry.config.id} is down (${reason})`);
      },
      up: (atMs) => {
        entry.outages.push({ op: 'close', atMs });
        this.#options.logger?.info({ heartbeat: entry.config.id, component: entry.config.component, atMs }, `heartbeat ${entry.config.id} is up again`);
      },
      duration: (ms) => {
        const seconds = ms / 1000;
        DURATION_BUCKETS.forEach((le, i) => {
          if (seconds <= le) entry.buckets[i]!++;
        });
        entry.durationSum += seconds;
        entry.durationCount++;
      },
    };
  }

  /** Writes the changed heartbeats (and any whose last write failed) in one transaction. */
  #persist(changed: readonly Entry[], now: number): void {
    for (const e of changed) this.#unsaved.add(e);
    const store = this.#store;
    if (store === null || this.#unsaved.size === 0) {
      if (store === null) for (const e of this.#unsaved) this.#resetOutageChanges(e);
      if (store === null) this.#unsaved.clear();
      return;
    }
    const writes: HeartbeatWrite[] = [...this.#unsaved].map((e) => ({
      heartbeat: e.config.id,
      component: e.config.component,
      snapshot: e.monitor.snapshot(),
      outages: e.outages,
    }));
    try {
      store.write(writes, now);
    } catch (err) {
      if (this.#options.onStorageWrite !== undefined) this.#options.onStorageWrite(err);
      else this.#options.logger?.error({ err }, 'heartbeat state could not be written; retrying');
      // A heartbeat may not change again for hours: retry on a timer, so the data dir's health (and
      // /-/ready) recovers as soon as the disk takes writes again.
      if (this.#retryTimer === null && !this.#stopped) {
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = null;
          if (!this.#stopped) this.#persist([], this.#now());
        }, WRITE_RETRY_MS);
        this.#retryTimer.unref();
      }
      return;
    }
    this.#options.onStorageWrite?.(null);
    for (const e of this.#unsaved) this.#resetOutageChanges(e);
    this.#unsaved.clear();
  }

  #resetOutageChanges(e: Entry): void {
    e.outages = [];
  }

  #arm(now: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#stopped) return;
    let next = Infinity;
    for (const e of this.#entries.values()) next = Math.min(next, e.monitor.nextWakeMs() ?? Infinity);
    if (next === Infinity && this.#entries.size === 0) return;
    const delay = Math.max(0, Math.min(MAX_SLEEP_MS, next - now));
    this.#timer = setTimeout(() => this.tick(), delay);
    this.#timer.unref();
  }
}
