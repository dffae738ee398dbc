// The OTLP/gRPC receiver's own accept loop. grpc-js binds and accepts by itself, with no cap on
// connections and no deadline for a connection that never finishes its handshake; so Vigil listens
// with a net.Server of its own, refuses connections over otlp.grpc.max_connections at once, does
// the TLS handshake, reads the HTTP/2 connection preface within otlp.grpc.handshake_timeout, and
// only then hands the connection to grpc-js (Server.createConnectionInjector).

import net from 'node:net';
import tls from 'node:tls';
import type { ListenerConnectionStats } from './types.js';

/** The client connection preface every HTTP/2 connection starts with (RFC 9113 §3.4). */
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Settings of a ConnectionGate. */
export interface ConnectionGateOptions {
  /** The listener's name in vigil_connections_* (e.g. otlp_grpc). */
  name: string;
  host: string;
  port: number;
  /** Connections held at once; beyond it a new one is closed on accept and counted. */
  maxConnections: number;
  /** From accept to the end of the TLS handshake and the HTTP/2 preface. */
  handshakeTimeoutMs: number;
  /** TLS server options (certificate, key, client CA); null = plaintext (setTls may set them later). */
  tls: tls.TlsOptions | null;
  /** Receives each connection once its preface arrived (the preface is put back to be read again). */
  onConnection: (socket: net.Socket) => void;
  /** Told about accept errors (EMFILE…), at most once per second. */
  onAcceptError?: (err: Error) => void;
}

/** A listener that owns accept: a connection cap, a handshake deadline, and per-connection accounting. */
export class ConnectionGate {
  readonly #options: ConnectionGateOptions;
  readonly #server: net.Server;
  #tlsServer: tls.Server | null = null;
  /** Every connection accepted and not yet closed, handed over or not. */
  readonly #sockets = new Set<net.Socket>();
  readonly #refused: Record<string, number> = { max_connections: 0, bad_preface: 0, tls_handshake: 0 };
  readonly #timedOut: Record<string, number> = { handshake: 0 };
  #acceptErrors = 0;
  #lastAcceptErrorReport = 0;
  /** Handshake deadlines by remote address and port (a TLS socket reports its TCP socket's). */
  readonly #handshakeTimers = new Map<string, NodeJS.Timeout>();

  constructor(options: ConnectionGateOptions) {
    this.#options = options;
    this.#server = net.createServer((socket) => this.#accept(socket));
    this.setTls(options.tls);
  }

  /** TLS for connections accepted from now on (before listen()); null = plaintext. */
  setTls(options: tls.TlsOptions | null): void {
    if (options === null) {
      this.#tlsServer = null;
      return;
    }
    // Never listens: accepted connections are given to it, and it does the handshake and the client-certificate check.
    this.#tlsServer = tls.createServer({ ...options, ALPNProtocols: ['h2'] }, (secure) => this.#readPreface(secure));
    // A failed handshake (wrong certificate, not TLS at all) closes the connection; counted, never thrown.
    this.#tlsServer.on('tlsClientError', () => this.#refused['tls_handshake']!++);
  }

  /** Listens; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen({ host: this.#options.host, port: this.#options.port, exclusive: true }, () => {
        this.#server.off('error', onError);
        // Once listening, errors are accept errors: out of file descriptors (EMFILE, ENFILE) and the
        // like. libuv then closes the connections waiting in the backlog (its reserved-descriptor
        // trick) instead of spinning on them; Vigil counts, reports, and keeps listening.
        this.#server.on('error', (err) => this.#acceptError(err));
        resolve((this.#server.address() as net.AddressInfo).port);
      });
    });
  }

  /** Stops accepting; connections already open stay. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
  }

  /** Closes every connection at once (end of a shutdown's deadline). */
  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  /** Figures for vigil_connections_*. */
  stats(): ListenerConnectionStats {
    return { listener: this.#options.name, open: this.#sockets.size, limit: this.#options.maxConnections, refused: this.#refused, timedOut: this.#timedOut, acceptErrors: this.#acceptErrors };
  }

  #accept(socket: net.Socket): void {
    if (this.#sockets.size >= this.#options.maxConnections) {
      this.#refused['max_connections']!++;
      // Reset rather than close: the descriptor is freed now, with no FIN_WAIT on our side.
      socket.resetAndDestroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    // A reset by the client must not be an uncaught 'error'.
    socket.on('error', () => socket.destroy());
    const key = peerKey(socket);
    const timer = setTimeout(() => {
      this.#handshakeTimers.delete(key);
      this.#timedOut['handshake']!++;
      socket.destroy();
    }, this.#options.handshakeTimeoutMs);
    timer.unref();
    this.#handshakeTimers.set(key, timer);
    socket.once('close', () => {
      clearTimeout(timer);
      if (this.#handshakeTimers.get(key) === timer) this.#handshakeTimers.delete(key);
    });
    if (this.#tlsServer !== null) {
      this.#tlsServer.emit('connection', socket);
    } else {
      this.#readPreface(socket);
    }
  }

  /** Reads the 24-byte HTTP/2 preface, puts it back, and hands the connection over. */
  #readPreface(socket: net.Socket): void {
    let got: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      const n = Math.min(got.length, HTTP2_PREFACE.length);
      if (!got.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n))) {
        this.#refused['bad_preface']!++;
        socket.destroy();
        return;
      }
      if (got.length < HTTP2_PREFACE.length) return;
      socket.off('data', onData);
      socket.pause();
      const key = peerKey(socket);
      clearTimeout(this.#handshakeTimers.get(key));
      this.#handshakeTimers.delete(key);
      socket.unshift(got);
      this.#options.onConnection(socket);
    };
    socket.on('data', onData);
    if (socket instanceof tls.TLSSocket) socket.on('error', () => socket.destroy());
  }

  #acceptError(err: Error): void {
    this.#acceptErrors++;
    const now = Date.now();
    if (now - this.#lastAcceptErrorReport >= 1000) {
      this.#lastAcceptErrorReport = now;
      this.#options.onAcceptError?.(err);
    }
  }
}

function peerKey(socket: net.Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}
