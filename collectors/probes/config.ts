// The `probes:` section: a hand-written parser (five target kinds read better as code than as zod
// unions) that reports every problem with its key path, conditions included, before anything starts.

import { accessSync, constants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { ConditionSyntaxError, parseCondition, RCODES } from './conditions.js';
import type { Condition } from './conditions.js';
import { RR_TYPES } from './dns-wire.js';
import type { ProbeConfig, ProbeKind, ProbeTarget, ProbeTls } from './types.js';
import { describe, parseDuration } from '../../daemon/config/schema.js';
import { Problems, listSection } from '../../daemon/config/problems.js';
import type { Path } from '../../daemon/config/problems.js';

/** Defaults as a user writes them (README.md and docs/configuration.md list the same). */
export const PROBE_DEFAULTS = {
  interval: '60s',
  timeout: '10s',
  confirm: 2,
  method: 'GET',
  followRedirects: true,
  insecureSkipVerify: false,
  dnsType: 'A',
  dnsRcode: 'NOERROR',
  dnsPort: 53,
  grpcService: '',
} as const;

const KINDS: readonly ProbeKind[] = ['http', 'tcp', 'tls', 'dns', 'grpc'];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Shortest interval: a probe more often than every second is load testing, not monitoring. */
const MIN_INTERVAL_MS = 1000;
const MAX_INTERVAL_MS = 86_400_000;
const MIN_TIMEOUT_MS = 10;

function duration(value: unknown, fallback: string, path: Path, problems: Problems, min: number, max: number): number | undefined {
  const raw = value === undefined ? fallback : value;
  const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
  if (ms === undefined || ms < min || ms > max) {
    problems.add(path, `must be a duration from ${min >= 1000 ? `${min / 1000}s` : `${min}ms`} to ${max / 3_600_000}h such as 30s or 1m (got ${describe(value)})`);
    return undefined;
  }
  return ms;
}

function bool(value: unknown, fallback: boolean, path: Path, problems: Problems): boolean | undefined {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  problems.add(path, `must be true or false (got ${describe(value)})`);
  return undefined;
}

function text(value: unknown, path: Path, problems: Problems, what: string): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value;
  problems.add(path, `must be ${what} (got ${describe(value)})`);
  return undefined;
}

function readableFile(value: unknown, path: Path, problems: Problems): string | null | undefined {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.trim() === '') {
    problems.add(path, `must be a file path (got ${describe(value)})`);
    return undefined;
  }
  const file = resolve(value);
  try {
    accessSync(file, constants.R_OK);
    if (!statSync(file).isFile()) throw Object.assign(new Error('not a file'), { code: 'not a file' });
  } catch (err) {
    problems.add(path, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return undefined;
  }
  return file;
}

/** `host:port`, `[v6]:port`, or `host` with `defaultPort`. */
function address(value: unknown, path: Path, problems: Problems, defaultPort?: number): { host: string; port: number } | undefined {
  const wording = `must be host:port${defaultPort === undefined ? '' : ` (port defaults to ${defaultPort})`}, e.g. 127.0.0.1:443 or [::1]:443 (got ${describe(value)})`;
  if (typeof value !== 'string') {
    problems.add(path, wording);
    return undefined;
  }
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
  const hostOk = host !== undefined && (isIP(host) !== 0 || /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(host));
  if (match === null || !hostOk || port === undefined || port < 1 || port > 65_535 || (match[2] !== undefined && match[2].includes(':'))) {
    problems.add(path, wording);
    return undefined;
  }
  return { host: host!, port };
}

function clientTls(value: unknown, path: Path, problems: Problems, withServerName: boolean): ProbeTls | undefined {
  const raw = value ?? {};
  const keys = withServerName ? ['ca_file', 'insecure_skip_verify', 'server_name'] : ['ca_file', 'insecure_skip_verify'];
  if (!problems.mapping(path, raw, keys)) return undefined;
  const caFile = readableFile(raw['ca_file'], [...path, 'ca_file'], problems);
  const insecure = bool(raw['insecure_skip_verify'], PROBE_DEFAULTS.insecureSkipVerify, [...path, 'insecure_skip_verify'], problems);
  const serverName = raw['server_name'] === undefined ? null : text(raw['server_name'], [...path, 'server_name'], problems, 'a host name');
  if (caFile === undefined || insecure === undefined || serverName === undefined) return undefined;
  return { caFile, insecureSkipVerify: insecure, serverName };
}

