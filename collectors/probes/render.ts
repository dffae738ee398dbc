// The probe families as exposition text: blackbox_exporter's probe_* names (so its dashboards and
// alerts work) with the labels probe and component, and Vigil's own vigil_probe_* families.
// A probe that has not run yet has no probe_* samples; vigil_probe_* families are always announced.

import { formatValue } from '../../exporters/prometheus/naming.js';
import type { ProbeCollector, ProbeRuntime } from './collector.js';
import { FAILURES } from './errors.js';

/** Name, type and HELP of every family; docs/metrics.md has the same rows. */
const F = {
  success: ['probe_success', 'gauge', 'Whether the last run of the probe succeeded (1) or failed (0).'],
  duration: ['probe_duration_seconds', 'gauge', 'How long the last run of the probe took, seconds.'],
  resolve: ['probe_dns_lookup_time_seconds', 'gauge', 'Seconds the last run spent resolving the target host name (0 for an IP address).'],
  ipProtocol: ['probe_ip_protocol', 'gauge', 'IP version of the address the last run connected to (4 or 6).'],
  httpStatus: ['probe_http_status_code', 'gauge', 'HTTP status of the last response (0 when none arrived).'],
  httpPhase: ['probe_http_duration_seconds', 'gauge', 'Seconds of each phase of the last HTTP run (resolve, connect, tls, processing, transfer), summed over redirects.'],
  httpLength: ['probe_http_content_length', 'gauge', 'Content-Length of the last response (-1 when absent).'],
  httpBody: ['probe_http_uncompressed_body_length', 'gauge', 'Bytes of body read in the last response.'],
  httpRedirects: ['probe_http_redirects', 'gauge', 'Redirects followed in the last run.'],
  httpSsl: ['probe_http_ssl', 'gauge', 'Whether the last response came over TLS (1) or not (0).'],
  httpVersion: ['probe_http_version', 'gauge', 'HTTP version of the last response.'],
  certExpiry: ['probe_ssl_earliest_cert_expiry', 'gauge', 'Earliest notAfter in the certificate chain the target sent, Unix seconds.'],
  leafExpiry: ['probe_ssl_last_chain_expiry_timestamp_seconds', 'gauge', 'notAfter of the certificate the target presented, Unix seconds.'],
  tlsVersion: ['probe_tls_version_info', 'gauge', 'TLS version of the last run (label version), always 1.'],
  dnsAnswers: ['probe_dns_answer_rrs', 'gauge', 'Answer records in the last DNS response.'],
  dnsAuthority: ['probe_dns_authority_rrs', 'gauge', 'Authority records in the last DNS response.'],
  dnsAdditional: ['probe_dns_additional_rrs', 'gauge', 'Additional records in the last DNS response.'],
  grpcStatus: ['probe_grpc_status_code', 'gauge', 'gRPC status code of the last Health/Check call.'],
  grpcServing: ['probe_grpc_healthcheck_response', 'gauge', 'Serving status of the last Health/Check answer (label serving_status; 1 for the one received).'],
} as const;

const SERVING = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
const PHASES = ['resolve', 'connect', 'tls', 'processing', 'transfer'] as const;

/** Vigil's own families. */
const V = {
  results: ['vigil_probe_results', 'Probe runs by outcome (result="success"|"failure"); each is one SLI event of the probe\'s SLOs.'],
  failures: ['vigil_probe_failures', 'Failed probe runs by reason (resolve, connect, tls, timeout, http, redirects, status, expect, dns, grpc, condition).'],
  confirmed: ['vigil_probe_confirmed_up', 'Confirmed state of the probe after `confirm` consecutive results: 1 up, 0 down; absent until known.'],
  percentiles: ['vigil_probe_duration_seconds_percentiles', 'HDR percentiles of probe run durations over sliding windows, seconds.'],
  lateness: ['vigil_probe_schedule_lateness_seconds', 'How late probe runs started against their schedule, HDR percentiles over sliding windows, seconds.'],
  skipped: ['vigil_probe_runs_skipped', 'Runs not started because the previous run of the same probe was still going (runs never overlap).'],
  missed: ['vigil_probe_runs_missed', 'Scheduled runs dropped because vigild was stalled for more than a whole interval.'],
  inFlight: ['vigil_probe_runs_in_flight', 'Probe runs in progress now.'],
} as const;

