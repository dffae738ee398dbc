// TCP probes (connect, optional TLS, optional send/expect) and TLS probes (handshake, chain,
// expiry). One connection per run, closed as soon as the answer is known.

import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { FAILURES } from './errors.js';
import { MAX_BODY_BYTES } from './http.js';
import { settleOnce } from './settle.js';
import { readCa, recordTls, tlsFailure } from './tls-info.js';
import type { ProbeOutcome, ProbeTls, TcpTarget, TlsTarget } from './types.js';

/** Runs a tcp or tls probe into `out`; never rejects. */
export function runTcp(target: TcpTarget | TlsTarget, signal: AbortSignal, out: ProbeOutcome): Promise<void> {
  return new Promise((resolvePromise) => {
    const tls: ProbeTls | null = target.kind === 'tls' ? target.tls : target.tls;
    const send = target.kind === 'tcp' ? target.send : null;
    const expect = target.kind === 'tcp' ? target.expect : null;
    const start = performance.now();
    let received = '';
    const run = settleOnce<void>(out, signal, () => socket.destroy(), resolvePromise, undefined);
    const finish = (): void => run.succeed();
    const fail = (code: string, detail: string): void => run.fail(code, detail);
    const onAbort = (): void => fail(expect !== null && out.connected ? FAILURES.expect.code : FAILURES.timeout.code, expect !== null && out.connected ? `no match for ${String(expect)} before the timeout` : 'timed out');
    const socket: Socket =
      tls === null
        ? netConnect({ host: target.host, port: target.port })
        : tlsConnect({
            host: target.host,
            port: target.port,
            rejectUnauthorized: !tls.insecureSkipVerify,
            ...(tls.caFile === null ? {} : { ca: readCa(tls.caFile) }),
            ...(tls.serverName === null ? (isIp(target.host) ? {} : { servername: target.host }) : { servername: tls.serverName }),
          });
    socket.once('lookup', () => {
      out.resolveSeconds = (performance.now() - start) / 1000;
    });
    const ready = (): void => {
      if (send !== null) socket.write(send);
      if (expect === null) finish();
    };
    socket.once('connect', () => {
      out.connected = true;
      out.ip = socket.remoteAddress ?? null;
      if (tls === null) ready();
    });
    if (tls !== null) {
      socket.once('secureConnect', () => {
        recordTls(socket as TLSSocket, out);
        ready();
      });
    }
    socket.on('data', (chunk: Buffer) => {
      if (received.length < MAX_BODY_BYTES) received += chunk.toString('utf8');
      out.body = received;
      out.bodyBytes += chunk.length;
      if (expect !== null && expect.test(received)) finish();
    });
    socket.on('end', () => {
      if (expect !== null && !run.settled) fail(FAILURES.expect.code, `the connection closed without a match for ${String(expect)}`);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (run.settled) return;
      const tlsProblem = tlsFailure(err);
      if (tlsProblem !== null) return fail(FAILURES.tls.code, tlsProblem);
      if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return fail(FAILURES.resolve.code, err.message);
      fail(out.connected && tls !== null && out.tlsVersion === null ? FAILURES.tls.code : FAILURES.connect.code, err.message);
    });
    run.watch(onAbort);
  });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
