// slo.source.prometheus: a status instance's per-minute good/total counts come from the fleet's
// vigil_slo_events_total in a Prometheus HTTP query API (Prometheus, Mimir, Thanos Query,
// VictoriaMetrics) instead of from its own ingest. Every interval it asks for the minutes since the
// last answer it got (at most `backfill` back; after a restart, from the newest stored minute) and
// the current partial minute (query), and sets those minutes in the engine (docs/slo.md, "Fleet
// status instance"). Minutes the source does not answer are left as they are: no data, never up
// and never down.
//
// Whole minutes are computed here from each replica's counter at every minute's end (one cheap
// `last_over_time` range query), with the rules' exact, reset-aware step increase (rules.ts,
// stepIncrease): asking Prometheus for that expression over many steps costs it about 8 times more
// (a set operation per step; measured in docs/performance.md, "bench:fleet-slo").

import type { Logger } from 'pino';
import type { SloConfig, SloSourceSettings } from '../config/types.js';
import type { MinuteDelta } from '../storage/index.js';
import { StaticFamily } from '../model/index.js';
import type { FamilyView } from '../model/index.js';
import { sloMatcher, stepIncrease } from './rules.js';

const MINUTE_MS = 60_000;
/** Recent minutes asked again on every poll: scrapes and remote_write land late. */
const REFETCH_MINUTES = 10;
/** Prometheus refuses a range query of more than 11,000 points per series. */
const MAX_POINTS = 10_000;
/**
 * Points per range query across all series: bounds the answer (about 22 bytes a point in JSON: 2.7 MB)
 * and the garbage parsing it leaves. Measured at 1,000 SLOs × 3 replicas, 6 h: peak RSS of the source
 * alone 186 MiB at 125k, 371 at 250k, 376 at 500k, for the same CPU (docs/performance.md).
 */
const MAX_TOTAL_POINTS = 125_000;
/** The rules' lookback (rules.ts): a counter is read as its last sample at most this old. */
const LOOKBACK_MINUTES = 5;
/** A backfill longer than this many chunks first asks which hours hold any sample, and skips the others. */
const PROBE_OVER_CHUNKS = 2;

/** What the source feeds. */
export interface MinuteSink {
  setMinutes(updates: readonly MinuteDelta[]): number;
  /** The newest minute already stored (null: none): a restart backfills from there, not the whole `backfill`. */
  newestStoredMinute?(): number | null;
}

/** Settings of the source. */
export interface PrometheusSourceOptions {
  settings: SloSourceSettings;
  slos: readonly SloConfig[];
  sink: MinuteSink;
  now?: () => number;
  logger?: Logger;
}

/** A Prometheus API answer (the part read here). */
interface ApiAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] };
}

export class PrometheusSloSource {
  readonly #settings: SloSourceSettings;
  readonly #sink: MinuteSink;
  readonly #now: () => number;
  readonly #log: Logger | undefined;
  readonly #matcher: string;
  readonly #known: Set<string>;
  /** Counter series the last range answer held (one per replica, SLO and outcome): sizes the next chunk; null before the first. */
  #series: number | null = null;
  /** The last process start times asked (minutes [first, end], indexed from first). */
  #starts: { first: number; end: number; byProcess: Map<string, Float64Array> } | null = null;
  readonly #backfillMinutes: number;
  /** The newest complete minute the source answered for; null before the first answer. */
  #answeredThrough: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  #polling: Promise<void> | null = null;
  #stopped = false;
  readonly #queries = new Map<string, number>([['ok', 0], ['error', 0]]);
  #querySeconds = 0;
  #minutesSet = 0;
  #lastSuccessMs = 0;
  #lastErrorLogMs = 0;

  constructor(options: PrometheusSourceOptions) {
    this.#settings = options.settings;
    this.#sink = options.sink;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger;
    this.#matcher = options.slos.length === 0 ? '' : sloMatcher(options.slos);
    this.#known = new Set(options.slos.map((s) => s.id));
    // Default: the longest SLO window, so a restart after any outage refills every window.
    let longest = 0;
    for (const s of options.slos) longest = Math.max(longest, s.window.kind === 'rolling' ? s.window.minutes : s.window.period === 'month' ? 31 * 1440 : 92 * 1440);
    this.#backfillMinutes = this.#settings.backfillMs === null ? longest : Math.floor(this.#settings.backfillMs / MINUTE_MS);
  }

