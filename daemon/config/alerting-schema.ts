// `alerting:` — the daemon's own burn-rate alerts to Alertmanager (exporters/alertmanager), and
// `slo.source:` — where a status instance reads the fleet's SLO events (daemon/slo/prometheus-source.ts).
// Each problem is reported with its key path, e.g. `alerting.alertmanagers[0].url: must be …`.

import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { describe, parseDuration } from './schema.js';
import type { AlertingSettings, AlertmanagerSettings, SloSourceSettings } from './types.js';

/** Defaults (docs/configuration.md and exporters/alertmanager/README.md mirror them). */
export const ALERTING_DEFAULTS = { resendIntervalMs: 60_000, evaluateIntervalMs: 5_000, timeoutMs: 10_000 } as const;
export const SLO_SOURCE_DEFAULTS = { intervalMs: 60_000, timeoutMs: 10_000 } as const;

type Problem = (path: (string | number)[], message: string) => void;

function httpUrl(value: unknown, path: (string | number)[], problem: Problem): string | undefined {
  let parsed: URL | undefined;
  try {
    parsed = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    problem(path, `must be an http:// or https:// URL (got ${describe(value)})`);
    return undefined;
  }
  return (value as string).replace(/\/+$/, '');
}

function headers(value: unknown, path: (string | number)[], problem: Problem): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    problem(path, `must be a mapping of header names to string values (got ${describe(value)})`);
    return {};
  }
  for (const name of Object.keys(value)) if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) problem(path, `has an invalid header name: ${JSON.stringify(name)}`);
  return { ...(value as Record<string, string>) };
}

function durationKey(value: unknown, fallback: number, path: (string | number)[], problem: Problem, minMs: number, maxMs: number, wording: string): number {
  if (value === undefined) return fallback;
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined || ms < minMs || ms > maxMs) {
    problem(path, `must be ${wording} (got ${describe(value)})`);
    return fallback;
  }
  return ms;
}

function readable(value: unknown, path: (string | number)[], problem: Problem): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value === '') {
    problem(path, `must be a file path (got ${describe(value)})`);
    return null;
  }
  const file = resolve(value);
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    problem(path, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return file;
}

function unknownKeys(value: Record<string, unknown>, allowed: readonly string[], path: (string | number)[], ctx: z.RefinementCtx): boolean {
  const extra = Object.keys(value).filter((k) => !allowed.includes(k));
  if (extra.length > 0) ctx.addIssue({ code: 'unrecognized_keys', keys: extra, path, input: value });
  return extra.length > 0;
}

function parseAlertmanager(item: unknown, i: number, problem: Problem, ctx: z.RefinementCtx): AlertmanagerSettings | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    problem([i], `must be a mapping with url (got ${describe(item)})`);
    return undefined;
  }
  const am = item as Record<string, unknown>;
  if (unknownKeys(am, ['url', 'headers', 'bearer_token', 'tls', 'timeout'], [i], ctx)) problem([i], 'has unknown keys');
  const url = httpUrl(am['url'], [i, 'url'], problem);
  const token = am['bearer_token'];
  if (token !== undefined && (typeof token !== 'string' || token === '')) problem([i, 'bearer_token'], `must be a non-empty string (got ${describe(token)})`);
  let tls: AlertmanagerSettings['tls'] = null;
  const rawTls = am['tls'];
  if (rawTls !== undefined && rawTls !== null) {
    if (typeof rawTls !== 'object' || Array.isArray(rawTls)) problem([i, 'tls'], `must be a mapping with ca_file, cert_file, key_file, insecure_skip_verify (got ${describe(rawTls)})`);
    else {
      const t = rawTls as Record<string, unknown>;
      unknownKeys(t, ['ca_file', 'cert_file', 'key_file', 'insecure_skip_verify'], [i, 'tls'], ctx);
      const skip = t['insecure_skip_verify'] ?? false;
      if (typeof skip !== 'boolean') problem([i, 'tls', 'insecure_skip_verify'], `must be true or false (got ${describe(skip)})`);
      tls = {
        caFile: readable(t['ca_file'], [i, 'tls', 'ca_file'], problem),
        certFile: readable(t['cert_file'], [i, 'tls', 'cert_file'], problem),
        keyFile: readable(t['key_file'], [i, 'tls', 'key_file'], problem),
        insecureSkipVerify: skip === true,
      };
      if ((tls.certFile === null) !== (tls.keyFile === null)) problem([i, 'tls'], 'cert_file and key_file go together (a client certificate needs its key)');
    }
  }
  const timeoutMs = durationKey(am['timeout'], ALERTING_DEFAULTS.timeoutMs, [i, 'timeout'], problem, 1, 60_000, 'a duration up to 1m, e.g. 10s');
  if (url === undefined) return undefined;
  return { url, headers: headers(am['headers'], [i, 'headers'], problem), bearerToken: typeof token === 'string' && token !== '' ? token : null, tls, timeoutMs };
}