/** `tls:` of tcp and grpc: absent/false = plaintext, true = verified with the system roots, or a mapping. */
function optionalTls(value: unknown, path: Path, problems: Problems): ProbeTls | null | undefined {
  if (value === undefined || value === false || value === null) return null;
  if (value === true) return { caFile: null, insecureSkipVerify: false, serverName: null };
  return clientTls(value, path, problems, true);
}

/** A RegExp that JSON.stringify renders as its source, so a SIGHUP diff sees a changed pattern. */
function comparable(re: RegExp): RegExp {
  Object.defineProperty(re, 'toJSON', { value: () => String(re), enumerable: false });
  return re;
}

function regex(value: unknown, path: Path, problems: Problems): RegExp | undefined {
  if (typeof value !== 'string' || value === '') {
    problems.add(path, `must be a regular expression (got ${describe(value)})`);
    return undefined;
  }
  try {
    return comparable(new RegExp(value));
  } catch (err) {
    problems.add(path, `is not a valid regular expression: ${(err as Error).message}`);
    return undefined;
  }
}

function parseTarget(kind: ProbeKind, value: unknown, path: Path, problems: Problems): ProbeTarget | undefined {
  switch (kind) {
    case 'http': {
      if (!problems.mapping(path, value, ['url', 'method', 'headers', 'body', 'follow_redirects', 'tls'])) return undefined;
      let url: string | undefined;
      try {
        const u = typeof value['url'] === 'string' ? new URL(value['url']) : null;
        if (u !== null && (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '') url = u.href;
      } catch {
        // reported below
      }
      if (url === undefined) problems.add([...path, 'url'], `must be an http:// or https:// URL (got ${describe(value['url'])})`);
      const methodRaw = value['method'] ?? PROBE_DEFAULTS.method;
      const method = typeof methodRaw === 'string' && METHODS.includes(methodRaw.toUpperCase()) ? methodRaw.toUpperCase() : undefined;
      if (method === undefined) problems.add([...path, 'method'], `must be one of ${METHODS.join(', ')} (got ${describe(methodRaw)})`);
      let headers: Record<string, string> | undefined = {};
      const rawHeaders = value['headers'] ?? {};
      if (typeof rawHeaders !== 'object' || rawHeaders === null || Array.isArray(rawHeaders)) {
        problems.add([...path, 'headers'], `must be a mapping of header names to strings (got ${describe(rawHeaders)})`);
        headers = undefined;
      } else {
        for (const [name, v] of Object.entries(rawHeaders)) {
          if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
            problems.add([...path, 'headers', name], 'is not a valid header name');
            headers = undefined;
          } else if (typeof v !== 'string' && typeof v !== 'number') {
            problems.add([...path, 'headers', name], `must be a string (got ${describe(v)})`);
            headers = undefined;
          } else if (headers !== undefined) headers[name.toLowerCase()] = String(v);
        }
      }
      const body = value['body'] === undefined || value['body'] === null ? null : typeof value['body'] === 'string' ? value['body'] : undefined;
      if (body === undefined) problems.add([...path, 'body'], `must be a string or null (got ${describe(value['body'])})`);
      const follow = bool(value['follow_redirects'], PROBE_DEFAULTS.followRedirects, [...path, 'follow_redirects'], problems);
      const tls = clientTls(value['tls'], [...path, 'tls'], problems, true);
      if (url === undefined || method === undefined || headers === undefined || body === undefined || follow === undefined || tls === undefined) return undefined;
      return { kind, url, method, headers, body, followRedirects: follow, tls };
    }
    case 'tcp': {
      if (!problems.mapping(path, value, ['address', 'tls', 'send', 'expect'])) return undefined;
      const at = address(value['address'], [...path, 'address'], problems);
      const tls = optionalTls(value['tls'], [...path, 'tls'], problems);
      const send = value['send'] === undefined || value['send'] === null ? null : text(value['send'], [...path, 'send'], problems, 'a string');
      const expect = value['expect'] === undefined || value['expect'] === null ? null : regex(value['expect'], [...path, 'expect'], problems);
      if (at === undefined || tls === undefined || send === undefined || expect === undefined) return undefined;
      return { kind, ...at, tls, send, expect };
    }
    case 'tls': {
      if (!problems.mapping(path, value, ['address', 'server_name', 'ca_file'])) return undefined;
      const at = address(value['address'], [...path, 'address'], problems);
      const caFile = readableFile(value['ca_file'], [...path, 'ca_file'], problems);
      const serverName = value['server_name'] === undefined ? null : text(value['server_name'], [...path, 'server_name'], problems, 'a host name');
      if (at === undefined || caFile === undefined || serverName === undefined) return undefined;
      return { kind, ...at, tls: { caFile, insecureSkipVerify: false, serverName } };
    }
    case 'dns': {
      if (!problems.mapping(path, value, ['server', 'name', 'type', 'rcode', 'answers'])) return undefined;
      const server = address(value['server'], [...path, 'server'], problems, PROBE_DEFAULTS.dnsPort);
      if (server !== undefined && isIP(server.host) === 0) problems.add([...path, 'server'], `must be an IP address with an optional port (got ${describe(value['server'])})`);
      const name = text(value['name'], [...path, 'name'], problems, 'a domain name such as example.com');
      if (name !== undefined && (name.length > 253 || name.replace(/\.$/, '').split('.').some((l) => l === '' || l.length > 63))) problems.add([...path, 'name'], `must be a domain name of labels of 1 to 63 characters (got ${describe(name)})`);
      const typeRaw = value['type'] ?? PROBE_DEFAULTS.dnsType;
      const type = typeof typeRaw === 'string' ? typeRaw.toUpperCase() : '';
      if (RR_TYPES[type] === undefined) problems.add([...path, 'type'], `must be one of ${Object.keys(RR_TYPES).join(', ')} (got ${describe(typeRaw)})`);
      const rcodeRaw = value['rcode'] ?? PROBE_DEFAULTS.dnsRcode;
      const rcode = typeof rcodeRaw === 'string' ? rcodeRaw.toUpperCase() : '';
      if (RCODES[rcode] === undefined) problems.add([...path, 'rcode'], `must be one of ${Object.keys(RCODES).join(', ')} (got ${describe(rcodeRaw)})`);
      const answers: RegExp[] = [];
      const answersRaw = value['answers'] ?? [];
      if (!Array.isArray(answersRaw)) problems.add([...path, 'answers'], `must be a list of regular expressions (got ${describe(answersRaw)})`);
      else answersRaw.forEach((a, i) => {
        const re = regex(a, [...path, 'answers', i], problems);
        if (re !== undefined) answers.push(re);
      });
      if (server === undefined || isIP(server.host) === 0 || name === undefined || RR_TYPES[type] === undefined || RCODES[rcode] === undefined || !Array.isArray(answersRaw) || answers.length !== answersRaw.length) return undefined;
      return { kind, host: server.host, port: server.port, name, type, typeCode: RR_TYPES[type]!, rcode, answers };
    }
    case 'grpc': {
      if (!problems.mapping(path, value, ['address', 'service', 'tls'])) return undefined;
      const at = address(value['address'], [...path, 'address'], problems);
      const service = value['service'] === undefined || value['service'] === '' ? PROBE_DEFAULTS.grpcService : text(value['service'], [...path, 'service'], problems, 'a service name such as my.pkg.Service');
      const tls = optionalTls(value['tls'], [...path, 'tls'], problems);
      if (at === undefined || service === undefined || tls === undefined) return undefined;
      return { kind, ...at, service, tls };
    }
  }
}