  /** Polls at once (backfilling up to `backfill`), then every interval. */
  start(): void {
    if (this.#timer !== null || this.#stopped || this.#known.size === 0) return;
    this.#timer = setInterval(() => void this.poll(), this.#settings.intervalMs);
    this.#timer.unref();
    void this.poll();
  }

  /** One poll: the minutes since the last answer (or `backfill`) and the current one. Never throws. */
  poll(): Promise<void> {
    this.#polling ??= this.#pollOnce().finally(() => {
      this.#polling = null;
    });
    return this.#polling;
  }

  async #pollOnce(): Promise<void> {
    if (this.#stopped) return;
    const now = this.#now();
    const nowMinute = Math.floor(now / MINUTE_MS);
    const oldest = nowMinute - this.#backfillMinutes;
    // After a start: from the newest minute storage already holds (what the last run was told), so a
    // restart asks only for the minutes it missed; with nothing stored, the whole `backfill`.
    const resumeAt = this.#answeredThrough ?? this.#sink.newestStoredMinute?.() ?? null;
    const from = Math.max(oldest, resumeAt === null ? oldest : resumeAt - REFETCH_MINUTES);
    try {
      // Complete minutes [from, nowMinute - 1], chunk by chunk, each set as it arrives (setting is
      // idempotent) and remembered as answered, so a failure part-way resumes where it stopped.
      for (const [a, b] of await this.#spans(from, nowMinute - 1)) {
        for (let start = a; start <= b; ) {
          const end = Math.min(b, start + this.#chunkMinutes() - 1);
          this.#minutesSet += this.#sink.setMinutes(await this.#wholeMinutes(start, end));
          if (this.#answeredThrough === null || end > this.#answeredThrough) this.#answeredThrough = end;
          start = end + 1;
        }
      }
      // The current minute so far: the increase from its start to the last whole second (asked at
      // that second, so the window starts exactly at the minute: no scrape falls between the two).
      // One step of the rules' expression: cheap for Prometheus.
      const elapsedSeconds = Math.floor((now - nowMinute * MINUTE_MS) / 1000);
      if (elapsedSeconds >= 1) {
        const answer = await this.#ask('query', { query: stepIncrease(this.#matcher, elapsedSeconds, ['slo', 'outcome']), time: String(nowMinute * 60 + elapsedSeconds) });
        const updates = new Map<string, MinuteDelta>();
        for (const series of answer.data?.result ?? []) if (series.value !== undefined) this.#collect(updates, series.metric, nowMinute, Number(series.value[1]));
        this.#minutesSet += this.#sink.setMinutes([...updates.values()]);
      }
      this.#answeredThrough = nowMinute - 1;
      this.#lastSuccessMs = now;
    } catch (err) {
      // The same minutes are asked again next time: a gap is backfilled once the source answers.
      if (now - this.#lastErrorLogMs > 60_000) {
        this.#lastErrorLogMs = now;
        this.#log?.warn({ err: err instanceof Error ? err.message : String(err), url: this.#settings.url }, 'slo.source.prometheus: query failed; those minutes stay without data until it answers');
      }
    }
  }

  /**
   * Minutes per range query: about MAX_TOTAL_POINTS points for as many counter series as the last
   * answer held. Before any answer the number of replicas is unknown: a first chunk sized for 16.
   */
  #chunkMinutes(): number {
    const series = this.#series ?? 16 * 2 * this.#known.size;
    return Math.max(10, Math.min(MAX_POINTS, Math.floor(MAX_TOTAL_POINTS / Math.max(1, series))));
  }

  /**
   * The parts of minutes [from, to] where the counters can have a value. A long backfill first asks
   * (one query, hour steps) which hours hold any sample of them: a minute more than the lookback
   * after an hour without samples has no counter reading, so no answer; asking for it would only
   * cost Prometheus and return nothing (a Prometheus keeping 15 days, asked for 30).
   */
  async #spans(from: number, to: number): Promise<[number, number][]> {
    if (to < from) return [];
    if (to - from + 1 <= PROBE_OVER_CHUNKS * this.#chunkMinutes()) return [[from, to]];
    // Hour steps ending at `to`'s end; each point counts the series with a sample in the hour before it.
    const last = to + 1;
    const first = last - Math.ceil((last - from) / 60) * 60;
    const answer = await this.#ask('query_range', {
      query: `count(last_over_time(vigil_slo_events_total{${this.#matcher}}[1h]))`,
      start: String((first + 60) * 60),
      end: String(last * 60),
      step: '3600',
    });
    const spans: [number, number][] = [];
    for (const [t] of answer.data?.result[0]?.values ?? []) {
      // Samples in minutes [end - 60, end - 1]: readings in those minutes and the lookback after.
      const end = Math.round(t / 60);
      const a = Math.max(from, end - 60);
      const b = Math.min(to, end - 1 + LOOKBACK_MINUTES);
      if (a > b) continue;
      const prev = spans[spans.length - 1];
      if (prev !== undefined && a <= prev[1] + 1) prev[1] = Math.max(prev[1], b);
      else spans.push([a, b]);
    }
    return spans;
  }

  /**
   * Whole minutes [start, end]: each replica's counter at every minute's end (and at the minute
   * before `start`, the first one's previous value), then the rules' step increase per series
   * (stepIncrease): the difference with the minute before; after a reset the new value; without a
   * previous value the whole value only if that replica's process is new (its
   * vigil_process_start_time_seconds within the step and the lookback), else nothing. Summed by
   * SLO and outcome. A minute no series of an SLO has a value for is not answered (left out).
   */
  async #wholeMinutes(start: number, end: number): Promise<MinuteDelta[]> {
    const steps = end - start + 2;
    const first = start - 1;
    const answer = await this.#ask('query_range', {
      query: `last_over_time(vigil_slo_events_total{${this.#matcher}}[${LOOKBACK_MINUTES}m])`,
      start: String((first + 1) * 60),
      end: String((end + 1) * 60),
      step: '60',
    });
    const result = answer.data?.result ?? [];
    // At least two series per SLO: an answer from a quiet stretch must not make the next chunk huge.
    this.#series = Math.max(2 * this.#known.size, result.length);
    // Per SLO: good and total per step, and which steps some series answered.
    const sums = new Map<string, { good: Float64Array; total: Float64Array; answered: Uint8Array }>();
    // Series readings without a previous value: counted if their process is new (asked only when there are some).
    const pending: { slo: string; good: boolean; k: number; value: number; process: string }[] = [];
    const values = new Float64Array(steps);
    const present = new Uint8Array(steps);
    for (const series of result) {
      const slo = series.metric['slo'];
      const outcome = series.metric['outcome'];
      if (slo === undefined || !this.#known.has(slo) || (outcome !== 'good' && outcome !== 'bad')) continue;
      present.fill(0);
      for (const [t, v] of series.values ?? []) {
        const k = Math.round(t / 60) - 1 - first;
        if (k < 0 || k >= steps) continue;
        values[k] = Number(v);
        present[k] = 1;
      }
      let sum = sums.get(slo);
      for (let k = 1; k < steps; k++) {
        if (present[k] === 0) continue;
        let increase: number;
        if (present[k - 1] === 1) {
          const d = values[k]! - values[k - 1]!;
          increase = d >= 0 ? d : values[k]!;
        } else {
          pending.push({ slo, good: outcome === 'good', k, value: values[k]!, process: processKey(series.metric) });
          continue;
        }
        if (!(increase >= 0)) continue;
        if (sum === undefined) sums.set(slo, (sum = { good: new Float64Array(steps), total: new Float64Array(steps), answered: new Uint8Array(steps) }));
        if (outcome === 'good') sum.good[k] += increase;
        sum.total[k] += increase;
        sum.answered[k] = 1;
      }
    }
    if (pending.length > 0) {
      // A replica's first readings stay in the refetched minutes for 10 polls: the start times
      // asked for them the first time (scraped with the counters, so already complete) answer again.
      const cached = this.#starts;
      const known = cached !== null && pending.every((p) => first + p.k >= cached.first && first + p.k <= cached.end);
      const starts = known ? cached : { first, end, byProcess: await this.#processStarts(first, end) };
      this.#starts = starts;
      for (const p of pending) {
        const startedAt = starts.byProcess.get(p.process)?.[first + p.k - starts.first];
        // The rules' condition: last_over_time(vigil_process_start_time_seconds[5m]) > time() - (60 + 300).
        const t = (first + p.k + 1) * 60;
        if (startedAt === undefined || !(startedAt > t - (60 + LOOKBACK_MINUTES * 60)) || !(p.value >= 0)) continue;
        let sum = sums.get(p.slo);
        if (sum === undefined) sums.set(p.slo, (sum = { good: new Float64Array(steps), total: new Float64Array(steps), answered: new Uint8Array(steps) }));
        if (p.good) sum.good[p.k] += p.value;
        sum.total[p.k] += p.value;
        sum.answered[p.k] = 1;
      }
    }
    const updates: MinuteDelta[] = [];
    for (const [slo, sum] of sums) {
      for (let k = 1; k < steps; k++) if (sum.answered[k] === 1) updates.push({ slo, minute: first + k, good: sum.good[k]!, total: sum.total[k]! });
    }
    return updates;
  }

  /** Per replica (job, instance): the newest vigil_process_start_time_seconds at each minute's end of [first, end] (NaN: none). */
  async #processStarts(first: number, end: number): Promise<Map<string, Float64Array>> {
    const steps = end - first + 1;
    const answer = await this.#ask('query_range', {
      query: `last_over_time(vigil_process_start_time_seconds[${LOOKBACK_MINUTES}m])`,
      start: String((first + 1) * 60),
      end: String((end + 1) * 60),
      step: '60',
    });
    const out = new Map<string, Float64Array>();
    for (const series of answer.data?.result ?? []) {
      const key = processKey(series.metric);
      let at = out.get(key);
      if (at === undefined) out.set(key, (at = new Float64Array(steps).fill(Number.NaN)));
      for (const [t, v] of series.values ?? []) {
        const k = Math.round(t / 60) - 1 - first;
        // Several series of one replica: `and on (job, instance)` needs any one of them to be new.
        if (k >= 0 && k < steps && !(at[k]! >= Number(v))) at[k] = Number(v);
      }
    }
    return out;
  }

  /** Adds one sample (good or bad events of one SLO in one minute) to the per-minute updates. */
  #collect(updates: Map<string, MinuteDelta>, metric: Record<string, string>, minute: number, value: number): void {
    const slo = metric['slo'];
    const outcome = metric['outcome'];
    if (slo === undefined || !this.#known.has(slo) || !(value >= 0) || (outcome !== 'good' && outcome !== 'bad')) return;
    // Series come one outcome at a time; merge both outcomes of a minute into one update.
    const key = `${slo}\u0000${minute}`;
    let u = updates.get(key);
    if (u === undefined) {
      u = { slo, minute, good: 0, total: 0 };
      updates.set(key, u);
    }
    if (outcome === 'good') u.good += value;
    u.total += value;
  }

  async #ask(endpoint: 'query' | 'query_range', params: Record<string, string>): Promise<ApiAnswer> {
    const started = performance.now();
    const headers: Record<string, string> = { ...this.#settings.headers, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (this.#settings.bearerToken !== null) headers['authorization'] = `Bearer ${this.#settings.bearerToken}`;
    try {
      const res = await fetch(`${this.#settings.url}/api/v1/${endpoint}`, {
        method: 'POST',
        headers,
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(this.#settings.timeoutMs),
      });
      const text = await res.text();
      let answer: ApiAnswer;
      try {
        answer = JSON.parse(text) as ApiAnswer;
      } catch {
        throw new Error(`${endpoint} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
      }
      if (res.status !== 200 || answer.status !== 'success') throw new Error(`${endpoint} answered ${res.status}: ${answer.error ?? text.slice(0, 200)}`);
      if (answer.data?.resultType !== (endpoint === 'query' ? 'vector' : 'matrix')) throw new Error(`${endpoint} answered a ${String(answer.data?.resultType)}, not a ${endpoint === 'query' ? 'vector' : 'matrix'}`);
      this.#queries.set('ok', this.#queries.get('ok')! + 1);
      return answer;
    } catch (err) {
      this.#queries.set('error', this.#queries.get('error')! + 1);
      throw err;
    } finally {
      this.#querySeconds += (performance.now() - started) / 1000;
    }
  }

  /** The vigil_slo_source_* families for the read model (always announced). */
  collect(): FamilyView[] {
    return sourceFamilies({ queries: this.#queries, seconds: this.#querySeconds, minutesSet: this.#minutesSet, lastSuccessMs: this.#lastSuccessMs });
  }

  /** Queries so far by outcome (tests and benchmarks). */
  stats(): { ok: number; error: number; seconds: number; minutesSet: number } {
    return { ok: this.#queries.get('ok')!, error: this.#queries.get('error')!, seconds: this.#querySeconds, minutesSet: this.#minutesSet };
  }

  /** Stops polling; a poll in flight is awaited. Idempotent, safe without start. */
  async shutdown(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#polling;
  }
}


/** The replica a series belongs to, as the rules match it: `on (job, instance)` (a missing label is empty). */
function processKey(metric: Record<string, string>): string {
  return `${metric['job'] ?? ''}\u0000${metric['instance'] ?? ''}`;
}

/**
 * The vigil_slo_source_* families: announced on every instance (so dashboards and docs have one
 * set of names), with series only where slo.source is configured (`stats` null: none).
 */
export function sourceFamilies(stats: { queries: ReadonlyMap<string, number>; seconds: number; minutesSet: number; lastSuccessMs: number } | null): FamilyView[] {
  const queries = new StaticFamily('vigil_slo_source_queries', 'counter', 'Queries to slo.source.prometheus by outcome (ok, error: refused, timed out, unreadable or an API error).');
  const seconds = new StaticFamily('vigil_slo_source_query_seconds', 'counter', 'Time spent waiting for slo.source.prometheus answers, seconds.');
  const minutes = new StaticFamily('vigil_slo_source_minutes_set', 'counter', 'SLO minutes whose counts the source set or corrected (backfills included).');
  const last = new StaticFamily('vigil_slo_source_last_success_timestamp_seconds', 'gauge', 'When slo.source.prometheus last answered every query of a poll (0: never).');
  if (stats !== null) {
    for (const [outcome, n] of stats.queries) queries.add(['outcome', outcome], n);
    seconds.add([], stats.seconds);
    minutes.add([], stats.minutesSet);
    last.add([], stats.lastSuccessMs / 1000);
  }
  return [queries, seconds, minutes, last];
}
