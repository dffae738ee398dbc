// The daemon's lifecycle: build every component from the config, start them in order, and on
// SIGTERM/SIGINT stop accepting, drain, flush and exit.

import { accessSync, constants, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { ByteBudget, createGrpcReceiver } from '../collectors/otlp/index.js';
import { createDecodePool } from '../collectors/worker/index.js';
import { createPrometheusExporter } from '../exporters/prometheus/index.js';
import { renderFamilies } from '../exporters/prometheus/render.js';
import type { Config } from './config/types.js';
import { VigilError } from '../collectors/errors.js';
import { createPipeline } from './pipeline.js';
import { SelfMetrics } from './self-metrics.js';
import { Store } from './store/store.js';

/** A running daemon. */
export interface Daemon {
  /** Resolved listener addresses (ports are real even when 0 was configured). */
  readonly addresses: { otlpGrpc: { host: string; port: number }; prometheus: { host: string; port: number } };
  /** Stops accepting, drains in-flight requests, closes everything. Idempotent. */
  shutdown(reason: string): Promise<void>;
}

/** How long a graceful stop may take in all; the process exits 0 within it. */
const SHUTDOWN_BUDGET_MS = 4500;

/** Starts vigild. With `installSignalHandlers` (the CLI), SIGTERM/SIGINT stop it and exit. */
export async function startDaemon(config: Config, options: { installSignalHandlers?: boolean } = {}): Promise<Daemon> {
  const log = pino({ level: config.log.level, base: { service: 'vigild' } });
  prepareDataDir(config.storage.dataDir);

  const store = new Store({ limit: config.series.limit, stalenessMs: config.series.stalenessMs });
  const budget = new ByteBudget(config.otlp.maxInflightBytes);
  const pool = createDecodePool({
    threads: config.workers.threads,
    maxQueue: config.workers.maxQueue,
    expMaxScale: config.series.exponentialMaxScale,
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
  });
  const receiver = createGrpcReceiver({
    host: config.otlp.grpc.host,
    port: config.otlp.grpc.port,
    maxMessageBytes: config.otlp.grpc.maxMessageBytes,
    budget,
    sink: createPipeline(pool, store, metrics),
    onCallDone: (signal, code, seconds) => {
      metrics.requests.inc({ signal, transport: 'grpc', code: GrpcStatus[code] ?? String(code) });
      metrics.requestDuration.observe({ signal, transport: 'grpc' }, seconds);
    },
    onRefused: (signal, reason) => metrics.requestsRejected.inc({ signal, transport: 'grpc', reason }),
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
      const body = renderFamilies(store.families(), format) + own;
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
    await exporter.start();
  } catch (err) {
    clearInterval(sweep);
    await Promise.allSettled([receiver.shutdown(0), exporter.shutdown(0), pool.shutdown()]);
    throw err;
  }
  ready = true;
  const addresses = { otlpGrpc: receiver.address(), prometheus: exporter.address() };
  log.info({ otlpGrpc: addresses.otlpGrpc, prometheus: addresses.prometheus, workers: pool.threads, dataDir: config.storage.dataDir }, 'vigild started');

  let stopping: Promise<void> | null = null;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, 'vigild stopping: draining in-flight requests');
      ready = false;
      clearInterval(sweep);
      const deadline = Date.now() + SHUTDOWN_BUDGET_MS;
      await receiver.shutdown(Math.max(0, deadline - Date.now() - 500));
      await pool.shutdown();
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
  return { addresses, shutdown };
}

/** Creates the data directory and proves it writable, before anything binds. */
function prepareDataDir(dir: string): void {
  const path = resolve(dir);
  try {
    mkdirSync(path, { recursive: true });
    accessSync(path, constants.W_OK);
  } catch (err) {
    throw new VigilError(`storage.data_dir: cannot use ${path}: ${(err as Error).message}`, 'VIGIL_DATA_DIR_UNUSABLE');
  }
}
