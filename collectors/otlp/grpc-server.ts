// The OTLP/gRPC receiver: MetricsService/Export and TraceService/Export over grpc-js, taking
// each request as raw bytes (identity deserializer) so the main thread never decodes protobuf.

import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { createSecureContext } from 'node:tls';
import type { TlsOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { encodeExportResponse, encodeStatusWithRetryInfo } from './wire-encode.js';
import { ByteBudget, InFlight, memoryRefusal, retryDelayMs } from './admission.js';
import type { MemoryGuard } from './admission.js';
import { errorStatus } from './status.js';
import { ReceiveTimeoutError, VigilError } from '../errors.js';
import { authRefusal } from './auth.js';
import type { TokenAuth } from './auth.js';
import type { IngestSink, ListenerConnectionStats, Signal, TlsFiles } from './types.js';
import { ConnectionGate } from './connections.js';

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
/**
 * What a call holds of the in-flight budget from its headers until its message's length prefix
 * arrives: a stream that sends headers and nothing more still costs memory (grpc-js and nghttp2
 * state), and without a charge a client could open every stream of every connection for free.
 */
const STREAM_FLOOR_BYTES = 16 * 1024;
/** The gRPC message prefix: a compressed flag and a 4-byte big-endian length. */
const GRPC_PREFIX_BYTES = 5;

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
  /** Connections held at once (otlp.grpc.max_connections); default 1024. */
  maxConnections?: number;
  /** HTTP/2 streams per connection (otlp.grpc.max_concurrent_streams); default 100. */
  maxConcurrentStreams?: number;
  /** Accept to end of TLS handshake and HTTP/2 preface (otlp.grpc.handshake_timeout); default 10 s. */
  handshakeTimeoutMs?: number;
  /** A call's message must arrive whole within this of its headers (otlp.receive_timeout); default 30 s. */
  receiveTimeoutMs?: number;
  /** No call open for this long: GOAWAY and the connection closed (otlp.grpc.max_connection_idle); default 5 min. */
  maxConnectionIdleMs?: number;
  /** Told about accept errors (EMFILE…), at most once per second. */
  onAcceptError?: (err: Error) => void;
}

