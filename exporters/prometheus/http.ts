// The Prometheus exposition endpoint: GET /metrics with content negotiation (text 0.0.4 or
// OpenMetrics 1.0) and gzip, plus /-/healthy and /-/ready. Modes follow client_golang's
// promhttp.HandlerOpts: a cap on scrapes in flight (503 beyond it), a scrape timeout (503),
// and render errors answered with 500 and logged.

import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type ServerOptions } from 'node:https';
import { createSecureContext } from 'node:tls';
import { VigilError } from '../../collectors/errors.js';
import type { RenderedExposition } from './exposition-writer.js';
import type { AddressInfo, Socket } from 'node:net';
import { constants as zlibConstants, gzip } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);

/** The exposition formats `/metrics` can answer with. */
export type ExpositionFormat = 'text' | 'openmetrics' | 'protobuf';

/** How one scrape ended: served, render failed, timed out, or refused by the in-flight cap. */
export type ScrapeOutcome = 'ok' | 'error' | 'timeout' | 'rejected';

/** What the exporter needs from the daemon. */
export interface PrometheusExporterOptions {
  host: string;
  /** 0 picks a free port; see `address()`. */
  port: number;
  /** Scrapes rendering at once; more are answered 503 (prometheus.max_concurrent_scrapes). */
  maxConcurrentScrapes: number;
  /** A scrape not rendered within this is answered 503 (prometheus.scrape_timeout). */
  scrapeTimeoutMs: number;
  /**
   * Produces the whole exposition in the negotiated format: text, or its UTF-8 bytes with a
   * `release()` the exporter calls once they are sent (or will never be).
   */
  render: (format: ExpositionFormat) => Promise<string | RenderedExposition>;
  /** Whether the daemon is ready to serve (drives /-/ready). */
  ready: () => boolean;
  /** Why it is not ready, shown in the 503 body of /-/ready (e.g. the data dir cannot be written). */
  notReadyReason?: () => string | null;
  logger?: { warn(obj: object, msg: string): void } | undefined;
  /** Called once per /metrics request, e.g. to feed a scrape-duration histogram. */
  onScrape?: ((seconds: number, format: string, outcome: ScrapeOutcome) => void) | undefined;
  /** TLS (prometheus.tls): PEM files; clientCaFile set = scrapers must present a certificate it signed. Absent or null = plaintext. */
  tls?: { certFile: string; keyFile: string; clientCaFile: string | null } | null | undefined;
  /** Connections held at once (prometheus.max_connections); more are closed on accept and counted. Default 128. */
  maxConnections?: number | undefined;
  /** A request's headers must arrive within this (prometheus.header_timeout). Default 10 s. */
  headerTimeoutMs?: number | undefined;
}

/** Connection figures of the listener (vigil_connections_*{listener="prometheus"}). */
export interface PrometheusConnectionStats {
  listener: string;
  open: number;
  limit: number;
  refused: Readonly<Record<string, number>>;
  timedOut: Readonly<Record<string, number>>;
  acceptErrors: number;
}

/** The running endpoint. */
export interface PrometheusExporter {
  /** Binds the port; rejects if it cannot (e.g. EADDRINUSE). */
  start(): Promise<void>;
  /** Stops accepting, lets scrapes in flight finish until the deadline, then drops connections. */
  shutdown(deadlineMs?: number): Promise<void>;
  /** The bound address (the real port after listening on port 0). */
  address(): { host: string; port: number };
  /** Open, refused and timed-out connections. */
  connectionStats(): PrometheusConnectionStats;
}

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const PROTOBUF_CONTENT_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';
const CONTENT_TYPES: Record<ExpositionFormat, string> = { text: TEXT_CONTENT_TYPE, openmetrics: OPENMETRICS_CONTENT_TYPE, protobuf: PROTOBUF_CONTENT_TYPE };

const DEFAULT_SHUTDOWN_DEADLINE_MS = 5000;
const ALLOW = 'GET, HEAD';

