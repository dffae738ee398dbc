// Errors raised by collectors. Each class has a stable `code` (documented in docs/) and `name`.

/** Base class of every Vigil error: a stable machine-readable `code` plus a message. */
export class VigilError extends Error {
  readonly code: string;
  override readonly name: string = 'VigilError';

  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Bytes that are not a valid OTLP request; the receiver answers INVALID_ARGUMENT (HTTP 400). */
export class MalformedPayloadError extends VigilError {
  override readonly name = 'MalformedPayloadError';
  /** Label value for vigil_requests_rejected_total, e.g. 'malformed'. */
  readonly reason: string;

  constructor(message: string, reason = 'malformed') {
    super(message, 'VIGIL_MALFORMED_PAYLOAD');
    this.reason = reason;
  }
}

/** The request is larger than the configured maximum after decompression: RESOURCE_EXHAUSTED (HTTP 413). */
export class PayloadTooLargeError extends VigilError {
  override readonly name = 'PayloadTooLargeError';
  constructor(message: string) {
    super(message, 'VIGIL_PAYLOAD_TOO_LARGE');
  }
}

/** Admission refused the request (in-flight budget, worker queue): UNAVAILABLE (HTTP 503), retryable. */
export class OverloadedError extends VigilError {
  override readonly name = 'OverloadedError';
  /** Label value for vigil_otlp_requests_rejected_total: 'inflight_budget', 'queue_full' or 'memory_limit'. */
  readonly reason: string;
  constructor(message: string, reason: string) {
    super(message, 'VIGIL_OVERLOADED');
    this.reason = reason;
  }
}

/**
 * The request's body (its gRPC message) did not arrive whole within otlp.receive_timeout:
 * DEADLINE_EXCEEDED (HTTP 408), and the bytes it held of the in-flight budget are released.
 */
export class ReceiveTimeoutError extends VigilError {
  override readonly name = 'ReceiveTimeoutError';
  constructor(timeoutMs: number, received: number, expected: number | undefined) {
    super(
      `the request did not arrive within otlp.receive_timeout (${timeoutMs} ms; ${received}${expected === undefined ? '' : ` of ${expected}`} bytes received); send it faster, or raise the timeout`,
      'VIGIL_RECEIVE_TIMEOUT',
    );
  }
}

/** The daemon is draining for shutdown: UNAVAILABLE (HTTP 503), retryable later or elsewhere. */
export class ShuttingDownError extends VigilError {
  override readonly name = 'ShuttingDownError';
  constructor() {
    super('vigild is shutting down; retry against another instance or later', 'VIGIL_SHUTTING_DOWN');
  }
}

/** A decode worker failed or died while handling the request: UNAVAILABLE (HTTP 503), retryable. */
export class WorkerFailedError extends VigilError {
  override readonly name = 'WorkerFailedError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'VIGIL_WORKER_FAILED', options);
  }
}

/** A signal this build does not take yet: UNIMPLEMENTED (HTTP 404). */
export class UnsupportedSignalError extends VigilError {
  override readonly name = 'UnsupportedSignalError';
  constructor(signal: string) {
    super(`${signal} are not supported yet`, 'VIGIL_UNSUPPORTED_SIGNAL');
  }
}

/** uWebSockets.js runs its pure-JS fallback, not the native binary, and that was not allowed: startup fails. */
export class UwsFallbackError extends VigilError {
  override readonly name = 'UwsFallbackError';
  constructor(detail: string) {
    super(
      `uWebSockets.js is running its slow pure-JS fallback (${detail}); unset UWS_USE_FALLBACK, ` +
        'run a Node.js version the pinned binaries support, or set VIGIL_ALLOW_UWS_FALLBACK=1 to accept it',
      'VIGIL_UWS_FALLBACK',
    );
  }
}
