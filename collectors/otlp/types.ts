// Types shared by the OTLP receivers and the pipeline behind them.

import type { PayloadEncoding } from '../worker/batch.js';

/** How a request body is encoded (OTLP/gRPC is always protobuf); defined with the worker task. */
export type { PayloadEncoding };

/** A listener's TLS files (PEM); `clientCaFile` set = client certificates required and verified. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  clientCaFile: string | null;
}

/** The OTLP signals Vigil receives. */
export type Signal = 'metrics' | 'traces';

/** What the pipeline answers for an accepted request. */
export interface IngestOutcome {
  /** Points (or spans) refused inside an accepted request: partial_success. */
  rejected: number;
  /** partial_success.error_message; '' when nothing was refused. */
  message: string;
}

/**
 * Takes one raw (decompressed) request, protobuf unless `encoding` says JSON; `tenant` (from the
 * request's bearer token, '' = none) becomes a `tenant` label on its series. Rejects with a
 * collectors/errors.ts error.
 */
export type IngestSink = (signal: Signal, payload: Buffer, encoding?: PayloadEncoding, tenant?: string) => Promise<IngestOutcome>;

/** One listener's connection figures (vigil_connections_*). */
export interface ListenerConnectionStats {
  listener: string;
  open: number;
  limit: number;
  /** Connections closed on accept or in their handshake, by reason (max_connections, bad_preface, tls_handshake). */
  refused: Readonly<Record<string, number>>;
  /** Connections closed by a timeout, by phase (handshake, headers). */
  timedOut: Readonly<Record<string, number>>;
  /** accept() failures (EMFILE and the like). */
  acceptErrors: number;
}
