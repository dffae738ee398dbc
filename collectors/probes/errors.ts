// Why a probe run failed: stable codes, the `reason` label of vigil_probe_results_total and the
// `error` field of the probe API (docs/errors.md lists them). A failed run is data, not an
// exception: no probe outcome ever throws out of the collector.

/** Failure reasons, in the order a run meets them. */
export const FAILURES = {
  resolve: { code: 'VIGIL_PROBE_RESOLVE', reason: 'resolve', text: 'the target host name did not resolve' },
  connect: { code: 'VIGIL_PROBE_CONNECT', reason: 'connect', text: 'the TCP connection was refused, reset or unreachable' },
  tls: { code: 'VIGIL_PROBE_TLS', reason: 'tls', text: 'the TLS handshake failed or the certificate did not verify' },
  timeout: { code: 'VIGIL_PROBE_TIMEOUT', reason: 'timeout', text: 'no complete answer within the probe timeout' },
  http: { code: 'VIGIL_PROBE_HTTP', reason: 'http', text: 'the HTTP exchange failed after connecting (reset, malformed answer)' },
  redirects: { code: 'VIGIL_PROBE_REDIRECTS', reason: 'redirects', text: 'more than 10 redirects' },
  status: { code: 'VIGIL_PROBE_STATUS', reason: 'status', text: 'without conditions: the final HTTP status was not 2xx or 3xx' },
  expect: { code: 'VIGIL_PROBE_EXPECT', reason: 'expect', text: 'tcp: the data received did not match `expect` before the timeout' },
  dns: { code: 'VIGIL_PROBE_DNS', reason: 'dns', text: 'dns: the answer was malformed, or its rcode or answers were not the expected ones' },
  grpc: { code: 'VIGIL_PROBE_GRPC', reason: 'grpc', text: 'grpc: the Health/Check call failed or the status was not SERVING' },
  condition: { code: 'VIGIL_PROBE_CONDITION', reason: 'condition', text: 'a condition did not hold' },
} as const;

export type FailureName = keyof typeof FAILURES;

/** The `reason` label of a failure code. */
export function reasonOf(code: string): string {
  for (const f of Object.values(FAILURES)) if (f.code === code) return f.reason;
  return 'other';
}
