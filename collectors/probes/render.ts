// The probe families for the read model (what /metrics and remote_write read): blackbox_exporter's
// probe_* names (so its dashboards and alerts work) with the labels probe and component, and Vigil's
// own vigil_probe_* families. A probe that has not run yet has no probe_* samples; vigil_probe_*
// families are always announced. Series views are made per gather, lazily, while a writer iterates
// (at 10,000 probes that is ~200,000 series, ~20 MB of text, rendered in slices by the writer).

import type { FamilyType, FamilyView, SeriesView } from '../../daemon/model/read-model.js';
import { SeriesKind } from '../../daemon/model/read-model.js';
import { PercentileWindowView, SeriesViewBase } from '../../daemon/model/views.js';
import type { WindowedPercentiles } from '../../daemon/percentiles/index.js';
import type { ProbeCollector, ProbeRuntime } from './collector.js';

/** Name, type and HELP of every family; docs/metrics.md has the same rows. */
const F = {
  success: ['probe_success', 'Whether the last run of the probe succeeded (1) or failed (0).'],
  duration: ['probe_duration_seconds', 'How long the last run of the probe took, seconds.'],
  resolve: ['probe_dns_lookup_time_seconds', 'Seconds the last run spent resolving the target host name (0 for an IP address).'],
  ipProtocol: ['probe_ip_protocol', 'IP version of the address the last run connected to (4 or 6).'],
  httpStatus: ['probe_http_status_code', 'HTTP status of the last response (0 when none arrived).'],
  httpPhase: ['probe_http_duration_seconds', 'Seconds of each phase of the last HTTP run (resolve, connect, tls, processing, transfer), summed over redirects.'],
  httpLength: ['probe_http_content_length', 'Content-Length of the last response (-1 when absent).'],
  httpBody: ['probe_http_uncompressed_body_length', 'Bytes of body read in the last response.'],
  httpRedirects: ['probe_http_redirects', 'Redirects followed in the last run.'],
  httpSsl: ['probe_http_ssl', 'Whether the last response came over TLS (1) or not (0).'],
  httpVersion: ['probe_http_version', 'HTTP version of the last response.'],
  certExpiry: ['probe_ssl_earliest_cert_expiry', 'Earliest notAfter in the certificate chain the target sent, Unix seconds.'],
  leafExpiry: ['probe_ssl_last_chain_expiry_timestamp_seconds', 'notAfter of the certificate the target presented, Unix seconds.'],
  tlsVersion: ['probe_tls_version_info', 'TLS version of the last run (label version), always 1.'],
  dnsAnswers: ['probe_dns_answer_rrs', 'Answer records in the last DNS response.'],
  dnsAuthority: ['probe_dns_authority_rrs', 'Authority records in the last DNS response.'],
  dnsAdditional: ['probe_dns_additional_rrs', 'Additional records in the last DNS response.'],
  grpcStatus: ['probe_grpc_status_code', 'gRPC status code of the last Health/Check call.'],
  grpcServing: ['probe_grpc_healthcheck_response', 'Serving status of the last Health/Check answer (label serving_status; 1 for the one received).'],
} as const;

/** Vigil's own families (counters without `_total`: writers add it). */
const V = {
  results: ['vigil_probe_results', 'Probe runs by outcome (result: success or failure); each is one SLI event of the SLOs of the probe.'],
  failures: ['vigil_probe_failures', 'Failed probe runs by reason (resolve, connect, tls, timeout, http, redirects, status, expect, dns, grpc, condition).'],
  confirmed: ['vigil_probe_confirmed_up', 'Confirmed state of the probe after `confirm` consecutive results: 1 up, 0 down; absent until known.'],
  percentiles: ['vigil_probe_duration_seconds_percentiles', 'HDR percentiles of probe run durations over sliding windows, seconds.'],
  lateness: ['vigil_probe_schedule_lateness_seconds', 'How late probe runs started against their schedule, HDR percentiles over sliding windows, seconds.'],
  skipped: ['vigil_probe_runs_skipped', 'Runs not started because the previous run of the same probe was still going (runs never overlap).'],
  missed: ['vigil_probe_runs_missed', 'Scheduled runs dropped because vigild was stalled for more than a whole interval.'],
  inFlight: ['vigil_probe_runs_in_flight', 'Probe runs in progress now.'],
} as const;

