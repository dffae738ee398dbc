// The probe configuration after validation, and what one run of a probe yields.

import type { Condition } from './conditions.js';

/** The kinds of probe, one per target protocol. */
export type ProbeKind = 'http' | 'tcp' | 'tls' | 'dns' | 'grpc';

/** Client TLS settings of a probe (`tls:` under http, tcp and grpc). */
export interface ProbeTls {
  /** PEM CA bundle (absolute path) trusted instead of the system roots; null = system roots. */
  caFile: string | null;
  /** Accept any certificate (the chain and expiry are still reported). */
  insecureSkipVerify: boolean;
  /** SNI and the name verified; null = the target's host. */
  serverName: string | null;
}

export interface HttpTarget {
  kind: 'http';
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
  followRedirects: boolean;
  tls: ProbeTls;
}

export interface TcpTarget {
  kind: 'tcp';
  host: string;
  port: number;
  /** null = plain TCP. */
  tls: ProbeTls | null;
  /** Written once connected. */
  send: string | null;
  /** The data received must match this within the timeout. */
  expect: RegExp | null;
}

export interface TlsTarget {
  kind: 'tls';
  host: string;
  port: number;
  tls: ProbeTls;
}

export interface DnsTarget {
  kind: 'dns';
  /** The DNS server asked over UDP. */
  host: string;
  port: number;
  name: string;
  /** Record type name (A, AAAA, …) and its number. */
  type: string;
  typeCode: number;
  /** Expected response code name (default NOERROR). */
  rcode: string;
  /** Each must match at least one answer's text. */
  answers: RegExp[];
}

export interface GrpcTarget {
  kind: 'grpc';
  host: string;
  port: number;
  /** The service asked about; '' = the server as a whole. */
  service: string;
  tls: ProbeTls | null;
}

export type ProbeTarget = HttpTarget | TcpTarget | TlsTarget | DnsTarget | GrpcTarget;

/** One `probes[]` entry. */
export interface ProbeConfig {
  id: string;
  component: string;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive failures before the component is shown down, and successes before it is shown up again. */
  confirm: number;
  target: ProbeTarget;
  conditions: Condition[];
}

/** HTTP phase durations in seconds (blackbox_exporter's phase names). */
export interface HttpPhases {
  resolve: number;
  connect: number;
  tls: number;
  processing: number;
  transfer: number;
}

/** What one run found; numbers are NaN or null where the kind does not measure them. */
export interface ProbeOutcome {
  /** Reached the target (TCP connected, DNS answered, gRPC answered). */
  connected: boolean;
  /** Why the run failed before any condition could be checked (an ERRORS code), or null. */
  error: string | null;
  /** A short human-readable detail of `error`. */
  detail: string | null;
  durationSeconds: number;
  finishedAtMs: number;
  /** HTTP status of the last response, 0 without one. */
  status: number;
  /** HTTP response headers (lower-case names), null for other kinds. */
  headers: Record<string, string> | null;
  /** HTTP body (first `MAX_BODY_BYTES`), TCP data received, DNS answers one per line, gRPC serving status. */
  body: string | null;
  phases: HttpPhases | null;
  /** Seconds resolving the target's name (0 for IP literals). */
  resolveSeconds: number;
  /** The address connected to. */
  ip: string | null;
  /** Earliest notAfter in the peer's chain, ms since the epoch; null without TLS. */
  certExpiryMs: number | null;
  /** notAfter of the leaf certificate. */
  leafExpiryMs: number | null;
  tlsVersion: string | null;
  httpVersion: number;
  redirects: number;
  contentLength: number;
  bodyBytes: number;
  dnsRcode: string | null;
  dnsAnswers: number;
  dnsAuthority: number;
  dnsAdditional: number;
  /** gRPC status code of the Check call, NaN when not called. */
  grpcStatus: number;
  /** Health serving status name (SERVING, NOT_SERVING, …), null when not answered. */
  servingStatus: string | null;
}

/** An outcome with nothing measured yet. */
export function emptyOutcome(): ProbeOutcome {
  return {
    connected: false, error: null, detail: null, durationSeconds: 0, finishedAtMs: 0, status: 0, headers: null, body: null, phases: null,
    resolveSeconds: 0, ip: null, certExpiryMs: null, leafExpiryMs: null, tlsVersion: null, httpVersion: 0, redirects: 0, contentLength: -1,
    bodyBytes: 0, dnsRcode: null, dnsAnswers: 0, dnsAuthority: 0, dnsAdditional: 0, grpcStatus: NaN, servingStatus: null,
  };
}
