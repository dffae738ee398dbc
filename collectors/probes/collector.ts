// The probe collector: one timer for every probe (a min-heap of due times), runs that never overlap
// per probe, each result judged, counted once as an SLI event, and the confirmed up/down state
// that the component shows.

import type { Logger } from 'pino';
import { createPercentiles, spanPercentileSettings } from '../../daemon/percentiles/index.js';
import type { PercentileDefaults, WindowedPercentiles } from '../../daemon/percentiles/index.js';
import { evaluate } from './conditions.js';
import { runDns } from './dns.js';
import { FAILURES, reasonOf } from './errors.js';
import { runGrpc } from './grpc.js';
import { runHttp } from './http.js';
import type { HttpNeeds } from './http.js';
import type { FamilyView } from '../../daemon/model/read-model.js';
import { probeFamilies } from './render.js';
import { runTcp } from './tcp.js';
import { emptyOutcome } from './types.js';
import type { ProbeConfig, ProbeOutcome } from './types.js';

/** The SLO status a probe pins on its availability SLOs (exporters/status shows it). */
export type PinnedStatus = 'operational' | 'major_outage' | 'no_data';

/** Where results go: the SLO engine's public API. */
export interface ProbeSloSink {
  record(sloId: string, good: number, total: number, atMs: number): void;
  /** Pins an SLO's shown status; null lets the burn-rate math decide. Never changes counts. */
  overrideStatus(sloId: string, status: PinnedStatus | null): void;
}

/** The SLOs fed by probes, as the config states them. */
export interface ProbeSlo {
  id: string;
  probe: string;
  /** null = availability; otherwise the latency threshold in seconds. */
  thresholdSeconds: number | null;
}

export interface ProbesOptions {
  probes: readonly ProbeConfig[];
  slos: readonly ProbeSlo[];
  sink: ProbeSloSink | null;
  percentiles: PercentileDefaults;
  logger?: Logger;
}

/** A probe's confirmed state: null until known. */
export type Confirmed = 'up' | 'down' | null;

/** Per-probe runtime state (kept small: 10,000 of them is the design point). */
export class ProbeRuntime {
  readonly config: ProbeConfig;
  readonly needs: HttpNeeds;
  readonly availability: string[] = [];
  readonly latency: { id: string; thresholdSeconds: number }[] = [];
  readonly durations: WindowedPercentiles;
  /** The percentile windows exported for this probe: those long enough to hold MIN_RUNS_PER_WINDOW runs. */
  readonly percentileWindows: readonly number[];
  dueMs = 0;
  running = false;
  last: ProbeOutcome | null = null;
  lastSuccess = false;
  successes = 0;
  failures = 0;
  failureReasons = new Map<string, number>();
  okStreak = 0;
  failStreak = 0;
  confirmed: Confirmed = null;
  /** Runs that started (for the overlap checks of the tests and the bench). */
  runs = 0;

  constructor(config: ProbeConfig, percentiles: PercentileDefaults) {
    this.config = config;
    const uses = new Set(config.conditions.map((c) => c.placeholder));
    this.needs = { body: uses.has('BODY'), headers: uses.has('HEADER') };
    this.durations = createPercentiles(spanPercentileSettings(percentiles), Date.now);
    const windows = percentiles.windowsMs.map((ms, i) => [ms, i] as const);
    const long = windows.filter(([ms]) => ms >= MIN_RUNS_PER_WINDOW * config.intervalMs).map(([, i]) => i);
    this.percentileWindows = long.length > 0 ? long : [windows.length - 1];
  }
}

/**
 * A p99 of two runs is noise: a probe's duration percentiles are exported only for windows holding
 * at least this many runs (a 30 s probe: the 1h window), or else the longest window alone. This
 * also keeps 10,000 probes at ~2 KB of exposition each.
 */
const MIN_RUNS_PER_WINDOW = 20;

/** Errors that mean "could not reach the target": conditions on [CONNECTED] judge those runs themselves. */
const UNREACHABLE = new Set<string>([FAILURES.resolve.code, FAILURES.connect.code, FAILURES.timeout.code, FAILURES.tls.code]);

