// Real targets for the probe tests, all on 127.0.0.1: an HTTP server and an HTTPS server (a CA and
// a leaf certificate expiring in 3 days, made by openssl), a port nobody listens on, a TCP banner
// server, a gRPC health server, and dnsmasq as the DNS server. Not used by the daemon.

import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import type { Server as TcpServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server as GrpcServer, ServerCredentials, status as GrpcStatus } from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { freePort, pollUntil } from '../../test-support/wait.js';

/** The CA and the leaf certificate (CN localhost, SAN IP:127.0.0.1 and DNS:localhost). */
export interface TestPki {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The leaf's notAfter, ms since the epoch. */
  leafNotAfterMs: number;
}

/** Makes a CA (30 days) and a leaf signed by it expiring in `leafDays` days, with openssl. */
export function makePki(leafDays = 3): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pki-'));
  const run = (...args: string[]): string => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=Vigil Test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'leaf.key', '-out', 'leaf.csr');
  writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', String(leafDays), '-extfile', 'leaf.ext', '-out', 'leaf.pem');
  const notAfter = run('x509', '-in', 'leaf.pem', '-noout', '-enddate').trim().replace(/^notAfter=/, '');
  return { dir, caFile: join(dir, 'ca.pem'), certFile: join(dir, 'leaf.pem'), keyFile: join(dir, 'leaf.key'), leafNotAfterMs: Date.parse(notAfter) };
}

/** The routes both web servers answer. */
function route(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  switch (url.pathname) {
    case '/ok':
      res.writeHead(200, { 'content-type': 'application/json', 'x-version': '1.2.3' });
      res.end(JSON.stringify({ status: 'UP', data: [{ id: 7, name: 'first' }], size: 2 }));
      return;
    case '/500':
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('broken');
      return;
    case '/404':
      res.writeHead(404);
      res.end('not here');
      return;
    case '/redirect':
      res.writeHead(302, { location: '/ok' });
      res.end();
      return;
    case '/slow': {
      const ms = Number(url.searchParams.get('ms') ?? '3000');
      const timer = setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('late');
      }, ms);
      req.socket.once('close', () => clearTimeout(timer));
      return;
    }
    default:
      res.writeHead(404);
      res.end();
  }
}

/** Listens on 127.0.0.1 (port 0 unless given); resolves with the port. */
function listen(server: HttpServer | TcpServer, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/** Closes a server and every connection it holds. */
function close(server: HttpServer | TcpServer): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** An HTTP target that can be taken down and brought back on the same port. */
export class FlakyHttp {
  #server: HttpServer | null = null;
  port = 0;
  async up(): Promise<void> {
    const server = createHttpServer(route);
    this.port = await listen(server, this.port);
    this.#server = server;
  }
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (server !== null) await close(server);
  }
}

/** gRPC health server: '' and 'api' are SERVING, 'db' NOT_SERVING, anything else NOT_FOUND. */
export async function startGrpcHealth(): Promise<{ port: number; stop(): Promise<void> }> {
  const server = new GrpcServer();
  const statuses = new Map<string, number>([['', 1], ['api', 1], ['db', 2]]);
  server.register(
    '/grpc.health.v1.Health/Check',
    (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
      const req = call.request;
      // HealthCheckRequest { string service = 1; } with a one-byte length (test names are short).
      const service = req.length >= 2 && req[0] === 0x0a ? req.toString('utf8', 2, 2 + req[1]!) : '';
      const status = statuses.get(service);
      if (status === undefined) return callback({ code: GrpcStatus.NOT_FOUND, details: `unknown service ${service}` });
      callback(null, Buffer.from([0x08, status]));
    },
    (b: Buffer) => b,
    (b: Buffer) => b,
    'unary',
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

/** dnsmasq on a loopback port: ok.test A 127.0.0.1, txt.test TXT, everything else under .test NXDOMAIN. */
export async function startDnsmasq(): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn('dnsmasq', [
    '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--no-poll', '--bind-interfaces',
    '--listen-address=127.0.0.1', `--port=${port}`, '--pid-file=', '--user=root',
    '--local=/test/', '--address=/ok.test/127.0.0.1', '--txt-record=txt.test,vigil probe',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Ready once it answers a query.
  const { runDns } = await import('./dns.js');
  const { emptyOutcome } = await import('./types.js');
  await pollUntil(`dnsmasq on port ${port} (${stderr})`, 10_000, async () => {
    const out = emptyOutcome();
    await runDns({ kind: 'dns', host: '127.0.0.1', port, name: 'ok.test', type: 'A', typeCode: 1, rcode: 'NOERROR', answers: [] }, AbortSignal.timeout(300), out);
    return out.connected ? true : undefined;
  });
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Every target of the probe tests. */
export interface Targets {
  pki: TestPki;
  http: FlakyHttp;
  httpsPort: number;
  closedPort: number;
  tcpPort: number;
  grpcPort: number;
  dnsPort: number;
  stop(): Promise<void>;
}

/** Starts every target. */
export async function startTargets(): Promise<Targets> {
  const pki = makePki(3);
  const http = new FlakyHttp();
  await http.up();
  const https = createHttpsServer({ cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile) }, route);
  const httpsPort = await listen(https);
  const closedPort = await freePort();
  const tcp = createTcpServer((socket: Socket) => {
    socket.write('+OK vigil-test ready\r\n');
    socket.on('data', (d) => socket.write(`echo ${d.toString()}`));
    socket.on('error', () => {});
  });
  const tcpPort = await listen(tcp);
  const grpc = await startGrpcHealth();
  const dns = await startDnsmasq();
  return {
    pki, http, httpsPort, closedPort, tcpPort, grpcPort: grpc.port, dnsPort: dns.port,
    stop: async () => {
      await Promise.allSettled([http.down(), close(https), close(tcp), grpc.stop(), dns.stop()]);
      rmSync(pki.dir, { recursive: true, force: true });
    },
  };
}
