// The condition language of probes (README.md, "Conditions"): `<placeholder> <op> <value>`,
// parsed once at config time into a closure-free tree, evaluated per result. Nothing is ever
// passed to eval or new Function: the grammar is small enough to read by hand.

import type { ProbeKind, ProbeOutcome } from './types.js';

/** What a placeholder yields, which decides the literals it may be compared with. */
type ValueType = 'number' | 'duration' | 'size' | 'text' | 'json' | 'boolean' | 'rcode';

/** Placeholders, the probe kinds that fill them and their type. */
const PLACEHOLDERS: Readonly<Record<string, { kinds: readonly ProbeKind[]; type: ValueType; path: 'none' | 'json' | 'name' }>> = {
  STATUS: { kinds: ['http'], type: 'number', path: 'none' },
  RESPONSE_TIME: { kinds: ['http', 'tcp', 'tls', 'dns', 'grpc'], type: 'duration', path: 'none' },
  BODY: { kinds: ['http', 'tcp', 'dns', 'grpc'], type: 'json', path: 'json' },
  HEADER: { kinds: ['http'], type: 'text', path: 'name' },
  CERTIFICATE_EXPIRATION: { kinds: ['http', 'tcp', 'tls'], type: 'duration', path: 'none' },
  CONNECTED: { kinds: ['http', 'tcp', 'tls', 'dns', 'grpc'], type: 'boolean', path: 'none' },
  DNS_RCODE: { kinds: ['dns'], type: 'rcode', path: 'none' },
  IP: { kinds: ['http', 'tcp', 'tls', 'dns'], type: 'text', path: 'none' },
};

/** DNS response codes by name (RFC 1035, 2136, 6891). */
const RCODES: Readonly<Record<string, number>> = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, YXDOMAIN: 6, YXRRSET: 7, NXRRSET: 8, NOTAUTH: 9, NOTZONE: 10,
};

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_BYTES: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

type Op = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** A literal on the right of an operator. */
type Literal =
  | { kind: 'number'; value: number }
  | { kind: 'duration'; ms: number }
  | { kind: 'size'; bytes: number }
  | { kind: 'text'; value: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'regex'; re: RegExp }
  | { kind: 'contains'; value: string }
  | { kind: 'any'; items: Literal[] };

/** One JSON path step: an object key or an array index. */
type Step = string | number;

/** A parsed condition. */
export interface Condition {
  /** The text as written (for logs and the README's examples). */
  readonly source: string;
  readonly placeholder: string;
  /** `len(...)`: the length of the value instead of the value. */
  readonly length: boolean;
  readonly path: readonly Step[];
  /** `[HEADER].name`, lower-cased. */
  readonly name: string | null;
  readonly op: Op;
  readonly right: Literal;
}

/** A condition the parser rejected: the message says what was expected. */
export class ConditionSyntaxError extends Error {}

const CONDITION = /^\s*(len\(\s*)?\[([A-Z_]+)\]((?:\.[^\s.[\]()=!<>]+|\[\d+\])*)(\s*\))?\s*(==|!=|<=|>=|<|>)\s*(.*?)\s*$/s;