/** The `alerting` section: absent or null is no Alertmanager. */
export const alertingSchema = z
  .unknown()
  .optional()
  .transform((value, ctx): AlertingSettings => {
    const none: AlertingSettings = { alertmanagers: [], resendIntervalMs: ALERTING_DEFAULTS.resendIntervalMs, evaluateIntervalMs: ALERTING_DEFAULTS.evaluateIntervalMs, statusUrl: null };
    if (value === undefined || value === null) return none;
    let failed = false;
    const problem: Problem = (path, message) => {
      failed = true;
      ctx.addIssue({ code: 'custom', message, path, input: value });
    };
    if (typeof value !== 'object' || Array.isArray(value)) {
      problem([], `must be a mapping with alertmanagers (got ${describe(value)})`);
      return z.NEVER;
    }
    const raw = value as Record<string, unknown>;
    if (unknownKeys(raw, ['alertmanagers', 'resend_interval', 'evaluate_interval', 'status_url'], [], ctx)) failed = true;
    const list = raw['alertmanagers'] ?? [];
    const alertmanagers: AlertmanagerSettings[] = [];
    if (!Array.isArray(list)) problem(['alertmanagers'], `must be a list of { url } (got ${describe(list)})`);
    else {
      list.forEach((item: unknown, i) => {
        const am = parseAlertmanager(item, i, (path, message) => problem(['alertmanagers', ...path], message), ctx);
        if (am !== undefined) alertmanagers.push(am);
      });
    }
    const resendIntervalMs = durationKey(raw['resend_interval'], ALERTING_DEFAULTS.resendIntervalMs, ['resend_interval'], problem, 1000, 3_600_000, 'a duration from 1s to 1h, e.g. 1m');
    const evaluateIntervalMs = durationKey(raw['evaluate_interval'], ALERTING_DEFAULTS.evaluateIntervalMs, ['evaluate_interval'], problem, 100, 300_000, 'a duration from 100ms to 5m, e.g. 5s');
    const statusUrl = raw['status_url'] === undefined || raw['status_url'] === null ? null : (httpUrl(raw['status_url'], ['status_url'], problem) ?? null);
    return failed ? z.NEVER : { alertmanagers, resendIntervalMs, evaluateIntervalMs, statusUrl };
  });

/** The `slo.source` key: absent or null is local ingest. */
export const sloSourceSchema = z
  .unknown()
  .optional()
  .transform((value, ctx): SloSourceSettings | null => {
    if (value === undefined || value === null) return null;
    let failed = false;
    const problem: Problem = (path, message) => {
      failed = true;
      ctx.addIssue({ code: 'custom', message, path, input: value });
    };
    if (typeof value !== 'object' || Array.isArray(value)) {
      problem([], `must be a mapping with prometheus: { url } (got ${describe(value)})`);
      return z.NEVER;
    }
    if (unknownKeys(value as Record<string, unknown>, ['prometheus'], [], ctx)) return z.NEVER;
    const p = (value as Record<string, unknown>)['prometheus'];
    if (typeof p !== 'object' || p === null || Array.isArray(p)) {
      problem(['prometheus'], `must be a mapping with url (got ${describe(p)})`);
      return z.NEVER;
    }
    const raw = p as Record<string, unknown>;
    if (unknownKeys(raw, ['url', 'headers', 'bearer_token', 'interval', 'timeout', 'backfill'], ['prometheus'], ctx)) failed = true;
    const url = httpUrl(raw['url'], ['prometheus', 'url'], problem);
    const token = raw['bearer_token'];
    if (token !== undefined && (typeof token !== 'string' || token === '')) problem(['prometheus', 'bearer_token'], `must be a non-empty string (got ${describe(token)})`);
    const intervalMs = durationKey(raw['interval'], SLO_SOURCE_DEFAULTS.intervalMs, ['prometheus', 'interval'], problem, 1000, 3_600_000, 'a duration from 1s to 1h, e.g. 1m');
    const timeoutMs = durationKey(raw['timeout'], SLO_SOURCE_DEFAULTS.timeoutMs, ['prometheus', 'timeout'], problem, 100, 120_000, 'a duration up to 2m, e.g. 10s');
    // Absent: the longest SLO window (decided by the source, which knows the SLOs).
    const backfillMs = raw['backfill'] === undefined ? null : durationKey(raw['backfill'], 0, ['prometheus', 'backfill'], problem, 60_000, 92 * 86_400_000, 'a duration from 1m to 92d, e.g. 3d');
    const hdrs = headers(raw['headers'], ['prometheus', 'headers'], problem);
    if (failed || url === undefined) return z.NEVER;
    return { kind: 'prometheus', url, headers: hdrs, bearerToken: typeof token === 'string' ? token : null, intervalMs, timeoutMs, backfillMs };
  });