/** node:https options from the TLS files; a bad file fails here, at startup, naming the files. */
function tlsOptions(tls: { certFile: string; keyFile: string; clientCaFile: string | null }): ServerOptions {
  try {
    const options: ServerOptions = { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
    if (tls.clientCaFile !== null) Object.assign(options, { ca: readFileSync(tls.clientCaFile), requestCert: true, rejectUnauthorized: true });
    createSecureContext(options);
    return options;
  } catch (err) {
    throw new VigilError(`cannot set up TLS for /metrics with cert_file ${tls.certFile} and key_file ${tls.keyFile}: ${(err as Error).message}`, 'VIGIL_TLS_UNUSABLE', { cause: err });
  }
}

/** Picks the exposition format for an `Accept` header. */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (accept === undefined || accept === '') return 'text';
  let openMetricsQ = 0;
  let protobufQ = 0;
  let textQ = 0;
  let textSpecificity = -1;
  for (const range of accept.split(',')) {
    const [typePart = '', ...paramParts] = range.split(';');
    const type = typePart.trim().toLowerCase();
    let q = 1;
    let version: string | undefined;
    let proto: string | undefined;
    let encoding: string | undefined;
    for (const param of paramParts) {
      const eq = param.indexOf('=');
      if (eq < 0) continue;
      const key = param.slice(0, eq).trim().toLowerCase();
      const value = param.slice(eq + 1).trim().replace(/^"|"$/g, '');
      if (key === 'q') q = parseQ(value);
      else if (key === 'version') version = value;
      else if (key === 'proto') proto = value;
      else if (key === 'encoding') encoding = value;
    }
    if (type === 'application/vnd.google.protobuf') {
      // Only the delimited MetricFamily stream (what Prometheus asks for); not the text or compact-text encodings.
      if (proto === 'io.prometheus.client.MetricFamily' && encoding === 'delimited') protobufQ = Math.max(protobufQ, q);
      continue;
    }
    if (type === 'application/openmetrics-text') {
      // We write 1.0.0; 0.0.1 is the same text for everything we emit (client_golang agrees).
      if (version === undefined || version === '1.0.0' || version === '0.0.1') openMetricsQ = Math.max(openMetricsQ, q);
      continue;
    }
    // The most specific range matching text/plain 0.0.4 decides its q (RFC 9110 §12.5.1).
    const specificity =
      type === 'text/plain' ? (version === undefined || version === '0.0.4' ? 2 : -1) : type === 'text/*' ? 1 : type === '*/*' ? 0 : -1;
    if (specificity > textSpecificity) {
      textSpecificity = specificity;
      textQ = q;
    } else if (specificity === textSpecificity && specificity >= 0) {
      textQ = Math.max(textQ, q);
    }
  }
  // Protobuf and OpenMetrics only when asked for by name (never for a bare */*); on a tie protobuf,
  // then OpenMetrics, then text (Prometheus with native histograms asks for protobuf at q=1).
  if (protobufQ > 0 && protobufQ >= openMetricsQ && protobufQ >= textQ) return 'protobuf';
  return openMetricsQ > 0 && openMetricsQ >= textQ ? 'openmetrics' : 'text';
}

function parseQ(value: string): number {
  const q = Number(value);
  return Number.isFinite(q) && q >= 0 && q <= 1 ? q : 0;
}