/** Parses one condition for a probe of `kind`; throws ConditionSyntaxError naming what was expected. */
export function parseCondition(text: string, kind: ProbeKind): Condition {
  const match = CONDITION.exec(text);
  if (match === null) {
    throw new ConditionSyntaxError(`must be '[PLACEHOLDER] <op> <value>' with op one of == != < <= > >=, e.g. '[STATUS] == 200' (got ${JSON.stringify(text)})`);
  }
  const [, lenOpen, placeholder, pathText, lenClose, op, rightText] = match as unknown as [string, string | undefined, string, string, string | undefined, Op, string];
  const spec = PLACEHOLDERS[placeholder];
  if (spec === undefined) throw new ConditionSyntaxError(`unknown placeholder [${placeholder}]; expected one of ${Object.keys(PLACEHOLDERS).map((p) => `[${p}]`).join(', ')}`);
  if (!spec.kinds.includes(kind)) throw new ConditionSyntaxError(`[${placeholder}] is not available for ${kind} probes (only ${spec.kinds.join(', ')})`);
  if ((lenOpen === undefined) !== (lenClose === undefined)) throw new ConditionSyntaxError(`unbalanced parenthesis in len(...) (got ${JSON.stringify(text)})`);
  const length = lenOpen !== undefined;
  let path: Step[] = [];
  let name: string | null = null;
  if (spec.path === 'json') path = parsePath(pathText);
  else if (spec.path === 'name') {
    if (!/^\.[A-Za-z0-9!#$%&'*+^_`|~-]+$/.test(pathText)) throw new ConditionSyntaxError(`[${placeholder}] needs a header name, e.g. [HEADER].content-type (got ${JSON.stringify(text)})`);
    name = pathText.slice(1).toLowerCase();
  } else if (pathText !== '') throw new ConditionSyntaxError(`[${placeholder}] takes no path (got ${JSON.stringify(pathText)})`);
  if (rightText === '') throw new ConditionSyntaxError(`a value is missing after ${op}`);
  const right = parseLiteral(rightText);
  const type: ValueType = length ? 'size' : spec.type;
  checkTypes(placeholder, type, op, right);
  return { source: text, placeholder, length, path, name, op, right };
}

function parsePath(text: string): Step[] {
  const steps: Step[] = [];
  for (const m of text.matchAll(/\.([^\s.[\]()=!<>]+)|\[(\d+)\]/g)) steps.push(m[1] !== undefined ? m[1] : Number(m[2]));
  return steps;
}

/** A right-hand literal: function call, regex, quoted string, duration, size, number, boolean, or a bare word. */
function parseLiteral(text: string): Literal {
  const call = /^(any|contains)\((.*)\)$/s.exec(text);
  if (call !== null) {
    const args = splitArguments(call[2]!);
    if (args.length === 0 || args.some((a) => a === '')) throw new ConditionSyntaxError(`${call[1]}(...) needs ${call[1] === 'any' ? 'one or more values separated by commas' : 'one value'} (got ${JSON.stringify(text)})`);
    if (call[1] === 'contains') {
      if (args.length !== 1) throw new ConditionSyntaxError(`contains(...) takes exactly one value (got ${args.length})`);
      return { kind: 'contains', value: unquote(args[0]!) };
    }
    const items = args.map(parseLiteral);
    if (items.some((i) => i.kind === 'any' || i.kind === 'contains')) throw new ConditionSyntaxError('any(...) takes plain values, not any() or contains()');
    return { kind: 'any', items };
  }
  if (/^[a-z]+\(/.test(text)) throw new ConditionSyntaxError(`unknown function in ${JSON.stringify(text)}; expected any(...) or contains(...)`);
  const regex = /^\/(.*)\/([imsu]*)$/s.exec(text);
  if (regex !== null) {
    try {
      const re = new RegExp(regex[1]!, regex[2]);
      // JSON.stringify shows the pattern (config diffs on SIGHUP compare probes as JSON).
      Object.defineProperty(re, 'toJSON', { value: () => String(re), enumerable: false });
      return { kind: 'regex', re };
    } catch (err) {
      throw new ConditionSyntaxError(`invalid regular expression ${text}: ${(err as Error).message}`);
    }
  }
  if (/^"(?:[^"\\]|\\.)*"$/s.test(text) || /^'[^']*'$/s.test(text)) return { kind: 'text', value: unquote(text) };
  if (text.startsWith('"') || text.startsWith("'")) throw new ConditionSyntaxError(`unterminated string ${text}`);
  if (/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/.test(text)) {
    let ms = 0;
    for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(m[1]) * DURATION_MS[m[2]!]!;
    return { kind: 'duration', ms };
  }
  const size = /^(\d+(?:\.\d+)?)(B|KB|MB|GB|KiB|MiB|GiB)$/.exec(text);
  if (size !== null) return { kind: 'size', bytes: Math.floor(Number(size[1]) * SIZE_BYTES[size[2]!]!) };
  if (/^-?\d+(?:\.\d+)?(?:e[+-]?\d+)?$/i.test(text)) return { kind: 'number', value: Number(text) };
  if (text === 'true' || text === 'false') return { kind: 'boolean', value: text === 'true' };
  if (/\s/.test(text)) throw new ConditionSyntaxError(`a value with spaces must be quoted (got ${text})`);
  return { kind: 'text', value: text };
}

/** Splits `a, "b, c", /d,e/` at top-level commas. */
function splitArguments(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      current += c;
      if (c === '\\' && quote === '"') current += text[++i] ?? '';
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === '/') {
      quote = c;
      current += c;
    } else if (c === ',') {
      out.push(current.trim());
      current = '';
    } else current += c;
  }
  if (quote !== null) throw new ConditionSyntaxError(`unterminated ${quote === '/' ? 'regular expression' : 'string'} in ${JSON.stringify(text)}`);
  if (current.trim() !== '' || out.length > 0) out.push(current.trim());
  return out;
}

