// `remote_write:` — Prometheus remote_write endpoints (exporters/remote-write). Each problem is
// reported with its key path, e.g. `remote_write[0].queue.shards: must be an integer from 1 to 64`.

import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { describe, parseDuration, parseSize } from './schema.js';
import type { RemoteWriteSettings } from './types.js';

/** Defaults of the optional keys (exporters/remote-write/README.md and docs/configuration.md mirror them). */
export const REMOTE_WRITE_DEFAULTS = {
  interval: '15s',
  shards: 4,
  maxSamplesPerSend: 2000,
  timeout: '30s',
  minBackoff: '30ms',
  maxBackoff: '5s',
  walMaxSize: '1GiB',
  walSegmentSize: '32MiB',
  walFsync: 'always',
  metadataSend: true,
  metadataSendInterval: '1m',
  metadataMaxPerSend: 2000,
} as const;

const KEYS = ['url', 'interval', 'headers', 'bearer_token', 'basic_auth', 'tls', 'queue', 'wal', 'metadata'];
const METADATA_KEYS = ['send', 'send_interval', 'max_samples_per_send'];
const QUEUE_KEYS = ['shards', 'max_samples_per_send', 'timeout', 'min_backoff', 'max_backoff'];
const WAL_KEYS = ['max_size', 'segment_size', 'fsync'];
const TLS_KEYS = ['ca_file', 'cert_file', 'key_file'];
/** Headers the protocol sets itself; a user value would break it. */
const RESERVED_HEADERS = ['content-type', 'content-encoding', 'content-length', 'x-prometheus-remote-write-version', 'user-agent', 'host'];

type Problem = (path: (string | number)[], message: string) => void;

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `remote_write` leaf: absent or null is no endpoint. */
export const remoteWriteSchema = z
  .unknown()
  .optional()
  .transform((value, ctx): RemoteWriteSettings[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: `must be a list of { url, ... } (got ${describe(value)})`, input: value });
      return z.NEVER;
    }
    let failed = false;
    const problem: Problem = (path, message) => {
      failed = true;
      ctx.addIssue({ code: 'custom', message, path, input: value });
    };
    const unknownKeys = (path: (string | number)[], v: Record<string, unknown>, allowed: string[]): void => {
      const extra = Object.keys(v).filter((k) => !allowed.includes(k));
      if (extra.length === 0) return;
      failed = true;
      ctx.addIssue({ code: 'unrecognized_keys', keys: extra, path, input: v });
    };
    const out: RemoteWriteSettings[] = [];
    const urls = new Map<string, number>();
    value.forEach((item: unknown, i) => {
      if (!isMapping(item)) return problem([i], `must be a mapping with url (got ${describe(item)})`);
      unknownKeys([i], item, KEYS);
      const url = item['url'];
      if (typeof url === 'string') {
        const seen = urls.get(url);
        if (seen !== undefined) problem([i, 'url'], `is also remote_write[${seen}].url (each endpoint once; its WAL is named after its URL)`);
        else urls.set(url, i);
      }
      const settings = parseEntry(item, i, problem, unknownKeys);
      if (settings !== null) out.push(settings);
    });
    return failed ? z.NEVER : out;
  });

