// The validated, normalised configuration every component receives. YAML keys are snake_case
// (see docs/configuration.md); here durations are milliseconds and sizes are bytes.

import type { ProbesConfig as ProbeConfig } from '../../collectors/probes/index.js';

/** A listener address. */
export interface Endpoint {
  host: string;
  port: number;
}

/** A listener's TLS files (absolute paths, readable at startup); null `tls` = plaintext. */
export interface TlsSettings {
  certFile: string;
  keyFile: string;
  /** Client certificates are required and verified against this CA; null = not asked for. */
  clientCaFile: string | null;
}

/** The whole daemon configuration after validation and defaults. */
export interface Config {
  otlp: {
    grpc: Endpoint & {
      /** Largest request accepted, after decompression (otlp.grpc.max_message_size). */
      maxMessageBytes: number;
      tls: TlsSettings | null;
      /** Connections held at once; more are closed on accept and counted (otlp.grpc.max_connections). */
      maxConnections: number;
      /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection (otlp.grpc.max_concurrent_streams). */
      maxConcurrentStreams: number;
      /** Accept to end of TLS handshake and HTTP/2 preface (otlp.grpc.handshake_timeout). */
      handshakeTimeoutMs: number;
      /** No call open for this long: GOAWAY and closed (otlp.grpc.max_connection_idle). */
      maxConnectionIdleMs: number;
    };
    http: Endpoint & {
      /** Largest body accepted, as received and after gzip inflation (otlp.http.max_message_size). */
      maxMessageBytes: number;
      /** client_ca_file is rejected here (uWS cannot require client certificates). */
      tls: TlsSettings | null;
    };
    /** Bytes of requests admitted but not yet merged, gRPC and HTTP together (otlp.max_inflight_size). */
    maxInflightBytes: number;
    /** A request's message must arrive whole within this; a stalled one is reset and its budget released (otlp.receive_timeout). */
    receiveTimeoutMs: number;
    /** Bearer tokens of OTLP/gRPC and OTLP/HTTP (otlp.auth.tokens); empty = no authentication. */
    auth: { tokens: Array<{ token: string; tenant: string }> };
  };
  prometheus: Endpoint & {
    maxConcurrentScrapes: number;
    scrapeTimeoutMs: number;
    tls: TlsSettings | null;
    /** Connections held at once; more are closed on accept and counted (prometheus.max_connections). */
    maxConnections: number;
    /** A request's headers must arrive within this (prometheus.header_timeout). */
    headerTimeoutMs: number;
  };
  status: Endpoint & {
    /** client_ca_file is rejected here, as for otlp.http. */
    tls: TlsSettings | null;
    /** Page title and Statuspage `page.name` (status.title). */
    title: string;
    /** How often SLO-derived component statuses are re-evaluated for the page and live feed. */
    refreshIntervalMs: number;
    /** Groups with more components than this are collapsed on the page (status.collapse_groups_over; 0 never). */
    collapseGroupsOver: number;
    /** Bearer tokens accepted by /api/admin/* (status.admin_tokens; VIGIL_ADMIN_TOKEN adds one). */
    adminTokens: string[];
    /** Per-client limits of /api/admin/* (status.admin_rate_limit). */
    adminRateLimit: {
      requestsPerSecond: number;
      burst: number;
      authFailuresPerMinute: number;
      authFailureBurst: number;
      maxClients: number;
    };
    /** Signed status-change webhooks (status.webhooks; exporters/webhooks). */
    webhooks: WebhookSettings[];
    /** Incidents opened when a component's page alert fires (status.auto_incidents; docs/status.md). */
    autoIncidents: {
      enabled: boolean;
      /** false: drafts, shown only after an operator publishes them through the admin API. */
      publish: boolean;
      /** How long the alert must stay clear before the incident is resolved, ms. */
      resolveAfterMs: number;
    };
    /** Per-client limits of /ping/* (status.ping_rate_limit; collectors/heartbeats). */
    pingRateLimit: {
      requestsPerSecond: number;
      burst: number;
      unknownKeysPerMinute: number;
      unknownKeyBurst: number;
      maxClients: number;
    };
  };
  storage: {
    dataDir: string;
    /** How often pending SLO minute counts are written to SQLite (storage.flush_interval). */
    flushIntervalMs: number;
  };
  workers: {
    /** Decode worker threads. */
    threads: number;
    /** Requests queued for a worker before admission answers UNAVAILABLE. */
    maxQueue: number;
  };
  series: {
    /** Active series across all families; beyond it points go to overflow series or are rejected. */
    limit: number;
    /** A series not updated for this long is removed. */
    stalenessMs: number;
    /** Exponential histograms are downscaled to at most this scale before export. */
    exponentialMaxScale: number;
  };
  /** HDR percentiles over sliding windows (histogram metrics; span durations use the same windows). */
  percentiles: {
    /** `<name>_percentiles` for OTLP Histogram and ExponentialHistogram metrics. */
    enabled: boolean;
    /** HDR significant value digits, 1–5. */
    significantDigits: number;
    /** Ascending, each in (0, 1). */
    quantiles: number[];
    /** Window lengths, ms, ascending (1–5 of them, each ≥ 10 s). */
    windowsMs: number[];
    /** The `window` label of each, e.g. `1m` (canonical form of the duration). */
    windowLabels: string[];
  };
  /** Memory limits checked on a timer (limits.*; docs/operations.md). */
  limits: {
    /** Live memory (heap used + external) above which new OTLP requests are refused, retryable (limits.memory_soft). */
    memorySoftBytes: number;
    /** Live memory above which Vigil also logs an error, sweeps early and reports not ready (limits.memory_hard). */
    memoryHardBytes: number;
    /** How often live memory is measured (limits.check_interval). */
    checkIntervalMs: number;
  };
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
    /** Bytes of log lines held while stdout's reader is slow (log.buffer_size); beyond it lines are dropped and counted. */
    bufferBytes: number;
  };
  /** Span RED metrics (spanmetrics-connector style; see docs/metrics.md). */
  spans: {
    /** Extra dimensions: span (then resource) attribute keys, exported with sanitised label names. */
    dimensions: string[];
    /** Upper bounds of the traces_span_metrics_duration_seconds buckets, seconds, ascending. */
    histogramBucketsSeconds: number[];
    /** Also count spans with http.response.status_code / http.status_code ≥ 500 as errors (SLOs). */
    errorOnHttp5xx: boolean;
    /** Starting schema of the span-duration native histograms (protobuf exposition, remote_write), -4..8. */
    nativeHistogramSchema: number;
    /** Most buckets a span series' native histogram keeps (it coarsens beyond); 0 = none kept. */
    nativeHistogramMaxBuckets: number;
  };
  slo: {
    /** IANA zone for calendar windows without their own and for daily uptime of rolling windows. */
    timezone: string;
    /** Where per-minute SLO events come from: null = this instance's ingest (slo.source). */
    source: SloSourceSettings | null;
  };
  /** The daemon's own burn-rate alerts to Alertmanager (alerting; exporters/alertmanager). */
  alerting: AlertingSettings;
  /** Monthly uptime reports (exporters/report, docs/reports.md). */
  report: {
    /** Share of a partial-outage minute counted as downtime, 0..1 (report.partial_outage_weight). */
    partialOutageWeight: number;
  };
  /** Status-page components; each SLO belongs to one (see docs/slo.md). */
  components: ComponentConfig[];
  /** Service level objectives. */
  slos: SloConfig[];
  /** Prometheus remote_write endpoints (remote_write[]; exporters/remote-write); empty = none. */
  remoteWrite: RemoteWriteSettings[];
  /** Synthetic checks (collectors/probes). */
  probes: ProbeConfig[];
  /** Jobs that must ping on schedule (collectors/heartbeats). */
  heartbeats: HeartbeatConfig[];
  /** The file the config came from, if any (for SIGHUP reload and messages). */
  source?: string;
}