function unquote(text: string): string {
  if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) {
    try {
      return JSON.parse(text) as string;
    } catch {
      throw new ConditionSyntaxError(`invalid escape in string ${text}`);
    }
  }
  if (text.startsWith("'") && text.endsWith("'") && text.length >= 2) return text.slice(1, -1);
  return text;
}

const EXAMPLE: Record<ValueType, string> = {
  number: 'a number such as 200',
  duration: 'a duration such as 300ms, 10s or 7d',
  size: 'a number or a size such as 512B, 10KB or 1MiB',
  text: 'a string, any(...), contains(...) or /regex/',
  json: 'a value, any(...), contains(...) or /regex/',
  boolean: 'true or false',
  rcode: `a DNS rcode (${Object.keys(RCODES).join(', ')})`,
};

/** Rejects comparisons that could never be meaningful, with what was expected. */
function checkTypes(placeholder: string, type: ValueType, op: Op, right: Literal): void {
  const where = `[${placeholder}]`;
  const ordering = op !== '==' && op !== '!=';
  const fail = (why: string): never => {
    throw new ConditionSyntaxError(`${where} ${op} expects ${why}`);
  };
  if (ordering) {
    if (type === 'text' || type === 'boolean' || type === 'rcode') fail(`== or != for ${where}, not ${op}`);
    if (right.kind === 'any' || right.kind === 'contains' || right.kind === 'regex') fail(`${EXAMPLE[type === 'json' ? 'number' : type]}; any(), contains() and /regex/ work only with == and !=`);
  }
  const items = right.kind === 'any' ? right.items : [right];
  for (const item of items) {
    if (item.kind === 'contains' || item.kind === 'regex') {
      if (type === 'boolean' || type === 'duration' || type === 'size') fail(EXAMPLE[type]);
      continue;
    }
    switch (type) {
      case 'duration':
        if (item.kind !== 'duration') fail(`${EXAMPLE.duration} (got ${describeLiteral(item)})`);
        break;
      case 'size':
        if (item.kind !== 'size' && item.kind !== 'number') fail(`${EXAMPLE.size} (got ${describeLiteral(item)})`);
        break;
      case 'number':
        if (item.kind !== 'number') fail(`${EXAMPLE.number} (got ${describeLiteral(item)})`);
        break;
      case 'boolean':
        if (item.kind !== 'boolean') fail(`${EXAMPLE.boolean} (got ${describeLiteral(item)})`);
        break;
      case 'rcode':
        if (item.kind !== 'text' || RCODES[item.value.toUpperCase()] === undefined) fail(`${EXAMPLE.rcode} (got ${describeLiteral(item)})`);
        break;
      case 'json':
        if (ordering && item.kind !== 'number' && item.kind !== 'size' && item.kind !== 'duration') fail(`a number (got ${describeLiteral(item)})`);
        break;
      case 'text':
        break;
    }
  }
}

