// `heartbeats:` — jobs that must ping on schedule (collectors/heartbeats). Every problem is reported
// with its key path, e.g. `heartbeats[0].schedule.cron: must be a five-field cron expression …`.

import { z } from 'zod';
import { Cron } from 'croner';
import { describe, parseDuration } from './schema.js';
import type { ComponentConfig, HeartbeatConfig, HeartbeatSchedule, SloConfig } from './types.js';

const KEYS = ['id', 'component', 'key', 'key_env', 'schedule', 'grace', 'max_runtime'];
/** Ids become label values and URL-free names: as plain as component and SLO ids. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Keys sit in a URL path segment: unreserved characters only, long enough not to be guessed. */
const KEY_PATTERN = /^[A-Za-z0-9._~-]{16,128}$/;
const ENV_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Defaults (collectors/heartbeats/README.md and docs/configuration.md mirror them). */
export const HEARTBEAT_DEFAULTS = { grace: '1h' } as const;
/** Shortest `every`: SLO events are counted per minute. */
const MIN_EVERY_MS = 60_000;
/** Stands for "slo.timezone" until the whole document is parsed. */
const DEFAULT_ZONE = '\u0000default';

/** True when `zone` is an IANA time zone this Node.js knows. */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The `heartbeats` leaf: absent or null is none. Zones left out are resolved by `resolveHeartbeatZones`. */
export const heartbeatsSchema = z
  .unknown()
  .optional()
  .transform((value, ctx): HeartbeatConfig[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: `must be a list of { id, component, key or key_env, schedule } (got ${describe(value)})`, input: value });
      return z.NEVER;
    }
    const out: HeartbeatConfig[] = [];
    let failed = false;
    const problem = (path: (string | number)[], message: string): undefined => {
      failed = true;
      ctx.addIssue({ code: 'custom', message, path, input: value });
      return undefined;
    };
    value.forEach((item: unknown, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) return problem([i], `must be a mapping with id, component, key or key_env, and schedule (got ${describe(item)})`);
      const hb = item as Record<string, unknown>;
      const unknown = Object.keys(hb).filter((k) => !KEYS.includes(k));
      if (unknown.length > 0) {
        failed = true;
        ctx.addIssue({ code: 'unrecognized_keys', keys: unknown, path: [i], input: hb });
      }
      const id = typeof hb['id'] === 'string' && ID_PATTERN.test(hb['id']) ? hb['id'] : problem([i, 'id'], `must be an id of letters, digits, '-', '_' or '.', starting with a letter or digit (got ${describe(hb['id'])})`);
      const component =
        typeof hb['component'] === 'string' && ID_PATTERN.test(hb['component']) ? hb['component'] : problem([i, 'component'], `must be a component id (got ${describe(hb['component'])})`);
      const key = parseKey(hb, (key, message) => problem([i, key], message));
      const schedule = parseSchedule(hb['schedule'], (path, message) => problem([i, 'schedule', ...path], message));
      const graceMs = positiveDuration(hb['grace'] ?? HEARTBEAT_DEFAULTS.grace, (message) => problem([i, 'grace'], message));
      const maxRuntimeMs = hb['max_runtime'] === undefined ? graceMs : positiveDuration(hb['max_runtime'], (message) => problem([i, 'max_runtime'], message));
      if (id === undefined || component === undefined || key === undefined || schedule === undefined || graceMs === undefined || maxRuntimeMs === undefined) return;
      out.push({ id, component, key, schedule, graceMs, maxRuntimeMs });
    });
    return failed ? z.NEVER : out;
  });

/** `key` (the secret itself) or `key_env` (the environment variable holding it), exactly one. */
function parseKey(hb: Record<string, unknown>, problem: (key: string, message: string) => undefined): string | undefined {
  const literal = hb['key'];
  const env = hb['key_env'];
  if (literal !== undefined && env !== undefined) return problem('key', 'give key or key_env, not both');
  if (literal === undefined && env === undefined) return problem('key_env', 'is required (or key): the environment variable holding the ping URL secret');
  const rule = "at least 16 characters of letters, digits, '-', '_', '.' or '~' (at most 128)";
  if (literal !== undefined) {
    // Never echo a secret back: say what is wrong with it, not what it is.
    if (typeof literal !== 'string') return problem('key', `must be a string of ${rule} (got ${describe(literal)})`);
    return KEY_PATTERN.test(literal) ? literal : problem('key', `must be ${rule} (got ${literal.length} characters)`);
  }
  if (typeof env !== 'string' || !ENV_PATTERN.test(env)) return problem('key_env', `must be an environment variable name such as BACKUP_PING_KEY (got ${describe(env)})`);
  const fromEnv = process.env[env];
  if (fromEnv === undefined || fromEnv === '') return problem('key_env', `the environment variable ${env} is not set`);
  return KEY_PATTERN.test(fromEnv) ? fromEnv : problem('key_env', `the environment variable ${env} must hold ${rule} (it holds ${fromEnv.length} characters)`);
}

