// The YAML schema (snake_case, every key optional) and its translation into the normalised
// Config. zod does the structure (strict objects, key paths, all issues at once); each leaf
// has a hand-written parser so every message reads `key.path: must be … (got …)`.

import { availableParallelism, totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { resolve } from 'node:path';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { componentsSchema, parseTimeZone, resolveSloZones, sloCrossCheck, slosSchema } from './slo-schema.js';
import { configFootprint } from '../slo/footprint.js';
import type { Config, Endpoint, TlsSettings } from './types.js';
import { windowLabel } from '../percentiles/index.js';
import { webhooksSchema } from './webhooks-schema.js';
import { remoteWriteSchema } from './remote-write-schema.js';
import { probeCrossCheck, probesSchema } from '../../collectors/probes/index.js';
import { heartbeatCrossCheck, heartbeatsSchema, resolveHeartbeatZones } from './heartbeats-schema.js';
import { alertingSchema, sloSourceSchema } from './alerting-schema.js';

/** Log levels pino accepts, in order of verbosity. */
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

/** The YAML-level defaults, exactly as a user would write them (docs/configuration.md mirrors this). */
const DEFAULTS = {
  otlpGrpcEndpoint: '127.0.0.1:4317',
  otlpGrpcMaxMessageSize: '16MiB',
  otlpHttpEndpoint: '127.0.0.1:4318',
  otlpHttpMaxMessageSize: '16MiB',
  otlpMaxInflightSize: '64MiB',
  otlpReceiveTimeout: '30s',
  otlpGrpcMaxConnections: 1024,
  otlpGrpcMaxConcurrentStreams: 100,
  otlpGrpcHandshakeTimeout: '10s',
  otlpGrpcMaxConnectionIdle: '5m',
  prometheusMaxConnections: 128,
  prometheusHeaderTimeout: '10s',
  prometheusEndpoint: '127.0.0.1:9464',
  prometheusMaxConcurrentScrapes: 4,
  prometheusScrapeTimeout: '10s',
  statusEndpoint: '127.0.0.1:8080',
  statusTitle: 'Status',
  statusRefreshInterval: '5s',
  statusCollapseGroupsOver: 20,
  statusAdminTokens: [] as string[],
  statusAdminRequestsPerSecond: 5,
  statusAdminBurst: 20,
  statusAdminAuthFailuresPerMinute: 5,
  statusAdminAuthFailureBurst: 10,
  statusAdminMaxClients: 10_000,
  storageDataDir: './data',
  storageFlushInterval: '1s',
  sloTimezone: 'UTC',
  reportPartialOutageWeight: 0.3,
  workersThreads: 'auto',
  workersMaxQueue: 256,
  seriesLimit: 200_000,
  seriesStaleness: '5m',
  seriesExponentialMaxScale: 3,
  percentilesEnabled: true,
  percentilesSignificantDigits: 2,
  percentilesQuantiles: [0.5, 0.9, 0.95, 0.99, 0.999],
  percentilesWindows: ['1m', '5m', '1h'],
  spansDimensions: [] as string[],
  spansHistogramBuckets: ['2ms', '4ms', '6ms', '8ms', '10ms', '50ms', '100ms', '200ms', '400ms', '800ms', '1s', '1400ms', '2s', '5s', '10s', '15s'],
  spansErrorOnHttp5xx: false,
  spansNativeHistogramSchema: 3,
  spansNativeHistogramMaxBuckets: 160,
  logLevel: 'info',
  logBufferSize: '1MiB',
  limitsMemorySoft: 'auto',
  limitsMemoryHard: 'auto',
  limitsCheckInterval: '250ms',
  statusAutoIncidentsEnabled: false,
  statusAutoIncidentsPublish: false,
  statusAutoIncidentsResolveAfter: '10m',
  statusPingRequestsPerSecond: 10,
  statusPingBurst: 30,
  statusPingUnknownKeysPerMinute: 10,
  statusPingUnknownKeyBurst: 10,
  statusPingMaxClients: 10_000,
} as const;

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
};

/**
 * Milliseconds in a duration such as `500ms`, `10s`, `5m`, `1h`, `1d` or `1m30s`;
 * undefined if the text is not one.
 */
function parseDuration(text: string): number | undefined {
  const whole = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
  if (!whole.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    ms += Number(amount) * DURATION_UNITS_MS[unit as string]!;
  }
  return Math.round(ms);
}