/** One `status.webhooks[]` entry. */
export interface WebhookSettings {
  url: string;
  /** HMAC-SHA256 key of the X-Vigil-Signature header. */
  secret: string;
  /** Attempts per delivery, the first included. */
  maxAttempts: number;
  /** Per-attempt timeout, ms. */
  timeoutMs: number;
  /** Deliveries queued for this URL before new changes are dropped. */
  maxQueue: number;
}

/** One `remote_write[]` entry (exporters/remote-write/README.md has the defaults). */
export interface RemoteWriteSettings {
  url: string;
  /** Every exposed series is sampled and queued this often. */
  intervalMs: number;
  /** Extra request headers (protocol headers cannot be overridden). */
  headers: Record<string, string>;
  bearerToken: string | null;
  basicAuth: { username: string; password: string } | null;
  /** Client TLS for https:// URLs: a CA to verify the server, a client certificate and key. */
  tls: { caFile: string | null; certFile: string | null; keyFile: string | null } | null;
  queue: {
    /** Parallel senders; a series always goes through the same one. */
    shards: number;
    maxSamplesPerSend: number;
    /** Per-request timeout. */
    timeoutMs: number;
    minBackoffMs: number;
    maxBackoffMs: number;
  };
  wal: {
    /** Bound of the endpoint's WAL on disk (and in memory when the disk fails). */
    maxBytes: number;
    /** A new segment file starts past this size. */
    segmentBytes: number;
    fsync: 'always' | 'never';
  };
  /**
   * Metric metadata (family name, type, help, unit) sent every `intervalMs` in requests of its own,
   * not through the WAL (as Prometheus' `metadata_config`). Absent: not sent (the config always sets it).
   */
  metadata?: {
    send: boolean;
    intervalMs: number;
    /** Metadata entries per request. */
    maxPerSend: number;
  };
}

