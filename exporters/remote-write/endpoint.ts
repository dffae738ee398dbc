// One remote_write endpoint: its WAL, its shards and its delivery loop, independent of every other
// endpoint (a slow or dead one only grows its own WAL).
//
// The loop takes the oldest waiting WAL records (at least one; up to about four requests per
// shard), whose request bodies were cut per shard when the series were sampled (batch.ts), and
// each shard sends its bodies in order, each retried until it is sent or refused for good. Only
// when every shard is done are the records acknowledged and the next ones taken. A series always
// lands in the same shard and a shard sends in WAL order, so every series' samples reach the
// endpoint in timestamp order, across requests and across restarts.

import { BodyKind, bodiesOf } from './batch.js';
import type { Body } from './batch.js';
import { RemoteWriteClient } from './client.js';
import type { Attempt } from './client.js';
import { Wal } from './wal.js';
import type { WalRecord } from './wal.js';
import type { RemoteWriteSettings } from './config.js';
import type { MetadataBody } from './metadata.js';

/** How an endpoint reports what it does (logs; rate-limited by the caller where needed). */
export interface EndpointLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Counters and gauges of one endpoint (rendered as vigil_remote_write_*). */
export interface EndpointStats {
  samplesSent: number;
  histogramsSent: number;
  exemplarsSent: number;
  /** Failed attempts by reason (each is retried). */
  failed: Map<string, number>;
  /** Samples (floats + histograms) dropped by reason: the WAL's plus the endpoint's refusals. */
  dropped: Map<string, number>;
  retries: number;
  newestSampledMs: number;
  newestSentMs: number;
  /** Metadata entries (one per family) in accepted metadata requests. */
  metadataSent: number;
  /** Metadata request attempts that failed, by reason (a 4xx reason: not retried). */
  metadataFailed: Map<string, number>;
}

/** The body Prometheus answers 500 with when it runs without --enable-feature=native-histograms. */
const HISTOGRAMS_DISABLED = /native histograms are disabled/i;
/** Response bodies of refused requests are logged at most this often per endpoint and reason. */
const BODY_LOG_INTERVAL_MS = 60_000;

/** One configured endpoint. */
export class Endpoint {
  readonly settings: RemoteWriteSettings;
  /** The URL without credentials (the `endpoint` label). */
  readonly label: string;
  readonly wal: Wal;
  readonly stats: EndpointStats = {
    samplesSent: 0,
    histogramsSent: 0,
    exemplarsSent: 0,
    failed: new Map(),
    dropped: new Map(),
    retries: 0,
    newestSampledMs: 0,
    newestSentMs: 0,
    metadataSent: 0,
    metadataFailed: new Map(),
  };
  readonly #client: RemoteWriteClient;
  readonly #log: EndpointLogger;
  readonly #random: () => number;
  readonly #abort = new AbortController();
  #histogramsDisabled = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  readonly #lastBodyLog = new Map<string, number>();
  /** Stops metadata rounds at once at shutdown (metadata is re-sent every interval, never kept). */
  readonly #metadataAbort = new AbortController();
  #metadataRound: Promise<void> | null = null;