/** Probes rendered between two checks of the clock by renderProbesSliced. */
const PROBES_PER_STEP = 256;

/** Renders every probe family into one string (tests; the daemon uses renderProbesSliced). */
export function renderProbeMetrics(collector: ProbeCollector, format: 'text' | 'openmetrics'): string {
  const parts: string[] = [];
  const steps = probeSteps(collector, format, parts);
  while (steps.next().done !== true);
  return parts.join('');
}

/**
 * Renders every probe family through `write`, giving the event loop a turn whenever a slice took
 * `sliceMs` or more: at 10,000 probes the section is ~20 MB, and probe runs and OTLP requests must
 * not wait for all of it.
 */
export async function renderProbesSliced(collector: ProbeCollector, format: 'text' | 'openmetrics', write: (text: string) => void, sliceMs: number): Promise<void> {
  const parts: string[] = [];
  const steps = probeSteps(collector, format, parts);
  let sliceStart = performance.now();
  while (steps.next().done !== true) {
    write(parts.join(''));
    parts.length = 0;
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  write(parts.join(''));
}

/** The rendering itself, into `out`, yielding every PROBES_PER_STEP probes of a family. */
function* probeSteps(collector: ProbeCollector, format: 'text' | 'openmetrics', out: string[]): Generator<void, void, void> {
  const om = format === 'openmetrics';
  const head = (name: string, type: string, help: string): void => {
    out.push(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
  };
  const counterHead = (name: string, help: string): void => head(om ? name : `${name}_total`, 'counter', help);
  const probes = collector.probes;
  // Ids are restricted to [A-Za-z0-9_.-] by the config, so label values need no escaping.
  const labels = probes.map((p) => `probe="${p.config.id}",component="${p.config.component}"`);
  /** Every probe of `kinds` (all when undefined) that has run, with its label text; yields every PROBES_PER_STEP. */
  function* each(kinds: readonly string[] | undefined, ran: boolean, body: (p: ProbeRuntime, labels: string) => void): Generator<void, void, void> {
    for (let i = 0; i < probes.length; i++) {
      if (i % PROBES_PER_STEP === PROBES_PER_STEP - 1) yield;
      const p = probes[i]!;
      if ((ran && p.last === null) || (kinds !== undefined && !kinds.includes(p.config.target.kind))) continue;
      body(p, labels[i]!);
    }
  }
  const has = (kinds: readonly string[] | undefined): boolean => probes.length > 0 && (kinds === undefined || probes.some((p) => kinds.includes(p.config.target.kind)));
  function* family(f: readonly [string, string, string], value: (p: ProbeRuntime) => number | null, kinds?: readonly string[]): Generator<void, void, void> {
    if (!has(kinds)) return;
    head(f[0], f[1], f[2]);
    yield* each(kinds, true, (p, l) => {
      const v = value(p);
      if (v !== null) out.push(`${f[0]}{${l}} ${formatValue(v)}\n`);
    });
  }
  yield* family(F.success, (p) => (p.lastSuccess ? 1 : 0));
  yield* family(F.duration, (p) => p.last!.durationSeconds);
  yield* family(F.resolve, (p) => p.last!.resolveSeconds, ['http', 'tcp', 'tls']);
  yield* family(F.ipProtocol, (p) => (p.last!.ip === null ? null : p.last!.ip.includes(':') ? 6 : 4));
  yield* family(F.httpStatus, (p) => p.last!.status, ['http']);
  if (has(['http'])) {
    head(F.httpPhase[0], F.httpPhase[1], F.httpPhase[2]);
    yield* each(['http'], true, (p, l) => {
      const phases = p.last!.phases;
      if (phases === null) return;
      for (const phase of PHASES) out.push(`${F.httpPhase[0]}{${l},phase="${phase}"} ${formatValue(phases[phase])}\n`);
    });
  }
  yield* family(F.httpLength, (p) => p.last!.contentLength, ['http']);
  yield* family(F.httpBody, (p) => p.last!.bodyBytes, ['http']);
  yield* family(F.httpRedirects, (p) => p.last!.redirects, ['http']);
  yield* family(F.httpSsl, (p) => (p.last!.tlsVersion === null ? 0 : 1), ['http']);
  yield* family(F.httpVersion, (p) => (p.last!.httpVersion > 0 ? p.last!.httpVersion : null), ['http']);
  yield* family(F.certExpiry, (p) => (p.last!.certExpiryMs === null ? null : Math.floor(p.last!.certExpiryMs / 1000)), ['http', 'tcp', 'tls']);
  yield* family(F.leafExpiry, (p) => (p.last!.leafExpiryMs === null ? null : Math.floor(p.last!.leafExpiryMs / 1000)), ['http', 'tcp', 'tls']);
  if (has(['http', 'tcp', 'tls'])) {
    head(F.tlsVersion[0], F.tlsVersion[1], F.tlsVersion[2]);
    yield* each(['http', 'tcp', 'tls'], true, (p, l) => {
      const v = p.last!.tlsVersion;
      if (v !== null) out.push(`${F.tlsVersion[0]}{${l},version="${v.replace(/v/, ' ')}"} 1\n`);
    });
  }
  yield* family(F.dnsAnswers, (p) => p.last!.dnsAnswers, ['dns']);
  yield* family(F.dnsAuthority, (p) => p.last!.dnsAuthority, ['dns']);
  yield* family(F.dnsAdditional, (p) => p.last!.dnsAdditional, ['dns']);
  yield* family(F.grpcStatus, (p) => (Number.isNaN(p.last!.grpcStatus) ? null : p.last!.grpcStatus), ['grpc']);
  if (has(['grpc'])) {
    head(F.grpcServing[0], F.grpcServing[1], F.grpcServing[2]);
    yield* each(['grpc'], true, (p, l) => {
      for (const s of SERVING) out.push(`${F.grpcServing[0]}{${l},serving_status="${s}"} ${p.last!.servingStatus === s ? 1 : 0}\n`);
    });
  }

  // Vigil's own families: always announced; per-probe counters present at 0 from the start.
  counterHead(V.results[0], V.results[1]);
  yield* each(undefined, false, (p, l) => {
    out.push(`${V.results[0]}_total{${l},result="success"} ${p.successes}\n${V.results[0]}_total{${l},result="failure"} ${p.failures}\n`);
  });
  counterHead(V.failures[0], V.failures[1]);
  yield* each(undefined, true, (p, l) => {
    for (const [reason, n] of p.failureReasons) out.push(`${V.failures[0]}_total{${l},reason="${reason}"} ${n}\n`);
  });
  head(V.confirmed[0], 'gauge', V.confirmed[1]);
  yield* each(undefined, true, (p, l) => {
    if (p.confirmed !== null) out.push(`${V.confirmed[0]}{${l}} ${p.confirmed === 'up' ? 1 : 0}\n`);
  });
  head(V.percentiles[0], 'summary', V.percentiles[1]);
  yield* each(undefined, true, (p, l) => summary(out, V.percentiles[0], l, p.durations, p.percentileWindows));
  head(V.lateness[0], 'summary', V.lateness[1]);
  summary(out, V.lateness[0], '', collector.lateness, null);
  counterHead(V.skipped[0], V.skipped[1]);
  out.push(`${V.skipped[0]}_total ${collector.skipped}\n`);
  counterHead(V.missed[0], V.missed[1]);
  out.push(`${V.missed[0]}_total ${collector.missed}\n`);
  head(V.inFlight[0], 'gauge', V.inFlight[1]);
  out.push(`${V.inFlight[0]} ${collector.inFlight}\n`);
}

/** One summary: `windows` (indexes into the settings' windows) or all of them when null. */
function summary(out: string[], name: string, labels: string, source: ProbeRuntime['durations'], windows: readonly number[] | null): void {
  const settings = source.settings;
  const open = labels === '' ? '{' : `{${labels},`;
  for (const w of windows ?? settings.windowLabels.keys()) {
    const snap = source.snapshot(w);
    const window = `window="${settings.windowLabels[w]}"`;
    // An empty window has no quantiles ("no data", never NaN), only its zero count and sum.
    if (snap.values !== null) {
      for (let q = 0; q < settings.quantiles.length; q++) out.push(`${name}${open}quantile="${formatValue(settings.quantiles[q]!)}",${window}} ${formatValue(snap.values[q]!)}\n`);
    }
    out.push(`${name}_sum${open}${window}} ${formatValue(snap.sum)}\n${name}_count${open}${window}} ${formatValue(snap.count)}\n`);
  }
}

/** Every failure reason, for the docs test. */
export const FAILURE_REASONS: readonly string[] = Object.values(FAILURES).map((f) => f.reason);
