// One HTTP POST of a snappy-compressed WriteRequest, and what its outcome means for the queue:
// sent, retry (after how long), or drop (for what reason). Any failure of the transport (refused,
// reset, timeout, a response that is not HTTP) is a retry; nothing here throws.

import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';

/** How an endpoint is reached (the resolved `remote_write[]` entry). */
export interface ClientOptions {
  url: string;
  headers: Record<string, string>;
  bearerToken: string | null;
  basicAuth: { username: string; password: string } | null;
  tls: { caFile: string | null; certFile: string | null; keyFile: string | null } | null;
  timeoutMs: number;
  userAgent: string;
}

/** What one attempt came to. */
export type Attempt =
  | { kind: 'sent' }
  | { kind: 'retry'; reason: string; retryAfterMs: number | null; status: number; body: string }
  | { kind: 'drop'; reason: string; status: number; body: string };

/** Response bodies are read up to this much (for the log); the rest is discarded. */
const MAX_BODY = 4096;
/** A Retry-After longer than this is capped (a typo on the receiver must not park the queue for days). */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** The HTTP side of one endpoint: a keep-alive agent and the fixed headers. */
export class RemoteWriteClient {
  readonly #url: URL;
  readonly #request: typeof httpRequest;
  readonly #agent: HttpAgent;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;

  constructor(o: ClientOptions) {
    this.#url = new URL(o.url);
    const https = this.#url.protocol === 'https:';
    this.#request = https ? httpsRequest : httpRequest;
    if (https) {
      const tls = o.tls;
      this.#agent = new HttpsAgent({
        keepAlive: true,
        ...(tls?.caFile ? { ca: readFileSync(tls.caFile) } : {}),
        ...(tls?.certFile ? { cert: readFileSync(tls.certFile) } : {}),
        ...(tls?.keyFile ? { key: readFileSync(tls.keyFile) } : {}),
      });
    } else {
      this.#agent = new HttpAgent({ keepAlive: true });
    }
    const headers: Record<string, string> = { ...o.headers };
    if (o.bearerToken !== null) headers['authorization'] = `Bearer ${o.bearerToken}`;
    else if (o.basicAuth !== null) headers['authorization'] = `Basic ${Buffer.from(`${o.basicAuth.username}:${o.basicAuth.password}`).toString('base64')}`;
    else if (this.#url.username !== '') {
      headers['authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(this.#url.username)}:${decodeURIComponent(this.#url.password)}`).toString('base64')}`;
    }
    // The protocol's headers last: a user header cannot break them.
    headers['content-type'] = 'application/x-protobuf';
    headers['content-encoding'] = 'snappy';
    headers['x-prometheus-remote-write-version'] = '0.1.0';
    headers['user-agent'] = o.userAgent;
    this.#headers = headers;
    this.#timeoutMs = o.timeoutMs;
  }

  /** POSTs `body` (already snappy-compressed); `signal` aborts it (shutdown). */
  send(body: Uint8Array, signal: AbortSignal): Promise<Attempt> {
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      const finish = (a: Attempt): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(a);
      };
      const req = this.#request(this.#url, { method: 'POST', agent: this.#agent, headers: { ...this.#headers, 'content-length': String(body.length) } });
      const timer = setTimeout(() => {
        finish({ kind: 'retry', reason: 'timeout', retryAfterMs: null, status: 0, body: '' });
        req.destroy(new Error('timeout'));
      }, this.#timeoutMs);
      const onAbort = (): void => {
        finish({ kind: 'retry', reason: 'aborted', retryAfterMs: null, status: 0, body: '' });
        req.destroy(new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort);
      req.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'retry', reason: networkReason(err), retryAfterMs: null, status: 0, body: err.message }));
      req.on('response', (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < MAX_BODY) text += chunk.slice(0, MAX_BODY - text.length);
        });
        res.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'retry', reason: networkReason(err), retryAfterMs: null, status: res.statusCode ?? 0, body: text }));
        res.on('end', () => finish(classify(res.statusCode ?? 0, text, res.headers['retry-after'])));
      });
      if (signal.aborted) onAbort();
      else req.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Status code → sent, retry or drop. */
export function classify(status: number, body: string, retryAfter: string | undefined, nowMs = Date.now()): Attempt {
  if (status >= 200 && status < 300) return { kind: 'sent' };
  if (status === 429) return { kind: 'retry', reason: 'http_429', retryAfterMs: parseRetryAfter(retryAfter, nowMs), status, body };
  if (status >= 500 && status < 600) return { kind: 'retry', reason: 'http_5xx', retryAfterMs: null, status, body };
  if (status >= 400 && status < 500) return { kind: 'drop', reason: dropReason(status), status, body };
  // 1xx/3xx (redirects are not followed: a push must not silently move) and nonsense.
  return { kind: 'retry', reason: 'bad_response', retryAfterMs: null, status, body };
}

function dropReason(status: number): string {
  switch (status) {
    case 400: return 'bad_request';
    case 401:
    case 403: return 'unauthorized';
    case 404: return 'not_found';
    case 413: return 'too_large';
    default: return 'client_error';
  }
}

/** Retry-After in seconds or as an HTTP date → ms from now (capped), or null. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined || value.trim() === '') return null;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return null;
    ms = Math.max(0, at - nowMs);
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

function networkReason(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED': return 'connection_refused';
    case 'ECONNRESET':
    case 'EPIPE': return 'connection_reset';
    case 'ETIMEDOUT': return 'timeout';
    default:
      return typeof err.code === 'string' && err.code.startsWith('HPE_') ? 'bad_response' : 'network_error';
  }
}
