// The few protobuf messages the receiver writes itself: export responses with partial_success,
// and google.rpc.Status with a RetryInfo detail for grpc-status-details-bin. They are tiny and
// written once per request, so a hand-written encoder beats loading a protobuf runtime.

const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

function varint(out: number[], value: number): void {
  while (value > 0x7f) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

function bytesField(out: number[], field: number, bytes: Uint8Array | number[]): void {
  varint(out, (field << 3) | 2);
  varint(out, bytes.length);
  for (const b of bytes) out.push(b);
}

function varintField(out: number[], field: number, value: number): void {
  varint(out, field << 3);
  varint(out, value);
}

const EMPTY = Buffer.alloc(0);

/**
 * An Export*ServiceResponse: empty when nothing was rejected, else partial_success (field 1)
 * with the rejected count (field 1, int64) and a message (field 2). The field layout is the same
 * for metrics (rejected_data_points) and traces (rejected_spans).
 */
export function encodeExportResponse(rejected: number, message: string): Buffer {
  if (rejected === 0 && message === '') return EMPTY;
  const partial: number[] = [];
  if (rejected > 0) varintField(partial, 1, rejected);
  if (message !== '') bytesField(partial, 2, Buffer.from(message, 'utf8'));
  const out: number[] = [];
  bytesField(out, 1, partial);
  return Buffer.from(out);
}

/** google.rpc.Status{code, message}: the body of a non-retryable OTLP/HTTP error answer. */
export function encodeStatus(code: number, message: string): Buffer {
  const status: number[] = [];
  if (code !== 0) varintField(status, 1, code);
  if (message !== '') bytesField(status, 2, Buffer.from(message, 'utf8'));
  return Buffer.from(status);
}

/** google.rpc.Status{code, message, details: [Any(RetryInfo{retry_delay})]}. */
export function encodeStatusWithRetryInfo(code: number, message: string, retryDelayMs: number): Buffer {
  const duration: number[] = [];
  const seconds = Math.floor(retryDelayMs / 1000);
  const nanos = (retryDelayMs % 1000) * 1e6;
  if (seconds > 0) varintField(duration, 1, seconds);
  if (nanos > 0) varintField(duration, 2, nanos);
  const retryInfo: number[] = [];
  bytesField(retryInfo, 1, duration);
  const any: number[] = [];
  bytesField(any, 1, Buffer.from(RETRY_INFO_TYPE_URL, 'utf8'));
  bytesField(any, 2, retryInfo);
  const status: number[] = [];
  varintField(status, 1, code);
  bytesField(status, 2, Buffer.from(message, 'utf8'));
  bytesField(status, 3, any);
  return Buffer.from(status);
}
