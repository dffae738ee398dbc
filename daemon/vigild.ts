// The daemon's lifecycle: build every component from the config, start them in order, and on
// SIGTERM/SIGINT stop accepting, drain, flush and exit; SIGHUP reloads the config file.

import { accessSync, constants, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { ByteBudget, MemoryGuard, TokenAuth, createGrpcReceiver, createHttpReceiver } from '../collectors/otlp/index.js';
import { createDecodePool } from '../collectors/worker/index.js';
import { createProbes } from '../collectors/probes/index.js';
import type { Probes } from '../collectors/probes/index.js';
import { createPrometheusExporter } from '../exporters/prometheus/index.js';
import { StatusStore, createAutoIncidents, createStatusExporter, heartbeatAlerts, probeAlerts, sloAlerts } from '../exporters/status/index.js';
import type { AutoIncidents, StatusExporter } from '../exporters/status/index.js';
import { createWebhookDispatcher, toWebhookEvent } from '../exporters/webhooks/index.js';
import { createReporter, reportRoute } from '../exporters/report/index.js';
import { createRemoteWriter } from '../exporters/remote-write/index.js';
import { createHeartbeats } from '../collectors/heartbeats/index.js';
import type { Heartbeats } from '../collectors/heartbeats/index.js';
import { createAlertmanagerExporter } from '../exporters/alertmanager/index.js';
import type { Config } from './config/types.js';
import { VigilError } from '../collectors/errors.js';
import { ConfigError } from './config/errors.js';
import { diffConfig } from './config/reload.js';
import { createPipeline } from './pipeline.js';
import { SelfMetrics } from './self-metrics.js';
import { Store } from './store/store.js';
import { createPrometheusSource, createSloEngine, sourceFamilies } from './slo/index.js';
import type { SloEngine } from './slo/index.js';
import { createPercentiles, spanPercentileSettings } from './percentiles/index.js';
import { createLogSink } from './log/index.js';
import { StorageHealth } from './storage/index.js';
import type { Storage } from './storage/index.js';
import { createGatherer } from './model/index.js';

/** A running daemon. */
export interface Daemon {
  /** Resolved listener addresses (ports are real even when 0 was configured). */
  readonly addresses: {
    otlpGrpc: { host: string; port: number };
    otlpHttp: { host: string; port: number };
    prometheus: { host: string; port: number };
    status: { host: string; port: number };
  };
  /** Stops accepting, drains in-flight requests, closes everything. Idempotent. */
  shutdown(reason: string): Promise<void>;
  /** The SLO read API (statuses, windows, daily uptime) for the status page. */
  readonly slo: SloEngine;
  /** The status page exporter: its StatusStore (incidents, maintenances, overrides, onChange), model and route table. */
  readonly status: StatusExporter;
  /** Re-reads the config (SIGHUP does this): applies reloadable keys, or keeps the old config on errors. */
  reload(): ReloadResult;
  /** The probes collector (collectors/probes): per-probe runs, results and confirmed states. */
  readonly probes: Probes;
  /** Heartbeats (collectors/heartbeats): state, alerts, ping(). */
  readonly heartbeats: Heartbeats;
  /** Automatic incidents (status.auto_incidents), or null when disabled. */
  readonly autoIncidents: AutoIncidents | null;
}

/** What a reload did (also logged). */
export type ReloadResult =
  | { outcome: 'applied'; applied: string[]; restartRequired: string[] }
  | { outcome: 'rejected'; errors: string[] }
  | { outcome: 'unavailable'; reason: string };

/** How startDaemon is run. */
export interface StartOptions {
  /** The CLI: SIGTERM/SIGINT stop it and exit, SIGHUP reloads. */
  installSignalHandlers?: boolean;
  /** Reads and validates the config again (file plus the same flags); throws ConfigError. Without it reload() is unavailable. */
  reloadConfig?: () => Config;
}

/**
 * A scrape renders for at most this long before OTLP requests get a turn of the event loop
 * (docs/performance.md, bench:scrape-under-load).
 */
const SCRAPE_SLICE_MS = 10;

/** How long a graceful stop may take in all; the process exits 0 within it. */
const SHUTDOWN_BUDGET_MS = 4500;

/** Starts vigild. With `installSignalHandlers` (the CLI), SIGTERM/SIGINT stop it and exit. */
export async function startDaemon(config: Config, options: StartOptions = {}): Promise<Daemon> {
  // Never pino's default destination: its exit flush blocked forever on a stalled log reader (daemon/log).
  const logSink = createLogSink({ maxBufferedBytes: config.log.bufferBytes });
  const log = pino({ level: config.log.level, base: { service: 'vigild' } }, logSink);
  /** The config in force: the start one, or the last reload applied. */
  let current = config;
  prepareDataDir(config.storage.dataDir);

  const store = new Store({
    limit: config.series.limit,
    stalenessMs: config.series.stalenessMs,
    percentiles: config.percentiles,
    spans: {
      buckets: config.spans.histogramBucketsSeconds,
      percentiles: spanPercentileSettings(config.percentiles),
      newPercentiles: (settings) => createPercentiles(settings, Date.now),
      native: { scale: config.spans.nativeHistogramSchema, maxBuckets: config.spans.nativeHistogramMaxBuckets },
    },
  });
  // Writes to the data dir (SLO flushes and rollups, admin changes): counted, logged once per change
  // of state, and /-/ready is 503 with the reason while they fail (docs/operations.md).
  let sloStorage: Storage | null = null;
  const storageHealth = new StorageHealth({
    dataDir: config.storage.dataDir,
    logger: log,
    // A data dir removed, then back: the database is written there again from the open files.
    restore: () => {
      sloStorage?.restoreFile();
      statusStore.reopen();
    },
  });
  // SLOs: storage opens here, before any port is bound, so a bad data dir fails the start.
  // With slo.source the fleet's counters in Prometheus are the SLOs' events, not this instance's ingest.
  const fleetSource = config.slo.source;
  const slo = createSloEngine(config, {
    ...(fleetSource === null ? { families: () => store.families() } : {}),
    logger: log,
    onStorageWrite: (writer, err) => (err === null ? storageHealth.succeeded(writer) : storageHealth.failed(writer, err)),
    onStorageOpened: (storage) => {
      sloStorage = storage;
      // Damage found by the full check after ready, or met by a read or write: not ready, logged once.
      storage.onIntegrity = (event) => storageHealth.integrity(event);
    },
  });
  slo.start();
  // The status page's incidents, maintenances and overrides live in the same database (migration 3).
  let statusStore: StatusStore;
  try {
    statusStore = StatusStore.open({ dataDir: config.storage.dataDir });
  } catch (err) {
    await slo.shutdown();
    throw err;
  }
  statusStore.onListenerError = (err) => log.error({ err }, 'a status change listener failed');
  // Probes feed their SLOs through the engine's public API; they start once every port is bound.
  const probes = createProbes({
    probes: config.probes,
    slos: config.slos.map((s) => ({ id: s.id, indicator: s.indicator })),
    sink: { record: (id, good, total, atMs) => slo.record(id, good, total, atMs), overrideStatus: (id, status) => slo.overrideStatus(id, status) },
    percentiles: config.percentiles,
    logger: log,
  });
  // Heartbeats: their state and outages live in the same database (migration 4); pings arrive on the status listener.
  const heartbeats = createHeartbeats({
    heartbeats: config.heartbeats,
    slos: config.slos,
    sli: slo,
    dataDir: config.storage.dataDir,
    rateLimit: config.status.pingRateLimit,
    logger: log,
    onStorageWrite: (err) => (err === null ? storageHealth.succeeded('heartbeat') : storageHealth.failed('heartbeat', err)),
  });
  try {
    heartbeats.start();
  } catch (err) {
    statusStore.close();
    await slo.shutdown();
    throw err;
  }
  statusStore.onWrite = (err) => {
    if (err !== null) return storageHealth.failed('status', err);
    storageHealth.succeeded('status');
    return undefined;
  };
  storageHealth.start();
  if (fleetSource === null) {
    store.spans.spanSeriesHook = slo.spanSeriesHook;
    store.spans.onSpan = slo.onSpan;
  }
  const source = fleetSource === null ? null : createPrometheusSource(fleetSource, config, slo, log);
  const budget = new ByteBudget(config.otlp.maxInflightBytes);
  const memory = new MemoryGuard({
    softBytes: config.limits.memorySoftBytes,
    hardBytes: config.limits.memoryHardBytes,
    checkIntervalMs: config.limits.checkIntervalMs,
    onChange: (state, previous, usedBytes) => onMemoryState(state, previous, usedBytes),
    collectGarbage: fullGc(),
  });
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
    seriesLimit: () => current.series.limit,
    seriesEvicted: () => store.stats.evicted,
    hashCollisions: () => store.stats.hashCollisions,
    hdrBytes: () => store.hdrStats().bytes,
    hdrSeries: () => store.hdrStats().series,
    memoryUsed: () => memory.usedBytes,
    memorySoftLimit: () => memory.softBytes,
    memoryHardLimit: () => memory.hardBytes,
    memoryState: () => (memory.state === 'hard' ? 2 : memory.state === 'soft' ? 1 : 0),
    log: { dropped: () => logSink.dropped, bufferedBytes: () => logSink.bufferedBytes, limitBytes: () => logSink.maxBufferedBytes },
    connections: () => [receiver.connectionStats(), exporter.connectionStats()],
  });
  // One pipeline behind both receivers.
  const sink = createPipeline(pool, store, metrics);
  const auth = new TokenAuth(config.otlp.auth.tokens);
  const receiver = createGrpcReceiver({
    host: config.otlp.grpc.host,
    port: config.otlp.grpc.port,
    maxMessageBytes: config.otlp.grpc.maxMessageBytes,
    tls: config.otlp.grpc.tls,
    maxConnections: config.otlp.grpc.maxConnections,
    maxConcurrentStreams: config.otlp.grpc.maxConcurrentStreams,
    handshakeTimeoutMs: config.otlp.grpc.handshakeTimeoutMs,
    maxConnectionIdleMs: config.otlp.grpc.maxConnectionIdleMs,
    receiveTimeoutMs: config.otlp.receiveTimeoutMs,
    onAcceptError: (err) => log.warn({ err: err.message, listener: 'otlp_grpc' }, 'accept failed on the OTLP/gRPC listener (out of file descriptors?): connections are being closed until it recovers'),
    budget,
    memory,
    sink,
    auth,
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
    tls: config.otlp.http.tls,
    budget,
    memory,
    sink,
    auth,
    // HTTP answers are counted by HTTP status code (docs/metrics.md).
    onRequestDone: (signal, httpStatus, seconds) => {
      metrics.requests.inc({ signal, transport: 'http', code: String(httpStatus) });
      metrics.requestDuration.observe({ signal, transport: 'http' }, seconds);
    },
    onRefused: (signal, reason) => metrics.requestsRejected.inc({ signal, transport: 'http', reason }),
    receiveTimeoutMs: config.otlp.receiveTimeoutMs,
    onFallback: (detail) => log.warn({ detail }, 'uWebSockets.js runs its slow pure-JS fallback (VIGIL_ALLOW_UWS_FALLBACK=1)'),
  });
  let ready = false;
  // The read model every exporter reads, in exposition order (docs/architecture.md "Scale-out").
  const gatherer = createGatherer([store, slo, storageHealth, { collect: () => webhooks.collect() }, { collect: () => alerts.collect() }, { collect: () => source?.collect() ?? sourceFamilies(null) }, heartbeats, probes, { collect: () => remoteWrite.collect() }, metrics]);
  const exporter = createPrometheusExporter({
    host: config.prometheus.host,
    port: config.prometheus.port,
    maxConcurrentScrapes: config.prometheus.maxConcurrentScrapes,
    scrapeTimeoutMs: config.prometheus.scrapeTimeoutMs,
    tls: config.prometheus.tls,
    maxConnections: config.prometheus.maxConnections,
    headerTimeoutMs: config.prometheus.headerTimeoutMs,
    // Over the hard limit the instance reports not ready, so a load balancer sends traffic elsewhere.
    ready: () => ready && memory.state !== 'hard' && storageHealth.notReadyReason() === null,
    notReadyReason: () => (memory.state === 'hard' ? 'memory is over limits.memory_hard' : storageHealth.notReadyReason()),
    logger: log,
    gatherer,
    sliceMs: SCRAPE_SLICE_MS,
    onScrape: (seconds, format, outcome) => metrics.scrapeDuration.observe({ format, outcome }, seconds),
  });
  const adminToken = process.env['VIGIL_ADMIN_TOKEN'] ?? '';
  const status = createStatusExporter({
    host: config.status.host,
    port: config.status.port,
    tls: config.status.tls,
    title: config.status.title,
    timeZone: config.slo.timezone,
    refreshIntervalMs: config.status.refreshIntervalMs,
    collapseGroupsOver: config.status.collapseGroupsOver,
    adminTokens: adminToken === '' ? config.status.adminTokens : [...config.status.adminTokens, adminToken],
    adminRateLimit: config.status.adminRateLimit,
    onAdminRateLimited: (reason) => metrics.adminRateLimited.inc({ reason }),
    components: config.components,
    slo,
    store: statusStore,
    logger: log,
    // A heartbeat that is down shows its component as a major outage until its next success.
    // So does a probe confirmed down (after `confirm` consecutive failures), SLO or not.
    componentsDown: () =>
      new Map([
        ...heartbeats.alerts().map((a) => [a.component, 'major_outage'] as const),
        ...probes.states().filter((p) => p.confirmed === 'down').map((p) => [p.component, 'major_outage'] as const),
      ]),
  });
  // Signed webhooks on every status change (exporters/webhooks); the monthly report on the status server.
  const webhooks = createWebhookDispatcher({ hooks: config.status.webhooks, logger: log });
  statusStore.onChange((change) => webhooks.enqueue(toWebhookEvent(change)));
  status.route(reportRoute(createReporter(config, { status: statusStore })));
  // Every series /metrics exposes, sampled and pushed to each remote_write endpoint through its WAL.
  const remoteWrite = createRemoteWriter({
    endpoints: config.remoteWrite,
    dataDir: config.storage.dataDir,
    logger: log,
    gatherer,
  });
  for (const route of heartbeats.routes()) status.route(route);
  // Page alerts → incidents on their component (drafts unless publish): SLOs burning, heartbeats and probes down.
  const heartbeatSlos = (id: string) =>
    config.slos.filter((s) => s.indicator.type === 'heartbeat_availability' && s.indicator.heartbeat === id).flatMap((s) => slo.sloReport(s.id) ?? []);
  const probeSlos = (id: string) =>
    config.slos.filter((s) => (s.indicator.type === 'probe_availability' || s.indicator.type === 'probe_latency') && s.indicator.probe === id).flatMap((s) => slo.sloReport(s.id) ?? []);
  const autoIncidents = config.status.autoIncidents.enabled
    ? createAutoIncidents({
        store: statusStore,
        components: config.components,
        sources: [sloAlerts(() => slo.report()), heartbeatAlerts(() => heartbeats.alerts(), heartbeatSlos), probeAlerts(() => probes.states(), probeSlos)],
        publish: config.status.autoIncidents.publish,
        resolveAfterMs: config.status.autoIncidents.resolveAfterMs,
        intervalMs: config.status.refreshIntervalMs,
        logger: log,
      })
    : null;
  // This instance's VigilSLOBurnRate alerts to Alertmanager (exporters/alertmanager); a timer, never the ingest path.
  const alerts = createAlertmanagerExporter({
    alerting: config.alerting,
    report: () => slo.report(),
    statusUrl: () => {
      const a = status.address();
      return `${config.status.tls === null ? 'http' : 'https'}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
    },
    logger: log,
  });

  const sweepStale = (): void => {
    const evicted = store.evictStale();
    if (evicted > 0) log.debug({ evicted }, 'evicted stale series');
  };
  const sweepEvery = (stalenessMs: number): NodeJS.Timeout => setInterval(sweepStale, Math.min(30_000, Math.max(1000, stalenessMs / 4))).unref();
  let sweep = sweepEvery(config.series.stalenessMs);

  /** Logs every change of memory state; over the hard limit, also frees what can be freed now. */
  function onMemoryState(state: 'ok' | 'soft' | 'hard', previous: 'ok' | 'soft' | 'hard', usedBytes: number): void {
    const fields = { usedBytes, softBytes: memory.softBytes, hardBytes: memory.hardBytes, previous };
    if (state === 'hard') {
      log.error(fields, 'vigild is over limits.memory_hard: refusing OTLP requests, reporting not ready, sweeping stale series now; raise the limit or shed load (docs/operations.md)');
      sweepStale();
    } else if (state === 'soft') {
      log.warn(fields, 'vigild is over limits.memory_soft: refusing new OTLP requests (retryable) until memory falls below it');
    } else {
      log.info(fields, 'vigild memory is back under limits.memory_soft: accepting OTLP requests again');
    }
  }

  memory.start();
  try {
    await receiver.start();
    await httpReceiver.start();
    await exporter.start();
    await status.start();
    autoIncidents?.start();
    remoteWrite.start();
    alerts.start();
    source?.start();
  } catch (err) {
    clearInterval(sweep);
    memory.stop();
    await Promise.allSettled([receiver.shutdown(0), httpReceiver.shutdown(0), exporter.shutdown(0), status.shutdown(0), pool.shutdown(), webhooks.shutdown(), remoteWrite.shutdown(0), alerts.shutdown(), source?.shutdown()]);
    autoIncidents?.shutdown();
    heartbeats.shutdown();
    statusStore.close();
    await slo.shutdown();
    throw err;
  }
  probes.start();
  ready = true;
  // The SLOs' stored history loads in the background from here on (docs/slo.md, "Memory layout").
  slo.startHistoryLoad();
  // Open checked the file's header, schema, small tables and the history's ends; the whole file is
  // checked now, in a child process (docs/operations.md, "Integrity check of the database").
  // (The cast: sloStorage is set in the onStorageOpened callback, which TypeScript's narrowing does not see.)
  (sloStorage as Storage | null)?.startIntegrityCheck();
  const addresses = { otlpGrpc: receiver.address(), otlpHttp: httpReceiver.address(), prometheus: exporter.address(), status: status.address() };
  log.info({ otlpGrpc: addresses.otlpGrpc, otlpHttp: addresses.otlpHttp, prometheus: addresses.prometheus, status: addresses.status, workers: pool.threads, dataDir: config.storage.dataDir,
    otlpAuth: auth.enabled,
    tls: { otlpGrpc: config.otlp.grpc.tls !== null, otlpHttp: config.otlp.http.tls !== null, prometheus: config.prometheus.tls !== null, status: config.status.tls !== null },
  }, 'vigild started');

  let stopping: Promise<void> | null = null;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, 'vigild stopping: draining in-flight requests');
      ready = false;
      clearInterval(sweep);
      memory.stop();
      storageHealth.stop();
      const deadline = Date.now() + SHUTDOWN_BUDGET_MS;
      const receiversDeadline = Math.max(0, deadline - Date.now() - 500);
      await Promise.all([receiver.shutdown(receiversDeadline), httpReceiver.shutdown(receiversDeadline)]);
      await pool.shutdown();
      // In parallel, a second at most: a remote_write request in flight (what is unsent stays in the WAL
      // for the next start), and probe runs in flight (their results count before the SLO engine flushes).
      const oneSecond = Math.min(deadline - 1500, Date.now() + 1000);
      await Promise.all([remoteWrite.shutdown(oneSecond), probes.shutdown(oneSecond)]);
      // The status page stops (listener, WebSocket clients, refresh timer) before the database closes.
      await status.shutdown(Math.max(0, deadline - Date.now()));
      // A webhook attempt in flight gets up to a second; queued deliveries are abandoned (counted).
      await Promise.all([webhooks.shutdown(Math.min(deadline - 1000, Date.now() + 1000)), alerts.shutdown(Math.min(deadline - 1000, Date.now() + 1000))]);
      await source?.shutdown();
      // After the status listener: no ping can arrive any more; SLI events reach the engine before its flush.
      heartbeats.shutdown();
      autoIncidents?.shutdown();
      statusStore.close();
      // Everything accepted is merged now: flush the SLO minutes and states, then close SQLite.
      await slo.shutdown();
      await exporter.shutdown(Math.max(0, deadline - Date.now()));
      log.info('vigild stopped');
    })();
    return stopping;
  };

  /** Applies the reloadable keys of a newly validated config; the rest waits for a restart. */
  const reload = (): ReloadResult => {
    if (options.reloadConfig === undefined) return { outcome: 'unavailable', reason: 'vigild was started without a reloadable configuration' };
    if (stopping !== null) return { outcome: 'unavailable', reason: 'vigild is stopping' };
    let next: Config;
    try {
      next = options.reloadConfig();
    } catch (err) {
      const errors = err instanceof ConfigError ? err.errors : [err instanceof Error ? err.message : String(err)];
      metrics.configReloads.inc({ outcome: 'rejected' });
      log.error({ file: current.source, errors }, 'config reload rejected: the configuration in force is unchanged');
      return { outcome: 'rejected', errors };
    }
    const changes = diffConfig(current, next);
    log.level = next.log.level;
    store.setLimits(next.series.limit, next.series.stalenessMs);
    if (next.series.stalenessMs !== current.series.stalenessMs) {
      clearInterval(sweep);
      sweep = sweepEvery(next.series.stalenessMs);
    }
    budget.limit = next.otlp.maxInflightBytes;
    memory.setLimits(next.limits.memorySoftBytes, next.limits.memoryHardBytes, next.limits.checkIntervalMs);
    // Keys that need a restart keep their running values, so `current` says what is in force.
    current = {
      ...current,
      log: next.log,
      series: { ...current.series, limit: next.series.limit, stalenessMs: next.series.stalenessMs },
      otlp: { ...current.otlp, maxInflightBytes: next.otlp.maxInflightBytes },
      limits: next.limits,
    };
    metrics.configReloads.inc({ outcome: 'applied' });
    log.info({ file: current.source, applied: changes.reloadable }, 'config reloaded');
    if (changes.restartRequired.length > 0) {
      log.warn({ keys: changes.restartRequired }, `config keys changed that need a restart to take effect: ${changes.restartRequired.join(', ')}`);
    }
    return { outcome: 'applied', applied: changes.reloadable, restartRequired: changes.restartRequired };
  };

  if (options.installSignalHandlers) {
    if (options.reloadConfig !== undefined) process.on('SIGHUP', () => void reload());
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
  return { addresses, shutdown, slo, status, reload, heartbeats, autoIncidents, probes };
}

/**
 * A full garbage collection for the memory guard: global.gc when node runs with --expose-gc,
 * otherwise V8's gc function obtained by enabling the flag at run time (the flag only exposes it).
 */
function fullGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
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