/** A status-page component (`components[]`). */
export interface ComponentConfig {
  id: string;
  /** Display name; defaults to the id. */
  name: string;
  group: string | null;
  description: string | null;
}

/** OTLP span kinds, without the `SPAN_KIND_` prefix. */
export type SpanKindName = 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER' | 'INTERNAL';

/** Which spans an SLI counts. */
export interface SpanSelector {
  /** `service.name` of the span's resource. */
  service: string;
  /** Default SERVER. */
  spanKind: SpanKindName;
  /** Exact span name, or null for every span name. */
  spanName: string | null;
}

/** A Prometheus-style label matcher. */
export interface LabelMatcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

/** A metric name (as exported on /metrics) with label matchers. */
export interface MetricSelector {
  name: string;
  matchers: LabelMatcher[];
}

/** An SLO window: rolling (minutes) or a calendar period in an IANA zone. */
export type SloWindow =
  | { kind: 'rolling'; label: string; minutes: number; timezone: string }
  | { kind: 'calendar'; label: 'month' | 'quarter'; period: 'month' | 'quarter'; timezone: string };

/** What an SLO counts as good and total events. */
export type SloIndicator =
  | { type: 'span_availability'; spans: SpanSelector }
  | { type: 'span_latency'; spans: SpanSelector; thresholdSeconds: number }
  | { type: 'metric_availability'; good: MetricSelector; total: MetricSelector }
  | { type: 'metric_latency'; histogram: MetricSelector; thresholdSeconds: number }
  /** Each run of the probe (collectors/probes) is one event: good when it succeeded. */
  | { type: 'probe_availability'; probe: string }
  /** Each run of the probe is one event: good when it took at most the threshold. */
  | { type: 'probe_latency'; probe: string; thresholdSeconds: number }
  /** One event per expected run of a heartbeat: good if it succeeded in time (collectors/heartbeats). */
  | { type: 'heartbeat_availability'; heartbeat: string };

/** One SLO (`slos[]`). */
export interface SloConfig {
  id: string;
  /** Display name; defaults to the id. */
  name: string;
  /** A ComponentConfig id. */
  component: string;
  /** As written, e.g. 99.9. */
  objectivePercent: number;
  /** As a ratio, e.g. 0.999. */
  objective: number;
  window: SloWindow;
  indicator: SloIndicator;
}

/** When a heartbeat's job is expected to run. */
export type HeartbeatSchedule =
  /** Five-field cron expression evaluated in an IANA zone (DST handled by croner). */
  | { kind: 'cron'; cron: string; timezone: string }
  /** Every `everyMs` after the last ping (Healthchecks.io's simple period). */
  | { kind: 'every'; everyMs: number };

/** One `heartbeats[]` entry. */
export interface HeartbeatConfig {
  id: string;
  /** A ComponentConfig id. */
  component: string;
  /** The secret in the ping URL (/ping/<key>); from `key` or the environment variable `key_env`. */
  key: string;
  schedule: HeartbeatSchedule;
  /** How long after the scheduled time a success may still arrive, ms. */
  graceMs: number;
  /** How long a run may take from /start to success, ms (default: the grace). */
  maxRuntimeMs: number;
}

/** `alerting`: Alertmanagers that receive this instance's VigilSLOBurnRate alerts. */
export interface AlertingSettings {
  alertmanagers: AlertmanagerSettings[];
  /** A firing alert is sent again this often (alerting.resend_interval). */
  resendIntervalMs: number;
  /** How often the SLO report is read for alert changes (alerting.evaluate_interval). */
  evaluateIntervalMs: number;
  /** Status page URL in the alerts (alerting.status_url); null = http://status.endpoint. */
  statusUrl: string | null;
}

/** One `alerting.alertmanagers[]` entry. */
export interface AlertmanagerSettings {
  /** Base URL; alerts are POSTed to <url>/api/v2/alerts. */
  url: string;
  headers: Record<string, string>;
  bearerToken: string | null;
  tls: { caFile: string | null; certFile: string | null; keyFile: string | null; insecureSkipVerify: boolean } | null;
  timeoutMs: number;
}

/** `slo.source.prometheus`: per-minute SLO events from the fleet's vigil_slo_events_total. */
export interface SloSourceSettings {
  kind: 'prometheus';
  /** Base URL of a Prometheus HTTP query API (Prometheus, Mimir's /prometheus, Thanos Query, VictoriaMetrics). */
  url: string;
  headers: Record<string, string>;
  bearerToken: string | null;
  /** How often the latest minutes are queried. */
  intervalMs: number;
  /** Per-request timeout. */
  timeoutMs: number;
  /** How far back missed minutes are backfilled after a start (at most); null = the longest SLO window. */
  backfillMs: number | null;
}
