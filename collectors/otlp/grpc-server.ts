// The OTLP/gRPC receiver: MetricsService/Export and TraceService/Export over grpc-js, taking
// each request as raw bytes (identity deserializer) so the main thread never decodes protobuf.

import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { encodeExportResponse, encodeStatusWithRetryInfo } from './wire-encode.js';
import { ByteBudget, InFlight, memoryRefusal, retryDelayMs } from './admission.js';
import type { MemoryGuard } from './admission.js';
import { errorStatus } from './status.js';
import { VigilError } from '../errors.js';
import { authRefusal } from './auth.js';
import type { TokenAuth } from './auth.js';
import type { IngestSink, Signal, TlsFiles } from './types.js';

const identity = (b: Buffer): Buffer => b;

function unaryMethod(path: string): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

const METRICS_SERVICE = { Export: unaryMethod('/opentelemetry.proto.collector.metrics.v1.MetricsService/Export') };
const TRACE_SERVICE = { Export: unaryMethod('/opentelemetry.proto.collector.trace.v1.TraceService/Export') };
const SIGNAL_BY_PATH = new Map<string, Signal>([
  [METRICS_SERVICE.Export.path, 'metrics'],
  [TRACE_SERVICE.Export.path, 'traces'],
]);

/** How long clients are told to wait before retrying an UNAVAILABLE answer, on average (retryDelayMs jitters it). */
export const RETRY_AFTER_MS = 1000;
/** The size a gRPC call is expected to have before the first one was measured. */
const INITIAL_EXPECTED_BYTES = 64 * 1024;

/** Settings of the gRPC receiver. */
export interface GrpcReceiverOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  budget: ByteBudget;
  /** Refuses new requests while resident memory is over limits.memory_soft. */
  memory?: MemoryGuard;
  sink: IngestSink;
  /** Bearer-token check (otlp.auth); absent or without tokens, every call is accepted. */
  auth?: TokenAuth;
  /** TLS (otlp.grpc.tls); absent or null = plaintext. */
  tls?: TlsFiles | null;
  /** Called once per finished call with the status code sent (grpc.status). */
  onCallDone?: (signal: Signal, code: grpc.status, seconds: number) => void;
  /** Called for each request refused before it reached the pipeline. */
  onRefused?: (signal: Signal, reason: string) => void;
}

/** The running receiver. */
export class GrpcReceiver {
  readonly #options: GrpcReceiverOptions;
  readonly #server: grpc.Server;
  #port = 0;
  #draining = false;
  #started = false;
  readonly #inFlight = new InFlight();
  #shutdown: Promise<void> | null = null;
  /**
   * A moving average of request sizes: what a call reserves against the memory limit on its
   * headers, before its message (and its size) is known.
   */
  #expectedBytes = INITIAL_EXPECTED_BYTES;