function parseProbe(value: unknown, path: Path, problems: Problems): ProbeConfig | undefined {
  if (!problems.mapping(path, value, ['id', 'component', 'interval', 'timeout', 'confirm', 'conditions', ...KINDS])) return undefined;
  const id = typeof value['id'] === 'string' && ID_PATTERN.test(value['id']) ? value['id'] : undefined;
  if (id === undefined) problems.add([...path, 'id'], `must be an id of letters, digits, '-', '_' or '.', starting with a letter or digit (got ${describe(value['id'])})`);
  const component = typeof value['component'] === 'string' && ID_PATTERN.test(value['component']) ? value['component'] : undefined;
  if (component === undefined) problems.add([...path, 'component'], `must be the id of a component under components: (got ${describe(value['component'])})`);
  const interval = duration(value['interval'], PROBE_DEFAULTS.interval, [...path, 'interval'], problems, MIN_INTERVAL_MS, MAX_INTERVAL_MS);
  const timeout = duration(value['timeout'], PROBE_DEFAULTS.timeout, [...path, 'timeout'], problems, MIN_TIMEOUT_MS, MAX_INTERVAL_MS);
  // A run must end before the next is due, so runs of one probe never overlap; the default timeout
  // shrinks to fit a short interval.
  const effectiveTimeout = timeout === undefined || interval === undefined ? undefined : value['timeout'] === undefined ? Math.min(timeout, interval) : timeout;
  if (effectiveTimeout !== undefined && interval !== undefined && effectiveTimeout > interval) {
    problems.add([...path, 'timeout'], `must not exceed interval (${value['timeout'] as string} > ${(value['interval'] as string | undefined) ?? PROBE_DEFAULTS.interval}), or runs of the probe would overlap`);
  }
  const confirmRaw = value['confirm'] ?? PROBE_DEFAULTS.confirm;
  const confirm = typeof confirmRaw === 'number' && Number.isSafeInteger(confirmRaw) && confirmRaw >= 1 && confirmRaw <= 100 ? confirmRaw : undefined;
  if (confirm === undefined) problems.add([...path, 'confirm'], `must be an integer from 1 to 100 (got ${describe(confirmRaw)})`);
  const kinds = KINDS.filter((k) => value[k] !== undefined);
  let target: ProbeTarget | undefined;
  if (kinds.length !== 1) {
    problems.add(path, `must have exactly one of ${KINDS.join(', ')} (got ${kinds.length === 0 ? 'none' : kinds.join(' and ')})`);
  } else {
    target = parseTarget(kinds[0]!, value[kinds[0]!], [...path, kinds[0]!], problems);
  }
  const conditions: Condition[] = [];
  const rawConditions = value['conditions'] ?? [];
  let conditionsOk = true;
  if (!Array.isArray(rawConditions)) {
    problems.add([...path, 'conditions'], `must be a list of conditions such as '[STATUS] == 200' (got ${describe(rawConditions)})`);
    conditionsOk = false;
  } else if (kinds.length === 1) {
    rawConditions.forEach((c, i) => {
      if (typeof c !== 'string') {
        problems.add([...path, 'conditions', i], `must be a condition string such as '[STATUS] == 200' (got ${describe(c)})`);
        conditionsOk = false;
        return;
      }
      try {
        conditions.push(parseCondition(c, kinds[0]!));
      } catch (err) {
        if (!(err instanceof ConditionSyntaxError)) throw err;
        problems.add([...path, 'conditions', i], err.message);
        conditionsOk = false;
      }
    });
  }
  if (id === undefined || component === undefined || interval === undefined || effectiveTimeout === undefined || confirm === undefined || target === undefined || !conditionsOk) return undefined;
  return { id, component, intervalMs: interval, timeoutMs: effectiveTimeout, confirm, target, conditions };
}