/** Good or bad, and why bad (a FAILURES code), for one outcome. */
export function judge(config: ProbeConfig, out: ProbeOutcome): string | null {
  const conditions = config.conditions;
  if (out.error !== null) {
    const judgedByConditions = UNREACHABLE.has(out.error) && conditions.some((c) => c.placeholder === 'CONNECTED');
    if (!judgedByConditions) return out.error;
  }
  if (conditions.length === 0) {
    if (config.target.kind === 'http' && (out.status < 200 || out.status > 399)) return FAILURES.status.code;
    return null;
  }
  const json = { parsed: false, value: undefined as unknown };
  for (const c of conditions) if (!evaluate(c, out, json)) return FAILURES.condition.code;
  return null;
}

/** Min-heap of probes by due time. */
class DueHeap {
  readonly #items: ProbeRuntime[] = [];
  get size(): number {
    return this.#items.length;
  }
  peek(): ProbeRuntime | undefined {
    return this.#items[0];
  }
  push(p: ProbeRuntime): void {
    const a = this.#items;
    a.push(p);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (a[parent]!.dueMs <= a[i]!.dueMs) break;
      [a[parent], a[i]] = [a[i]!, a[parent]!];
      i = parent;
    }
  }
  pop(): ProbeRuntime | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.dueMs < a[m]!.dueMs) m = l;
        if (r < a.length && a[r]!.dueMs < a[m]!.dueMs) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** The probes collector. */
export class ProbeCollector {
  readonly #probes: ProbeRuntime[];
  readonly #byId = new Map<string, ProbeRuntime>();
  readonly #sink: ProbeSloSink | null;
  readonly #log: Logger | undefined;
  readonly #heap = new DueHeap();
  /** How late runs started against their schedule, seconds. */
  readonly lateness: WindowedPercentiles;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;
  #stopping = false;
  readonly #inFlight = new Set<Promise<void>>();
  /** Runs not started because the previous run of the same probe was still going. */
  skipped = 0;
  /** Runs whose slot had passed by more than an interval (vigild was stalled): not run late, skipped. */
  missed = 0;

  constructor(options: ProbesOptions) {
    this.#sink = options.sink;
    this.#log = options.logger;
    this.#probes = options.probes.map((c) => new ProbeRuntime(c, options.percentiles));
    for (const p of this.#probes) this.#byId.set(p.config.id, p);
    for (const s of options.slos) {
      const p = this.#byId.get(s.probe);
      if (p === undefined) continue;
      if (s.thresholdSeconds === null) p.availability.push(s.id);
      else p.latency.push({ id: s.id, thresholdSeconds: s.thresholdSeconds });
    }
    this.lateness = createPercentiles(spanPercentileSettings(options.percentiles), Date.now);
  }

  /** The probes, in config order. */
  get probes(): readonly ProbeRuntime[] {
    return this.#probes;
  }

  /** Runs now in flight. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Schedules every probe: first runs spread evenly over the interval, among probes of the same interval. */
  start(): void {
    if (this.#timer !== null || this.#stopping || this.#probes.length === 0) return;
    const now = Date.now();
    const byInterval = new Map<number, ProbeRuntime[]>();
    for (const p of this.#probes) {
      const group = byInterval.get(p.config.intervalMs) ?? [];
      group.push(p);
      byInterval.set(p.config.intervalMs, group);
    }
    for (const [interval, group] of byInterval) {
      group.forEach((p, k) => {
        p.dueMs = now + Math.floor((interval * k) / group.length);
        this.#heap.push(p);
      });
    }
    this.#arm(now);
  }

  #arm(now: number): void {
    const next = this.#heap.peek();
    if (next === undefined || this.#stopping) return;
    if (this.#timer !== null && this.#timerAt <= next.dueMs) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = next.dueMs;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, next.dueMs - now));
  }

  #tick(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    if (this.#stopping) return;
    const now = Date.now();
    for (let p = this.#heap.peek(); p !== undefined && p.dueMs <= now; p = this.#heap.peek()) {
      this.#heap.pop();
      const due = p.dueMs;
      const interval = p.config.intervalMs;
      p.dueMs = due + interval;
      if (p.dueMs <= now) {
        // A stall longer than an interval (a paused VM, a blocked loop): run once now, not a burst.
        const behind = Math.floor((now - p.dueMs) / interval) + 1;
        this.missed += behind;
        p.dueMs += behind * interval;
      }
      this.#heap.push(p);
      if (p.running) {
        this.skipped++;
        continue;
      }
      this.lateness.record(Math.max(1e-6, (now - due) / 1000), 1);
      const run = this.#run(p);
      this.#inFlight.add(run);
      void run.finally(() => this.#inFlight.delete(run));
    }
    this.#arm(Date.now());
  }

  async #run(p: ProbeRuntime): Promise<void> {
    p.running = true;
    p.runs++;
    const out = emptyOutcome();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), p.config.timeoutMs);
    const started = performance.now();
    const target = p.config.target;
    try {
      switch (target.kind) {
        case 'http': await runHttp(target, p.needs, controller.signal, out); break;
        case 'tcp': case 'tls': await runTcp(target, controller.signal, out); break;
        case 'dns': await runDns(target, controller.signal, out); break;
        case 'grpc': await runGrpc(target, controller.signal, Date.now() + p.config.timeoutMs, out); break;
      }
    } catch (err) {
      // The runners report failures in `out`; a throw is a bug, still counted as a failed run.
      out.error ??= FAILURES.http.code;
      out.detail = (err as Error).message;
      this.#log?.error({ err, probe: p.config.id }, 'probe run threw');
    } finally {
      clearTimeout(timer);
    }
    out.durationSeconds = (performance.now() - started) / 1000;
    out.finishedAtMs = Date.now();
    this.#account(p, out, judge(p.config, out));
    p.running = false;
  }