/** Whether an `Accept-Encoding` header allows gzip (and does not give it q=0). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (acceptEncoding === undefined) return false;
  let star = false;
  for (const coding of acceptEncoding.split(',')) {
    const [name = '', ...params] = coding.split(';');
    const token = name.trim().toLowerCase();
    let q = 1;
    for (const param of params) {
      const [key = '', value = ''] = param.split('=');
      if (key.trim().toLowerCase() === 'q') q = parseQ(value.trim());
    }
    if (token === 'gzip' || token === 'x-gzip') return q > 0;
    if (token === '*') star = q > 0;
  }
  return star;
}

class ScrapeTimeoutError extends Error {
  override readonly name = 'ScrapeTimeoutError';
}

class PrometheusHttpExporter implements PrometheusExporter {
  readonly #opts: PrometheusExporterOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #scrapesInFlight = 0;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #bound: { host: string; port: number } | undefined;
  #startError: Error | undefined;
  readonly #refused = { max_connections: 0 };
  readonly #timedOut = { headers: 0 };
  #acceptErrors = 0;
  #lastAcceptErrorLog = 0;

  constructor(opts: PrometheusExporterOptions) {
    this.#opts = opts;
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.#route(req, res);
    const { tls } = opts;
    // Slow clients (slowloris): node:http's defaults let a request's headers take 60 s, checked
    // every 30 s, so a connection trickling a header line every 5 s stayed open past 70 s.
    const headersTimeout = opts.headerTimeoutMs ?? 10_000;
    const timeouts = { headersTimeout, requestTimeout: headersTimeout, connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeout / 4)) };
    let server: Server | undefined;
    if (tls !== null && tls !== undefined) {
      // Unusable TLS files fail start(), not the constructor, so the daemon's start-failure cleanup runs.
      try {
        server = createTlsServer({ ...tlsOptions(tls), ...timeouts, handshakeTimeout: headersTimeout }, handler);
      } catch (err) {
        this.#startError = err as Error;
      }
    }
    this.#server = server ?? createServer(timeouts, handler);
    // Over the cap node:http closes a new connection at once and emits 'drop'.
    this.#server.maxConnections = opts.maxConnections ?? 128;
    this.#server.on('drop', () => this.#refused.max_connections++);
    // node:http answers a header timeout with 408 and closes; counted here.
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        this.#timedOut.headers++;
        if (socket.writable) socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      } else if (err.code === 'HPE_HEADER_OVERFLOW' && socket.writable) {
        socket.end('HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      } else if (socket.writable) {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
      socket.destroy();
    });
    // 'secureConnection' would miss sockets still in their handshake at shutdown; 'connection' sees every one.
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  start(): Promise<void> {
    if (this.#stopping !== undefined) return Promise.reject(new Error('prometheus exporter: start after shutdown'));
    if (this.#startError !== undefined) return Promise.reject(this.#startError);
    this.#starting ??= new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        this.#server.off('error', onError);
        // Once listening, errors are accept errors (EMFILE: out of file descriptors). libuv closes the
        // connections waiting in the backlog meanwhile rather than spinning; counted, logged at most once a second.
        this.#server.on('error', (err) => {
          this.#acceptErrors++;
          if (Date.now() - this.#lastAcceptErrorLog < 1000) return;
          this.#lastAcceptErrorLog = Date.now();
          this.#opts.logger?.warn({ err }, 'prometheus exporter: accept failed (out of file descriptors?)');
        });
        const info = this.#server.address() as AddressInfo;
        this.#bound = { host: info.address, port: info.port };
        resolve();
      });
    });
    return this.#starting;
  }

  shutdown(deadlineMs: number = DEFAULT_SHUTDOWN_DEADLINE_MS): Promise<void> {
    this.#stopping ??= this.#close(deadlineMs);
    return this.#stopping;
  }

  async #close(deadlineMs: number): Promise<void> {
    if (this.#starting === undefined) return;
    await this.#starting.catch(() => undefined);
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
      timer.unref();
    });
    await Promise.race([closed, deadline]);
    clearTimeout(timer);
    // Past the deadline: scrapes still rendering lose their connection.
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  address(): { host: string; port: number } {
    return this.#bound ?? { host: this.#opts.host, port: this.#opts.port };
  }

  connectionStats(): PrometheusConnectionStats {
    return { listener: 'prometheus', open: this.#sockets.size, limit: this.#server.maxConnections, refused: this.#refused, timedOut: this.#timedOut, acceptErrors: this.#acceptErrors };
  }

  /** Sends a complete response; while shutting down, asks the client to close the connection. */
  #send(res: ServerResponse, status: number, contentType: string, body: Buffer | string): void {
    if (this.#stopping !== undefined) res.setHeader('Connection', 'close');
    res.statusCode = status;
    res.setHeader('Content-Type', contentType);
    res.setHeader('Content-Length', typeof body === 'string' ? Buffer.byteLength(body) : body.length);
    if (res.req.method === 'HEAD') res.end();
    else res.end(body);
  }

  #reply(res: ServerResponse, status: number, text: string): void {
    this.#send(res, status, 'text/plain; charset=utf-8', text);
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' && path !== '/-/healthy' && path !== '/-/ready') {
      this.#reply(res, 404, 'Not Found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', ALLOW);
      this.#reply(res, 405, 'Method Not Allowed\n');
      return;
    }
    if (path === '/-/healthy') {
      this.#reply(res, 200, 'Vigil is Healthy.\n');
    } else if (path === '/-/ready') {
      if (this.#stopping === undefined && this.#isReady()) this.#reply(res, 200, 'Vigil is Ready.\n');
      else {
        let reason: string | null = null;
        try {
          reason = this.#stopping === undefined ? (this.#opts.notReadyReason?.() ?? null) : null;
        } catch {
          reason = null;
        }
        this.#reply(res, 503, reason === null ? 'Vigil is not ready.\n' : `Vigil is not ready: ${reason}\n`);
      }
    } else {
      this.#scrape(req, res).catch((err: unknown) => {
        this.#opts.logger?.warn({ err }, 'prometheus exporter: scrape failed');
        if (!res.headersSent) this.#reply(res, 500, 'An error has occurred while serving metrics.\n');
        else res.destroy();
      });
    }
  }

  #isReady(): boolean {
    try {
      return this.#opts.ready();
    } catch (err) {
      this.#opts.logger?.warn({ err }, 'prometheus exporter: ready() failed');
      return false;
    }
  }

  async #scrape(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const began = performance.now();
    const format = negotiateFormat(req.headers.accept);
    const report = (outcome: ScrapeOutcome): void => {
      try {
        this.#opts.onScrape?.((performance.now() - began) / 1000, format, outcome);
      } catch (err) {
        this.#opts.logger?.warn({ err }, 'prometheus exporter: onScrape callback failed');
      }
    };
    res.setHeader('Vary', 'Accept, Accept-Encoding');

    const max = this.#opts.maxConcurrentScrapes;
    if (this.#scrapesInFlight >= max) {
      this.#reply(res, 503, `Limit of concurrent scrapes reached (${max}), try again later.\n`);
      report('rejected');
      return;
    }

    // The slot is held until render settles, even after a timeout answer, so the cap bounds
    // the renders actually running rather than the requests still waiting for one.
    this.#scrapesInFlight++;
    let rendering: Promise<string | RenderedExposition>;
    try {
      rendering = this.#opts.render(format);
    } catch (err) {
      rendering = Promise.reject(err);
    }
    rendering.then(
      () => this.#scrapesInFlight--,
      () => this.#scrapesInFlight--,
    );

    const timeoutMs = effectiveTimeoutMs(this.#opts.scrapeTimeoutMs, req.headers['x-prometheus-scrape-timeout-seconds']);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ScrapeTimeoutError(`Exceeded configured timeout of ${timeoutMs / 1000}s.\n`)), timeoutMs);
    });

    let body: string | RenderedExposition;
    try {
      body = await Promise.race([rendering, timeout]);
    } catch (err) {
      if (err instanceof ScrapeTimeoutError) {
        rendering.then(releaseBody, () => undefined);
        this.#reply(res, 503, err.message);
        report('timeout');
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      this.#opts.logger?.warn({ err }, 'prometheus exporter: render failed');
      this.#reply(res, 500, `An error has occurred while serving metrics:\n\n${message}\n`);
      report('error');
      return;
    } finally {
      clearTimeout(timer);
    }

    let payload: Buffer;
    let release = (): void => undefined;
    if (typeof body === 'string') {
      payload = Buffer.from(body, 'utf8');
    } else {
      payload = body.bytes;
      // Once the response is written or abandoned (or compressed), the buffer can serve the next scrape.
      const rendered = body;
      release = (): void => {
        release = (): void => undefined;
        rendered.release();
      };
      res.once('close', () => release());
    }
    if (acceptsGzip(req.headers['accept-encoding'])) {
      // Fastest level: on a 100k-series exposition a third of level 6's CPU for ~30% more bytes
      // (still ~29:1), and that CPU is taken from the cores ingest runs on.
      payload = await gzipAsync(payload, { level: zlibConstants.Z_BEST_SPEED });
      release();
      res.setHeader('Content-Encoding', 'gzip');
    }
    this.#send(res, 200, CONTENT_TYPES[format], payload);
    report('ok');
  }
}

function releaseBody(body: string | RenderedExposition): void {
  if (typeof body !== 'string') body.release();
}

/** Prometheus says how long it will wait; answering later than that helps nobody. */
function effectiveTimeoutMs(configuredMs: number, header: string | string[] | undefined): number {
  const seconds = typeof header === 'string' ? Number(header) : NaN;
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(configuredMs, seconds * 1000) : configuredMs;
}

/** Creates the `/metrics`, `/-/healthy` and `/-/ready` endpoint; nothing listens until `start()`. */
export function createPrometheusExporter(opts: PrometheusExporterOptions): PrometheusExporter {
  return new PrometheusHttpExporter(opts);
}
