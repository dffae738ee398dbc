// The OTLP/HTTP receiver: POST /v1/metrics and /v1/traces on uWebSockets.js, protobuf or JSON
// bodies, optionally gzip. The body is read into one buffer (bounded while reading), inflated with
// a hard cap, admitted against the same byte budget as gRPC, and handed as raw bytes to the
// pipeline: the main thread never parses protobuf or JSON (the worker does, json-to-proto.ts).
//
// uWS rules kept here: headers are read before the handler returns (HttpRequest is stack-bound),
// onAborted is set before any asynchronous step, each onData chunk is copied at once (uWS reuses
// its memory), writes after an await are corked, and a response is never touched once aborted.

import { gunzip } from 'node:zlib';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket } from 'uWebSockets.js';
import { MalformedPayloadError, OverloadedError, PayloadTooLargeError, ReceiveTimeoutError, ShuttingDownError, UwsFallbackError } from '../errors.js';
import { InFlight, memoryRefusal, retryDelayMs } from './admission.js';
import type { ByteBudget, MemoryGuard } from './admission.js';
import { RETRY_AFTER_MS } from './grpc-server.js';
import { errorStatus } from './status.js';
import { authRefusal } from './auth.js';
import type { TokenAuth } from './auth.js';
import type { ErrorStatus } from './status.js';
import type { IngestOutcome, IngestSink, PayloadEncoding, Signal, TlsFiles } from './types.js';
import { encodeExportResponse, encodeStatus, encodeStatusWithRetryInfo } from './wire-encode.js';
import { createUwsApp, fallbackAllowed, loadUws } from './uws.js';

/** Settings of the HTTP receiver. */
export interface HttpReceiverOptions {
  host: string;
  port: number;
  /** Largest body accepted, both as received and after gzip inflation. */
  maxMessageBytes: number;
  /** The admission budget, shared with the gRPC receiver. */
  budget: ByteBudget;
  /** Refuses new requests while resident memory is over limits.memory_soft. */
  memory?: MemoryGuard;
  sink: IngestSink;
  /** Bearer-token check (otlp.auth); absent or without tokens, every request is accepted. */
  auth?: TokenAuth;
  /** TLS (otlp.http.tls); absent or null = plaintext. uWS cannot require client certificates, so clientCaFile must be null. */
  tls?: TlsFiles | null;
  /** Called once per answered request on /v1/metrics or /v1/traces, with the HTTP status sent. */
  onRequestDone?: (signal: Signal, httpStatus: number, seconds: number) => void;
  /** Called for each request refused whole (the reasons of vigil_otlp_requests_rejected_total). */
  onRefused?: (signal: Signal, reason: string) => void;
  /** Told once at start when uWS runs its pure-JS fallback and VIGIL_ALLOW_UWS_FALLBACK accepted it. */
  onFallback?: (detail: string) => void;
  /** A body must arrive whole within this of its headers (otlp.receive_timeout); default 30 s. */
  receiveTimeoutMs?: number;
}

const PATHS: Record<string, Signal> = { '/v1/metrics': 'metrics', '/v1/traces': 'traces' };

const STATUS_LINE: Record<number, string> = {
  200: '200 OK',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  408: '408 Request Timeout',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

const CONTENT_TYPE: Record<PayloadEncoding, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };
/** Bytes a request without Content-Length reserves against the memory limit at admission. */
const UNKNOWN_SIZE_RESERVATION = 256 * 1024;
const RETRY_AFTER_SECONDS = String(Math.max(1, Math.ceil(RETRY_AFTER_MS / 1000)));
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_NOT_FOUND = 5;
const GRPC_UNIMPLEMENTED = 12;
const GRPC_UNAUTHENTICATED = 16;

/** The request's encoding from its Content-Type (parameters and case ignored), or undefined. */
export function encodingOf(contentType: string): PayloadEncoding | undefined {
  const media = contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (media === 'application/x-protobuf') return 'protobuf';
  if (media === 'application/json') return 'json';
  return undefined;
}

/** One export request being read or processed. */
class ExportCall {
  aborted = false;
  answered = false;
  /** The whole body arrived and the pipeline has it: #process releases what the call holds. */
  processing = false;
  /** Budget bytes held by this call. */
  held = 0;
  /** The receive deadline, cleared when the whole body arrived or the call ended. */
  timer: NodeJS.Timeout | undefined;
  /** The tenant of the request's bearer token ('' = none). */
  tenant = '';
  readonly started = performance.now();
  constructor(
    readonly res: HttpResponse,
    readonly signal: Signal,
    /** The encoding answers are written in: the request's, or protobuf when it was not recognised. */
    readonly encoding: PayloadEncoding,
  ) {}
}