  constructor(options: GrpcReceiverOptions) {
    this.#options = options;
    this.#server = new grpc.Server({
      'grpc.max_receive_message_length': options.maxMessageBytes,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
      // Channelz keeps per-call statistics for a debugging service Vigil does not expose; its
      // per-call bookkeeping was ~3 % of the main thread under ingest load.
      'grpc.enable_channelz': 0,
      interceptors: [this.#countingInterceptor],
    });
    this.#server.addService(METRICS_SERVICE, { Export: this.#handler('metrics') });
    this.#server.addService(TRACE_SERVICE, { Export: this.#handler('traces') });
  }

  /** Binds the port. */
  async start(): Promise<void> {
    const target = `${formatHost(this.#options.host)}:${this.#options.port}`;
    const credentials = serverCredentials(this.#options.tls ?? null);
    this.#port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(target, credentials, (err, port) => {
        if (err) reject(new Error(`cannot listen for OTLP/gRPC on ${target}: ${err.message}`));
        else resolve(port);
      });
    });
    this.#started = true;
  }

  /** The bound address (port resolved when 0 was asked for). */
  address(): { host: string; port: number } {
    return { host: this.#options.host, port: this.#port };
  }

  /** Requests being processed now. */
  get inFlight(): number {
    return this.#inFlight.count;
  }

  /**
   * Stops taking new requests (they get UNAVAILABLE), waits for in-flight ones to finish until
   * the deadline, then closes the server. Idempotent; safe without start().
   */
  shutdown(deadlineMs = 4000): Promise<void> {
    this.#shutdown ??= this.#doShutdown(deadlineMs);
    return this.#shutdown;
  }

  async #doShutdown(deadlineMs: number): Promise<void> {
    this.#draining = true;
    if (!this.#started) return;
    const deadline = Date.now() + deadlineMs;
    await this.#inFlight.drained(deadline - Date.now());
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, Math.max(0, deadline - Date.now()));
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #handler(signal: Signal): grpc.handleUnaryCall<Buffer, Buffer> {
    return (call, callback) => {
      const payload = call.request;
      if (this.#draining) {
        this.#options.onRefused?.(signal, 'shutting_down');
        callback(unavailable('vigild is shutting down; retry against another instance or later'));
        return;
      }
      const { memory } = this.#options;
      if (memory?.refusing === true) {
        this.#options.onRefused?.(signal, 'memory_limit');
        callback(unavailable(memoryRefusal(memory)));
        return;
      }
      // The interceptor refused unauthenticated calls on their headers; checked again here for the tenant.
      const auth = this.#authenticate(call.metadata);
      if (!auth.ok) {
        this.#options.onRefused?.(signal, 'unauthenticated');
        callback({ code: grpc.status.UNAUTHENTICATED, details: authRefusal(auth) });
        return;
      }
      const bytes = payload.length;
      this.#expectedBytes += (bytes - this.#expectedBytes) / 8;
      if (!this.#options.budget.tryAcquire(bytes)) {
        this.#options.onRefused?.(signal, 'inflight_budget');
        callback(unavailable(`over the in-flight budget of ${this.#options.budget.limit} bytes; retry later`));
        return;
      }
      this.#inFlight.enter();
      this.#options.sink(signal, payload, 'protobuf', auth.tenant).then(
        (outcome) => callback(null, encodeExportResponse(outcome.rejected, outcome.message)),
        (err: unknown) => {
          const status = errorStatus(err);
          this.#options.onRefused?.(signal, status.reason);
          if (status.retryable) callback(unavailable(status.message, status.code));
          else callback({ code: status.code, details: status.message });
        },
      ).finally(() => {
        this.#options.budget.release(bytes);
        this.#inFlight.leave();
      });
    };
  }

  #authenticate(metadata: grpc.Metadata): ReturnType<TokenAuth['check']> {
    const { auth } = this.#options;
    if (auth === undefined || !auth.enabled) return { ok: true, tenant: '' };
    const values = metadata.get('authorization');
    return auth.check(values.length === 1 && typeof values[0] === 'string' ? values[0] : '');
  }

  /**
   * Counts every call by the status it ends with, including refusals grpc-js sends itself (a
   * message over the size limit, before or after gunzip), which never pass through an
   * interceptor's responder: so the base call's own sendStatus is wrapped, on this call only.
   */
  #countingInterceptor: grpc.ServerInterceptor = (method, call) => {
    const signal = SIGNAL_BY_PATH.get(method.path);
    if (signal === undefined) return new grpc.ServerInterceptingCall(call);
    const started = performance.now();
    const sendStatus = call.sendStatus.bind(call);
    let counted = false;
    call.sendStatus = (status) => {
      if (!counted) {
        counted = true;
        if (status.code === grpc.status.RESOURCE_EXHAUSTED) this.#options.onRefused?.(signal, 'too_large');
        this.#options.onCallDone?.(signal, status.code, (performance.now() - started) / 1000);
      }
      sendStatus(status);
    };
    // Over the memory limit the call is refused on its headers, before its message is read:
    // refusing after the read would still let every refused request's bytes into memory, and
    // under a flood of retries that alone kept RSS far over the hard limit.
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, forward) => {
            // Like the Collector's bearertokenauth: a missing and a wrong token are both UNAUTHENTICATED.
            const auth = this.#authenticate(metadata);
            if (!auth.ok) {
              this.#options.onRefused?.(signal, 'unauthenticated');
              call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: authRefusal(auth), metadata: new grpc.Metadata() });
              stopReading(call);
              return;
            }
            const { memory } = this.#options;
            if (memory !== undefined && !this.#draining && !memory.admit(this.#expectedBytes)) {
              this.#options.onRefused?.(signal, 'memory_limit');
              call.sendStatus({ code: grpc.status.UNAVAILABLE, details: memoryRefusal(memory), metadata: unavailable(memoryRefusal(memory)).metadata! });
              stopReading(call);
              return;
            }
            forward(metadata);
          },
        });
      },
    });
  };
}

/**
 * Resets the stream of a call answered on its headers (RST_STREAM NO_ERROR, which RFC 9113 §8.1
 * provides for a response sent before the request ended; grpc-js clients keep the status they
 * got). Otherwise grpc-js goes on reading the message the client still sends into buffers
 * nobody uses: measured, while refusing every call, live memory grew by the refused requests'
 * bytes (to 190 MiB against a 153 MiB hard limit, with nothing in flight) and kept the refusals going.
 */
function stopReading(call: grpc.ServerInterceptingCallInterface): void {
  const stream = (call as { stream?: http2.ServerHttp2Stream }).stream;
  if (stream !== undefined && !stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
}

function unavailable(message: string, code: grpc.status = grpc.status.UNAVAILABLE): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set('grpc-status-details-bin', encodeStatusWithRetryInfo(code, message, retryDelayMs()));
  return { code, details: message, metadata };
}

/** Plaintext, TLS, or TLS requiring client certificates signed by `clientCaFile`. */
function serverCredentials(tls: TlsFiles | null): grpc.ServerCredentials {
  if (tls === null) return grpc.ServerCredentials.createInsecure();
  try {
    const keyCertPairs = [{ private_key: readFileSync(tls.keyFile), cert_chain: readFileSync(tls.certFile) }];
    const ca = tls.clientCaFile === null ? null : readFileSync(tls.clientCaFile);
    const credentials = grpc.ServerCredentials.createSsl(ca, keyCertPairs, ca !== null);
    // grpc-js builds the TLS context lazily; building one now makes a bad file fail the start, not the first call.
    createSecureContext({ key: keyCertPairs[0]!.private_key, cert: keyCertPairs[0]!.cert_chain, ...(ca === null ? {} : { ca }) });
    return credentials;
  } catch (err) {
    throw new VigilError(
      `cannot set up TLS for OTLP/gRPC with cert_file ${tls.certFile} and key_file ${tls.keyFile}${tls.clientCaFile === null ? '' : ` and client_ca_file ${tls.clientCaFile}`}: ${(err as Error).message}`,
      'VIGIL_TLS_UNUSABLE',
      { cause: err },
    );
  }
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
