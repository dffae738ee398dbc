// The remote_write exporter: every `interval`, every series /metrics exposes is sampled once,
// encoded once, appended to each endpoint's WAL and sent by that endpoint's shards as Prometheus
// Remote-Write 1.0 (README.md; docs/remote-write.md has the delivery semantics).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchWriter, BodyTemplates } from './batch.js';
import { Endpoint } from './endpoint.js';
import type { EndpointLogger } from './endpoint.js';
import { familyMetadata, metadataBodies } from './metadata.js';
import type { MetadataBody } from './metadata.js';
import { StoreSampler } from './source.js';
import type { SampleSink } from './source.js';
import { StaticFamily } from '../../daemon/model/index.js';
import type { FamilyView, Gatherer } from '../../daemon/model/index.js';
import type { RemoteWriteSettings } from './config.js';

/** A sampling's compressed bodies are cut into WAL records of about this size (a record is the unit of replay). */
const RECORD_BYTES = 1024 * 1024;

/** What the exporter needs. */
export interface RemoteWriterOptions {
  endpoints: readonly RemoteWriteSettings[];
  /** The daemon's data dir; WALs live in `<dataDir>/remote-write/<hash of the url>/`. */
  dataDir: string;
  /** The read model /metrics renders (daemon/model); every series it gives is sent. */
  gatherer: Gatherer;
  logger: EndpointLogger & { info(fields: Record<string, unknown>, message: string): void };
  /** Jitter source (tests). */
  random?: () => number;
}

/** The running exporter. */
export interface RemoteWriter {
  /** Replays WALs, starts delivery and the sampling timers. */
  start(): void;
  /** Samples every series now for every endpoint (the timers call this; tests may too). */
  sampleNow(atMs?: number): Promise<void>;
  /**
   * Sends the metadata of every family /metrics shows to every endpoint with `metadata.send` (the
   * timers call this every `metadata.send_interval`); resolves when those requests are sent,
   * refused or abandoned. An endpoint whose previous round is still retrying skips this one.
   */
  sendMetadataNow(): Promise<void>;
  /** The vigil_remote_write_* families (announced always, series per endpoint): a read-model source. */
  collect(): FamilyView[];
  /** Per-endpoint figures (tests, benches). */
  endpoints(): readonly EndpointView[];
  /** Stops sampling and sending; unsent data stays in the WALs. Idempotent, safe without start. */
  shutdown(deadlineMs: number): Promise<void>;
}

/** Read-only view of an endpoint's counters. */
export interface EndpointView {
  label: string;
  walDir: string;
  stats: Endpoint['stats'];
  wal: Endpoint['wal']['stats'];
  pendingSamples: number;
  histogramsDisabled: boolean;
}

/** The WAL directory of an endpoint URL. */
export function walDirFor(dataDir: string, url: string): string {
  return join(dataDir, 'remote-write', createHash('sha256').update(url).digest('hex').slice(0, 16));
}

/** User-Agent of every request: Vigil and its version. */
export function userAgent(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    return `Vigil/${pkg.version} (remote_write)`;
  } catch {
    return 'Vigil (remote_write)';
  }
}

