// The `components:` and `slos:` sections: hand-written parsers (nested unions read better as code
// than as zod unions), reporting every problem with its key path like the rest of the schema.

import { describe, parseDuration } from './schema.js';
import { Problems, listSection } from './problems.js';
import type { Path } from './problems.js';
import type { ComponentConfig, LabelMatcher, MetricSelector, SloConfig, SloIndicator, SloWindow, SpanKindName, SpanSelector } from './types.js';

/** Span kinds a span selector may name (OTLP SpanKind without the prefix). */
const SPAN_KINDS: readonly SpanKindName[] = ['SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER', 'INTERNAL'];

/** Ids become label values and URL path segments: keep them plain. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Rolling SLO windows from 1 day to 92 days (a quarter), whole minutes. */
const MIN_ROLLING_MS = 86_400_000;
const MAX_ROLLING_MS = 92 * 86_400_000;

function text(value: unknown, path: Path, problems: Problems, what: string): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value;
  problems.add(path, `must be ${what} (got ${describe(value)})`);
  return undefined;
}

function id(value: unknown, path: Path, problems: Problems): string | undefined {
  if (typeof value === 'string' && ID_PATTERN.test(value)) return value;
  problems.add(path, `must be an id of letters, digits, '-', '_' or '.', starting with a letter or digit (got ${describe(value)})`);
  return undefined;
}

/** True when `zone` is an IANA time zone this Node.js knows. */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function timeZone(value: unknown, path: Path, problems: Problems): string | undefined {
  if (typeof value === 'string' && isTimeZone(value)) return value;
  problems.add(path, `must be an IANA time zone such as UTC or Europe/Berlin (got ${describe(value)})`);
  return undefined;
}

function parseComponent(value: unknown, path: Path, problems: Problems): ComponentConfig | undefined {
  if (!problems.mapping(path, value, ['id', 'name', 'group', 'description'])) return undefined;
  const componentId = id(value['id'], [...path, 'id'], problems);
  const name = value['name'] === undefined ? componentId : text(value['name'], [...path, 'name'], problems, 'a non-empty string');
  const group = value['group'] === undefined ? null : text(value['group'], [...path, 'group'], problems, 'a non-empty string');
  const description = value['description'] === undefined ? null : text(value['description'], [...path, 'description'], problems, 'a non-empty string');
  if (componentId === undefined || name === undefined || group === undefined || description === undefined) return undefined;
  return { id: componentId, name, group, description };
}

function parseObjective(value: unknown, path: Path, problems: Problems): { percent: number; ratio: number } | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    problems.add(path, `must be a percentage between 0 and 100, such as 99.9 (got ${describe(value)})`);
    return undefined;
  }
  if (value <= 0) problems.add(path, `must be above 0 (got ${describe(value)})`);
  else if (value >= 100) problems.add(path, `must be below 100 (got ${describe(value)})`);
  else return { percent: value, ratio: Number((value / 100).toPrecision(15)) };
  return undefined;
}

function parseWindow(value: unknown, path: Path, problems: Problems, defaultZone: string): SloWindow | undefined {
  if (typeof value === 'string') {
    const ms = parseDuration(value);
    if (ms === undefined || ms % 60_000 !== 0 || ms < MIN_ROLLING_MS || ms > MAX_ROLLING_MS) {
      problems.add(path, `must be a rolling window of whole minutes from 1d to 92d such as 30d or 28d, or { calendar: month } (got ${describe(value)})`);
      return undefined;
    }
    return { kind: 'rolling', label: value, minutes: ms / 60_000, timezone: defaultZone };
  }
  if (!problems.mapping(path, value, ['calendar', 'timezone'])) return undefined;
  const period = value['calendar'];
  if (period !== 'month' && period !== 'quarter') {
    problems.add([...path, 'calendar'], `must be month or quarter (got ${describe(period)})`);
    return undefined;
  }
  const zone = value['timezone'] === undefined ? defaultZone : timeZone(value['timezone'], [...path, 'timezone'], problems);
  if (zone === undefined) return undefined;
  return { kind: 'calendar', label: period, period, timezone: zone };
}

function parseSpans(value: unknown, path: Path, problems: Problems): SpanSelector | undefined {
  if (!problems.mapping(path, value, ['service', 'span_kind', 'span_name'])) return undefined;
  const service = text(value['service'], [...path, 'service'], problems, 'a service.name');
  let spanKind: SpanKindName | undefined = 'SERVER';
  const kind = value['span_kind'];
  if (kind !== undefined) {
    const upper = typeof kind === 'string' ? kind.toUpperCase().replace(/^SPAN_KIND_/, '') : '';
    spanKind = (SPAN_KINDS as readonly string[]).includes(upper) ? (upper as SpanKindName) : undefined;
    if (spanKind === undefined) problems.add([...path, 'span_kind'], `must be one of ${SPAN_KINDS.join(', ')} (got ${describe(kind)})`);
  }
  const spanName = value['span_name'] === undefined ? null : text(value['span_name'], [...path, 'span_name'], problems, 'a span name');
  if (service === undefined || spanKind === undefined || spanName === undefined) return undefined;
  return { service, spanKind, spanName };
}