function describeLiteral(l: Literal): string {
  switch (l.kind) {
    case 'number': return `the number ${l.value}`;
    case 'duration': return `the duration ${l.ms}ms`;
    case 'size': return `the size ${l.bytes}B`;
    case 'text': return `the string ${JSON.stringify(l.value)}`;
    case 'boolean': return String(l.value);
    case 'regex': return `the regex ${String(l.re)}`;
    case 'contains': return 'contains(...)';
    case 'any': return 'any(...)';
  }
}

/** The value a placeholder takes in one outcome: a number, string, boolean, JSON value or undefined (absent). */
function resolve(c: Condition, o: ProbeOutcome, json: { parsed: boolean; value: unknown }): unknown {
  let value: unknown;
  switch (c.placeholder) {
    case 'STATUS': value = o.status; break;
    case 'RESPONSE_TIME': value = o.durationSeconds * 1000; break;
    case 'CERTIFICATE_EXPIRATION': value = o.certExpiryMs === null ? 0 : o.certExpiryMs - o.finishedAtMs; break;
    case 'CONNECTED': value = o.connected; break;
    case 'DNS_RCODE': value = o.dnsRcode ?? undefined; break;
    case 'IP': value = o.ip ?? undefined; break;
    case 'HEADER': value = o.headers?.[c.name!]; break;
    case 'BODY': {
      if (c.path.length === 0) {
        value = o.body;
        break;
      }
      if (!json.parsed) {
        json.parsed = true;
        try {
          json.value = o.body === null ? undefined : JSON.parse(o.body);
        } catch {
          json.value = undefined;
        }
      }
      value = json.value;
      for (const step of c.path) {
        if (value === null || typeof value !== 'object') return undefined;
        value = (value as Record<string | number, unknown>)[step];
      }
      break;
    }
  }
  if (c.length) {
    if (typeof value === 'string') return Buffer.byteLength(value);
    if (Array.isArray(value)) return value.length;
    if (value !== null && typeof value === 'object') return Object.keys(value).length;
    return undefined;
  }
  return value;
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function literalNumber(l: Literal): number | undefined {
  return l.kind === 'number' ? l.value : l.kind === 'duration' ? l.ms : l.kind === 'size' ? l.bytes : undefined;
}

/** `caseless` for DNS rcodes, whose names users write in either case. */
function equals(value: unknown, l: Literal, caseless: boolean): boolean {
  switch (l.kind) {
    case 'any': return l.items.some((i) => equals(value, i, caseless));
    case 'regex': return l.re.test(asText(value));
    case 'contains': return asText(value).includes(l.value);
    case 'boolean': return value === l.value || asText(value) === String(l.value);
    case 'text': return caseless ? asText(value).toUpperCase() === l.value.toUpperCase() : asText(value) === l.value;
    default: {
      const n = literalNumber(l)!;
      return typeof value === 'number' ? value === n : typeof value === 'string' && value.trim() !== '' && Number(value) === n;
    }
  }
}

/** True when the condition holds for the outcome. An absent value satisfies only `!=`. */
export function evaluate(c: Condition, o: ProbeOutcome, json: { parsed: boolean; value: unknown } = { parsed: false, value: undefined }): boolean {
  const value = resolve(c, o, json);
  if (value === undefined) return c.op === '!=';
  const caseless = c.placeholder === 'DNS_RCODE';
  if (c.op === '==') return equals(value, c.right, caseless);
  if (c.op === '!=') return !equals(value, c.right, caseless);
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  const limit = literalNumber(c.right);
  if (limit === undefined || Number.isNaN(n)) return false;
  switch (c.op) {
    case '<': return n < limit;
    case '<=': return n <= limit;
    case '>': return n > limit;
    case '>=': return n >= limit;
  }
}

/** The placeholders, for the README test and error messages. */
export const PLACEHOLDER_NAMES: readonly string[] = Object.keys(PLACEHOLDERS);
export { RCODES };
