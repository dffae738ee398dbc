// One remote_write endpoint: its WAL, its shards and its delivery loop, independent of every other
// endpoint (a slow or dead one only grows its own WAL).
//
// The loop takes the oldest waiting WAL records (up to shards × max_samples_per_send entries),
// splits their entries into shards by series hash, and each shard sends its part in order, in
// requests of at most max_samples_per_send, each retried until it is sent or refused for good.
// Only when every shard is done are the records acknowledged and the next ones taken. A series
// always lands in the same shard and a shard sends in WAL order, so every series' samples reach the
// endpoint in timestamp order, across requests and across restarts.

import SnappyJS from 'snappyjs';
import { EntryFlag, forEachEntry } from './batch.js';
import { ProtoWriter, writeTimeSeriesField } from './proto.js';
import { RemoteWriteClient } from './client.js';
import type { Attempt } from './client.js';
import { Wal } from './wal.js';
import type { WalRecord } from './wal.js';
import type { RemoteWriteSettings } from './config.js';

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
}

/** The body Prometheus answers 500 with when it runs without --enable-feature=native-histograms. */
const HISTOGRAMS_DISABLED = /native histograms are disabled/i;
/** Response bodies of refused requests are logged at most this often per endpoint and reason. */
const BODY_LOG_INTERVAL_MS = 60_000;

/**
 * Entries to send, without an object per entry: `e` holds four numbers per entry (index into
 * `payloads`, start and end of its TimeSeries bytes, flags).
 */
export interface Parts {
  payloads: Buffer[];
  e: number[];
}

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
  };
  readonly #client: RemoteWriteClient;
  readonly #log: EndpointLogger;
  readonly #random: () => number;
  readonly #abort = new AbortController();
  #histogramsDisabled = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  readonly #lastBodyLog = new Map<string, number>();

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
    if (this.wal.stats.replayedRecords > 0) {
      this.#log.warn({ endpoint: this.label, records: this.wal.stats.replayedRecords, samples: this.wal.stats.replayedSamples }, 'remote_write replays the WAL left by the previous run');
    }
    this.#loop ??= this.#run();
  }

  /** Queues one payload of a tick (appended to the WAL now; sent by the loop). */
  enqueue(payload: Buffer, counts: WalRecord['counts']): void {
    this.wal.append(payload, counts);
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
    this.#wake?.();
    await this.#loop;
    clearTimeout(timer);
    this.#abort.abort();
    this.wal.release();
    this.wal.close();
    this.#client.close();
  }

  #stopping = false;

  async #run(): Promise<void> {
    const q = this.settings.queue;
    while (!this.#stopping) {
      const records = this.wal.take(q.shards * q.maxSamplesPerSend);
      if (records.length === 0) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = null;
        continue;
      }
      const completed = await this.#sendRecords(records);
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

  /** Sends every entry of `records`, sharded; false when aborted before finishing. */
  async #sendRecords(records: WalRecord[]): Promise<boolean> {
    const shards = this.settings.queue.shards;
    const payloads = records.map((r) => r.payload!);
    const lists: number[][] = Array.from({ length: shards }, () => []);
    for (let p = 0; p < payloads.length; p++) {
      forEachEntry(payloads[p]!, (flags, hash, start, end) => lists[hash % shards]!.push(p, start, end, flags));
    }
    const results = await Promise.all(lists.map((e) => this.#sendShard({ payloads, e })));
    return results.every(Boolean);
  }

  async #sendShard(parts: Parts): Promise<boolean> {
    const step = this.settings.queue.maxSamplesPerSend * 4;
    // One uncompressed-request buffer per shard, reused for its requests (they go one at a time).
    const writer = new ProtoWriter(64 * 1024);
    for (let from = 0; from < parts.e.length; from += step) {
      if (!(await this.#sendRequest({ payloads: parts.payloads, e: parts.e.slice(from, from + step) }, writer))) return false;
    }
    return true;
  }

  /** One request, retried until sent or refused for good; false when aborted. */
  async #sendRequest(parts: Parts, writer: ProtoWriter): Promise<boolean> {
    let attempt = 0;
    for (;;) {
      if (this.#histogramsDisabled) parts = this.#withoutHistograms(parts);
      if (parts.e.length === 0) return true;
      const result = await this.#client.send(encodeRequest(parts, writer), this.#abort.signal);
      if (this.#abort.signal.aborted) return false;
      if (result.kind === 'sent') {
        this.#countSent(parts);
        return true;
      }
      if (result.kind === 'drop') {
        this.#countDropped(parts, result.reason);
        this.#logBody(result, `remote_write endpoint refused a request (HTTP ${result.status}): its samples are dropped, not retried`);
        return true;
      }
      // The 2.42 trap: a 500 that will never change while histograms are in the request.
      if (result.status === 500 && HISTOGRAMS_DISABLED.test(result.body) && hasFlag(parts, EntryFlag.Histogram)) {
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

  #sleep(ms: number): Promise<boolean> {
    const signal = this.#abort.signal;
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

  #withoutHistograms(parts: Parts): Parts {
    const e: number[] = [];
    let dropped = 0;
    for (let i = 0; i < parts.e.length; i += 4) {
      if ((parts.e[i + 3]! & EntryFlag.Histogram) !== 0) dropped++;
      else e.push(parts.e[i]!, parts.e[i + 1]!, parts.e[i + 2]!, parts.e[i + 3]!);
    }
    if (dropped > 0) this.stats.dropped.set('native_histograms_disabled', (this.stats.dropped.get('native_histograms_disabled') ?? 0) + dropped);
    return { payloads: parts.payloads, e };
  }

  #countSent(parts: Parts): void {
    for (let i = 3; i < parts.e.length; i += 4) {
      const flags = parts.e[i]!;
      if ((flags & EntryFlag.Float) !== 0) this.stats.samplesSent++;
      if ((flags & EntryFlag.Histogram) !== 0) this.stats.histogramsSent++;
      if ((flags & EntryFlag.Exemplar) !== 0) this.stats.exemplarsSent++;
    }
  }

  #countDropped(parts: Parts, reason: string): void {
    this.stats.dropped.set(reason, (this.stats.dropped.get(reason) ?? 0) + parts.e.length / 4);
  }

  #logBody(result: Attempt & { status: number; body: string }, message: string): void {
    const key = `${result.kind}:${result.status}`;
    const now = Date.now();
    if ((this.#lastBodyLog.get(key) ?? -Infinity) + BODY_LOG_INTERVAL_MS > now) return;
    this.#lastBodyLog.set(key, now);
    this.#log.warn({ endpoint: this.label, status: result.status, body: result.body.slice(0, 1024) }, message);
  }
}

function hasFlag(parts: Parts, flag: number): boolean {
  for (let i = 3; i < parts.e.length; i += 4) if ((parts.e[i]! & flag) !== 0) return true;
  return false;
}

/** A WriteRequest of these entries, snappy-compressed (block format). */
export function encodeRequest(parts: Parts, w: ProtoWriter = new ProtoWriter(64 * 1024)): Uint8Array {
  const { payloads, e } = parts;
  w.reset();
  for (let i = 0; i < e.length; i += 4) writeTimeSeriesField(w, payloads[e[i]!]!.subarray(e[i + 1]!, e[i + 2]!));
  return SnappyJS.compress(w.view());
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
