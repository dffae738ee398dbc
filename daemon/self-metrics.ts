// Vigil's own metrics (vigil_*), kept with prom-client and rendered after the pushed series.
// Every name here is listed in docs/metrics.md; a test checks the two agree.

import client from 'prom-client';
import { SeriesKind, StaticFamily, StaticSeries } from './model/read-model.js';
import type { FamilyView } from './model/read-model.js';

/** Figures read at scrape time from the components that own them. */
export interface SelfMetricSources {
  inflightBytes(): number;
  inflightLimitBytes(): number;
  workerThreads(): number;
  workerQueue(): number;
  workerUtilization(): number;
  workerRestarts(): number;
  activeSeries(): number;
  seriesLimit(): number;
  seriesEvicted(): number;
  hashCollisions(): number;
  /** Bytes held by HDR percentile windows (all sources). */
  hdrBytes(): number;
  /** Series holding HDR percentile windows. */
  hdrSeries(): number;
  /** Live memory at the last check, and the limits (limits.*). */
  memoryUsed(): number;
  memorySoftLimit(): number;
  memoryHardLimit(): number;
  /** 0 under the soft limit, 1 over it, 2 over the hard limit. */
  memoryState(): number;
  /** The log destination (daemon/log): lines dropped by reason, bytes waiting for the reader, the bound. */
  log?: { dropped(): Readonly<Record<string, number>>; bufferedBytes(): number; limitBytes(): number };
  /** Connection accounting of the listeners that own their accept loop. */
  connections?(): readonly ListenerConnectionStats[];
}

/** One listener's connection figures (vigil_connections_*). */
export interface ListenerConnectionStats {
  listener: string;
  open: number;
  limit: number;
  /** Connections closed on accept, by reason (max_connections). */
  refused: Readonly<Record<string, number>>;
  /** Connections closed by a timeout, by phase (handshake, headers). */
  timedOut: Readonly<Record<string, number>>;
  /** accept() failures (EMFILE and the like), after which accepting backs off. */
  acceptErrors: number;
}

/** How often the event-loop lag monitor samples (docs/metrics.md). */
export const EVENT_LOOP_MONITOR_MS = 50;

/** prom-client default metrics that are gauges named `_total`; `sum(vigil_nodejs_active_handles)` etc. give them. */
const GAUGES_NAMED_LIKE_COUNTERS = ['vigil_nodejs_active_handles_total', 'vigil_nodejs_active_requests_total', 'vigil_nodejs_active_resources_total'];

