// The OTLP receivers: the gRPC and HTTP servers and the admission budget they share in front of the pipeline.

import { ByteBudget, MemoryGuard } from './admission.js';
import type { MemoryGuardOptions, MemoryState } from './admission.js';
import { GrpcReceiver, RETRY_AFTER_MS } from './grpc-server.js';
import type { GrpcReceiverOptions } from './grpc-server.js';
import { HttpReceiver } from './http-server.js';
import type { HttpReceiverOptions } from './http-server.js';
import { errorStatus } from './status.js';
import { TokenAuth } from './auth.js';
import type { AuthResult, AuthToken } from './auth.js';
import type { ErrorStatus } from './status.js';
import type { IngestOutcome, IngestSink, PayloadEncoding, Signal, TlsFiles } from './types.js';
import { loadUws } from './uws.js';
import type { UwsModule } from './uws.js';

/** Creates the OTLP/gRPC receiver (call start() to bind). */
function createGrpcReceiver(options: GrpcReceiverOptions): GrpcReceiver {
  return new GrpcReceiver(options);
}

/** Creates the OTLP/HTTP receiver on uWebSockets.js (call start() to bind). */
function createHttpReceiver(options: HttpReceiverOptions): HttpReceiver {
  return new HttpReceiver(options);
}

export { ByteBudget, MemoryGuard, createGrpcReceiver, createHttpReceiver, errorStatus, GrpcReceiver, HttpReceiver, loadUws, RETRY_AFTER_MS, TokenAuth };
export type { AuthResult, AuthToken, ErrorStatus, MemoryGuardOptions, MemoryState, GrpcReceiverOptions, HttpReceiverOptions, IngestOutcome, IngestSink, PayloadEncoding, Signal, TlsFiles, UwsModule };
