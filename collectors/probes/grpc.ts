// gRPC probes: `grpc.health.v1.Health/Check` with grpc-js, request and response encoded by hand
// (one string field, one enum field), a new channel per run so connection failures show.

import { Client, Metadata, credentials, status as GrpcStatus } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { FAILURES } from './errors.js';
import { readCa } from './tls-info.js';
import { settleOnce } from './settle.js';
import type { GrpcTarget, ProbeOutcome } from './types.js';

/** HealthCheckResponse.ServingStatus names by number. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/** HealthCheckRequest { string service = 1; } */
export function encodeHealthRequest(service: string): Buffer {
  if (service === '') return Buffer.alloc(0);
  const bytes = Buffer.from(service, 'utf8');
  const len: number[] = [];
  let n = bytes.length;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([0x0a, ...len]), bytes]);
}

/** HealthCheckResponse { ServingStatus status = 1; } → the status number (0 when absent). */
export function decodeHealthResponse(bytes: Buffer): number {
  let status = 0;
  for (let pos = 0; pos < bytes.length; ) {
    const tag = bytes[pos++]!;
    const wire = tag & 7;
    let value = 0;
    let shift = 0;
    if (wire === 0) {
      for (;;) {
        const b = bytes[pos++];
        if (b === undefined) throw new Error('truncated varint');
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      if (tag >>> 3 === 1) status = value;
    } else if (wire === 2) {
      let len = 0;
      for (;;) {
        const b = bytes[pos++];
        if (b === undefined) throw new Error('truncated length');
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      pos += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return status;
}

/** Runs one gRPC health check into `out`; never rejects. */
export function runGrpc(target: GrpcTarget, signal: AbortSignal, deadlineMs: number, out: ProbeOutcome): Promise<void> {
  return new Promise((resolvePromise) => {
    const creds = target.tls === null
      ? credentials.createInsecure()
      : credentials.createSsl(target.tls.caFile === null ? null : readCa(target.tls.caFile), null, null,
          target.tls.insecureSkipVerify ? { checkServerIdentity: () => undefined } : {});
    const options = target.tls?.serverName ? { 'grpc.ssl_target_name_override': target.tls.serverName } : {};
    const client = new Client(`${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`, creds, options);
    const run = settleOnce<void>(out, signal, () => client.close(), resolvePromise, undefined);
    const call = client.makeUnaryRequest<Buffer, number>(
      '/grpc.health.v1.Health/Check',
      (b) => b,
      decodeHealthResponse,
      encodeHealthRequest(target.service),
      new Metadata(),
      { deadline: deadlineMs },
      (err: ServiceError | null, value?: number) => {
        if (err !== null) {
          out.grpcStatus = err.code;
          // UNAVAILABLE before any answer: the channel never connected.
          out.connected = err.code !== GrpcStatus.UNAVAILABLE && err.code !== GrpcStatus.DEADLINE_EXCEEDED;
          const code = err.code === GrpcStatus.DEADLINE_EXCEEDED ? FAILURES.timeout.code : err.code === GrpcStatus.UNAVAILABLE ? FAILURES.connect.code : FAILURES.grpc.code;
          return run.fail(code, `${GrpcStatus[err.code] ?? err.code}: ${err.details}`);
        }
        out.connected = true;
        out.grpcStatus = GrpcStatus.OK;
        out.servingStatus = SERVING_STATUS[value ?? 0] ?? `STATUS_${value}`;
        out.body = out.servingStatus;
        if (out.servingStatus === 'SERVING') run.succeed();
        else run.fail(FAILURES.grpc.code, `serving status ${out.servingStatus}`);
      },
    );
    const onAbort = (): void => {
      call.cancel();
      run.fail(FAILURES.timeout.code, 'timed out');
    };
    run.watch(onAbort);
  });
}
