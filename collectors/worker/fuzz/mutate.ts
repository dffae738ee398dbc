// The structured mutator: a seeded, reproducible function from (seed, case index) to one fuzz
// case. Protobuf cases are mutated at the wire level (field numbers, wire types, lengths, varint
// overruns, deep nesting, huge repeated fields, invalid UTF-8, NaN/±Inf, absurd timestamps,
// truncation, splicing); JSON cases at the value and text level; some cases are random bytes.

import { corpus } from './corpus.js';

/** One generated input. */
export interface FuzzCase {
  index: number;
  signal: 'metrics' | 'traces';
  encoding: 'protobuf' | 'json';
  bytes: Uint8Array;
  /** What was done to the seed, for the failure report. */
  mutations: string[];
}

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The seed of case `index` of a run seeded `runSeed`: every case can be replayed alone. */
export function caseSeed(runSeed: number, index: number): number {
  let h = (runSeed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Largest case the mutator builds (a huge repeated field stops here). */
const MAX_CASE_BYTES = 2 * 1024 * 1024;

// ---- protobuf wire form ---------------------------------------------------------------------

/** One field as found on the wire; `data` is the payload (LEN) or the raw value bytes. */
interface Field {
  num: number;
  wt: number;
  data: Uint8Array;
  /** Added to the true length when written (a lying length). */
  lenDelta?: number;
  /** Children when `data` parses as a message (parsed lazily). */
  children?: Field[] | null;
}

function readVarint(buf: Uint8Array, at: number): [number, number] | null {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (at + i >= buf.length) return null;
    const b = buf[at + i]!;
    value += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return [value, at + i + 1];
  }
  return null;
}

/** The fields of `buf` as a message, or null when it is not one. */
function parseMessage(buf: Uint8Array): Field[] | null {
  const fields: Field[] = [];
  let at = 0;
  while (at < buf.length) {
    const tag = readVarint(buf, at);
    if (tag === null) return null;
    const num = Math.floor(tag[0] / 8);
    const wt = tag[0] % 8;
    if (num === 0) return null;
    at = tag[1];
    const start = at;
    if (wt === 0) {
      const v = readVarint(buf, at);
      if (v === null) return null;
      at = v[1];
    } else if (wt === 1) at += 8;
    else if (wt === 5) at += 4;
    else if (wt === 2) {
      const len = readVarint(buf, at);
      if (len === null) return null;
      at = len[1] + len[0];
      if (at > buf.length) return null;
      fields.push({ num, wt, data: buf.subarray(len[1], at) });
      continue;
    } else return null;
    if (at > buf.length) return null;
    fields.push({ num, wt, data: buf.subarray(start, at) });
  }
  return fields;
}

function varint(value: number): number[] {
  const out: number[] = [];
  let v = Math.max(0, Math.floor(value));
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** Serialises fields (children first, if parsed). */
function encodeMessage(fields: Field[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const f of fields) {
    // Repeated copies share one Field: a later mutation inside it could multiply the size, so stop at the cap.
    if (total > MAX_CASE_BYTES) break;
    const data = f.children ? encodeMessage(f.children) : f.data;
    const head = varint(f.num * 8 + f.wt);
    if (f.wt === 2) head.push(...varint(Math.max(0, data.length + (f.lenDelta ?? 0))));
    const part = new Uint8Array(head.length + data.length);
    part.set(head, 0);
    part.set(data, head.length);
    parts.push(part);
    total += part.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function childrenOf(f: Field): Field[] | null {
  if (f.children === undefined) f.children = f.wt === 2 ? parseMessage(f.data) : null;
  return f.children;
}

/** A random field list in the tree, and the path to it (for the report). */
function pickList(rng: Rng, root: Field[]): { list: Field[]; path: string } {
  let list = root;
  let path = '';
  for (let depth = 0; depth < 12 && list.length > 0; depth++) {
    const f = rng.pick(list);
    const kids = childrenOf(f);
    if (kids === null || kids.length === 0 || rng.chance(0.25)) break;
    list = kids;
    path += `/${f.num}`;
  }
  return { list, path: path || '/' };
}

const f64 = (v: number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return b;
};
const u64 = (hi: number, lo: number): Uint8Array => {
  const b = new Uint8Array(8);
  const view = new DataView(b.buffer);
  view.setUint32(0, lo >>> 0, true);
  view.setUint32(4, hi >>> 0, true);
  return b;
};

const SPECIAL_I64: readonly [string, Uint8Array][] = [
  ['NaN', f64(Number.NaN)],
  ['+Inf', f64(Number.POSITIVE_INFINITY)],
  ['-Inf', f64(Number.NEGATIVE_INFINITY)],
  ['-0', f64(-0)],
  ['max double', f64(Number.MAX_VALUE)],
  ['min subnormal', f64(Number.MIN_VALUE)],
  ['signalling NaN', u64(0x7ff00000, 1)],
  ['u64 max (timestamp year 2554)', u64(0xffffffff, 0xffffffff)],
  ['i64 min', u64(0x80000000, 0)],
  ['2^53+1', u64(0x200000, 1)],
  ['zero', u64(0, 0)],
];

const BAD_UTF8: readonly [string, number[]][] = [
  ['lone continuation', [0x80]],
  ['overlong NUL', [0xc0, 0x80]],
  ['UTF-16 surrogate', [0xed, 0xa0, 0x80]],
  ['0xff', [0xff, 0xfe]],
  ['truncated 4-byte', [0xf0, 0x9f, 0x98]],
  ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
];

/** `depth` levels of AnyValue.array_value(5) → ArrayValue.values(1) around AnyValue{string_value:"x"}, built in linear time. */
function deepAnyValue(depth: number): Uint8Array {
  // Sizes bottom-up: sizes[i] is the AnyValue at level i (0 = the innermost string).
  const sizes = [3];
  for (let i = 1; i <= depth; i++) {
    const inner = sizes[i - 1]!;
    const arrayValue = 1 + varint(inner).length + inner;
    sizes.push(1 + varint(arrayValue).length + arrayValue);
    if (sizes[i]! > MAX_CASE_BYTES) break;
  }
  const top = sizes.length - 1;
  const out = new Uint8Array(sizes[top]!);
  let at = 0;
  for (let i = top; i >= 1; i--) {
    const inner = sizes[i - 1]!;
    const arrayValue = 1 + varint(inner).length + inner;
    for (const b of [0x2a, ...varint(arrayValue), 0x0a, ...varint(inner)]) out[at++] = b;
  }
  out.set([0x0a, 0x01, 0x78], at);
  return out;
}

/** One wire-level mutation of the tree; returns its description. */
function mutateWire(rng: Rng, root: Field[], donor: Field[]): string {
  const { list, path } = pickList(rng, root);
  if (list.length === 0) {
    list.push({ num: 1 + rng.int(15), wt: 2, data: new Uint8Array(0) });
    return `${path}: add empty field`;
  }
  const i = rng.int(list.length);
  const f = list[i]!;
  const at = `${path}#${i}(field ${f.num}, wt ${f.wt})`;
  switch (rng.int(14)) {
    case 0: {
      const num = rng.pick([0, 1 + rng.int(20), 536_870_911, 19000, 1 + rng.int(1000)]);
      f.num = Math.max(1, num);
      return `${at}: field number → ${f.num}`;
    }
    case 1: {
      const wt = rng.pick([0, 1, 2, 3, 4, 5, 6, 7]);
      f.wt = wt;
      delete f.children;
      return `${at}: wire type → ${wt}`;
    }
    case 2: {
      if (f.wt !== 2) f.wt = 2;
      f.lenDelta = rng.pick([1, -1, 7, 1 << 20, 2 ** 31, 2 ** 40, -f.data.length]);
      return `${at}: length lies by ${f.lenDelta}`;
    }
    case 3: {
      // A varint of 11+ bytes, all continuation: overruns any 64-bit value.
      f.wt = 0;
      delete f.children;
      f.data = new Uint8Array(rng.pick([10, 11, 16, 64])).fill(0xff);
      if (rng.chance(0.5)) f.data[f.data.length - 1] = 0x01;
      return `${at}: varint overrun of ${f.data.length} bytes`;
    }
    case 4: {
      const copies = rng.pick([100, 1000, 10_000, 100_000]);
      const size = Math.max(1, f.data.length + 4);
      const n = Math.min(copies, Math.floor(MAX_CASE_BYTES / size));
      const clone: Field = { num: f.num, wt: f.wt, data: f.children ? encodeMessage(f.children) : f.data };
      list.splice(i, 0, ...Array.from({ length: n }, () => clone));
      return `${at}: repeated ${n} times`;
    }
    case 5: {
      const depth = rng.pick([33, 64, 200, 2000, 20_000]);
      f.wt = 2;
      f.children = null;
      f.data = deepAnyValue(depth);
      return `${at}: nested AnyValue ${depth} deep`;
    }
    case 6: {
      const [name, bytes] = rng.pick(BAD_UTF8);
      f.wt = 2;
      f.children = null;
      const pos = rng.int(f.data.length + 1);
      const next = new Uint8Array(f.data.length + bytes.length);
      next.set(f.data.subarray(0, pos), 0);
      next.set(bytes, pos);
      next.set(f.data.subarray(pos), pos + bytes.length);
      f.data = next;
      return `${at}: invalid UTF-8 (${name}) at ${pos}`;
    }
    case 7: {
      const [name, bytes] = rng.pick(SPECIAL_I64);
      f.wt = 1;
      f.children = null;
      f.data = bytes;
      return `${at}: fixed64 → ${name}`;
    }
    case 8: {
      f.children = null;
      const cut = rng.int(f.data.length + 1);
      f.data = f.data.subarray(0, cut);
      return `${at}: payload truncated to ${cut}`;
    }
    case 9:
      list.splice(i, 1);
      return `${at}: removed`;
    case 10: {
      const donorField = rng.pick(donor.length > 0 ? donor : [f]);
      const spliced: Field = { num: donorField.num, wt: donorField.wt, data: donorField.data };
      list.splice(rng.int(list.length + 1), 0, spliced);
      return `${at}: spliced field ${donorField.num} from another seed`;
    }
    case 11: {
      f.wt = 0;
      f.children = null;
      f.data = new Uint8Array(varint(rng.pick([0, 1, 2, 3, 7, 127, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER])));
      return `${at}: varint → ${Array.from(f.data).length} bytes`;
    }
    case 12: {
      // A huge string value: a long label or name.
      f.wt = 2;
      f.children = null;
      f.data = new Uint8Array(rng.pick([1000, 65_536, 1 << 20])).fill(0x61);
      return `${at}: ${f.data.length}-byte string`;
    }
    default: {
      f.children = null;
      const data = new Uint8Array(f.data);
      for (let k = 0; k < 1 + rng.int(4) && data.length > 0; k++) data[rng.int(data.length)] = rng.int(256);
      f.data = data;
      return `${at}: bytes flipped`;
    }
  }
}

// ---- JSON ----------------------------------------------------------------------------------

const JSON_REPLACEMENTS: readonly [string, () => unknown][] = [
  ['null', () => null],
  ['a string', () => 'x'],
  ['a number', () => 42],
  ['a negative', () => -1],
  ['a float for an int', () => 1.5],
  ['an object', () => ({ a: 1 })],
  ['an array', () => [1, 'two', null]],
  ['true', () => true],
  ['a huge decimal string', () => '123456789012345678901234567890'],
  ['"NaN"', () => 'NaN'],
  ['"Infinity"', () => 'Infinity'],
  ['"-Infinity"', () => '-Infinity'],
  ['1e308', () => 1e308],
  ['bad hex', () => 'zz'.repeat(8)],
  ['bad base64', () => '!!!*'],
  ['a long string', () => 'a'.repeat(100_000)],
  ['u64 max', () => '18446744073709551615'],
  ['2^64', () => '18446744073709551616'],
];

const DEEP_PLACEHOLDER = '\u0000deep';

/** Expands deep-nesting placeholders in JSON text into nested AnyValue arrays. */
function expandDeep(text: string): string {
  // Only the first is expanded: a repeated one would make the case gigabytes long.
  let expanded = false;
  return text.replace(/"\\u0000deep(\d+)"/g, (_, d: string) => {
    if (expanded) return '"x"';
    expanded = true;
    return `${'{"arrayValue":{"values":['.repeat(Number(d))}{"stringValue":"x"}${']}}'.repeat(Number(d))}`;
  });
}

/** A random node of a JSON value: its parent and key. */
function pickJsonNode(rng: Rng, doc: unknown): { parent: Record<string, unknown> | unknown[]; key: string | number; path: string } | null {
  let node = doc;
  let found: { parent: Record<string, unknown> | unknown[]; key: string | number; path: string } | null = null;
  let path = '';
  for (let depth = 0; depth < 16; depth++) {
    if (node === null || typeof node !== 'object') break;
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    if (keys.length === 0) break;
    const key = rng.pick(keys);
    path += typeof key === 'number' ? `[${key}]` : `.${key}`;
    found = { parent: node as Record<string, unknown>, key, path };
    node = (node as Record<string | number, unknown>)[key];
    if (rng.chance(0.2)) break;
  }
  return found;
}

function mutateJsonValue(rng: Rng, doc: unknown): string {
  const node = pickJsonNode(rng, doc);
  if (node === null) return 'nothing to mutate';
  const { parent, key, path } = node;
  const setTo = (v: unknown) => ((parent as Record<string | number, unknown>)[key] = v);
  switch (rng.int(4)) {
    case 0: {
      const [name, make] = rng.pick(JSON_REPLACEMENTS);
      setTo(make());
      return `${path} → ${name}`;
    }
    case 1: {
      const value = (parent as Record<string | number, unknown>)[key];
      // Bounded by the case size: a second repetition inside the first would be quadratic.
      const size = (JSON.stringify(value) ?? 'null').length + 1;
      const n = Math.min(rng.pick([100, 10_000, 50_000]), Math.floor(MAX_CASE_BYTES / size));
      setTo(Array.from({ length: n }, () => value));
      return `${path} → repeated ${n} times`;
    }
    case 2:
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key as string];
      return `${path} removed`;
    default: {
      // A placeholder expanded in the text (JSON.stringify itself would overflow the stack).
      const depth = rng.pick([40, 1000, 10_000]);
      setTo(`${DEEP_PLACEHOLDER}${depth}`);
      return `${path} → AnyValue nested ${depth} deep`;
    }
  }
}

function mutateJsonText(rng: Rng, text: string): [Uint8Array, string] {
  const bytes = Buffer.from(text, 'utf8');
  switch (rng.int(5)) {
    case 0: {
      const cut = rng.int(bytes.length);
      return [bytes.subarray(0, cut), `text truncated to ${cut}`];
    }
    case 1: {
      const out = Buffer.from(bytes);
      for (let k = 0; k < 1 + rng.int(8); k++) out[rng.int(out.length)] = rng.int(256);
      return [out, 'text bytes flipped'];
    }
    case 2: {
      const [name, bad] = rng.pick(BAD_UTF8);
      const at = bytes.indexOf(0x22, rng.int(bytes.length)) + 1; // just inside a string
      return [Buffer.concat([bytes.subarray(0, at), Buffer.from(bad), bytes.subarray(at)]), `invalid UTF-8 (${name}) in the text`];
    }
    case 3: {
      const depth = rng.pick([1000, 100_000]);
      return [Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`), `bare array nesting ${depth} deep`];
    }
    default:
      return [Buffer.from(text.replace('"name"', '"name":"dup","name"')), 'duplicate key'];
  }
}

// ---- cases ---------------------------------------------------------------------------------

/** Case `index` of the run seeded `runSeed`. */
export function fuzzCase(runSeed: number, index: number): FuzzCase {
  const rng = new Rng(caseSeed(runSeed, index));
  const seeds = corpus();
  const seed = rng.pick(seeds);
  const mutations: string[] = [`seed ${seed.name}`];
  const roll = rng.next();
  if (roll < 0.05) {
    const bytes = new Uint8Array(rng.pick([0, 1, 7, 64, 4096, 65_536]));
    for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
    return { index, signal: seed.signal, encoding: rng.chance(0.8) ? 'protobuf' : 'json', bytes, mutations: [`${bytes.length} random bytes`] };
  }
  if (roll < 0.3) {
    let bytes: Uint8Array;
    if (rng.chance(0.6)) {
      const doc = JSON.parse(seed.json) as unknown;
      const rounds = 1 + rng.int(3);
      for (let k = 0; k < rounds; k++) {
        const what = mutateJsonValue(rng, doc);
        mutations.push(what);
        // Copies share one object: mutating inside one after this would multiply the size.
        if (what.includes('repeated')) break;
      }
      bytes = Buffer.from(expandDeep(JSON.stringify(doc)));
    } else {
      const [mutated, what] = mutateJsonText(rng, seed.json);
      mutations.push(what);
      bytes = mutated;
    }
    return { index, signal: seed.signal, encoding: 'json', bytes: bytes.subarray(0, MAX_CASE_BYTES), mutations };
  }
  const root = parseMessage(seed.protobuf)!;
  const donor = parseMessage(rng.pick(seeds).protobuf)!;
  const rounds = 1 + rng.int(4);
  for (let k = 0; k < rounds; k++) mutations.push(mutateWire(rng, root, donor));
  let bytes = encodeMessage(root);
  if (bytes.length > MAX_CASE_BYTES) bytes = bytes.subarray(0, MAX_CASE_BYTES);
  return { index, signal: seed.signal, encoding: 'protobuf', bytes, mutations };
}

/** Hex of a case's bytes for a failure report, capped so a report stays readable. */
export function caseHex(bytes: Uint8Array, max = 4096): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, max)).toString('hex');
  return bytes.length > max ? `${hex}… (${bytes.length} bytes, first ${max} shown; replay with --seed and --case)` : hex;
}