/** `probes:` → ProbeConfig[]; absent or null is no probes. */
export const probesSchema = listSection(parseProbe, 'a list of probes');

/** Problems across sections: unique probe ids, known components, SLOs naming a known probe. */
export function probeCrossCheck(
  probes: readonly ProbeConfig[],
  components: readonly { id: string }[],
  slos: readonly { id: string; indicator: { type: string; probe?: string } }[],
): string[] {
  const errors: string[] = [];
  if (!Array.isArray(probes)) return errors;
  const at = new Map<string, number>();
  const known = new Set(components.map((c) => c.id));
  probes.forEach((p, i) => {
    const first = at.get(p.id);
    if (first !== undefined) errors.push(`probes[${i}].id: "${p.id}" is already used by probes[${first}]`);
    else at.set(p.id, i);
    if (!known.has(p.component)) {
      errors.push(`probes[${i}].component: no component with id "${p.component}" (${components.length === 0 ? 'none are defined under components:' : `defined: ${components.map((c) => c.id).join(', ')}`})`);
    }
  });
  slos.forEach((s, i) => {
    const probe = s.indicator.probe;
    if (probe === undefined) return;
    if (!at.has(probe)) {
      const kind = s.indicator.type === 'probe_latency' ? 'latency' : 'availability';
      errors.push(`slos[${i}].indicator.${kind}.probe: no probe with id "${probe}" (${probes.length === 0 ? 'none are defined under probes:' : `defined: ${probes.map((p) => p.id).join(', ')}`})`);
    }
  });
  return errors;
}