/** The running receiver. */
export class HttpReceiver {
  readonly #options: HttpReceiverOptions;
  #uws: typeof import('uWebSockets.js') | null = null;
  #app: TemplatedApp | null = null;
  #listenSocket: us_listen_socket | null = null;
  #port = 0;
  #draining = false;
  #started = false;
  readonly #inFlight = new InFlight();
  #shutdown: Promise<void> | null = null;

  constructor(options: HttpReceiverOptions) {
    this.#options = options;
  }

  /** Loads uWS (refusing its fallback unless allowed) and binds the port. */
  async start(): Promise<void> {
    if (this.#shutdown !== null) throw new Error('the OTLP/HTTP receiver was shut down');
    const { uws, native, detail } = loadUws();
    if (!native) {
      if (!fallbackAllowed()) throw new UwsFallbackError(detail);
      this.#options.onFallback?.(detail);
    }
    this.#uws = uws;
    const app = createUwsApp(uws, this.#options.tls ?? null, 'OTLP/HTTP');
    this.#app = app;
    this.#routes(app);
    const { host, port } = this.#options;
    this.#listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
      // Exclusive: without it uSockets sets SO_REUSEPORT and a second daemon would share the port silently.
      const done = (socket: us_listen_socket | false): void => {
        if (socket === false) reject(new Error(`cannot listen for OTLP/HTTP on ${formatHost(host)}:${port} (address in use or not available)`));
        else resolve(socket);
      };
      (app.listen as unknown as (h: string, p: number, o: number, cb: (s: us_listen_socket | false) => void) => void).call(app, host, port, 1, done);
    });
    this.#port = uws.us_socket_local_port(this.#listenSocket as unknown as us_socket);
    this.#started = true;
  }