  /** One result: one SLI event per SLO of the probe, the metrics, and the confirmed state. */
  #account(p: ProbeRuntime, out: ProbeOutcome, failure: string | null): void {
    const ok = failure === null;
    if (!ok && out.error === null) {
      out.error = failure;
      out.detail ??= failure === FAILURES.status.code ? `HTTP ${out.status}` : 'a condition did not hold';
    }
    if (ok) out.error = null;
    p.last = out;
    p.lastSuccess = ok;
    if (ok) p.successes++;
    else {
      p.failures++;
      const reason = reasonOf(failure!);
      p.failureReasons.set(reason, (p.failureReasons.get(reason) ?? 0) + 1);
    }
    p.durations.record(Math.max(1e-6, out.durationSeconds), 1);
    // Keep only what the metrics and conditions need between runs.
    out.body = null;
    out.headers = null;
    const sink = this.#sink;
    const at = out.finishedAtMs;
    if (sink !== null) {
      for (const id of p.availability) sink.record(id, ok ? 1 : 0, 1, at);
      // As for span latency SLOs, the duration is judged whatever the outcome (availability SLOs
      // judge the outcome); a run that timed out always took longer than a threshold below the timeout.
      for (const l of p.latency) sink.record(l.id, out.durationSeconds <= l.thresholdSeconds ? 1 : 0, 1, at);
    }
    const before = p.confirmed;
    if (ok) {
      p.failStreak = 0;
      p.okStreak++;
      if (p.confirmed === null || (p.confirmed === 'down' && p.okStreak >= p.config.confirm)) p.confirmed = 'up';
    } else {
      p.okStreak = 0;
      p.failStreak++;
      if (p.confirmed !== 'down' && p.failStreak >= p.config.confirm) p.confirmed = 'down';
    }
    if (sink !== null && p.availability.length > 0 && (before !== p.confirmed || p.successes + p.failures === 1)) {
      const pinned: PinnedStatus = p.confirmed === 'up' ? 'operational' : p.confirmed === 'down' ? 'major_outage' : 'no_data';
      for (const id of p.availability) sink.overrideStatus(id, pinned);
    }
    if (before !== p.confirmed && p.confirmed !== null) {
      this.#log?.info({ probe: p.config.id, component: p.config.component, state: p.confirmed, error: out.error, detail: out.detail }, `probe ${p.config.id} is ${p.confirmed}`);
    }
  }

  /** The probe families (blackbox_exporter's names) and vigil_probe_*, for the read model. */
  collect(): FamilyView[] {
    return probeFamilies(this);
  }

  /** Stops scheduling and waits for runs in flight (they end at their timeout) until `deadlineMs`. */
  async shutdown(deadlineMs = Date.now() + 1000): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inFlight]),
      new Promise<void>((r) => {
        timer = setTimeout(r, Math.max(0, deadlineMs - Date.now()));
      }),
    ]);
    clearTimeout(timer);
  }
}