  constructor(settings: RemoteWriteSettings, walDir: string, log: EndpointLogger, userAgent: string, random: () => number = Math.random) {
    this.settings = settings;
    this.label = redact(settings.url);
    this.#log = log;
    this.#random = random;
    this.wal = new Wal({
      dir: walDir,
      maxBytes: settings.wal.maxBytes,
      segmentBytes: settings.wal.segmentBytes,
      fsync: settings.wal.fsync,
      warn: (fields, message) => log.warn({ endpoint: this.label, ...fields }, message),
    });
    this.#client = new RemoteWriteClient({
      url: settings.url,
      headers: settings.headers,
      bearerToken: settings.bearerToken,
      basicAuth: settings.basicAuth,
      tls: settings.tls,
      timeoutMs: settings.queue.timeoutMs,
      userAgent,
    });
  }

  /** True once the endpoint answered that native histograms are disabled (they are no longer sent). */
  get histogramsDisabled(): boolean {
    return this.#histogramsDisabled;
  }

  /** Replays the WAL and starts the delivery loop. */
  start(): void {
    this.wal.open();
    this.stats.newestSampledMs = Math.max(this.stats.newestSampledMs, this.wal.newestSampledMs());
    if (this.wal.stats.replayedRecords > 0) {
      this.#log.warn({ endpoint: this.label, records: this.wal.stats.replayedRecords, samples: this.wal.stats.replayedSamples }, 'remote_write replays the WAL left by the previous run');
    }
    this.#loop ??= this.#run().catch((err: unknown) => this.#log.error({ endpoint: this.label, err: (err as Error).message }, 'remote_write delivery stopped on an unexpected error'));
  }

  /** Queues one payload of a tick (appended to the WAL now; sent by the loop). The buffer is handed over: never written again. */
  enqueue(payload: Buffer, counts: WalRecord['counts']): void {
    this.wal.append(payload, counts, true);
    if (counts.sampledAtMs > this.stats.newestSampledMs) this.stats.newestSampledMs = counts.sampledAtMs;
  }

  /** After a tick's payloads: fsync (policy permitting) and wake the loop. */
  flush(): void {
    this.wal.sync();
    this.#wake?.();
  }

  /** Stops sending: a request in flight is abandoned at `deadlineMs`; what is unsent stays in the WAL. */
  async shutdown(deadlineMs: number): Promise<void> {
    if (this.#abort.signal.aborted) return;
    const timer = setTimeout(() => this.#abort.abort(), Math.max(0, deadlineMs - Date.now()));
    // Finish the step in flight if it can be done in time; new steps are not started.
    this.#stopping = true;
    this.#metadataAbort.abort();
    this.#wake?.();
    await Promise.all([this.#loop, this.#metadataRound]);
    clearTimeout(timer);
    this.#abort.abort();
    this.wal.release();
    this.wal.close();
    this.#client.close();
  }

  #stopping = false;

  /**
   * Sends one interval's metadata requests, one after another, each retried by the sample rules
   * (5xx, 429, network: backoff; 4xx: given up) beside the sample loop, never in its way: it has
   * its own requests on the keep-alive agent and no part in the WAL. False when the previous
   * round is still retrying (this one is skipped: it would say the same) or the endpoint stops.
   */
  sendMetadata(bodies: readonly MetadataBody[]): boolean {
    if (this.#metadataRound !== null || this.#metadataAbort.signal.aborted) return false;
    this.#metadataRound = (async () => {
      for (const body of bodies) if (!(await this.#sendMetadataRequest(body))) return;
    })()
      .catch((err: unknown) => this.#log.error({ endpoint: this.label, err: (err as Error).message }, 'remote_write metadata round failed unexpectedly'))
      .finally(() => (this.#metadataRound = null));
    return true;
  }

  /** The metadata round in flight (tests). */
  get metadataRound(): Promise<void> | null {
    return this.#metadataRound;
  }

  /** One metadata request until sent or refused; false when stopping. */
  async #sendMetadataRequest(body: MetadataBody): Promise<boolean> {
    const signal = this.#metadataAbort.signal;
    let attempt = 0;
    for (;;) {
      const result = await this.#client.send(body.bytes, signal);
      if (signal.aborted) return false;
      if (result.kind === 'sent') {
        this.stats.metadataSent += body.entries;
        return true;
      }
      this.stats.metadataFailed.set(result.reason, (this.stats.metadataFailed.get(result.reason) ?? 0) + 1);
      if (result.kind === 'drop') {
        this.#logBody(result, `remote_write endpoint refused a metadata request (HTTP ${result.status}): not retried, the next send_interval sends it again`);
        return true;
      }
      attempt++;
      if (!(await this.#sleep(result.retryAfterMs ?? this.#backoff(attempt), signal))) return false;
    }
  }

  async #run(): Promise<void> {
    const q = this.settings.queue;
    while (!this.#stopping) {
      const records = this.wal.take(q.shards * q.maxSamplesPerSend * 4);
      if (records.length === 0) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = null;
        continue;
      }
      let completed: boolean;
      try {
        completed = await this.#sendRecords(records);
      } catch (err) {
        // A record that passed its checksum but cannot be read (a bug, never the endpoint): drop
        // it, counted and logged, rather than stop delivering or retry it forever.
        let samples = 0;
        for (const r of records) samples += r.counts.floats + r.counts.histograms;
        this.stats.dropped.set('wal_unreadable', (this.stats.dropped.get('wal_unreadable') ?? 0) + samples);
        this.#log.error({ endpoint: this.label, err: (err as Error).message, records: records.length }, 'remote_write could not read queued records: they are dropped');
        completed = true;
      }
      if (!completed) break;
      let newest = 0;
      for (const r of records) {
        if (r.counts.sampledAtMs > newest) newest = r.counts.sampledAtMs;
        r.payload = null;
      }
      this.wal.ack(records.length);
      if (newest > this.stats.newestSentMs) this.stats.newestSentMs = newest;
    }
  }

  /** Sends every body of `records`, each shard's in order; false when aborted before finishing. */
  async #sendRecords(records: WalRecord[]): Promise<boolean> {
    const shards = this.settings.queue.shards;
    const lists: Body[][] = Array.from({ length: shards }, () => []);
    for (const r of records) for (const body of bodiesOf(r.payload!)) lists[body.shard % shards]!.push(body);
    const results = await Promise.all(lists.map((bodies) => this.#sendShard(bodies)));
    return results.every(Boolean);
  }

  async #sendShard(bodies: Body[]): Promise<boolean> {
    for (const body of bodies) if (!(await this.#sendRequest(body))) return false;
    return true;
  }

  /** One request, retried until sent or refused for good; false when aborted. */
  async #sendRequest(body: Body): Promise<boolean> {
    let attempt = 0;
    for (;;) {
      if (this.#histogramsDisabled && body.kind === BodyKind.Histograms) {
        this.#countDropped(body, 'native_histograms_disabled');
        return true;
      }
      const result = await this.#client.send(body.bytes, this.#abort.signal);
      if (this.#abort.signal.aborted) return false;
      if (result.kind === 'sent') {
        this.stats.samplesSent += body.floats;
        this.stats.histogramsSent += body.histograms;
        this.stats.exemplarsSent += body.exemplars;
        return true;
      }
      if (result.kind === 'drop') {
        this.#countDropped(body, result.reason);
        this.#logBody(result, `remote_write endpoint refused a request (HTTP ${result.status}): its samples are dropped, not retried`);
        return true;
      }
      // The 2.42 trap: a 500 that will never change for a request holding native histograms.
      if (result.status === 500 && HISTOGRAMS_DISABLED.test(result.body) && body.kind === BodyKind.Histograms) {
        this.#histogramsDisabled = true;
        this.#log.error(
          { endpoint: this.label, body: result.body.slice(0, 200) },
          'remote_write endpoint has native histograms disabled: native histograms are no longer sent to it (float samples, classic buckets and exemplars still are). Fix: start Prometheus with --enable-feature=native-histograms (Mimir: -ingester.native-histograms-ingestion-enabled=true), then restart vigild',
        );
        continue;
      }
      this.stats.failed.set(result.reason, (this.stats.failed.get(result.reason) ?? 0) + 1);
      if (result.status !== 0) this.#logBody(result, `remote_write request failed (HTTP ${result.status}): retrying`);
      attempt++;
      this.stats.retries++;
      const delay = result.retryAfterMs ?? this.#backoff(attempt);
      if (!(await this.#sleep(delay))) return false;
    }
  }

  /** Exponential backoff with jitter: min_backoff·2^(n−1), capped at max_backoff, then 50–100% of it. */
  #backoff(attempt: number): number {
    const q = this.settings.queue;
    const step = Math.min(q.maxBackoffMs, q.minBackoffMs * 2 ** Math.min(30, attempt - 1));
    return step / 2 + (this.#random() * step) / 2;
  }

  #sleep(ms: number, signal: AbortSignal = this.#abort.signal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve(!signal.aborted);
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
  }

  #countDropped(body: Body, reason: string): void {
    this.stats.dropped.set(reason, (this.stats.dropped.get(reason) ?? 0) + body.floats + body.histograms);
  }

  #logBody(result: Attempt & { status: number; body: string }, message: string): void {
    const key = `${result.kind}:${result.status}`;
    const now = Date.now();
    if ((this.#lastBodyLog.get(key) ?? -Infinity) + BODY_LOG_INTERVAL_MS > now) return;
    this.#lastBodyLog.set(key, now);
    this.#log.warn({ endpoint: this.label, status: result.status, body: result.body.slice(0, 1024) }, message);
  }
}

/** The URL without user info, for labels and logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}