function parseSchedule(value: unknown, problem: (path: string[], message: string) => undefined): HeartbeatSchedule | undefined {
  const shape = "must be { cron: '0 3 * * *', timezone: Europe/Berlin } or { every: 1h }";
  if (value === undefined) return problem([], `is required: ${shape}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return problem([], `${shape} (got ${describe(value)})`);
  const v = value as Record<string, unknown>;
  const unknown = Object.keys(v).filter((k) => !['cron', 'timezone', 'every'].includes(k));
  if (unknown.length > 0) return problem([], `has invalid key: ${unknown.join(', ')}`);
  if ((v['cron'] === undefined) === (v['every'] === undefined)) return problem([], `must have exactly one of cron or every (got ${v['cron'] === undefined ? 'neither' : 'both'})`);
  if (v['every'] !== undefined) {
    if (v['timezone'] !== undefined) return problem(['timezone'], 'applies to cron only');
    const ms = typeof v['every'] === 'string' ? parseDuration(v['every']) : undefined;
    if (ms === undefined || ms < MIN_EVERY_MS) return problem(['every'], `must be a duration of at least 1m such as 15m or 1h (got ${describe(v['every'])})`);
    return { kind: 'every', everyMs: ms };
  }
  const cron = v['cron'];
  const wording = "must be a five-field cron expression (minute hour day-of-month month day-of-week) such as '0 3 * * *'";
  if (typeof cron !== 'string' || cron.trim().split(/\s+/).length !== 5) return problem(['cron'], `${wording} (got ${describe(cron)})`);
  try {
    // Validated by the same library that schedules it; paused, so nothing is ever started here.
    new Cron(cron, { paused: true, timezone: 'UTC' });
  } catch (err) {
    return problem(['cron'], `${wording}: ${(err as Error).message} (got ${describe(cron)})`);
  }
  const zone = v['timezone'];
  if (zone !== undefined && (typeof zone !== 'string' || !isTimeZone(zone))) return problem(['timezone'], `must be an IANA time zone such as UTC or Europe/Berlin (got ${describe(zone)})`);
  return { kind: 'cron', cron: cron.trim(), timezone: (zone as string | undefined) ?? DEFAULT_ZONE };
}

function positiveDuration(value: unknown, problem: (message: string) => undefined): number | undefined {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  return ms !== undefined && ms > 0 ? ms : problem(`must be a positive duration such as 30m or 2h (got ${describe(value)})`);
}

/** Cron schedules without a timezone take `slo.timezone`. */
export function resolveHeartbeatZones(heartbeats: HeartbeatConfig[], zone: string): HeartbeatConfig[] {
  // zod still runs the document's transform when a list reported issues; its value is then junk.
  if (!Array.isArray(heartbeats)) return [];
  return heartbeats.map((h) => (h.schedule.kind === 'cron' && h.schedule.timezone === DEFAULT_ZONE ? { ...h, schedule: { ...h.schedule, timezone: zone } } : h));
}

/** Across entries: unique ids and keys, existing components, SLOs naming existing heartbeats. */
export function heartbeatCrossCheck(components: readonly ComponentConfig[], heartbeats: readonly HeartbeatConfig[], slos: readonly SloConfig[]): string[] {
  const errors: string[] = [];
  const componentIds = new Set(components.map((c) => c.id));
  const idAt = new Map<string, number>();
  const keyAt = new Map<string, number>();
  heartbeats.forEach((h, i) => {
    const first = idAt.get(h.id);
    if (first !== undefined) errors.push(`heartbeats[${i}].id: "${h.id}" is already used by heartbeats[${first}]`);
    else idAt.set(h.id, i);
    const sameKey = keyAt.get(h.key);
    if (sameKey !== undefined) errors.push(`heartbeats[${i}].key: the same key as heartbeats[${sameKey}] (each heartbeat needs its own ping URL)`);
    else keyAt.set(h.key, i);
    if (!componentIds.has(h.component)) {
      const known = components.length === 0 ? 'none are defined under components:' : `defined: ${components.map((c) => c.id).join(', ')}`;
      errors.push(`heartbeats[${i}].component: no component with id "${h.component}" (${known})`);
    }
  });
  slos.forEach((s, i) => {
    if (s.indicator.type !== 'heartbeat_availability' || idAt.has(s.indicator.heartbeat)) return;
    const known = heartbeats.length === 0 ? 'none are defined under heartbeats:' : `defined: ${heartbeats.map((h) => h.id).join(', ')}`;
    errors.push(`slos[${i}].indicator.availability.heartbeat: no heartbeat with id "${s.indicator.heartbeat}" (${known})`);
  });
  return errors;
}
