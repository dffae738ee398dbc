// HTTP/1.1 and HTTPS probes on node:http/https. Every run opens its own connection (no agent,
// no keep-alive), as blackbox_exporter does, so the phases are real: resolve (the socket's
// `lookup`), connect, tls (`secureConnect`), processing (to the first response byte), transfer.

import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { FAILURES } from './errors.js';
import { settleOnce } from './settle.js';
import { readCa, recordTls, tlsFailure } from './tls-info.js';
import type { HttpTarget, ProbeOutcome } from './types.js';

/** Bytes of body kept for conditions; the rest is read and counted but not stored. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Redirects followed before the run fails (net/http's default, as blackbox_exporter). */
const MAX_REDIRECTS = 10;

/** What the conditions of a probe need kept from the response. */
export interface HttpNeeds {
  body: boolean;
  headers: boolean;
}

/** Runs one HTTP probe into `out`; resolves when done or failed (never rejects). `signal` aborts at the timeout. */
export async function runHttp(target: HttpTarget, needs: HttpNeeds, signal: AbortSignal, out: ProbeOutcome): Promise<void> {
  const phases = { resolve: 0, connect: 0, tls: 0, processing: 0, transfer: 0 };
  out.phases = phases;
  let url = new URL(target.url);
  let method = target.method;
  let body = target.body;
  for (let hop = 0; ; hop++) {
    const response = await exchange(url, method, body, target, needs, signal, out, phases);
    if (response === null) return;
    const location = response.location;
    if (!target.followRedirects || location === null || out.status < 300 || out.status > 399) return;
    if (hop >= MAX_REDIRECTS) {
      out.error = FAILURES.redirects.code;
      out.detail = `more than ${MAX_REDIRECTS} redirects`;
      return;
    }
    url = new URL(location, url);
    out.redirects++;
    // 303, and 301/302 after a POST, turn into GET without a body (as browsers and net/http do).
    if (out.status === 303 || ((out.status === 301 || out.status === 302) && method === 'POST')) {
      method = 'GET';
      body = null;
    }
  }
}

/** One request and response; null when it failed (out.error set). */
function exchange(url: URL, method: string, body: string | null, target: HttpTarget, needs: HttpNeeds, signal: AbortSignal, out: ProbeOutcome,
  phases: ProbeOutcome['phases'] & object): Promise<{ location: string | null } | null> {
  return new Promise((resolvePromise) => {
    const https = url.protocol === 'https:';
    const start = performance.now();
    let mark = start;
    const lap = (): number => {
      const now = performance.now();
      const seconds = (now - mark) / 1000;
      mark = now;
      return seconds;
    };
    // A failed exchange destroys its request; a finished one has nothing left open.
    const run = settleOnce<{ location: string | null } | null>(out, signal, (failed) => {
      if (failed) req.destroy();
    }, resolvePromise, null);
    const fail = (code: string, detail: string): void => run.fail(code, detail);
    const onAbort = (): void => fail(FAILURES.timeout.code, 'timed out');
    const headers: Record<string, string> = { 'user-agent': 'Vigil-Probe/1', ...target.headers };
    if (body !== null && headers['content-length'] === undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const options = {
      method,
      headers,
      agent: false as const,
      ...(https
        ? {
            rejectUnauthorized: !target.tls.insecureSkipVerify,
            ...(target.tls.caFile === null ? {} : { ca: readCa(target.tls.caFile) }),
            ...(target.tls.serverName === null ? {} : { servername: target.tls.serverName }),
          }
        : {}),
    };
    const req = (https ? httpsRequest : httpRequest)(url, options);
    req.on('socket', (socket: Socket) => {
      socket.once('lookup', () => {
        phases.resolve += lap();
        out.resolveSeconds += (performance.now() - start) / 1000;
      });
      socket.once('connect', () => {
        phases.connect += lap();
        out.connected = true;
        out.ip = socket.remoteAddress ?? null;
      });
      if (https) {
        socket.once('secureConnect', () => {
          phases.tls += lap();
          recordTls(socket as TLSSocket, out);
        });
      }
    });
    req.on('response', (res: IncomingMessage) => {
      phases.processing += lap();
      out.status = res.statusCode ?? 0;
      out.httpVersion = Number(res.httpVersion);
      const length = res.headers['content-length'];
      out.contentLength = length === undefined ? -1 : Number(length);
      if (needs.headers) {
        const kept: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) kept[name] = Array.isArray(value) ? value.join(', ') : value;
        out.headers = kept;
      }
      const chunks: Buffer[] = [];
      let kept = 0;
      out.bodyBytes = 0;
      res.on('data', (chunk: Buffer) => {
        out.bodyBytes += chunk.length;
        if (needs.body && kept < MAX_BODY_BYTES) {
          chunks.push(chunk.length + kept > MAX_BODY_BYTES ? chunk.subarray(0, MAX_BODY_BYTES - kept) : chunk);
          kept += chunk.length;
        }
      });
      res.on('end', () => {
        phases.transfer += lap();
        if (needs.body) out.body = Buffer.concat(chunks).toString('utf8');
        run.succeed({ location: res.headers.location ?? null });
      });
      res.on('error', (err) => fail(FAILURES.http.code, err.message));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (signal.aborted) return fail(FAILURES.timeout.code, 'timed out');
      const tlsProblem = tlsFailure(err);
      if (tlsProblem !== null) return fail(FAILURES.tls.code, tlsProblem);
      if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return fail(FAILURES.resolve.code, err.message);
      if (!out.connected) return fail(FAILURES.connect.code, err.message);
      fail(FAILURES.http.code, err.message);
    });
    if (!run.watch(onAbort)) return;
    req.end(body ?? undefined);
  });
}