function parseEntry(
  item: Record<string, unknown>,
  i: number,
  problem: Problem,
  unknownKeys: (path: (string | number)[], v: Record<string, unknown>, allowed: string[]) => void,
): RemoteWriteSettings | null {
  let ok = true;
  const fail: Problem = (path, message) => {
    ok = false;
    problem([i, ...path], message);
  };
  const url = item['url'];
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) fail(['url'], `must be an http:// or https:// URL, e.g. http://mimir:9009/api/v1/push (got ${describe(url)})`);

  const duration = (path: (string | number)[], v: unknown, fallback: string, maxMs = Infinity): number => {
    const ms = typeof (v ?? fallback) === 'string' ? parseDuration((v ?? fallback) as string) : undefined;
    if (ms === undefined || ms <= 0 || ms > maxMs) {
      fail(path, `must be a positive duration such as 500ms, 15s or 5m${maxMs < Infinity ? ` up to ${maxMs / 1000}s` : ''} (got ${describe(v)})`);
      return 1;
    }
    return ms;
  };
  const integer = (path: (string | number)[], v: unknown, fallback: number, max: number): number => {
    const n = v ?? fallback;
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 && n <= max) return n;
    fail(path, `must be an integer from 1 to ${max} (got ${describe(v)})`);
    return fallback;
  };
  const size = (path: (string | number)[], v: unknown, fallback: string, min: number): number => {
    const raw = v ?? fallback;
    const bytes = typeof raw === 'string' || typeof raw === 'number' ? parseSize(raw) : undefined;
    if (bytes === undefined || bytes < min) {
      fail(path, `must be a size of at least ${min} bytes: bytes, or a number with KiB, MiB, GiB, KB, MB or GB (got ${describe(v)})`);
      return min;
    }
    return bytes;
  };

  const intervalMs = duration(['interval'], item['interval'], REMOTE_WRITE_DEFAULTS.interval);
  if (intervalMs < 100 && intervalMs !== 1) fail(['interval'], `must be at least 100ms (got ${describe(item['interval'])})`);

  const headers: Record<string, string> = {};
  const rawHeaders = item['headers'];
  if (rawHeaders !== undefined && rawHeaders !== null) {
    if (!isMapping(rawHeaders)) fail(['headers'], `must be a mapping of header names to values (got ${describe(rawHeaders)})`);
    else {
      for (const [name, v] of Object.entries(rawHeaders)) {
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) fail(['headers', name], 'is not a valid HTTP header name');
        else if (RESERVED_HEADERS.includes(name.toLowerCase())) fail(['headers', name], 'is set by the remote-write protocol itself and cannot be overridden');
        else if (typeof v !== 'string' || /[\r\n]/.test(v)) fail(['headers', name], `must be a string on one line (got ${describe(v)})`);
        else headers[name] = v;
      }
    }
  }

  const bearer = item['bearer_token'];
  let bearerToken: string | null = null;
  if (bearer !== undefined && bearer !== null) {
    if (typeof bearer !== 'string' || bearer === '' || /[\s]/.test(bearer)) fail(['bearer_token'], 'must be a non-empty token without spaces');
    else bearerToken = bearer;
  }
  let basicAuth: RemoteWriteSettings['basicAuth'] = null;
  const basic = item['basic_auth'];
  if (basic !== undefined && basic !== null) {
    if (!isMapping(basic)) fail(['basic_auth'], `must be a mapping with username and password (got ${describe(basic)})`);
    else {
      unknownKeys([i, 'basic_auth'], basic, ['username', 'password']);
      const { username, password } = basic as { username?: unknown; password?: unknown };
      if (typeof username !== 'string' || username === '' || username.includes(':')) fail(['basic_auth', 'username'], 'must be a non-empty string without ":"');
      if (typeof password !== 'string') fail(['basic_auth', 'password'], `must be a string (got ${describe(password)})`);
      if (typeof username === 'string' && typeof password === 'string') basicAuth = { username, password };
    }
  }
  const hasAuthHeader = Object.keys(headers).some((h) => h.toLowerCase() === 'authorization');
  if ((bearerToken !== null ? 1 : 0) + (basicAuth !== null ? 1 : 0) + (hasAuthHeader ? 1 : 0) > 1) {
    fail(['bearer_token'], 'bearer_token, basic_auth and an Authorization header exclude each other: set one');
  }

  let tls: RemoteWriteSettings['tls'] = null;
  const rawTls = item['tls'];
  if (rawTls !== undefined && rawTls !== null) {
    if (!isMapping(rawTls)) fail(['tls'], `must be a mapping with ca_file, cert_file, key_file (got ${describe(rawTls)})`);
    else {
      unknownKeys([i, 'tls'], rawTls, TLS_KEYS);
      const file = (key: string): string | null => {
        const v = rawTls[key];
        if (v === undefined || v === null) return null;
        if (typeof v !== 'string' || v.trim() === '') {
          fail(['tls', key], `must be a file path (got ${describe(v)})`);
          return null;
        }
        const path = resolve(v);
        try {
          accessSync(path, fsConstants.R_OK);
          if (!statSync(path).isFile()) fail(['tls', key], `${path} is not a file`);
        } catch (err) {
          fail(['tls', key], `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        }
        return path;
      };
      tls = { caFile: file('ca_file'), certFile: file('cert_file'), keyFile: file('key_file') };
      if ((tls.certFile === null) !== (tls.keyFile === null)) fail(['tls'], 'cert_file and key_file go together (a client certificate needs its key)');
      if (parsed !== undefined && parsed.protocol !== 'https:') fail(['tls'], 'is only used with an https:// url');
    }
  }

  const queue = item['queue'] ?? {};
  let q = { shards: REMOTE_WRITE_DEFAULTS.shards as number, maxSamplesPerSend: REMOTE_WRITE_DEFAULTS.maxSamplesPerSend as number, timeoutMs: 30_000, minBackoffMs: 30, maxBackoffMs: 5000 };
  if (!isMapping(queue)) fail(['queue'], `must be a mapping (got ${describe(queue)})`);
  else {
    unknownKeys([i, 'queue'], queue, QUEUE_KEYS);
    q = {
      shards: integer(['queue', 'shards'], queue['shards'], REMOTE_WRITE_DEFAULTS.shards, 64),
      maxSamplesPerSend: integer(['queue', 'max_samples_per_send'], queue['max_samples_per_send'], REMOTE_WRITE_DEFAULTS.maxSamplesPerSend, 100_000),
      timeoutMs: duration(['queue', 'timeout'], queue['timeout'], REMOTE_WRITE_DEFAULTS.timeout, 300_000),
      minBackoffMs: duration(['queue', 'min_backoff'], queue['min_backoff'], REMOTE_WRITE_DEFAULTS.minBackoff),
      maxBackoffMs: duration(['queue', 'max_backoff'], queue['max_backoff'], REMOTE_WRITE_DEFAULTS.maxBackoff, 600_000),
    };
    if (q.minBackoffMs > q.maxBackoffMs) fail(['queue', 'min_backoff'], `must not exceed queue.max_backoff (${q.minBackoffMs} > ${q.maxBackoffMs} ms)`);
  }

  const wal = item['wal'] ?? {};
  let w: RemoteWriteSettings['wal'] = { maxBytes: 1024 ** 3, segmentBytes: 32 * 1024 ** 2, fsync: 'always' };
  if (!isMapping(wal)) fail(['wal'], `must be a mapping (got ${describe(wal)})`);
  else {
    unknownKeys([i, 'wal'], wal, WAL_KEYS);
    const maxBytes = size(['wal', 'max_size'], wal['max_size'], REMOTE_WRITE_DEFAULTS.walMaxSize, 64 * 1024);
    const segmentBytes = size(['wal', 'segment_size'], wal['segment_size'], REMOTE_WRITE_DEFAULTS.walSegmentSize, 4096);
    if (segmentBytes > maxBytes / 2) fail(['wal', 'segment_size'], `must be at most half of wal.max_size (${segmentBytes} > ${maxBytes / 2} bytes), so the oldest segment can be dropped`);
    const fsync = wal['fsync'] ?? REMOTE_WRITE_DEFAULTS.walFsync;
    if (fsync !== 'always' && fsync !== 'never') fail(['wal', 'fsync'], `must be always or never (got ${describe(wal['fsync'])})`);
    w = { maxBytes, segmentBytes, fsync: fsync === 'never' ? 'never' : 'always' };
  }
  // Prometheus' metadata_config: the same keys, the same defaults.
  const metadata = item['metadata'] ?? {};
  let m: NonNullable<RemoteWriteSettings['metadata']> = { send: true, intervalMs: 60_000, maxPerSend: REMOTE_WRITE_DEFAULTS.metadataMaxPerSend };
  if (!isMapping(metadata)) fail(['metadata'], `must be a mapping with send, send_interval, max_samples_per_send (got ${describe(metadata)})`);
  else {
    unknownKeys([i, 'metadata'], metadata, METADATA_KEYS);
    const send = metadata['send'] ?? REMOTE_WRITE_DEFAULTS.metadataSend;
    if (typeof send !== 'boolean') fail(['metadata', 'send'], `must be true or false (got ${describe(metadata['send'])})`);
    const sendIntervalMs = duration(['metadata', 'send_interval'], metadata['send_interval'], REMOTE_WRITE_DEFAULTS.metadataSendInterval);
    if (sendIntervalMs < 100 && sendIntervalMs !== 1) fail(['metadata', 'send_interval'], `must be at least 100ms (got ${describe(metadata['send_interval'])})`);
    m = {
      send: send === true,
      intervalMs: sendIntervalMs,
      maxPerSend: integer(['metadata', 'max_samples_per_send'], metadata['max_samples_per_send'], REMOTE_WRITE_DEFAULTS.metadataMaxPerSend, 100_000),
    };
  }
  if (!ok || typeof url !== 'string') return null;
  return { url, intervalMs, headers, bearerToken, basicAuth, tls, queue: q, wal: w, metadata: m };
}