/** The running receiver. */
export class GrpcReceiver {
  readonly #options: GrpcReceiverOptions;
  readonly #server: grpc.Server;
  readonly #gate: ConnectionGate;
  #port = 0;
  #draining = false;
  #started = false;
  readonly #inFlight = new InFlight();
  #shutdown: Promise<void> | null = null;
  #arrivingBytes = 0;
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
      // Streams one connection may open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS).
      'grpc.max_concurrent_streams': options.maxConcurrentStreams ?? 100,
      // grpc-js keeps a connection with no call open for about 24 days by default: a client that
      // vanished without a FIN (a NAT or load balancer dropped it), or one that only finished its
      // preface, would hold a max_connections slot that long.
      'grpc.max_connection_idle_ms': options.maxConnectionIdleMs ?? 300_000,
      interceptors: [this.#countingInterceptor],
    });
    this.#server.addService(METRICS_SERVICE, { Export: this.#handler('metrics') });
    this.#server.addService(TRACE_SERVICE, { Export: this.#handler('traces') });
    // Vigil owns accept (connection cap, handshake deadline, TLS) and hands finished handshakes to grpc-js.
    let injector: ReturnType<grpc.Server['createConnectionInjector']> | undefined;
    this.#gate = new ConnectionGate({
      name: 'otlp_grpc',
      host: options.host,
      port: options.port,
      maxConnections: options.maxConnections ?? 1024,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      tls: null,
      onConnection: (socket) => {
        injector ??= this.#server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
        injector.injectConnection(socket);
      },
      ...(options.onAcceptError === undefined ? {} : { onAcceptError: options.onAcceptError }),
    });
  }

  /** Binds the port. */
  async start(): Promise<void> {
    const target = `${formatHost(this.#options.host)}:${this.#options.port}`;
    // TLS files are read and checked now, so a bad one fails the start naming the file.
    this.#gate.setTls(tlsServerOptions(this.#options.tls ?? null));
    try {
      this.#port = await this.#gate.listen();
    } catch (err) {
      throw new Error(`cannot listen for OTLP/gRPC on ${target}: ${(err as Error).message}`);
    }
    this.#started = true;
  }

  /** Connection figures (vigil_connections_*{listener="otlp_grpc"}). */
  connectionStats(): ListenerConnectionStats {
    return this.#gate.stats();
  }

  /** Bytes held by calls whose message is still arriving (part of the in-flight budget). */
  get arrivingBytes(): number {
    return this.#arrivingBytes;
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
    const closed = this.#gate.close();
    await this.#inFlight.drained(deadline - Date.now());
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        this.#gate.destroyAll();
        resolve();
      }, Math.max(0, deadline - Date.now()));
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        // Connections still in their handshake were never grpc-js's.
        this.#gate.destroyAll();
        resolve();
      });
    });
    await closed;
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
      // The arrival charge was released on half-close, just before this: the message is now charged at its real (decompressed) size.
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

  /**
   * Charges a call's message against the in-flight budget while it arrives, and times it out.
   * grpc-js buffers a unary message until it is complete, before the handler (and Vigil's
   * admission) sees a byte: 300 streams announcing 15 MiB and sending 8 MiB each took RSS to
   * 2.5 GiB. Here a call holds STREAM_FLOOR_BYTES from its headers, then the length its prefix
   * announces; a call that does not fit is refused (UNAVAILABLE + RetryInfo) and its stream reset,
   * so grpc-js never buffers more than the budget; one whose message has not arrived within
   * otlp.receive_timeout is ended (DEADLINE_EXCEEDED) and its bytes released. Returns null when
   * the call was refused here.
   */
  #trackArrival(call: grpc.ServerInterceptingCallInterface, signal: Signal): Arrival | null {
    const { budget } = this.#options;
    const stream = (call as { stream?: http2.ServerHttp2Stream }).stream;
    // A small budget (tests, tiny deployments) still admits 64 header-only streams.
    const floor = Math.min(STREAM_FLOOR_BYTES, Math.floor(budget.limit / 64));
    if (!budget.tryAcquire(floor)) {
      this.#refuseArriving(call, signal, 'inflight_budget', unavailable(`over the in-flight budget of ${budget.limit} bytes; retry later`));
      return null;
    }
    let held = floor;
    this.#arrivingBytes += held;
    let received = 0;
    let prefix: Buffer | null = Buffer.alloc(0);
    let done = false;
    let oversize = false;
    let announcedTotal: number | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream?.off('data', onData);
      budget.release(held);
      this.#arrivingBytes -= held;
      held = 0;
    };
    const refuse = (reason: string, status: Partial<grpc.StatusObject>): void => {
      finish();
      this.#refuseArriving(call, signal, reason, status);
    };
    const charge = (bytes: number): boolean => {
      if (bytes <= held) return true;
      if (!budget.tryAcquire(bytes - held)) return false;
      this.#arrivingBytes += bytes - held;
      held = bytes;
      return true;
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (oversize) return;
      if (prefix !== null) {
        prefix = Buffer.concat([prefix, chunk.subarray(0, GRPC_PREFIX_BYTES - prefix.length)]);
        if (prefix.length < GRPC_PREFIX_BYTES) return;
        const announced = GRPC_PREFIX_BYTES + prefix.readUInt32BE(1);
        announcedTotal = announced;
        prefix = null;
        // Over max_message_size grpc-js answers RESOURCE_EXHAUSTED itself, on the prefix; larger
        // than the whole budget (only with a max_message_size over max_inflight_size, which the
        // config refuses) the handler answers as before. Either way the message is never held long.
        if (announced - GRPC_PREFIX_BYTES > this.#options.maxMessageBytes || announced > budget.limit) {
          oversize = true;
          return;
        }
        if (!charge(Math.max(announced, floor))) {
          refuse('inflight_budget', unavailable(`a ${announced - GRPC_PREFIX_BYTES}-byte message does not fit the in-flight budget of ${budget.limit} bytes now; retry later`));
          return;
        }
      }
      // More than announced (a second message): grpc-js refuses it; never hold it uncharged.
      if (!charge(received)) refuse('inflight_budget', unavailable(`over the in-flight budget of ${budget.limit} bytes; retry later`));
    };
    const timeoutMs = this.#options.receiveTimeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      const status = errorStatus(new ReceiveTimeoutError(timeoutMs, received, announcedTotal));
      refuse(status.reason, { code: status.code, details: status.message, metadata: new grpc.Metadata() });
    }, timeoutMs);
    timer.unref();
    stream?.on('data', onData);
    stream?.once('close', finish);
    return { finish };
  }

  /** Ends a call whose message is still arriving, and resets its stream so grpc-js drops what it buffered. */
  #refuseArriving(call: grpc.ServerInterceptingCallInterface, signal: Signal, reason: string, status: Partial<grpc.StatusObject>): void {
    this.#options.onRefused?.(signal, reason);
    call.sendStatus({ code: status.code ?? grpc.status.UNAVAILABLE, details: status.details ?? '', metadata: status.metadata ?? new grpc.Metadata() });
    stopReading(call);
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
    let arrival: Arrival | null = null;
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveHalfClose: (forward) => {
            // The whole message is here and the handler runs now, charging its real size.
            arrival?.finish();
            forward();
          },
          // Both listeners are told of a cancel (grpc-js calls the next one itself).
          onCancel: () => arrival?.finish(),
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
            if (!this.#draining) {
              arrival = this.#trackArrival(call, signal);
              if (arrival === null) return;
            }
            forward(metadata);
          },
        });
      },
    });
  };
}

/**
 * A call's message while it arrives: what it holds of the in-flight budget (a floor from its
 * headers, then the length its gRPC prefix announces), and its receive deadline.
 */
interface Arrival {
  /** Releases the charge and stops the deadline; idempotent. */
  finish(): void;
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

/**
 * Plaintext (null), TLS, or TLS requiring client certificates signed by `clientCaFile`: the
 * options of the tls.Server that does the handshake before grpc-js gets the connection.
 */
function tlsServerOptions(tls: TlsFiles | null): TlsOptions | null {
  if (tls === null) return null;
  try {
    const key = readFileSync(tls.keyFile);
    const cert = readFileSync(tls.certFile);
    const ca = tls.clientCaFile === null ? null : readFileSync(tls.clientCaFile);
    const options: TlsOptions = { key, cert, ...(ca === null ? {} : { ca, requestCert: true, rejectUnauthorized: true }) };
    // Built now so that a bad file fails the start, not the first call.
    createSecureContext(options);
    return options;
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