/**
 * Bytes in a size: an integer (bytes) or a number with a unit B, KB, MB, GB (powers of 1000)
 * or KiB, MiB, GiB (powers of 1024); undefined if the value is not one. Units are case-sensitive
 * on purpose: `16mb` is ambiguous between MB and MiB.
 */
function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const match = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/.exec(value.trim());
  if (match === null) return undefined;
  const unit = match[2];
  if (unit === undefined && match[1]!.includes('.')) return undefined;
  const bytes = Math.floor(Number(match[1]) * SIZE_UNITS[unit ?? 'B']!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** `host:port` or `[ipv6]:port` → Endpoint, or the reason it is not one. */
function parseEndpoint(text: string): Endpoint | Invalid {
  const got = `(got ${describe(text)})`;
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d+)$/.exec(text);
  if (match === null) {
    // An unbracketed IPv6 address is the likeliest mistake with several colons.
    const hint = (text.match(/:/g)?.length ?? 0) > 1 ? ', with [brackets] around an IPv6 address' : '';
    return new Invalid(`must be host:port${hint} ${got}`);
  }
  const [, ipv6, name, portText] = match;
  const host = ipv6 ?? name ?? '';
  const hostOk =
    ipv6 !== undefined ? isIPv6(ipv6) : isIPv4(host) || /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host);
  if (!hostOk) {
    return new Invalid(host === '' ? `must name a host, e.g. 0.0.0.0:port for every interface ${got}` : `must be host:port with a valid host ${got}`);
  }
  const port = Number(portText);
  if (port > 65_535) return new Invalid(`port must be 0..65535 ${got}`);
  return { host, port };
}

/** A leaf's rejection, carrying the message that follows its key path. */
class Invalid {
  constructor(readonly message: string) {}
}

/** A short, quoted rendering of a bad value for `(got …)`. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

/** A leaf key: absent → the YAML default, run through the same parser; otherwise parsed or an issue. */
function leaf<Raw, T>(fallback: Raw, parse: (value: unknown) => T | Invalid) {
  return z.unknown().optional().transform((value, ctx): T => {
    const result = parse(value === undefined ? fallback : value);
    if (result instanceof Invalid) {
      ctx.addIssue({ code: 'custom', message: result.message, input: value });
      return z.NEVER;
    }
    return result;
  });
}

/** A mapping of keys; absent or empty (`otlp:` with everything commented out) means all defaults. */
function section<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.preprocess((value) => value ?? {}, z.strictObject(shape));
}

const endpoint = (fallback: string) =>
  leaf(fallback, (v) => (typeof v === 'string' ? parseEndpoint(v) : new Invalid(`must be host:port (got ${describe(v)})`)));

const size = (fallback: string) =>
  leaf(fallback, (v) => {
    const bytes = typeof v === 'string' || typeof v === 'number' ? parseSize(v) : undefined;
    if (bytes === undefined || bytes === 0) {
      return new Invalid(`must be a positive size: bytes, or a number with KiB, MiB, GiB, KB, MB or GB (got ${describe(v)})`);
    }
    return bytes;
  });

const duration = (fallback: string) =>
  leaf(fallback, (v) => {
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined || ms === 0) {
      return new Invalid(`must be a positive duration such as 500ms, 10s, 5m, 1h, 1d or 1m30s (got ${describe(v)})`);
    }
    return ms;
  });

const integer = (fallback: number, min: number, max: number, wording: string) =>
  leaf(fallback, (v) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? v : new Invalid(`must be ${wording} (got ${describe(v)})`),
  );

const positiveInteger = (fallback: number) => integer(fallback, 1, Number.MAX_SAFE_INTEGER, 'a positive integer');

const positiveNumber = (fallback: number) =>
  leaf(fallback, (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : new Invalid(`must be a positive number (got ${describe(v)})`)));

const boolean = (fallback: boolean) => leaf(fallback, (v) => (typeof v === 'boolean' ? v : new Invalid(`must be true or false (got ${describe(v)})`)));

/** Label names span series already use; an extra dimension may not sanitise to one of them. */
const RESERVED_SPAN_LABELS = new Set(['service_name', 'span_name', 'span_kind', 'status_code', 'job', 'instance', 'le', 'quantile', 'window', 'otel_metric_overflow']);

/** An attribute key's Prometheus label name (as exporters/prometheus/naming.ts sanitises it). */
function sanitisedLabel(key: string): string {
  const name = key.replace(/[^a-zA-Z0-9_]/g, '_').replace(/__+/g, '_');
  return /^[0-9]/.test(name) ? `key_${name}` : name;
}

