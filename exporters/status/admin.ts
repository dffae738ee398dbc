// The admin API's bearer-token check and request-body validation. Every rejection names the field.

import { createHash, timingSafeEqual } from 'node:crypto';
import { COMPONENT_STATUSES, INCIDENT_IMPACTS, INCIDENT_STATUSES, MAINTENANCE_STATUSES } from './store.js';
import type { ComponentStatus, DraftEdit, IncidentImpact, IncidentUpdateInput, MaintenanceChange, NewIncident, NewMaintenance } from './store.js';

/** A 400 answer: which field, and what is wrong with it. */
export class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
  readonly code = 'VIGIL_STATUS_BAD_REQUEST';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** Longest incident or maintenance name, and longest message, in characters. */
export const MAX_NAME = 200;
export const MAX_MESSAGE = 16_384;

/**
 * Checks `Authorization: Bearer <token>` against the configured tokens in constant time: both
 * sides are SHA-256 digests (equal length whatever the token's), and every token is compared.
 */
export class AdminAuth {
  readonly #digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = [...new Set(tokens)].map((t) => createHash('sha256').update(t).digest());
  }

  /** Whether any token is configured. */
  get enabled(): boolean {
    return this.#digests.length > 0;
  }

  /** `missing` → 401, `wrong` → 403. */
  check(authorization: string): 'ok' | 'missing' | 'wrong' {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match === null) return 'missing';
    const given = createHash('sha256').update(match[1]!).digest();
    let ok = false;
    for (const d of this.#digests) ok = timingSafeEqual(d, given) || ok;
    return ok ? 'ok' : 'wrong';
  }
}

type Json = Record<string, unknown>;

