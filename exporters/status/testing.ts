// Shared by the status exporter's tests: a config with components and SLOs, an admin client, and a
// checker for the subset of JSON Schema that statuspage-v2.schema.json uses.

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { validateConfig } from '../../daemon/config/index.js';
import type { Config } from '../../daemon/config/types.js';

/** The admin token the tests configure. */
export const TEST_TOKEN = 'test-admin-token-0123456789';

const YAML = `
status:
  title: Acme Status
  admin_tokens: [${TEST_TOKEN}]
  refresh_interval: 1s
  # Generous, so tests of other features do not trip the limits (rate-limit.e2e.test.ts tests them).
  admin_rate_limit: { requests_per_second: 1000, burst: 1000, auth_failure_burst: 100 }
components:
  - id: api
    name: API
    group: Apps
    description: Public API
  - id: web
    name: Website
    group: Apps
  - id: db
    name: Database
slos:
  - id: api-availability
    component: api
    objective: 99.9
    window: 30d
    indicator:
      availability:
        spans: { service: checkout }
  - id: web-availability
    component: web
    objective: 99
    window: 28d
    indicator:
      availability:
        spans: { service: web }
`;

/** Copies the status, components and SLO parts of the test config into `config`. */
export function applyStatusConfig(config: Config): void {
  const result = validateConfig(parse(YAML));
  if ('errors' in result) throw new Error(result.errors.join('; '));
  config.status = { ...result.config.status, host: config.status.host, port: config.status.port };
  config.components = result.config.components;
  config.slos = result.config.slos;
}

/** A fetch to the admin API with the test token (or `token`, or none with null). */
export async function admin(base: string, method: string, path: string, body?: unknown, token: string | null = TEST_TOKEN): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  const init: RequestInit = { method, headers };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  return { status: res.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: res.headers };
}

type Schema = Record<string, unknown>;

/** The checked-in description of the Statuspage v2 documents. */
export function loadStatuspageSchema(): Schema {
  return JSON.parse(readFileSync(new URL('../../../exporters/status/statuspage-v2.schema.json', import.meta.url), 'utf8')) as Schema;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Every violation of `schema` by `value` (empty when it conforms): type (with null), enum,
 * required, properties, additionalProperties: false, items, format date-time, and local $ref.
 */
export function schemaErrors(root: Schema, schema: Schema, value: unknown, path = '$'): string[] {
  if (typeof schema['$ref'] === 'string') {
    const target = (schema['$ref'] as string).replace(/^#\//, '').split('/').reduce<unknown>((node, key) => (node as Schema)[key], root) as Schema;
    return schemaErrors(root, { ...target, ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$ref')) }, value, path);
  }
  const errors: string[] = [];
  const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);
  if (schema['type'] !== undefined) {
    const types = ([] as string[]).concat(schema['type'] as string | string[]);
    const actual = typeOf(value);
    if (!types.includes(actual) && !(actual === 'integer' && types.includes('number'))) return [`${path}: expected ${types.join('|')}, got ${actual}`];
  }
  if (Array.isArray(schema['enum']) && !(schema['enum'] as unknown[]).includes(value)) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema['enum'])}`);
  if (schema['format'] === 'date-time' && typeof value === 'string' && !(ISO.test(value) && Number.isFinite(Date.parse(value)))) errors.push(`${path}: ${value} is not a date-time`);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (schema['properties'] ?? {}) as Record<string, Schema>;
    for (const key of (schema['required'] ?? []) as string[]) if (!(key in obj)) errors.push(`${path}: missing ${key}`);
    for (const [key, v] of Object.entries(obj)) {
      if (props[key] !== undefined) errors.push(...schemaErrors(root, props[key]!, v, `${path}.${key}`));
      else if (schema['additionalProperties'] === false) errors.push(`${path}: unexpected field ${key}`);
    }
  }
  if (Array.isArray(value) && schema['items'] !== undefined) value.forEach((v, i) => errors.push(...schemaErrors(root, schema['items'] as Schema, v, `${path}[${i}]`)));
  return errors;
}