const SPAN_BUCKET_UNITS_S: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60 };

/** A histogram bound: a duration (`2ms`, `1.4s`, `250us`) or a number of seconds. */
function parseBucketSeconds(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)(us|ms|s|m)$/.exec(v);
  if (match === null) return undefined;
  const seconds = Number(match[1]) * SPAN_BUCKET_UNITS_S[match[2]!]!;
  // 1400ms is 1.4, not 1.4000000000000001: keep 12 significant digits.
  return seconds > 0 ? Number(seconds.toPrecision(12)) : undefined;
}

/** `otlp.auth.tokens`: a list of `{ token, tenant? }`, tokens of 16+ printable characters, each once. */
function parseAuthTokens(v: unknown): Array<{ token: string; tenant: string }> | Invalid {
  if (!Array.isArray(v)) return new Invalid(`must be a list of { token, tenant } entries (got ${describe(v)})`);
  const out: Array<{ token: string; tenant: string }> = [];
  const seen = new Set<string>();
  for (let i = 0; i < v.length; i++) {
    const entry: unknown = v[i];
    const at = `[${i}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return new Invalid(`${at}: must be a mapping with token and an optional tenant (got ${describe(entry)})`);
    const extra = Object.keys(entry).filter((k) => k !== 'token' && k !== 'tenant');
    if (extra.length > 0) return new Invalid(`${at}: has invalid key: ${extra.join(', ')}`);
    const { token, tenant } = entry as { token?: unknown; tenant?: unknown };
    if (typeof token !== 'string' || token.length < 16 || !/^[\x21-\x7e]+$/.test(token)) {
      return new Invalid(`${at}.token: must be at least 16 printable characters without spaces (short tokens are guessable)`);
    }
    if (seen.has(token)) return new Invalid(`${at}.token: appears twice`);
    seen.add(token);
    if (tenant !== undefined && (typeof tenant !== 'string' || tenant === '')) return new Invalid(`${at}.tenant: must be a non-empty string (got ${describe(tenant)})`);
    out.push({ token, tenant: tenant ?? '' });
  }
  return out;
}

/** A file the daemon must read at startup: its absolute path, or why it cannot be read. */
function readableFile(v: unknown, key: string): string | Invalid {
  if (typeof v !== 'string' || v.trim() === '') return new Invalid(`${key}: must be a file path (got ${describe(v)})`);
  const path = resolve(v);
  try {
    accessSync(path, fsConstants.R_OK);
    if (!statSync(path).isFile()) return new Invalid(`${key}: ${path} is not a file`);
  } catch (err) {
    return new Invalid(`${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return path;
}

/**
 * A listener's `tls`: absent or null = plaintext; otherwise PEM `cert_file` and `key_file`, and
 * `client_ca_file` to require client certificates signed by that CA. `clientCa` is false for the
 * uWebSockets.js listeners, whose TLS verifies a client certificate when one is sent but cannot
 * require one: accepting the key there would promise an mTLS it does not enforce.
 */
const tls = (clientCa: boolean) =>
  leaf(null, (v): TlsSettings | null | Invalid => {
    if (v === null) return null;
    if (typeof v !== 'object' || Array.isArray(v)) return new Invalid(`must be a mapping with cert_file and key_file${clientCa ? ' (and optionally client_ca_file)' : ''} (got ${describe(v)})`);
    const allowed = clientCa ? ['cert_file', 'key_file', 'client_ca_file'] : ['cert_file', 'key_file'];
    const extra = Object.keys(v).filter((k) => !allowed.includes(k));
    if (extra.includes('client_ca_file')) {
      return new Invalid('client_ca_file: not supported on this listener (uWebSockets.js verifies client certificates but cannot require them); terminate mutual TLS in a proxy in front of it');
    }
    if (extra.length > 0) return new Invalid(`has invalid key: ${extra.join(', ')}`);
    const raw = v as { cert_file?: unknown; key_file?: unknown; client_ca_file?: unknown };
    const certFile = readableFile(raw.cert_file, 'cert_file');
    if (certFile instanceof Invalid) return certFile;
    const keyFile = readableFile(raw.key_file, 'key_file');
    if (keyFile instanceof Invalid) return keyFile;
    let clientCaFile: string | null = null;
    if (raw.client_ca_file !== undefined) {
      const ca = readableFile(raw.client_ca_file, 'client_ca_file');
      if (ca instanceof Invalid) return ca;
      clientCaFile = ca;
    }
    return { certFile, keyFile, clientCaFile };
  });

/** Most windows a percentile source keeps (each costs memory per series). */
const MAX_PERCENTILE_WINDOWS = 5;
/** Shortest window: its slots are a sixth of it, and rotating faster buys nothing at scrape intervals. */
const MIN_PERCENTILE_WINDOW_MS = 10_000;

const percentileQuantiles = (fallback: readonly number[]) =>
  leaf(fallback, (v) => {
    const wording = 'must be a non-empty list of numbers between 0 and 1, exclusive, without repeats';
    if (!Array.isArray(v) || v.length === 0) return new Invalid(`${wording} (got ${describe(v)})`);
    for (const q of v) {
      if (typeof q !== 'number' || !(q > 0 && q < 1)) return new Invalid(`${wording} (got ${describe(q)})`);
    }
    const sorted = [...(v as number[])].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) return new Invalid(`${wording} (${sorted[i]} appears twice)`);
    return sorted;
  });

const percentileWindows = (fallback: readonly string[]) =>
  leaf(fallback, (v) => {
    const wording = `must be an ascending list of 1 to ${MAX_PERCENTILE_WINDOWS} durations, each at least 10s`;
    if (!Array.isArray(v) || v.length === 0 || v.length > MAX_PERCENTILE_WINDOWS) return new Invalid(`${wording} (got ${Array.isArray(v) ? `${v.length} windows` : describe(v)})`);
    const windows: number[] = [];
    for (const item of v) {
      const ms = typeof item === 'string' ? parseDuration(item) : undefined;
      if (ms === undefined || ms < MIN_PERCENTILE_WINDOW_MS) return new Invalid(`${wording} (got ${describe(item)})`);
      if (windows.length > 0 && !(ms > windows[windows.length - 1]!)) return new Invalid(`${wording} (${describe(item)} is not longer than the window before it)`);
      windows.push(ms);
    }
    return windows;
  });

/**
 * `limits.memory_hard: auto`: 1 GiB plus what the config's SLOs and components need with traffic
 * on every SLO, at most half the machine's (or cgroup's) memory and 3/4 of V8's heap limit.
 */
const AUTO_MEMORY_HARD_CAP = 1024 ** 3;
const AUTO_MEMORY_HARD_SHARE = 0.5;
const AUTO_MEMORY_HEAP_SHARE = 0.75;
/** `limits.memory_soft: auto` is this share of the hard limit. */
const AUTO_MEMORY_SOFT_SHARE = 3 / 4;

/** Memory the process may use: its cgroup limit when it has one below physical memory, else physical memory. */
function memoryAvailable(): number {
  const total = totalmem();
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return constrained !== undefined && constrained > 0 && constrained < total ? constrained : total;
}

/** The `auto` hard limit on this machine for a config whose SLOs and components need `configBytes`. */
function autoMemoryHard(configBytes: number): number {
  return Math.floor(Math.min(AUTO_MEMORY_HARD_CAP + configBytes, memoryAvailable() * AUTO_MEMORY_HARD_SHARE, getHeapStatistics().heap_size_limit * AUTO_MEMORY_HEAP_SHARE));
}

const memoryLimit = (fallback: string) =>
  leaf(fallback, (v): number | 'auto' | Invalid => {
    if (v === 'auto') return 'auto';
    const bytes = typeof v === 'string' || typeof v === 'number' ? parseSize(v) : undefined;
    if (bytes === undefined || bytes < 16 * 1024 ** 2) return new Invalid(`must be "auto" or a size of at least 16MiB, e.g. 1GiB (got ${describe(v)})`);
    return bytes;
  });

/** Resolves `auto` memory limits (see docs/configuration.md, limits). */
function resolveMemoryLimits(soft: number | 'auto', hard: number | 'auto', checkIntervalMs: number, configBytes: number): Config['limits'] {
  const hardBytes = hard !== 'auto' ? hard : soft !== 'auto' ? Math.floor(soft / AUTO_MEMORY_SOFT_SHARE) : autoMemoryHard(configBytes);
  const softBytes = soft !== 'auto' ? soft : Math.floor(hardBytes * AUTO_MEMORY_SOFT_SHARE);
  return { memorySoftBytes: softBytes, memoryHardBytes: hardBytes, checkIntervalMs };
}

/** The YAML document → Config. Issues carry YAML key paths; `source` is added by the caller. */
const configSchema = section({
  otlp: section({
    grpc: section({
      endpoint: endpoint(DEFAULTS.otlpGrpcEndpoint),
      max_message_size: size(DEFAULTS.otlpGrpcMaxMessageSize),
      tls: tls(true),
      // Connections held at once; more are accepted and closed at once (counted).
      max_connections: positiveInteger(DEFAULTS.otlpGrpcMaxConnections),
      // Streams one connection may have open (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS).
      max_concurrent_streams: positiveInteger(DEFAULTS.otlpGrpcMaxConcurrentStreams),
      // From accept to the end of the TLS handshake and the HTTP/2 connection preface.
      handshake_timeout: duration(DEFAULTS.otlpGrpcHandshakeTimeout),
      // A connection with no call open for this long is sent GOAWAY and closed (frees its max_connections slot).
      max_connection_idle: duration(DEFAULTS.otlpGrpcMaxConnectionIdle),
    }),
    http: section({
      endpoint: endpoint(DEFAULTS.otlpHttpEndpoint),
      max_message_size: size(DEFAULTS.otlpHttpMaxMessageSize),
      tls: tls(false),
    }),
    max_inflight_size: size(DEFAULTS.otlpMaxInflightSize),
    // A request's whole message must arrive within it; a stalled one is reset and its bytes released.
    receive_timeout: duration(DEFAULTS.otlpReceiveTimeout),
    auth: section({
      // Bearer tokens for OTLP/gRPC and OTLP/HTTP; none = no authentication.
      tokens: leaf([], parseAuthTokens),
    }),
  }),
  prometheus: section({
    endpoint: endpoint(DEFAULTS.prometheusEndpoint),
    tls: tls(true),
    max_concurrent_scrapes: positiveInteger(DEFAULTS.prometheusMaxConcurrentScrapes),
    scrape_timeout: duration(DEFAULTS.prometheusScrapeTimeout),
    max_connections: positiveInteger(DEFAULTS.prometheusMaxConnections),
    // A request's headers must arrive within it (slowloris).
    header_timeout: duration(DEFAULTS.prometheusHeaderTimeout),
  }),
  status: section({
    endpoint: endpoint(DEFAULTS.statusEndpoint),
    tls: tls(false),
    webhooks: webhooksSchema,
    title: leaf(DEFAULTS.statusTitle, (v) =>
      typeof v === 'string' && v.trim() !== '' && v.length <= 200 ? v : new Invalid(`must be a non-empty string of at most 200 characters (got ${describe(v)})`),
    ),
    refresh_interval: duration(DEFAULTS.statusRefreshInterval),
    // A group with more components than this is shown collapsed (its worst status and counts); 0 never collapses.
    collapse_groups_over: integer(DEFAULTS.statusCollapseGroupsOver, 0, Number.MAX_SAFE_INTEGER, 'a whole number, 0 or more'),
    // Bearer tokens for /api/admin/* (VIGIL_ADMIN_TOKEN adds one); short tokens are guessable.
    admin_tokens: leaf(DEFAULTS.statusAdminTokens, (v) =>
      Array.isArray(v) && v.every((t) => typeof t === 'string' && t.length >= 16 && /^[\x21-\x7e]+$/.test(t))
        ? [...(v as string[])]
        : new Invalid(`must be a list of tokens, each at least 16 printable characters without spaces (got ${Array.isArray(v) ? 'a list with an invalid token' : describe(v)})`),
    ),
    // Per-client token buckets on /api/admin/*; failed authentications have their own, smaller one.
    admin_rate_limit: section({
      requests_per_second: leaf(DEFAULTS.statusAdminRequestsPerSecond, (v) =>
        typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : new Invalid(`must be a positive number (got ${describe(v)})`),
      ),
      burst: positiveInteger(DEFAULTS.statusAdminBurst),
      auth_failures_per_minute: leaf(DEFAULTS.statusAdminAuthFailuresPerMinute, (v) =>
        typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : new Invalid(`must be a positive number (got ${describe(v)})`),
      ),
      auth_failure_burst: positiveInteger(DEFAULTS.statusAdminAuthFailureBurst),
      max_clients: positiveInteger(DEFAULTS.statusAdminMaxClients),
    }),
    // Incidents opened (as drafts unless publish) when a component's page alert fires.
    auto_incidents: section({
      enabled: boolean(DEFAULTS.statusAutoIncidentsEnabled),
      publish: boolean(DEFAULTS.statusAutoIncidentsPublish),
      resolve_after: duration(DEFAULTS.statusAutoIncidentsResolveAfter),
    }),
    // Per-client token buckets on /ping/* (heartbeats); unknown keys have their own, smaller one.
    ping_rate_limit: section({
      requests_per_second: positiveNumber(DEFAULTS.statusPingRequestsPerSecond),
      burst: positiveInteger(DEFAULTS.statusPingBurst),
      unknown_keys_per_minute: positiveNumber(DEFAULTS.statusPingUnknownKeysPerMinute),
      unknown_key_burst: positiveInteger(DEFAULTS.statusPingUnknownKeyBurst),
      max_clients: positiveInteger(DEFAULTS.statusPingMaxClients),
    }),
  }),
  storage: section({
    data_dir: leaf(DEFAULTS.storageDataDir, (v) =>
      typeof v === 'string' && v.trim() !== '' ? resolve(v) : new Invalid(`must be a non-empty path (got ${describe(v)})`),
    ),
    flush_interval: duration(DEFAULTS.storageFlushInterval),
  }),
  workers: section({
    threads: leaf(DEFAULTS.workersThreads, (v) => {
      if (v === 'auto') return Math.max(1, availableParallelism() - 1);
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1) return v;
      return new Invalid(`must be "auto" or a positive integer (got ${describe(v)})`);
    }),
    max_queue: integer(DEFAULTS.workersMaxQueue, 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer'),
  }),
  series: section({
    limit: positiveInteger(DEFAULTS.seriesLimit),
    staleness: duration(DEFAULTS.seriesStaleness),
    exponential_max_scale: integer(DEFAULTS.seriesExponentialMaxScale, -10, 20, 'an integer from -10 to 20'),
  }),
  percentiles: section({
    enabled: leaf(DEFAULTS.percentilesEnabled, (v) => (typeof v === 'boolean' ? v : new Invalid(`must be true or false (got ${describe(v)})`))),
    significant_digits: integer(DEFAULTS.percentilesSignificantDigits, 1, 5, 'an integer from 1 to 5'),
    quantiles: percentileQuantiles(DEFAULTS.percentilesQuantiles),
    windows: percentileWindows(DEFAULTS.percentilesWindows),
  }),
  spans: section({
    dimensions: leaf(DEFAULTS.spansDimensions, (v) => {
      if (!Array.isArray(v) || !v.every((key) => typeof key === 'string' && key !== '')) {
        return new Invalid(`must be a list of attribute keys (got ${describe(v)})`);
      }
      const seen = new Map<string, string>();
      for (const key of v as string[]) {
        const label = sanitisedLabel(key);
        if (RESERVED_SPAN_LABELS.has(label)) return new Invalid(`${JSON.stringify(key)} would be the label ${label}, which span metrics already use`);
        const other = seen.get(label);
        if (other !== undefined) return new Invalid(`${JSON.stringify(other)} and ${JSON.stringify(key)} would both be the label ${label}`);
        seen.set(label, key);
      }
      return [...(v as string[])];
    }),
    histogram_buckets: leaf(DEFAULTS.spansHistogramBuckets, (v) => {
      const wording = 'must be a non-empty, ascending list of durations such as 2ms, 1.4s, 250us (or seconds as numbers)';
      if (!Array.isArray(v) || v.length === 0) return new Invalid(`${wording} (got ${describe(v)})`);
      const bounds: number[] = [];
      for (const item of v) {
        const seconds = parseBucketSeconds(item);
        if (seconds === undefined) return new Invalid(`${wording} (got ${describe(item)})`);
        if (bounds.length > 0 && !(seconds > bounds[bounds.length - 1]!)) return new Invalid(`${wording} (${describe(item)} is not above the bound before it)`);
        bounds.push(seconds);
      }
      return bounds;
    }),
    error_on_http_5xx: leaf(DEFAULTS.spansErrorOnHttp5xx, (v) => (typeof v === 'boolean' ? v : new Invalid(`must be true or false (got ${describe(v)})`))),
    native_histogram_schema: integer(DEFAULTS.spansNativeHistogramSchema, -4, 8, 'an integer from -4 to 8 (a Prometheus native-histogram schema)'),
    native_histogram_max_buckets: integer(DEFAULTS.spansNativeHistogramMaxBuckets, 0, 10_000, 'an integer from 0 (no native histograms) to 10000'),
  }),
  limits: section({
    memory_soft: memoryLimit(DEFAULTS.limitsMemorySoft),
    memory_hard: memoryLimit(DEFAULTS.limitsMemoryHard),
    check_interval: duration(DEFAULTS.limitsCheckInterval),
  }),
  log: section({
    level: leaf(DEFAULTS.logLevel, (v): LogLevel | Invalid =>
      typeof v === 'string' && (LOG_LEVELS as readonly string[]).includes(v)
        ? (v as LogLevel)
        : new Invalid(`must be one of ${LOG_LEVELS.join(', ')} (got ${describe(v)})`),
    ),
    // Log lines held while the log reader is slow or stopped; beyond it lines are dropped and counted.
    buffer_size: size(DEFAULTS.logBufferSize),
  }),
  slo: section({
    timezone: leaf(DEFAULTS.sloTimezone, (v) => {
      const zone = parseTimeZone(v);
      return typeof zone === 'string' ? zone : new Invalid(zone.invalid);
    }),
    source: sloSourceSchema,
  }),
  alerting: alertingSchema,
  report: section({
    partial_outage_weight: leaf(DEFAULTS.reportPartialOutageWeight, (v) =>
      typeof v === 'number' && v >= 0 && v <= 1 ? v : new Invalid(`must be a number from 0 to 1 (got ${describe(v)})`),
    ),
  }),
  components: componentsSchema,
  slos: slosSchema,
  remote_write: remoteWriteSchema,
  probes: probesSchema,
  heartbeats: heartbeatsSchema,
}).transform(
  (raw): Config => ({
    otlp: {
      grpc: {
        ...raw.otlp.grpc.endpoint,
        maxMessageBytes: raw.otlp.grpc.max_message_size,
        tls: raw.otlp.grpc.tls,
        maxConnections: raw.otlp.grpc.max_connections,
        maxConcurrentStreams: raw.otlp.grpc.max_concurrent_streams,
        handshakeTimeoutMs: raw.otlp.grpc.handshake_timeout,
        maxConnectionIdleMs: raw.otlp.grpc.max_connection_idle,
      },
      http: { ...raw.otlp.http.endpoint, maxMessageBytes: raw.otlp.http.max_message_size, tls: raw.otlp.http.tls },
      maxInflightBytes: raw.otlp.max_inflight_size,
      receiveTimeoutMs: raw.otlp.receive_timeout,
      auth: { tokens: raw.otlp.auth.tokens },
    },
    prometheus: {
      ...raw.prometheus.endpoint,
      maxConcurrentScrapes: raw.prometheus.max_concurrent_scrapes,
      scrapeTimeoutMs: raw.prometheus.scrape_timeout,
      tls: raw.prometheus.tls,
      maxConnections: raw.prometheus.max_connections,
      headerTimeoutMs: raw.prometheus.header_timeout,
    },
    status: {
      ...raw.status.endpoint,
      tls: raw.status.tls,
      title: raw.status.title,
      refreshIntervalMs: raw.status.refresh_interval,
      collapseGroupsOver: raw.status.collapse_groups_over,
      adminTokens: raw.status.admin_tokens,
      adminRateLimit: {
        requestsPerSecond: raw.status.admin_rate_limit.requests_per_second,
        burst: raw.status.admin_rate_limit.burst,
        authFailuresPerMinute: raw.status.admin_rate_limit.auth_failures_per_minute,
        authFailureBurst: raw.status.admin_rate_limit.auth_failure_burst,
        maxClients: raw.status.admin_rate_limit.max_clients,
      },
      webhooks: raw.status.webhooks,
      autoIncidents: {
        enabled: raw.status.auto_incidents.enabled,
        publish: raw.status.auto_incidents.publish,
        resolveAfterMs: raw.status.auto_incidents.resolve_after,
      },
      pingRateLimit: {
        requestsPerSecond: raw.status.ping_rate_limit.requests_per_second,
        burst: raw.status.ping_rate_limit.burst,
        unknownKeysPerMinute: raw.status.ping_rate_limit.unknown_keys_per_minute,
        unknownKeyBurst: raw.status.ping_rate_limit.unknown_key_burst,
        maxClients: raw.status.ping_rate_limit.max_clients,
      },
    },
    storage: { dataDir: raw.storage.data_dir, flushIntervalMs: raw.storage.flush_interval },
    workers: { threads: raw.workers.threads, maxQueue: raw.workers.max_queue },
    series: {
      limit: raw.series.limit,
      stalenessMs: raw.series.staleness,
      exponentialMaxScale: raw.series.exponential_max_scale,
    },
    percentiles: {
      enabled: raw.percentiles.enabled,
      significantDigits: raw.percentiles.significant_digits,
      quantiles: raw.percentiles.quantiles,
      windowsMs: raw.percentiles.windows,
      windowLabels: raw.percentiles.windows.map(windowLabel),
    },
    log: { level: raw.log.level, bufferBytes: raw.log.buffer_size },
    limits: resolveMemoryLimits(raw.limits.memory_soft, raw.limits.memory_hard, raw.limits.check_interval, configFootprint({ slos: Array.isArray(raw.slos) ? raw.slos : [], components: Array.isArray(raw.components) ? raw.components : [] }).busyBytes),
    spans: {
      dimensions: raw.spans.dimensions,
      histogramBucketsSeconds: raw.spans.histogram_buckets,
      errorOnHttp5xx: raw.spans.error_on_http_5xx,
      nativeHistogramSchema: raw.spans.native_histogram_schema,
      nativeHistogramMaxBuckets: raw.spans.native_histogram_max_buckets,
    },
    slo: { timezone: raw.slo.timezone, source: raw.slo.source },
    alerting: raw.alerting,
    report: { partialOutageWeight: raw.report.partial_outage_weight },
    components: raw.components,
    slos: resolveSloZones(raw.slos, raw.slo.timezone),
    remoteWrite: raw.remote_write,
    probes: raw.probes,
    heartbeats: resolveHeartbeatZones(raw.heartbeats, raw.slo.timezone),
  }),
);

/** A YAML key path, e.g. `otlp.grpc.endpoint` or `slos[2].objective`. */
type KeyPath = readonly PropertyKey[];

function formatPath(path: KeyPath): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`)).join('');
}

/**
 * Messages for one zod issue. `label` turns a key path into what the user should look for:
 * normally the path itself, or the flag that set the value.
 */
function formatIssue(issue: z.core.$ZodIssue, label: (path: string) => string): string[] {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const owner = path === '' ? 'top level' : `'${label(path)}'`;
    return issue.keys.map((key) => `${owner} has invalid key: ${key}`);
  }
  const where = path === '' ? 'top level' : label(path);
  if (issue.code === 'invalid_type' && issue.expected === 'object') {
    return [`${where}: must be a mapping (got ${describe(issue.input)})`];
  }
  return [`${where}: ${issue.message}`];
}

/** Problems no single key shows: a request larger than the admission budget, two listeners on one address. */
function crossCheck(config: Config, label: (path: string) => string): string[] {
  const errors: string[] = [
    ...sloCrossCheck(config.components, config.slos),
    ...heartbeatCrossCheck(config.components, config.heartbeats, config.slos),
    ...probeCrossCheck(config.probes, config.components, config.slos),
  ];
  if (config.otlp.grpc.maxMessageBytes > config.otlp.maxInflightBytes) {
    errors.push(
      `${label('otlp.grpc.max_message_size')}: must not exceed otlp.max_inflight_size ` +
        `(${config.otlp.grpc.maxMessageBytes} > ${config.otlp.maxInflightBytes} bytes), or no request that large could be admitted`,
    );
  }
  if (config.otlp.http.maxMessageBytes > config.otlp.maxInflightBytes) {
    errors.push(
      `${label('otlp.http.max_message_size')}: must not exceed otlp.max_inflight_size ` +
        `(${config.otlp.http.maxMessageBytes} > ${config.otlp.maxInflightBytes} bytes), or no request that large could be admitted`,
    );
  }
  if (config.limits.memorySoftBytes >= config.limits.memoryHardBytes) {
    errors.push(
      `${label('limits.memory_soft')}: must be below limits.memory_hard ` +
        `(${config.limits.memorySoftBytes} >= ${config.limits.memoryHardBytes} bytes)`,
    );
  }
  const listeners: [string, Endpoint][] = [
    ['otlp.grpc.endpoint', config.otlp.grpc],
    ['otlp.http.endpoint', config.otlp.http],
    ['prometheus.endpoint', config.prometheus],
    ['status.endpoint', config.status],
  ];
  const wildcard = (host: string) => host === '0.0.0.0' || host === '::';
  for (let i = 0; i < listeners.length; i++) {
    for (let j = 0; j < i; j++) {
      const [key, a] = listeners[i]!;
      const [otherKey, b] = listeners[j]!;
      // Port 0 asks the OS for a free port, so it never collides.
      if (a.port !== 0 && a.port === b.port && (a.host === b.host || wildcard(a.host) || wildcard(b.host))) {
        errors.push(`${label(key)}: port ${a.port} is already used by ${label(otherKey)}`);
      }
    }
  }
  return errors;
}

export { DEFAULTS, LOG_LEVELS, configSchema, crossCheck, describe, formatIssue, formatPath, parseDuration, parseEndpoint, parseSize, Invalid };
export type { KeyPath, LogLevel };