/** The self-metrics registry and the hooks the hot path calls. */
export class SelfMetrics {
  readonly #registry = new client.Registry();
  readonly requests: client.Counter<'signal' | 'transport' | 'code'>;
  readonly requestDuration: client.Histogram<'signal' | 'transport'>;
  readonly requestsRejected: client.Counter<'signal' | 'transport' | 'reason'>;
  readonly pointsReceived: client.Counter<'signal'>;
  readonly pointsAccepted: client.Counter<'signal'>;
  readonly pointsRejected: client.Counter<'signal' | 'reason'>;
  readonly spansReceived: client.Counter;
  readonly spansAccepted: client.Counter;
  readonly spansRejected: client.Counter<'reason'>;
  readonly scrapeDuration: client.Histogram<'format' | 'outcome'>;
  readonly configReloads: client.Counter<'outcome'>;
  readonly adminRateLimited: client.Counter<'reason'>;
  constructor(sources: SelfMetricSources) {
    // One registry: the read model writes text, OpenMetrics and protobuf from it (collect()).
    const registers = [this.#registry];
    this.requests = new client.Counter({
      name: 'vigil_otlp_requests_total',
      help: 'OTLP export requests answered, by signal, transport and status code (gRPC status name, or HTTP status code).',
      labelNames: ['signal', 'transport', 'code'],
      registers,
    });
    this.requestDuration = new client.Histogram({
      name: 'vigil_otlp_request_duration_seconds',
      help: 'Time from receiving an OTLP export request to answering it.',
      labelNames: ['signal', 'transport'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.requestsRejected = new client.Counter({
      name: 'vigil_otlp_requests_rejected_total',
      help: 'OTLP export requests refused whole, by reason (malformed, too_large, inflight_budget, queue_full, memory_limit, shutting_down, worker_failed, unauthenticated; HTTP also unsupported_media_type).',
      labelNames: ['signal', 'transport', 'reason'],
      registers,
    });
    this.pointsReceived = new client.Counter({
      name: 'vigil_points_received_total',
      help: 'Data points in requests that were decoded.',
      labelNames: ['signal'],
      registers,
    });
    this.pointsAccepted = new client.Counter({
      name: 'vigil_points_accepted_total',
      help: 'Data points merged into series.',
      labelNames: ['signal'],
      registers,
    });
    this.pointsRejected = new client.Counter({
      name: 'vigil_points_rejected_total',
      help: 'Data points refused inside accepted requests (partial_success), by reason.',
      labelNames: ['signal', 'reason'],
      registers,
    });
    // Spans are counted apart from data points: one span is one call of the RED metrics, not a point.
    this.spansReceived = new client.Counter({
      name: 'vigil_spans_received_total',
      help: 'Spans in trace requests that were decoded.',
      registers,
    });
    this.spansAccepted = new client.Counter({
      name: 'vigil_spans_accepted_total',
      help: 'Spans merged into span RED series (overflow series included).',
      registers,
    });
    this.spansRejected = new client.Counter({
      name: 'vigil_spans_rejected_total',
      help: 'Spans refused inside accepted requests (partial_success rejected_spans), by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.scrapeDuration = new client.Histogram({
      name: 'vigil_scrape_duration_seconds',
      help: 'Time to render /metrics, by format and outcome.',
      labelNames: ['format', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.configReloads = new client.Counter({
      name: 'vigil_config_reloads_total',
      help: 'SIGHUP configuration reloads, by outcome (applied, rejected).',
      labelNames: ['outcome'],
      registers,
    });
    this.adminRateLimited = new client.Counter({
      name: 'vigil_admin_rate_limited_total',
      help: 'Admin API requests refused with 429, by the limit hit (requests: status.admin_rate_limit.requests_per_second; auth_failures: status.admin_rate_limit.auth_failures_per_minute).',
      labelNames: ['reason'],
      registers,
    });
    new client.Gauge({
      name: 'vigil_memory_limit_bytes',
      help: 'The memory limits (limits.memory_soft, limits.memory_hard), by limit.',
      labelNames: ['limit'],
      registers,
      collect() {
        this.set({ limit: 'soft' }, sources.memorySoftLimit());
        this.set({ limit: 'hard' }, sources.memoryHardLimit());
      },
    });
    const gauge = (name: string, help: string, read: () => number): void => {
      new client.Gauge({ name, help, registers, collect() { this.set(read()); } });
    };
    gauge('vigil_inflight_bytes', 'Bytes of OTLP requests admitted and not yet merged.', sources.inflightBytes);
    gauge('vigil_inflight_limit_bytes', 'The admission budget (otlp.max_inflight_size).', sources.inflightLimitBytes);
    gauge('vigil_worker_threads', 'Decode worker threads.', sources.workerThreads);
    gauge('vigil_worker_queue_requests', 'Requests waiting for a decode worker.', sources.workerQueue);
    gauge('vigil_worker_utilization_ratio', 'Share of decode worker time spent on tasks since start.', sources.workerUtilization);
    gauge('vigil_active_series', 'Series held in memory, overflow series included.', sources.activeSeries);
    gauge('vigil_series_limit', 'The series limit (series.limit).', sources.seriesLimit);
    gauge('vigil_hdr_bytes', 'Bytes held by HDR percentile windows (payloads, buffers and slot bookkeeping).', sources.hdrBytes);
    gauge('vigil_hdr_series', 'Series holding HDR percentile windows.', sources.hdrSeries);
    gauge('vigil_memory_used_bytes', 'Live memory (V8 heap used plus external/ArrayBuffer memory) at the last limits check; what limits.memory_* are compared with.', sources.memoryUsed);
    gauge('vigil_memory_limit_state', 'Where live memory stands: 0 under limits.memory_soft, 1 over it (requests refused), 2 over limits.memory_hard.', sources.memoryState);
    const counter = (name: string, help: string, read: () => number): void => {
      new client.Counter({ name, help, registers, collect() { this.reset(); this.inc(read()); } });
    };
    counter('vigil_worker_restarts_total', 'Decode workers that died and were replaced.', sources.workerRestarts);
    counter('vigil_series_evicted_total', 'Series removed after the staleness period.', sources.seriesEvicted);
    counter('vigil_series_hash_collisions_total', 'Definitions whose hash was already held by another label set (the newer one is merged into the older).', sources.hashCollisions);
    const { log, connections } = sources;
    if (log !== undefined) {
      new client.Counter({
        name: 'vigil_log_lines_dropped_total',
        help: 'Log lines dropped instead of written to stdout, by reason (buffer_full: the reader did not keep up and log.buffer_size was reached; closed: the reader is gone; error: the write failed).',
        labelNames: ['reason'],
        registers,
        collect() {
          this.reset();
          for (const [reason, n] of Object.entries(log.dropped())) this.inc({ reason }, n);
        },
      });
      gauge('vigil_log_buffered_bytes', 'Log bytes written and not yet taken by the log reader (at most log.buffer_size).', log.bufferedBytes);
      gauge('vigil_log_buffer_limit_bytes', 'The log buffer bound (log.buffer_size).', log.limitBytes);
    }
    if (connections !== undefined) {
      const perListener = (name: string, help: string, read: (s: ListenerConnectionStats) => number): void => {
        new client.Gauge({ name, help, labelNames: ['listener'], registers, collect() { for (const s of connections()) this.set({ listener: s.listener }, read(s)); } });
      };
      perListener('vigil_connections_open', 'Connections open on a listener (otlp_grpc, prometheus).', (s) => s.open);
      perListener('vigil_connections_limit', 'The connection cap of a listener (otlp.grpc.max_connections, prometheus.max_connections).', (s) => s.limit);
      new client.Counter({
        name: 'vigil_connections_refused_total',
        help: 'Connections closed on accept because the listener was at its cap (reason max_connections), by listener.',
        labelNames: ['listener', 'reason'],
        registers,
        collect() {
          this.reset();
          for (const s of connections()) for (const [reason, n] of Object.entries(s.refused)) this.inc({ listener: s.listener, reason }, n);
        },
      });
      new client.Counter({
        name: 'vigil_connections_timed_out_total',
        help: 'Connections closed because the client was too slow, by listener and phase (handshake: TLS and HTTP/2 preface; headers: request headers).',
        labelNames: ['listener', 'phase'],
        registers,
        collect() {
          this.reset();
          for (const s of connections()) for (const [phase, n] of Object.entries(s.timedOut)) this.inc({ listener: s.listener, phase }, n);
        },
      });
      new client.Counter({
        name: 'vigil_accept_errors_total',
        help: 'accept() failures on a listener (EMFILE: out of file descriptors, and the like); accepting pauses briefly after each.',
        labelNames: ['listener'],
        registers,
        collect() {
          this.reset();
          for (const s of connections()) this.inc({ listener: s.listener }, s.acceptErrors);
        },
      });
    }
    // The event-loop lag monitor wakes the loop every `eventLoopMonitoringPrecision` ms: at
    // prom-client's 10 ms that was 2.5 ms of CPU a second in an idle daemon, most of its idle cost;
    // at 50 ms it is 0.9 ms, and every stall still delays the next wake-up and is recorded.
    client.collectDefaultMetrics({ register: this.#registry, prefix: 'vigil_', eventLoopMonitoringPrecision: EVENT_LOOP_MONITOR_MS });
    // prom-client's `nodejs_active_{handles,requests,resources}_total` are gauges with a counter's
    // suffix (promtool: "non-counter metrics should not have _total suffix"), and each equals the
    // sum of its per-type gauge `vigil_nodejs_active_*{type}`: dropped (docs/metrics.md).
    for (const name of GAUGES_NAMED_LIKE_COUNTERS) this.#registry.removeSingleMetric(name);
  }

  /** The self-metrics as read-model families (prom-client's values, read through its JSON API). */
  async collect(): Promise<FamilyView[]> {
    const metrics = await this.#registry.getMetricsAsJSON();
    return metrics.map((m) => toFamily(m as unknown as PromClientMetric));
  }
}

/** What prom-client's getMetricsAsJSON() gives per metric (its typings are looser than this). */
interface PromClientMetric {
  name: string;
  help: string;
  type: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

/** One prom-client metric as a family: counters lose `_total`, histograms regroup their bucket samples. */
function toFamily(m: PromClientMetric): FamilyView {
  const type = String(m.type);
  if (type === 'counter' || type === 'gauge') {
    const family = new StaticFamily(type === 'counter' ? m.name.replace(/_total$/, '') : m.name, type, m.help);
    // prom-client's event-loop lag gauges read NaN until their first sample: no sample, never NaN.
    for (const v of m.values) if (!Number.isNaN(v.value)) family.add(flatLabels(v.labels, null), v.value);
    return family;
  }
  const kind = type === 'histogram' ? 'histogram' : 'summary';
  const family = new StaticFamily(m.name, kind, m.help);
  const inner = kind === 'histogram' ? 'le' : 'quantile';
  const bySeries = new Map<string, { series: StaticSeries; bounds: number[]; values: number[] }>();
  for (const v of m.values) {
    const labels = flatLabels(v.labels, inner);
    const key = labels.join('\u0000');
    let entry = bySeries.get(key);
    if (entry === undefined) {
      const series = new StaticSeries(labels);
      series.data = kind === 'histogram' ? SeriesKind.Histogram : SeriesKind.Summary;
      // prom-client writes `le`/`quantile` first: keep its text as it was.
      series.labelOpen = '{';
      series.labelClose = labels.length === 0 ? '}' : `,${series.labelText.slice(1)}`;
      entry = { series, bounds: [], values: [] };
      bySeries.set(key, entry);
      family.series.push(series);
    }
    const sample = v.metricName ?? m.name;
    if (sample.endsWith('_sum')) entry.series.sum = v.value;
    else if (sample.endsWith('_count')) entry.series.count = v.value;
    else if (String(v.labels[inner]) !== '+Inf') {
      entry.bounds.push(Number(v.labels[inner]));
      entry.values.push(v.value);
    }
  }
  for (const { series, bounds, values } of bySeries.values()) {
    series.bounds = Float64Array.from(bounds);
    if (kind === 'summary') {
      series.counts = Float64Array.from(values);
      continue;
    }
    // prom-client's buckets are cumulative; the read model's are per bucket, +Inf last.
    const counts = new Float64Array(bounds.length + 1);
    let previous = 0;
    for (let i = 0; i < values.length; i++) {
      counts[i] = values[i]! - previous;
      previous = values[i]!;
    }
    counts[bounds.length] = series.count - previous;
    series.counts = counts;
  }
  return family;
}

/** prom-client's label object as flat [name, value, …], without `skip` (le, quantile). */
function flatLabels(labels: Record<string, string | number>, skip: string | null): string[] {
  const out: string[] = [];
  for (const name in labels) if (name !== skip) out.push(name, String(labels[name]));
  return out;
}