/** The body as a JSON object, or a 400 naming `body`. */
export function parseJsonObject(body: Buffer): Json {
  let value: unknown;
  try {
    value = JSON.parse(body.length === 0 ? '{}' : body.toString('utf8'));
  } catch (err) {
    throw new BadRequestError('body', `is not valid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new BadRequestError('body', 'must be a JSON object');
  return value as Json;
}

function onlyKeys(body: Json, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) if (!allowed.includes(key)) throw new BadRequestError(key, `is not a known field (expected one of ${allowed.join(', ')})`);
}

function text(body: Json, field: string, max: number, required: boolean): string | undefined {
  const v = body[field];
  if (v === undefined) {
    if (required) throw new BadRequestError(field, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') throw new BadRequestError(field, 'must be a string');
  if (required && v.trim() === '') throw new BadRequestError(field, 'must not be empty');
  if (v.length > max) throw new BadRequestError(field, `must be at most ${max} characters (got ${v.length})`);
  return v;
}

function oneOf<T extends string>(body: Json, field: string, allowed: readonly T[]): T | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new BadRequestError(field, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

function time(body: Json, field: string, required: boolean): number | undefined {
  const v = body[field];
  if (v === undefined) {
    if (required) throw new BadRequestError(field, 'is required');
    return undefined;
  }
  // An ISO 8601 date-time with a zone (Z or ±hh:mm), so the instant is unambiguous.
  const ms = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw new BadRequestError(field, 'must be an ISO 8601 date-time with a zone, e.g. 2026-10-03T22:00:00Z');
  return ms;
}

function componentStatuses(body: Json, field: string, known: ReadonlySet<string>): Record<string, ComponentStatus> | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new BadRequestError(field, 'must be an object of component id → status');
  const out: Record<string, ComponentStatus> = {};
  for (const [id, status] of Object.entries(v as Json)) {
    if (!known.has(id)) throw new BadRequestError(`${field}.${id}`, 'is not a configured component');
    if (typeof status !== 'string' || !(COMPONENT_STATUSES as readonly string[]).includes(status)) {
      throw new BadRequestError(`${field}.${id}`, `must be one of ${COMPONENT_STATUSES.join(', ')}`);
    }
    out[id] = status as ComponentStatus;
  }
  return out;
}

function componentList(body: Json, field: string, known: ReadonlySet<string>): string[] | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new BadRequestError(field, 'must be a list of component ids');
  v.forEach((id, i) => {
    if (typeof id !== 'string' || !known.has(id)) throw new BadRequestError(`${field}[${i}]`, 'is not a configured component');
  });
  return [...new Set(v as string[])];
}

/** The impact an incident gets when none is given: from its worst component status. */
export function impactOf(components: Readonly<Record<string, ComponentStatus>>): IncidentImpact {
  const statuses = Object.values(components);
  if (statuses.includes('major_outage')) return 'critical';
  if (statuses.includes('partial_outage')) return 'major';
  if (statuses.includes('degraded_performance')) return 'minor';
  return 'none';
}

/** POST /api/admin/incidents */
export function parseNewIncident(body: Json, known: ReadonlySet<string>): NewIncident {
  onlyKeys(body, ['name', 'impact', 'status', 'message', 'components']);
  const name = text(body, 'name', MAX_NAME, true)!;
  const components = componentStatuses(body, 'components', known) ?? {};
  return {
    name,
    impact: oneOf(body, 'impact', INCIDENT_IMPACTS) ?? impactOf(components),
    status: oneOf(body, 'status', INCIDENT_STATUSES) ?? 'investigating',
    message: text(body, 'message', MAX_MESSAGE, true)!,
    components,
  };
}

/** POST /api/admin/incidents/:id/updates */
export function parseIncidentUpdate(body: Json, known: ReadonlySet<string>): IncidentUpdateInput {
  onlyKeys(body, ['status', 'message', 'components', 'impact']);
  const out: IncidentUpdateInput = { message: text(body, 'message', MAX_MESSAGE, true)! };
  const status = oneOf(body, 'status', INCIDENT_STATUSES);
  if (status !== undefined) out.status = status;
  const impact = oneOf(body, 'impact', INCIDENT_IMPACTS);
  if (impact !== undefined) out.impact = impact;
  const components = componentStatuses(body, 'components', known);
  if (components !== undefined) out.components = components;
  return out;
}

/** PATCH /api/admin/incidents/:id (a draft): any of name, impact, message (the first update's text), components. */
export function parseDraftEdit(body: Json, known: ReadonlySet<string>): DraftEdit {
  onlyKeys(body, ['name', 'impact', 'message', 'components']);
  const out: DraftEdit = {};
  const name = text(body, 'name', MAX_NAME, false);
  if (name !== undefined) {
    if (name.trim() === '') throw new BadRequestError('name', 'must not be empty');
    out.name = name;
  }
  const impact = oneOf(body, 'impact', INCIDENT_IMPACTS);
  if (impact !== undefined) out.impact = impact;
  const message = text(body, 'message', MAX_MESSAGE, false);
  if (message !== undefined) out.message = message;
  const components = componentStatuses(body, 'components', known);
  if (components !== undefined) out.components = components;
  return out;
}

/** POST /api/admin/maintenances */
export function parseNewMaintenance(body: Json, known: ReadonlySet<string>): NewMaintenance {
  onlyKeys(body, ['name', 'scheduled_for', 'scheduled_until', 'components', 'message']);
  const name = text(body, 'name', MAX_NAME, true)!;
  const scheduledForMs = time(body, 'scheduled_for', true)!;
  const scheduledUntilMs = time(body, 'scheduled_until', true)!;
  if (scheduledUntilMs <= scheduledForMs) throw new BadRequestError('scheduled_until', 'must be after scheduled_for');
  return { name, scheduledForMs, scheduledUntilMs, components: componentList(body, 'components', known) ?? [], message: text(body, 'message', MAX_MESSAGE, false) ?? '' };
}

/** PATCH /api/admin/maintenances/:id; `current` bounds the schedule check. */
export function parseMaintenanceChange(body: Json, known: ReadonlySet<string>, current: { scheduledForMs: number; scheduledUntilMs: number }): MaintenanceChange {
  onlyKeys(body, ['name', 'scheduled_for', 'scheduled_until', 'components', 'status', 'message']);
  const out: MaintenanceChange = {};
  const name = text(body, 'name', MAX_NAME, false);
  if (name !== undefined) {
    if (name.trim() === '') throw new BadRequestError('name', 'must not be empty');
    out.name = name;
  }
  const from = time(body, 'scheduled_for', false);
  const until = time(body, 'scheduled_until', false);
  if (from !== undefined) out.scheduledForMs = from;
  if (until !== undefined) out.scheduledUntilMs = until;
  if ((until ?? current.scheduledUntilMs) <= (from ?? current.scheduledForMs)) throw new BadRequestError(until !== undefined ? 'scheduled_until' : 'scheduled_for', 'must leave scheduled_until after scheduled_for');
  const components = componentList(body, 'components', known);
  if (components !== undefined) out.components = components;
  const status = oneOf(body, 'status', MAINTENANCE_STATUSES);
  if (status !== undefined) out.status = status;
  const message = text(body, 'message', MAX_MESSAGE, false);
  if (message !== undefined) out.message = message;
  return out;
}

/** PUT /api/admin/components/:id/override */
export function parseOverride(body: Json): ComponentStatus {
  onlyKeys(body, ['status']);
  const status = oneOf(body, 'status', COMPONENT_STATUSES);
  if (status === undefined) throw new BadRequestError('status', 'is required');
  return status;
}