  /** The bound address (port resolved when 0 was asked for). */
  address(): { host: string; port: number } {
    return { host: this.#options.host, port: this.#port };
  }

  /** Requests being read or processed now. */
  get inFlight(): number {
    return this.#inFlight.count;
  }

  /**
   * Stops taking new requests (they get 503 + Retry-After), waits for in-flight ones until the
   * deadline, then closes the listen socket and every connection left. Idempotent; safe without start().
   */
  shutdown(deadlineMs = 4000): Promise<void> {
    this.#shutdown ??= this.#doShutdown(deadlineMs);
    return this.#shutdown;
  }

  async #doShutdown(deadlineMs: number): Promise<void> {
    this.#draining = true;
    if (!this.#started) return;
    await this.#inFlight.drained(deadlineMs);
    if (this.#listenSocket !== null) {
      this.#uws!.us_listen_socket_close(this.#listenSocket);
      this.#listenSocket = null;
    }
    // Idle keep-alive connections would otherwise live until uWS's idle timeout and hold the
    // process open. The native App has close() (missing from its typings); the fallback does not.
    (this.#app as { close?: () => void } | null)?.close?.();
  }

  #routes(app: TemplatedApp): void {
    for (const [path, signal] of Object.entries(PATHS)) {
      app.post(path, (res, req) => this.#export(res, req, signal));
      app.any(path, (res, req) => {
        const call = new ExportCall(res, signal, encodingOf(req.getHeader('content-type')) ?? 'protobuf');
        const closeAfter = hasBody(req);
        this.#answerError(call, 405, GRPC_UNIMPLEMENTED, `${req.getMethod().toUpperCase()} is not allowed on ${path}; OTLP/HTTP exports are POST`, false, closeAfter, ['allow', 'POST']);
      });
    }
    app.any('/*', (res, req) => {
      const call = new ExportCall(res, 'metrics', encodingOf(req.getHeader('content-type')) ?? 'protobuf');
      // Not an OTLP path: answered, but not counted under a signal.
      call.answered = true;
      const body = this.#statusBody(call.encoding, GRPC_NOT_FOUND, `no OTLP/HTTP endpoint at ${req.getUrl()}; use POST /v1/metrics or /v1/traces`, false);
      res.cork(() => {
        res.writeStatus(STATUS_LINE[404]!).writeHeader('content-type', CONTENT_TYPE[call.encoding]).end(body, hasBody(req));
      });
    });
  }

  #export(res: HttpResponse, req: HttpRequest, signal: Signal): void {
    // Everything needed from the request, read now: req is invalid once this handler returns.
    const contentType = req.getHeader('content-type');
    const contentCoding = req.getHeader('content-encoding').trim().toLowerCase();
    const lengthHeader = req.getHeader('content-length');
    const authorization = this.#options.auth?.enabled === true ? req.getHeader('authorization') : '';
    const encoding = encodingOf(contentType);
    const call = new ExportCall(res, signal, encoding ?? 'protobuf');
    const declared = lengthHeader === '' ? 0 : Number(lengthHeader);
    const closeAfter = declared > 0 || lengthHeader === '';
    const { budget, maxMessageBytes } = this.#options;

    // First, before anything about the request is judged or its body read.
    const auth = this.#options.auth?.check(authorization) ?? { ok: true, tenant: '' };
    if (!auth.ok) {
      this.#options.onRefused?.(signal, 'unauthenticated');
      this.#answerError(call, 401, GRPC_UNAUTHENTICATED, authRefusal(auth), false, closeAfter, ['www-authenticate', 'Bearer']);
      return;
    }
    call.tenant = auth.tenant;
    if (encoding === undefined) {
      this.#options.onRefused?.(signal, 'unsupported_media_type');
      this.#answerError(call, 415, GRPC_INVALID_ARGUMENT, `unsupported Content-Type ${JSON.stringify(contentType)}; OTLP/HTTP takes application/x-protobuf or application/json`, false, closeAfter);
      return;
    }
    if (contentCoding !== '' && contentCoding !== 'identity' && contentCoding !== 'gzip') {
      this.#options.onRefused?.(signal, 'unsupported_media_type');
      this.#answerError(call, 415, GRPC_INVALID_ARGUMENT, `unsupported Content-Encoding ${JSON.stringify(contentCoding)}; OTLP/HTTP takes gzip or none`, false, closeAfter);
      return;
    }
    if (this.#draining) {
      this.#refuse(call, new ShuttingDownError(), closeAfter);
      return;
    }
    if (!Number.isSafeInteger(declared) || declared < 0) {
      this.#refuse(call, new MalformedPayloadError(`invalid Content-Length ${JSON.stringify(lengthHeader)}`), true);
      return;
    }
    if (declared > maxMessageBytes) {
      this.#refuse(call, tooLarge(maxMessageBytes, `Content-Length ${declared}`), true);
      return;
    }
    const { memory } = this.#options;
    // Without Content-Length (chunked) the size is unknown: reserve a typical request's.
    if (memory !== undefined && !memory.admit(declared > 0 ? declared : UNKNOWN_SIZE_RESERVATION)) {
      this.#refuse(call, new OverloadedError(memoryRefusal(memory), 'memory_limit'), closeAfter);
      return;
    }
    if (!budget.tryAcquire(declared)) {
      this.#refuse(call, overBudget(budget), closeAfter);
      return;
    }
    call.held = declared;
    this.#inFlight.enter();
    res.onAborted(() => {
      call.aborted = true;
      // While the pipeline still works on the payload its bytes stay charged; #process releases them.
      if (!call.processing) this.#finish(call);
    });

    const gzip = contentCoding === 'gzip';
    let body = Buffer.allocUnsafe(declared);
    let received = 0;
    // uWS closes a connection that brings under 16 KiB per 10 s, but one trickling more than that
    // would hold its share of otlp.max_inflight_size for as long as it likes: a few such uploads
    // kept every large request refused. The whole body must arrive within otlp.receive_timeout.
    const timeoutMs = this.#options.receiveTimeoutMs ?? 30_000;
    call.timer = setTimeout(() => {
      if (call.processing || call.answered || call.aborted) return;
      this.#refuse(call, new ReceiveTimeoutError(timeoutMs, received, declared > 0 ? declared : undefined), true);
      this.#finish(call);
    }, timeoutMs);
    call.timer.unref();
    res.onData((chunk, isLast) => {
      if (call.answered || call.aborted) return;
      const length = chunk.byteLength;
      if (received + length > maxMessageBytes) {
        this.#refuse(call, tooLarge(maxMessageBytes, 'the body'), true);
        this.#finish(call);
        return;
      }
      if (received + length > body.length) {
        // More than Content-Length said (or none was sent): grow, and charge the budget for it.
        const grown = Math.min(maxMessageBytes, Math.max(received + length, body.length * 2, 16 * 1024));
        if (!budget.tryAcquire(grown - call.held)) {
          this.#refuse(call, overBudget(budget), true);
          this.#finish(call);
          return;
        }
        call.held = grown;
        const next = Buffer.allocUnsafe(grown);
        body.copy(next, 0, 0, received);
        body = next;
      }
      // Copy now: uWS reuses the chunk's memory after this callback.
      body.set(new Uint8Array(chunk), received);
      received += length;
      if (isLast) {
        clearTimeout(call.timer);
        void this.#process(call, body.subarray(0, received), gzip);
      }
    });
  }

  /** Inflates if needed, re-admits the real size, runs the pipeline and answers. */
  async #process(call: ExportCall, wire: Buffer, gzip: boolean): Promise<void> {
    const { budget, maxMessageBytes, sink } = this.#options;
    call.processing = true;
    try {
      let payload = wire;
      if (gzip) {
        payload = await inflateLimited(wire, maxMessageBytes);
        if (call.aborted) return;
        // Hold the inflated size instead of the wire size from here on.
        budget.release(call.held);
        call.held = 0;
        if (!budget.tryAcquire(payload.length)) throw overBudget(budget);
        call.held = payload.length;
      }
      const outcome = await sink(call.signal, payload, call.encoding, call.tenant);
      this.#answerOk(call, outcome);
    } catch (err) {
      this.#refuse(call, err, this.#draining);
    } finally {
      this.#finish(call);
    }
  }

