// The daemon's lifecycle: build every component from the config, start them in order, and on
// SIGTERM/SIGINT stop accepting, drain, flush and exit.

import { accessSync, constants, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { ByteBudget, createGrpcReceiver, createHttpReceiver } from '../collectors/otlp/index.js';
import { createDecodePool } from '../collectors/worker/index.js';
import { createPrometheusExporter } from '../exporters/prometheus/index.js';
import { renderFamilies } from '../exporters/prometheus/render.js';
import { renderSpanFamilies } from '../exporters/prometheus/render-spans.js';
import type { Config } from './config/types.js';
import { VigilError } from '../collectors/errors.js';
import { createPipeline } from './pipeline.js';
import { SelfMetrics } from './self-metrics.js';
import { Store } from './store/store.js';
import { createSloEngine } from './slo/index.js';
import type { SloEngine } from './slo/index.js';
import { createPercentiles, spanPercentileSettings } from './percentiles/index.js';

/** A running daemon. */
export interface Daemon {
  /** Resolved listener addresses (ports are real even when 0 was configured). */
  readonly addresses: { otlpGrpc: { host: string; port: number }; otlpHttp: { host: string; port: number }; prometheus: { host: string; port: number } };
  /** Stops accepting, drains in-flight requests, closes everything. Idempotent. */
  shutdown(reason: string): Promise<void>;
  /** The SLO read API (statuses, windows, daily uptime) for the status page. */
  readonly slo: SloEngine;
}

/** How long a graceful stop may take in all; the process exits 0 within it. */
const SHUTDOWN_BUDGET_MS = 4500;

/** Starts vigild. With `installSignalHandlers` (the CLI), SIGTERM/SIGINT stop it and exit. */
export async function startDaemon(config: Config, options: { installSignalHandlers?: boolean } = {}): Promise<Daemon> {
  const log = pino({ level: config.log.level, base: { service: 'vigild' } });
  prepareDataDir(config.storage.dataDir);

  const store = new Store({
    limit: config.series.limit,
    stalenessMs: config.series.stalenessMs,
    percentiles: config.percentiles,
    spans: {
      buckets: config.spans.histogramBucketsSeconds,
      percentiles: spanPercentileSettings(config.percentiles),
      newPercentiles: (settings) => createPercentiles(settings, Date.now),
    },
  });
  // SLOs: storage opens here, before any port is bound, so a bad data dir fails the start.
  const slo = createSloEngine(config, { families: () => store.families(), logger: log });
  slo.start();
  store.spans.spanSeriesHook = slo.spanSeriesHook;
  store.spans.onSpan = slo.onSpan;
  const budget = new ByteBudget(config.otlp.maxInflightBytes);
  const pool = createDecodePool({
    threads: config.workers.threads,
    maxQueue: config.workers.maxQueue,
    expMaxScale: config.series.exponentialMaxScale,
    spans: { dimensions: config.spans.dimensions, buckets: config.spans.histogramBucketsSeconds, errorOnHttp5xx: config.spans.errorOnHttp5xx },
  });
  const metrics = new SelfMetrics({
    inflightBytes: () => budget.inUse,
    inflightLimitBytes: () => budget.limit,
    workerThreads: () => pool.threads,
    workerQueue: () => pool.queueSize(),
    workerUtilization: () => pool.utilization(),
    workerRestarts: () => pool.restarts,
    activeSeries: () => store.seriesCount,
    seriesLimit: () => config.series.limit,
    seriesEvicted: () => store.stats.evicted,
    hashCollisions: () => store.stats.hashCollisions,
    hdrBytes: () => store.hdrStats().bytes,
    hdrSeries: () => store.hdrStats().series,
  });
  // One pipeline behind both receivers.
  const sink = createPipeline(pool, store, metrics);
  const receiver = createGrpcReceiver({
    host: config.otlp.grpc.host,
    port: config.otlp.grpc.port,
    maxMessageBytes: config.otlp.grpc.maxMessageBytes,
    budget,
    sink,
    onCallDone: (signal, code, seconds) => {
      metrics.requests.inc({ signal, transport: 'grpc', code: GrpcStatus[code] ?? String(code) });
      metrics.requestDuration.observe({ signal, transport: 'grpc' }, seconds);
    },
    onRefused: (signal, reason) => metrics.requestsRejected.inc({ signal, transport: 'grpc', reason }),
  });
  const httpReceiver = createHttpReceiver({
    host: config.otlp.http.host,
    port: config.otlp.http.port,
    maxMessageBytes: config.otlp.http.maxMessageBytes,
    budget,
    sink,
    // HTTP answers are counted by HTTP status code (docs/metrics.md).
    onRequestDone: (signal, httpStatus, seconds) => {
      metrics.requests.inc({ signal, transport: 'http', code: String(httpStatus) });
      metrics.requestDuration.observe({ signal, transport: 'http' }, seconds);
    },
    onRefused: (signal, reason) => metrics.requestsRejected.inc({ signal, transport: 'http', reason }),
    onFallback: (detail) => log.warn({ detail }, 'uWebSockets.js runs its slow pure-JS fallback (VIGIL_ALLOW_UWS_FALLBACK=1)'),
  });
  let ready = false;
  const exporter = createPrometheusExporter({
    host: config.prometheus.host,
    port: config.prometheus.port,
    maxConcurrentScrapes: config.prometheus.maxConcurrentScrapes,
    scrapeTimeoutMs: config.prometheus.scrapeTimeoutMs,
    ready: () => ready,
    logger: log,
    render: async (format) => {
      const own = await metrics.render(format);
      const body = renderFamilies(store.families(), format) + renderSpanFamilies(store.spans, format) + slo.render(format) + own;
      return format === 'openmetrics' ? body + '# EOF\n' : body;
    },
    onScrape: (seconds, format, outcome) => metrics.scrapeDuration.observe({ format, outcome }, seconds),
  });

  const sweep = setInterval(() => {
    const evicted = store.evictStale();
    if (evicted > 0) log.debug({ evicted }, 'evicted stale series');
  }, Math.min(30_000, Math.max(1000, config.series.stalenessMs / 4)));
  sweep.unref();

  try {
    await receiver.start();
    await httpReceiver.start();
    await exporter.start();
  } catch (err) {
    clearInterval(sweep);
    await Promise.allSettled([receiver.shutdown(0), httpReceiver.shutdown(0), exporter.shutdown(0), pool.shutdown()]);
    await slo.shutdown();
    throw err;
  }
  ready = true;
  const addresses = { otlpGrpc: receiver.address(), otlpHttp: httpReceiver.address(), prometheus: exporter.address() };
  log.info({ otlpGrpc: addresses.otlpGrpc, otlpHttp: addresses.otlpHttp, prometheus: addresses.prometheus, workers: pool.threads, dataDir: config.storage.dataDir }, 'vigild started');

  let stopping: Promise<void> | null = null;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, 'vigild stopping: draining in-flight requests');
      ready = false;
      clearInterval(sweep);
      const deadline = Date.now() + SHUTDOWN_BUDGET_MS;
      const receiversDeadline = Math.max(0, deadline - Date.now() - 500);
      await Promise.all([receiver.shutdown(receiversDeadline), httpReceiver.shutdown(receiversDeadline)]);
      await pool.shutdown();
      // Everything accepted is merged now: flush the SLO minutes and states, then close SQLite.
      await slo.shutdown();
      await exporter.shutdown(Math.max(0, deadline - Date.now()));
      log.info('vigild stopped');
    })();
    return stopping;
  };

  if (options.installSignalHandlers) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        // A second signal while draining stops at once.
        process.once(signal, () => process.exit(1));
        const force = setTimeout(() => process.exit(1), SHUTDOWN_BUDGET_MS + 400);
        force.unref();
        shutdown(signal).then(() => process.exit(0), (err: unknown) => {
          log.error({ err }, 'error while stopping');
          process.exit(1);
        });
      });
    }
  }
  return { addresses, shutdown, slo };
}

/** Creates the data directory and proves it writable, before anything binds. */
function prepareDataDir(dir: string): void {
  const path = resolve(dir);
  try {
    mkdirSync(path, { recursive: true });
    accessSync(path, constants.W_OK);
  } catch (err) {
    throw new VigilError(
      `storage.data_dir: cannot use ${path}: ${(err as Error).message}. Create it writable for the user running vigild, or set storage.data_dir (--data-dir) to another directory.`,
      'VIGIL_DATA_DIR_UNUSABLE',
    );
  }
}