const SERVING = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
const PHASES = ['resolve', 'connect', 'tls', 'processing', 'transfer'] as const;
const HTTP = ['http'];
const WITH_TLS = ['http', 'tcp', 'tls'];


/** A number (gauge or counter value) with its label text. */
class NumberView extends SeriesViewBase {
  readonly labelOpen: string;
  readonly #value: number;
  constructor(readonly labelText: string, value: number) {
    super();
    this.labelOpen = labelText === '' ? '{' : `${labelText.slice(0, -1)},`;
    this.#value = value;
  }
  get data(): SeriesKind { return SeriesKind.Number; }
  override get value(): number { return this.#value; }
}


/** A family whose series are produced by `make` each time a writer iterates it. */
class LazyFamily implements FamilyView {
  constructor(
    readonly name: string,
    readonly type: FamilyType,
    readonly help: string,
    readonly announced: boolean,
    readonly make: () => Iterable<SeriesView>,
    readonly unit = '',
  ) {}
  get series(): Iterable<SeriesView> {
    return this.make();
  }
}

/** The label text of each probe, `{probe="…",component="…"}`, made once per probe (ids need no escaping). */
const labelCache = new WeakMap<ProbeRuntime, string>();
function labelsOf(p: ProbeRuntime): string {
  let text = labelCache.get(p);
  if (text === undefined) {
    text = `{probe="${p.config.id}",component="${p.config.component}"}`;
    labelCache.set(p, text);
  }
  return text;
}
const withLabel = (labels: string, name: string, value: string): string => `${labels.slice(0, -1)},${name}="${value}"}`;

const quantileArrays = new WeakMap<object, Float64Array>();
function quantilesOf(source: WindowedPercentiles): Float64Array {
  let q = quantileArrays.get(source.settings);
  if (q === undefined) quantileArrays.set(source.settings, (q = Float64Array.from(source.settings.quantiles)));
  return q;
}

/** Every probe family, in exposition order. */
export function probeFamilies(collector: ProbeCollector): FamilyView[] {
  const probes = collector.probes;
  const has = (kinds: readonly string[] | undefined): boolean => probes.length > 0 && (kinds === undefined || probes.some((p) => kinds.includes(p.config.target.kind)));
  /** A blackbox gauge over the probes of `kinds` that have run; `value` null = no sample for that probe. */
  const gauge = (f: readonly [string, string], value: (p: ProbeRuntime) => number | null, kinds?: readonly string[]): FamilyView | null =>
    has(kinds)
      ? new LazyFamily(f[0], 'gauge', f[1], false, function* () {
          for (const p of probes) {
            if (p.last === null || (kinds !== undefined && !kinds.includes(p.config.target.kind))) continue;
            const v = value(p);
            if (v !== null) yield new NumberView(labelsOf(p), v);
          }
        })
      : null;
  const families: (FamilyView | null)[] = [
    gauge(F.success, (p) => (p.lastSuccess ? 1 : 0)),
    gauge(F.duration, (p) => p.last!.durationSeconds),
    gauge(F.resolve, (p) => p.last!.resolveSeconds, WITH_TLS),
    gauge(F.ipProtocol, (p) => (p.last!.ip === null ? null : p.last!.ip.includes(':') ? 6 : 4)),
    gauge(F.httpStatus, (p) => p.last!.status, HTTP),
    has(HTTP)
      ? new LazyFamily(F.httpPhase[0], 'gauge', F.httpPhase[1], false, function* () {
          for (const p of probes) {
            const phases = p.last?.phases;
            if (phases === null || phases === undefined) continue;
            for (const phase of PHASES) yield new NumberView(withLabel(labelsOf(p), 'phase', phase), phases[phase]);
          }
        })
      : null,
    gauge(F.httpLength, (p) => p.last!.contentLength, HTTP),
    gauge(F.httpBody, (p) => p.last!.bodyBytes, HTTP),
    gauge(F.httpRedirects, (p) => p.last!.redirects, HTTP),
    gauge(F.httpSsl, (p) => (p.last!.tlsVersion === null ? 0 : 1), HTTP),
    gauge(F.httpVersion, (p) => (p.last!.httpVersion > 0 ? p.last!.httpVersion : null), HTTP),
    gauge(F.certExpiry, (p) => (p.last!.certExpiryMs === null ? null : Math.floor(p.last!.certExpiryMs / 1000)), WITH_TLS),
    gauge(F.leafExpiry, (p) => (p.last!.leafExpiryMs === null ? null : Math.floor(p.last!.leafExpiryMs / 1000)), WITH_TLS),
    has(WITH_TLS)
      ? new LazyFamily(F.tlsVersion[0], 'gauge', F.tlsVersion[1], false, function* () {
          for (const p of probes) {
            const v = p.last?.tlsVersion;
            if (v !== null && v !== undefined) yield new NumberView(withLabel(labelsOf(p), 'version', v.replace(/v/, ' ')), 1);
          }
        })
      : null,
    gauge(F.dnsAnswers, (p) => p.last!.dnsAnswers, ['dns']),
    gauge(F.dnsAuthority, (p) => p.last!.dnsAuthority, ['dns']),
    gauge(F.dnsAdditional, (p) => p.last!.dnsAdditional, ['dns']),
    gauge(F.grpcStatus, (p) => (Number.isNaN(p.last!.grpcStatus) ? null : p.last!.grpcStatus), ['grpc']),
    has(['grpc'])
      ? new LazyFamily(F.grpcServing[0], 'gauge', F.grpcServing[1], false, function* () {
          for (const p of probes) {
            if (p.last === null || p.config.target.kind !== 'grpc') continue;
            for (const s of SERVING) yield new NumberView(withLabel(labelsOf(p), 'serving_status', s), p.last.servingStatus === s ? 1 : 0);
          }
        })
      : null,
    // Vigil's own families: always announced; the result counters present at 0 from the start.
    new LazyFamily(V.results[0], 'counter', V.results[1], true, function* () {
      for (const p of probes) {
        yield new NumberView(withLabel(labelsOf(p), 'result', 'success'), p.successes);
        yield new NumberView(withLabel(labelsOf(p), 'result', 'failure'), p.failures);
      }
    }),
    new LazyFamily(V.failures[0], 'counter', V.failures[1], true, function* () {
      for (const p of probes) for (const [reason, n] of p.failureReasons) yield new NumberView(withLabel(labelsOf(p), 'reason', reason), n);
    }),
    new LazyFamily(V.confirmed[0], 'gauge', V.confirmed[1], true, function* () {
      for (const p of probes) if (p.confirmed !== null) yield new NumberView(labelsOf(p), p.confirmed === 'up' ? 1 : 0);
    }),
    new LazyFamily(V.percentiles[0], 'summary', V.percentiles[1], true, function* () {
      for (const p of probes) {
        if (p.last === null) continue;
        const open = `${labelsOf(p).slice(0, -1)},`;
        const labels = p.durations.settings.windowLabels;
        for (const w of p.percentileWindows) yield new PercentileWindowView(open, labels[w]!, p.durations, w, quantilesOf(p.durations));
      }
    }),
    new LazyFamily(V.lateness[0], 'summary', V.lateness[1], true, function* () {
      const source = collector.lateness;
      const labels = source.settings.windowLabels;
      for (let w = 0; w < labels.length; w++) yield new PercentileWindowView('{', labels[w]!, source, w, quantilesOf(source));
    }),
    new LazyFamily(V.skipped[0], 'counter', V.skipped[1], true, () => [new NumberView('', collector.skipped)]),
    new LazyFamily(V.missed[0], 'counter', V.missed[1], true, () => [new NumberView('', collector.missed)]),
    new LazyFamily(V.inFlight[0], 'gauge', V.inFlight[1], true, () => [new NumberView('', collector.inFlight)]),
  ];
  return families.filter((f): f is FamilyView => f !== null);
}