  /** Releases what the call holds, once. */
  #finish(call: ExportCall): void {
    clearTimeout(call.timer);
    if (call.held < 0) return;
    this.#options.budget.release(call.held);
    call.held = -1;
    this.#inFlight.leave();
  }

  /** Answers a refused request from an error, counting it by reason. */
  #refuse(call: ExportCall, err: unknown, closeAfter: boolean): void {
    const status = errorStatus(err);
    if (!call.aborted && !call.answered) this.#options.onRefused?.(call.signal, status.reason);
    this.#answerStatus(call, status, closeAfter);
  }

  #answerStatus(call: ExportCall, status: ErrorStatus, closeAfter: boolean): void {
    this.#answerError(call, status.http, status.code, status.message, status.retryable, closeAfter);
  }

  #answerError(call: ExportCall, http: number, grpcCode: number, message: string, retryable: boolean, closeAfter: boolean, header?: [string, string]): void {
    const body = this.#statusBody(call.encoding, grpcCode, message, retryable);
    this.#write(call, http, body, closeAfter || this.#draining, (res) => {
      if (retryable) res.writeHeader('retry-after', RETRY_AFTER_SECONDS);
      if (header !== undefined) res.writeHeader(header[0], header[1]);
    });
  }

  #answerOk(call: ExportCall, outcome: IngestOutcome): void {
    let body: Buffer | string;
    if (call.encoding === 'protobuf') body = encodeExportResponse(outcome.rejected, outcome.message);
    else if (outcome.rejected === 0 && outcome.message === '') body = '{}';
    else {
      const partial: Record<string, string> = {};
      if (outcome.rejected > 0) partial[call.signal === 'metrics' ? 'rejectedDataPoints' : 'rejectedSpans'] = String(outcome.rejected);
      if (outcome.message !== '') partial['errorMessage'] = outcome.message;
      body = JSON.stringify({ partialSuccess: partial });
    }
    this.#write(call, 200, body, this.#draining);
  }

  /** google.rpc.Status in the call's encoding, with RetryInfo when retryable. */
  #statusBody(encoding: PayloadEncoding, code: number, message: string, retryable: boolean): Buffer | string {
    const delayMs = retryDelayMs();
    if (encoding === 'protobuf') return retryable ? encodeStatusWithRetryInfo(code, message, delayMs) : encodeStatus(code, message);
    const status: { code: number; message: string; details?: unknown[] } = { code, message };
    if (retryable) status.details = [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${delayMs / 1000}s` }];
    return JSON.stringify(status);
  }

  /** Writes one whole answer (corked), unless the client went away or it was answered already. */
  #write(call: ExportCall, http: number, body: Buffer | string, closeAfter: boolean, headers?: (res: HttpResponse) => void): void {
    if (call.aborted || call.answered) return;
    call.answered = true;
    const { res } = call;
    res.cork(() => {
      res.writeStatus(STATUS_LINE[http] ?? String(http)).writeHeader('content-type', CONTENT_TYPE[call.encoding]);
      headers?.(res);
      res.end(body, closeAfter);
    });
    this.#options.onRequestDone?.(call.signal, http, (performance.now() - call.started) / 1000);
  }
}

/** Whether the request announced a body (or may have one: no Content-Length). */
function hasBody(req: HttpRequest): boolean {
  const length = req.getHeader('content-length');
  return length !== '' && length !== '0';
}

function tooLarge(limit: number, what: string): PayloadTooLargeError {
  return new PayloadTooLargeError(`${what} is larger than otlp.http.max_message_size (${limit} bytes); send smaller batches`);
}

function overBudget(budget: ByteBudget): OverloadedError {
  return new OverloadedError(`over the in-flight budget of ${budget.limit} bytes; retry later`, 'inflight_budget');
}

/**
 * gunzip with a hard cap on the output: zlib stops and fails as soon as more than `limit` bytes
 * come out, so a gzip bomb costs at most the limit plus one 16 KiB chunk. A corrupt stream is malformed.
 */
function inflateLimited(data: Buffer, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(data, { maxOutputLength: limit }, (err, out) => {
      if (err === null) resolve(out);
      else if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') reject(tooLarge(limit, 'the gzip-inflated body'));
      else reject(new MalformedPayloadError(`invalid gzip body: ${err.message}`));
    });
  });
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
