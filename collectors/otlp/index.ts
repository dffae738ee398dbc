// The OTLP receivers: the gRPC server and the admission budget in front of the pipeline.

import { ByteBudget } from './admission.js';
import { GrpcReceiver, RETRY_AFTER_MS } from './grpc-server.js';
import type { GrpcReceiverOptions } from './grpc-server.js';
import { errorStatus } from './status.js';
import type { ErrorStatus } from './status.js';
import type { IngestOutcome, IngestSink, Signal } from './types.js';

/** Creates the OTLP/gRPC receiver (call start() to bind). */
function createGrpcReceiver(options: GrpcReceiverOptions): GrpcReceiver {
  return new GrpcReceiver(options);
}

export { ByteBudget, createGrpcReceiver, errorStatus, GrpcReceiver, RETRY_AFTER_MS };
export type { ErrorStatus, GrpcReceiverOptions, IngestOutcome, IngestSink, Signal };
