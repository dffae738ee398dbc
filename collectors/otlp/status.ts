// One place that maps collector errors to what the client sees.

import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  MalformedPayloadError,
  OverloadedError,
  PayloadTooLargeError,
  ReceiveTimeoutError,
  ShuttingDownError,
  UnsupportedSignalError,
  WorkerFailedError,
} from '../errors.js';

/** The client-facing form of an ingest error. */
export interface ErrorStatus {
  code: GrpcStatus;
  http: number;
  message: string;
  /** Retryable answers carry RetryInfo (gRPC) or Retry-After (HTTP). */
  retryable: boolean;
  /** The `reason` label of vigil_otlp_requests_rejected_total. */
  reason: string;
}

/** Maps any error thrown by the ingest path to a status; unknown errors are INTERNAL. */
export function errorStatus(err: unknown): ErrorStatus {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof MalformedPayloadError) return { code: GrpcStatus.INVALID_ARGUMENT, http: 400, message, retryable: false, reason: err.reason };
  if (err instanceof PayloadTooLargeError) return { code: GrpcStatus.RESOURCE_EXHAUSTED, http: 413, message, retryable: false, reason: 'too_large' };
  // Overload is throttling (OTLP/HTTP spec: 429 or 503); 429 keeps load balancers from taking it
  // for an unhealthy instance, and 503 is left for an instance that is going away or broken.
  if (err instanceof OverloadedError) return { code: GrpcStatus.UNAVAILABLE, http: 429, message, retryable: true, reason: err.reason };
  if (err instanceof ShuttingDownError) return { code: GrpcStatus.UNAVAILABLE, http: 503, message, retryable: true, reason: 'shutting_down' };
  if (err instanceof WorkerFailedError) return { code: GrpcStatus.UNAVAILABLE, http: 503, message, retryable: true, reason: 'worker_failed' };
  // The client stopped sending: not retried automatically (a stalled link may stall again), no RetryInfo.
  if (err instanceof ReceiveTimeoutError) return { code: GrpcStatus.DEADLINE_EXCEEDED, http: 408, message, retryable: false, reason: 'receive_timeout' };
  if (err instanceof UnsupportedSignalError) return { code: GrpcStatus.UNIMPLEMENTED, http: 404, message, retryable: false, reason: 'unsupported_signal' };
  return { code: GrpcStatus.INTERNAL, http: 500, message: `internal error: ${message}`, retryable: false, reason: 'internal' };
}