/** Creates the exporter (nothing runs until start()). */
export function createRemoteWriter(o: RemoteWriterOptions): RemoteWriter {
  const agent = userAgent();
  const endpoints = o.endpoints.map((s) => ({ endpoint: new Endpoint(s, walDirFor(o.dataDir, s.url), o.logger, agent, o.random), dir: walDirFor(o.dataDir, s.url) }));
  /**
   * A sampler per interval group (and one for sampleNow): each keeps its own encodings and sees
   * for itself which series left /metrics since its last sampling, so every endpoint gets the
   * staleness markers. With it, each shape's float bodies of its last sampling, reused by the next
   * while their series are the same (batch.ts).
   */
  const samplers = new Map<number, { sampler: StoreSampler; templates: Map<string, BodyTemplates> }>();
  const timers: NodeJS.Timeout[] = [];
  let started = false;
  let stopped = false;
  let sampledInvalid = 0;
  /** One sampling per interval group at a time: a tick that overruns makes the next one wait. */
  const running = new Map<number, Promise<void>>();

  const sample = async (group: readonly Endpoint[], atMs: number, groupKey: number): Promise<void> => {
    if (group.length === 0 || stopped) return;
    let state = samplers.get(groupKey);
    if (state === undefined) samplers.set(groupKey, (state = { sampler: new StoreSampler(o.gatherer), templates: new Map() }));
    const { sampler, templates } = state;
    // Endpoints with the same shards and request size share one encoding (the common case: one).
    const shapes = new Map<string, { batch: BatchWriter; endpoints: Endpoint[] }>();
    for (const e of group) {
      const key = `${e.settings.intervalMs}/${e.settings.queue.shards}/${e.settings.queue.maxSamplesPerSend}`;
      let kept = templates.get(key);
      if (kept === undefined) templates.set(key, (kept = new BodyTemplates(e.settings.queue.shards)));
      const shape = shapes.get(key) ?? { batch: new BatchWriter(atMs, e.settings.queue.shards, e.settings.queue.maxSamplesPerSend, kept), endpoints: [] };
      shape.endpoints.push(e);
      shapes.set(key, shape);
    }
    const writers = [...shapes.values()];
    const cut = (final: boolean): void => {
      for (const { batch, endpoints: targets } of writers) {
        if (!final && batch.bytes < RECORD_BYTES) continue;
        const part = batch.cut(final);
        if (part !== null) for (const e of targets) e.enqueue(part.payload, part.counts);
      }
    };
    const sink: SampleSink =
      writers.length === 1
        ? writers[0]!.batch
        : {
            floatAt: (src, at, length, hash, value, exemplar, key) => writers.forEach((w) => w.batch.floatAt(src, at, length, hash, value, exemplar, key)),
            staleAt: (src, at, length, hash) => writers.forEach((w) => w.batch.staleAt(src, at, length, hash)),
            histogramAt: (src, at, length, hash, h) => writers.forEach((w) => w.batch.histogramAt(src, at, length, hash, h)),
          };
    const result = await sampler.collect(sink, () => cut(false));
    sampledInvalid += result.invalid;
    cut(true);
    for (const e of group) e.flush();
  };

  /** One metadata round for `group`: gathered once, encoded once per request size. */
  const sendMetadata = async (group: readonly Endpoint[]): Promise<void> => {
    const targets = group.filter((e) => e.settings.metadata?.send === true);
    if (targets.length === 0 || stopped) return;
    const entries = familyMetadata(await o.gatherer.gather());
    const bySize = new Map<number, MetadataBody[]>();
    const rounds: Promise<void>[] = [];
    for (const e of targets) {
      const size = e.settings.metadata!.maxPerSend;
      let bodies = bySize.get(size);
      if (bodies === undefined) bySize.set(size, (bodies = metadataBodies(entries, size)));
      if (e.sendMetadata(bodies)) rounds.push(e.metadataRound ?? Promise.resolve());
    }
    await Promise.all(rounds);
  };

  const tick = (intervalMs: number, group: readonly Endpoint[]): void => {
    if (running.has(intervalMs)) return;
    const p = sample(group, Date.now(), intervalMs)
      .catch((err: unknown) => o.logger.error({ err: (err as Error).message }, 'remote_write sampling failed; the next interval tries again'))
      .finally(() => running.delete(intervalMs));
    running.set(intervalMs, p);
  };

  const collect = (): FamilyView[] => {
    const out: FamilyView[] = [];
    const family = (name: string, type: 'counter' | 'gauge', help: string, fill: (f: StaticFamily, e: Endpoint, endpoint: string[]) => void): void => {
      const f = new StaticFamily(name, type, help);
      for (const { endpoint: e } of endpoints) fill(f, e, ['endpoint', e.label]);
      out.push(f);
    };
    const byReason = (f: StaticFamily, endpoint: string[], map: ReadonlyMap<string, number>, label = 'reason'): void => {
      for (const [reason, n] of map) f.add([...endpoint, label, reason], n);
    };
    family('vigil_remote_write_samples_sent', 'counter', 'Float samples the endpoint accepted (staleness markers included).', (f, e, l) => f.add(l, e.stats.samplesSent));
    family('vigil_remote_write_histograms_sent', 'counter', 'Native histogram samples the endpoint accepted.', (f, e, l) => f.add(l, e.stats.histogramsSent));
    family('vigil_remote_write_exemplars_sent', 'counter', 'Exemplars sent in accepted requests.', (f, e, l) => f.add(l, e.stats.exemplarsSent));
    family('vigil_remote_write_requests_failed', 'counter', 'Request attempts that failed and are retried, by reason (http_5xx, http_429, timeout, connection_refused, connection_reset, bad_response, network_error).', (f, e, l) =>
      byReason(f, l, e.stats.failed));
    family('vigil_remote_write_retries', 'counter', 'Request attempts that were retries.', (f, e, l) => f.add(l, e.stats.retries));
    family('vigil_remote_write_samples_dropped', 'counter', 'Samples (floats and histograms) never delivered, by reason (bad_request, unauthorized, not_found, too_large, client_error, native_histograms_disabled, wal_full, wal_unreadable).', (f, e, l) => {
      const merged = new Map(e.stats.dropped);
      for (const [r, n] of e.wal.stats.dropped) merged.set(r, (merged.get(r) ?? 0) + n);
      byReason(f, l, merged);
    });
    family('vigil_remote_write_pending_samples', 'gauge', 'Samples in the WAL not yet delivered.', (f, e, l) => f.add(l, e.wal.pendingSamples));
    family('vigil_remote_write_wal_bytes', 'gauge', 'Bytes of the WAL (segments on disk plus records held in memory after a write failure).', (f, e, l) => f.add(l, e.wal.stats.bytes));
    family('vigil_remote_write_wal_segments', 'gauge', 'WAL segment files.', (f, e, l) => f.add(l, e.wal.stats.segments));
    family('vigil_remote_write_wal_corruptions', 'counter', 'Damaged WAL segment tails found and truncated at start.', (f, e, l) => f.add(l, e.wal.stats.corruptions));
    family('vigil_remote_write_wal_errors', 'counter', 'WAL file operations that failed, by op (open, write, sync, read, truncate, delete, cursor).', (f, e, l) => byReason(f, l, e.wal.stats.errors, 'op'));
    family('vigil_remote_write_newest_sampled_timestamp_seconds', 'gauge', 'Time of the newest sample queued for the endpoint.', (f, e, l) => f.add(l, e.stats.newestSampledMs / 1000));
    family('vigil_remote_write_newest_sent_timestamp_seconds', 'gauge', 'Time of the newest sample the endpoint has taken; sampled minus sent is the lag.', (f, e, l) => f.add(l, e.stats.newestSentMs / 1000));
    family('vigil_remote_write_metadata_sent', 'counter', 'Metric metadata entries (one per family) in metadata requests the endpoint accepted.', (f, e, l) => f.add(l, e.stats.metadataSent));
    family('vigil_remote_write_metadata_failed', 'counter', 'Metadata request attempts that failed, by reason (retried: http_5xx, http_429, timeout, connection_refused, connection_reset, bad_response, network_error; given up: bad_request, unauthorized, not_found, too_large, client_error).', (f, e, l) =>
      byReason(f, l, e.stats.metadataFailed));
    family('vigil_remote_write_shards', 'gauge', 'Shards (parallel senders) of the endpoint.', (f, e, l) => f.add(l, e.settings.queue.shards));
    const invalid = new StaticFamily('vigil_remote_write_series_invalid', 'counter', 'Series not sent because their labels are not valid Prometheus labels (counted per sampling).');
    invalid.add([], sampledInvalid);
    out.push(invalid);
    return out;
  };

  return {
    start() {
      if (started || stopped) return;
      started = true;
      for (const { endpoint } of endpoints) endpoint.start();
      const groups = new Map<number, Endpoint[]>();
      for (const { endpoint } of endpoints) {
        const list = groups.get(endpoint.settings.intervalMs) ?? [];
        list.push(endpoint);
        groups.set(endpoint.settings.intervalMs, list);
      }
      for (const [intervalMs, group] of groups) {
        const timer = setInterval(() => tick(intervalMs, group), intervalMs);
        timer.unref();
        timers.push(timer);
      }
      // Metadata, as Prometheus: first one send_interval after start, then every send_interval.
      const metadataGroups = new Map<number, Endpoint[]>();
      for (const { endpoint } of endpoints) {
        const m = endpoint.settings.metadata;
        if (m?.send !== true) continue;
        const list = metadataGroups.get(m.intervalMs) ?? [];
        list.push(endpoint);
        metadataGroups.set(m.intervalMs, list);
      }
      for (const [intervalMs, group] of metadataGroups) {
        const timer = setInterval(() => {
          sendMetadata(group).catch((err: unknown) => o.logger.error({ err: (err as Error).message }, 'remote_write metadata failed; the next send_interval tries again'));
        }, intervalMs);
        timer.unref();
        timers.push(timer);
      }
      if (endpoints.length > 0) o.logger.info({ endpoints: endpoints.map(({ endpoint: e }) => ({ url: e.label, intervalMs: e.settings.intervalMs, shards: e.settings.queue.shards })) }, 'remote_write started');
    },
    async sampleNow(atMs = Date.now()) {
      await sample(endpoints.map((e) => e.endpoint), atMs, -1);
    },
    async sendMetadataNow() {
      await sendMetadata(endpoints.map((e) => e.endpoint));
    },
    collect,
    endpoints() {
      return endpoints.map(({ endpoint: e, dir }) => ({ label: e.label, walDir: dir, stats: e.stats, wal: e.wal.stats, pendingSamples: e.wal.pendingSamples, histogramsDisabled: e.histogramsDisabled }));
    },
    async shutdown(deadlineMs: number) {
      if (stopped) return;
      stopped = true;
      for (const t of timers) clearInterval(t);
      await Promise.allSettled([...running.values()]);
      await Promise.all(endpoints.map(({ endpoint }) => (started ? endpoint.shutdown(deadlineMs) : Promise.resolve())));
    },
  };
}

export type { RemoteWriteSettings };