const SELECTOR = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$/s;
const MATCHER = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/gy;

/** `name{label="v",label!~"re"}` (Prometheus selector syntax) → MetricSelector, or undefined. */
function parseSelector(textValue: string): MetricSelector | { error: string } {
  const match = SELECTOR.exec(textValue);
  if (match === null) return { error: 'not a selector' };
  const matchers: LabelMatcher[] = [];
  const body = match[2]?.trim() ?? '';
  MATCHER.lastIndex = 0;
  while (MATCHER.lastIndex < body.length) {
    const m = MATCHER.exec(body);
    if (m === null) return { error: 'bad label matcher' };
    const op = m[2] as LabelMatcher['op'];
    const value = JSON.parse(`"${m[3]!}"`) as string;
    if (op === '=~' || op === '!~') {
      try {
        new RegExp(`^(?:${value})$`);
      } catch {
        return { error: `invalid regular expression for ${m[1]!}: ${value}` };
      }
    }
    matchers.push({ label: m[1]!, op, value });
  }
  return { name: match[1]!, matchers };
}

function selector(value: unknown, path: Path, problems: Problems): MetricSelector | undefined {
  const parsed = typeof value === 'string' ? parseSelector(value) : { error: '' };
  if ('error' in parsed) {
    const why = parsed.error === '' || parsed.error === 'not a selector' || parsed.error === 'bad label matcher' ? '' : `: ${parsed.error}`;
    problems.add(path, `must be a metric selector such as 'http_requests_total{code!~"5.."}'${why} (got ${describe(value)})`);
    return undefined;
  }
  return parsed;
}

function threshold(value: unknown, path: Path, problems: Problems): number | undefined {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined || ms <= 0) {
    problems.add(path, `must be a positive duration such as 250ms or 1s (got ${describe(value)})`);
    return undefined;
  }
  // parseDuration rounds to whole ms; thresholds below 1 ms are not useful for request latency.
  return ms / 1000;
}

function parseIndicator(value: unknown, path: Path, problems: Problems): SloIndicator | undefined {
  if (!problems.mapping(path, value, ['availability', 'latency'])) return undefined;
  const kinds = Object.keys(value).filter((k) => k === 'availability' || k === 'latency');
  if (kinds.length !== 1) {
    problems.add(path, `must have exactly one of availability or latency (got ${kinds.length === 0 ? 'neither' : 'both'})`);
    return undefined;
  }
  const kind = kinds[0] as 'availability' | 'latency';
  const at = [...path, kind];
  const body = value[kind];
  const allowed = kind === 'availability' ? ['spans', 'metric', 'probe', 'heartbeat'] : ['spans', 'metric', 'probe', 'threshold'];
  if (!problems.mapping(at, body, allowed)) return undefined;
  const sources = allowed.filter((k) => k !== 'threshold' && body[k] !== undefined);
  if (sources.length !== 1) {
    problems.add(at, `must have exactly one of ${allowed.filter((k) => k !== 'threshold').join(', ')} (got ${sources.length === 0 ? 'none' : sources.join(' and ')})`);
    return undefined;
  }
  // A heartbeat's expected runs (collectors/heartbeats); the id is checked against heartbeats: later.
  if (sources[0] === 'heartbeat') {
    const heartbeat = id(body['heartbeat'], [...at, 'heartbeat'], problems);
    return heartbeat === undefined ? undefined : { type: 'heartbeat_availability', heartbeat };
  }
  const limit = kind === 'latency' ? threshold(body['threshold'], [...at, 'threshold'], problems) : 0;
  if (sources[0] === 'probe') {
    // That the probe exists is checked across sections (probeCrossCheck).
    const probe = id(body['probe'], [...at, 'probe'], problems);
    if (probe === undefined || limit === undefined) return undefined;
    return kind === 'availability' ? { type: 'probe_availability', probe } : { type: 'probe_latency', probe, thresholdSeconds: limit };
  }
  if (sources[0] === 'spans') {
    const spans = parseSpans(body['spans'], [...at, 'spans'], problems);
    if (spans === undefined || limit === undefined) return undefined;
    return kind === 'availability' ? { type: 'span_availability', spans } : { type: 'span_latency', spans, thresholdSeconds: limit };
  }
  const metricAt = [...at, 'metric'];
  const metric = body['metric'];
  if (kind === 'availability') {
    if (!problems.mapping(metricAt, metric, ['good', 'total'])) return undefined;
    const good = selector(metric['good'], [...metricAt, 'good'], problems);
    const total = selector(metric['total'], [...metricAt, 'total'], problems);
    if (good === undefined || total === undefined) return undefined;
    return { type: 'metric_availability', good, total };
  }
  if (!problems.mapping(metricAt, metric, ['histogram'])) return undefined;
  const histogram = selector(metric['histogram'], [...metricAt, 'histogram'], problems);
  if (histogram === undefined || limit === undefined) return undefined;
  return { type: 'metric_latency', histogram, thresholdSeconds: limit };
}

