// slo.source.prometheus: a status instance's per-minute good/total counts come from the fleet's
// vigil_slo_events_total in a Prometheus HTTP query API (Prometheus, Mimir, Thanos Query,
// VictoriaMetrics) instead of from its own ingest. Every interval it asks for the minutes since the
// last answer it got (query_range, minute steps, at most `backfill` back) and the current partial
// minute (query), and sets those minutes in the engine (docs/slo.md, "Fleet status instance").
// Minutes the source does not answer are left as they are: no data, never up and never down.

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
/** Points per range query across all series: bounds the answer's size (about 25 bytes a point in JSON). */
const MAX_TOTAL_POINTS = 400_000;

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
  /** Minutes asked per range query: fewer when there are many SLOs (two series each). */
  readonly #chunkMinutes: number;
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
    this.#chunkMinutes = Math.max(10, Math.min(MAX_POINTS, Math.floor(MAX_TOTAL_POINTS / Math.max(1, 2 * options.slos.length))));
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
      // Complete minutes [from, nowMinute - 1]: the sample at (m + 1) minutes holds minute m's
      // events. Each chunk is set as it arrives (setting is idempotent), bounding memory.
      for (let start = from; start < nowMinute; start += this.#chunkMinutes) {
        const end = Math.min(nowMinute - 1, start + this.#chunkMinutes - 1);
        const answer = await this.#ask('query_range', {
          query: stepIncrease(this.#matcher, 60, ['slo', 'outcome']),
          start: String((start + 1) * 60),
          end: String((end + 1) * 60),
          step: '60',
        });
        const updates = new Map<string, MinuteDelta>();
        for (const series of answer.data?.result ?? []) for (const [t, v] of series.values ?? []) this.#collect(updates, series.metric, Math.round(t / 60) - 1, Number(v));
        this.#minutesSet += this.#sink.setMinutes([...updates.values()]);
      }
      // The current minute so far: the increase from its start to the last whole second (asked at
      // that second, so the window starts exactly at the minute: no scrape falls between the two).
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