function parseSlo(value: unknown, path: Path, problems: Problems, defaultZone: string): SloConfig | undefined {
  if (!problems.mapping(path, value, ['id', 'name', 'component', 'objective', 'window', 'indicator'])) return undefined;
  const sloId = id(value['id'], [...path, 'id'], problems);
  const name = value['name'] === undefined ? sloId : text(value['name'], [...path, 'name'], problems, 'a non-empty string');
  const component = id(value['component'], [...path, 'component'], problems);
  const objective = parseObjective(value['objective'], [...path, 'objective'], problems);
  const window = value['window'] === undefined ? undefined : parseWindow(value['window'], [...path, 'window'], problems, defaultZone);
  if (value['window'] === undefined) problems.add([...path, 'window'], 'is required: a rolling window such as 30d, or { calendar: month }');
  const indicator = value['indicator'] === undefined ? undefined : parseIndicator(value['indicator'], [...path, 'indicator'], problems);
  if (value['indicator'] === undefined) problems.add([...path, 'indicator'], 'is required: availability or latency');
  if (sloId === undefined || name === undefined || component === undefined || objective === undefined || window === undefined || indicator === undefined) {
    return undefined;
  }
  return { id: sloId, name, component, objectivePercent: objective.percent, objective: objective.ratio, window, indicator };
}

/** `components:` → ComponentConfig[]. */
const componentsSchema = listSection(parseComponent);

/**
 * `slos:` → SloConfig[]. A window's zone defaults to `slo.timezone`, which is parsed separately,
 * so the SLO list is parsed raw here and given the zone in `resolveSloZones`.
 */
const slosSchema = listSection((value, path, problems) => parseSlo(value, path, problems, DEFAULT_ZONE_PLACEHOLDER));

/** Stands for "slo.timezone" until the whole document is parsed. */
const DEFAULT_ZONE_PLACEHOLDER = '\u0000default';

/** Replaces the placeholder zone by `slo.timezone`. */
function resolveSloZones(slos: SloConfig[], zone: string): SloConfig[] {
  // zod still runs the document's transform when a list reported issues; its value is then junk.
  if (!Array.isArray(slos)) return [];
  return slos.map((slo) => (slo.window.timezone === DEFAULT_ZONE_PLACEHOLDER ? { ...slo, window: { ...slo.window, timezone: zone } } : slo));
}

/** The `slo.timezone` leaf parser. */
function parseTimeZone(value: unknown): string | { invalid: string } {
  return typeof value === 'string' && isTimeZone(value) ? value : { invalid: `must be an IANA time zone such as UTC or Europe/Berlin (got ${describe(value)})` };
}

/** Problems across entries: unique ids, every SLO's component exists. */
function sloCrossCheck(components: readonly ComponentConfig[], slos: readonly SloConfig[]): string[] {
  const errors: string[] = [];
  const componentAt = new Map<string, number>();
  components.forEach((c, i) => {
    const first = componentAt.get(c.id);
    if (first !== undefined) errors.push(`components[${i}].id: "${c.id}" is already used by components[${first}]`);
    else componentAt.set(c.id, i);
  });
  const sloAt = new Map<string, number>();
  slos.forEach((s, i) => {
    const first = sloAt.get(s.id);
    if (first !== undefined) errors.push(`slos[${i}].id: "${s.id}" is already used by slos[${first}]`);
    else sloAt.set(s.id, i);
    if (!componentAt.has(s.component)) {
      const known = components.length === 0 ? 'none are defined under components:' : `defined: ${components.map((c) => c.id).join(', ')}`;
      errors.push(`slos[${i}].component: no component with id "${s.component}" (${known})`);
    }
  });
  return errors;
}

export { SPAN_KINDS, componentsSchema, isTimeZone, parseSelector, parseTimeZone, resolveSloZones, sloCrossCheck, slosSchema };
