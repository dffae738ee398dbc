// A minimal protobuf wire-format reader for the decode workers.
//
// It reads straight from the request bytes: no per-field objects, no BigInt. Every read is
// bounds-checked against the end of the enclosing message, and every failure is a
// MalformedPayloadError naming the field path and the byte offset.

import { MalformedPayloadError } from '../errors.js';

/** Protobuf wire types. Groups (3, 4) are deprecated and rejected. */
export const WireType = {
  Varint: 0,
  Fixed64: 1,
  LengthDelimited: 2,
  StartGroup: 3,
  EndGroup: 4,
  Fixed32: 5,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

/** Deepest message nesting accepted (AnyValue arrays and maps can nest without limit). */
export const MAX_DEPTH = 32;

const TWO_32 = 4294967296;

/** The tag of field `field` with wire type `wireType`, as `WireReader.tag` returns it. */
export function tagOf(field: number, wireType: WireType): number {
  return field * 8 + wireType;
}

/**
 * Reads protobuf wire data from one buffer. `pos` is the next byte; methods take `end`, the
 * end of the enclosing message, and never read past it. Callers `enter`/`leave` nested
 * messages so that errors can name where they happened.
 */
export class WireReader {
  readonly buf: Uint8Array;
  /** Next byte to read. */
  pos = 0;
  /** Low and high 32 bits (unsigned) of the last `varint64`. */
  lo = 0;
  hi = 0;
  readonly #view: DataView;
  #depth = 0;
  readonly #names: string[] = new Array<string>(MAX_DEPTH + 1).fill('');
  readonly #indices = new Int32Array(MAX_DEPTH + 1);

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Current nesting depth (0 = top-level message). */
  get depth(): number {
    return this.#depth;
  }

  /** Notes entry into the nested message in field `name` (element `index`, or -1). */
  enter(name: string, index: number): void {
    const depth = this.#depth + 1;
    if (depth > MAX_DEPTH) {
      this.#depth = MAX_DEPTH;
      this.fail(`message nesting deeper than ${MAX_DEPTH}`, this.pos);
    }
    this.#names[depth] = name;
    this.#indices[depth] = index;
    this.#depth = depth;
  }

  /** Notes the end of the message entered last. */
  leave(): void {
    this.#depth--;
  }

  /** The dotted path of the messages entered, e.g. `resource_metrics[0].scope_metrics[1]`. */
  path(field?: string): string {
    let out = '';
    for (let i = 1; i <= this.#depth; i++) {
      const index = this.#indices[i]!;
      out += (i > 1 ? '.' : '') + this.#names[i] + (index >= 0 ? `[${index}]` : '');
    }
    if (field !== undefined) out += (out === '' ? '' : '.') + field;
    return out;
  }

  /** Throws a MalformedPayloadError for `what` at byte `offset`, in `field` of the current path. */
  fail(what: string, offset: number, field?: string): never {
    const path = this.path(field);
    throw new MalformedPayloadError(`${what} at byte ${offset}${path === '' ? '' : ` (in ${path})`}`);
  }

  /** Reads a field tag (field number × 8 + wire type); rejects field 0, groups and wire types 6/7. */
  tag(end: number): number {
    const start = this.pos;
    const buf = this.buf;
    let tag: number;
    if (start < end && buf[start]! < 0x80) {
      tag = buf[start]!;
      this.pos = start + 1;
    } else {
      this.varint64(end);
      if (this.hi !== 0) this.fail('field tag larger than 32 bits', start);
      tag = this.lo;
    }
    const wireType = tag & 7;
    if (tag < 8) this.fail('field number 0', start);
    if (wireType === WireType.StartGroup || wireType === WireType.EndGroup) {
      this.fail(`deprecated group (wire type ${wireType}) in field ${tag >>> 3}`, start);
    }
    if (wireType > WireType.Fixed32) this.fail(`invalid wire type ${wireType} in field ${tag >>> 3}`, start);
    return tag;
  }

  /** Reads a varint into `lo`/`hi`; rejects varints longer than 10 bytes or past `end`. */
  varint64(end: number): void {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    if (pos >= end) this.fail('truncated varint', start);
    let b = buf[pos++]!;
    let lo = b & 0x7f;
    let hi = 0;
    let shift = 7;
    while (b >= 0x80) {
      if (shift > 63) this.fail('varint longer than 10 bytes', start);
      if (pos >= end) this.fail('truncated varint', start);
      b = buf[pos++]!;
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi = (b & 0x7f) >>> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      shift += 7;
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    this.pos = pos;
  }

  /** Reads a varint and returns its low 32 bits, unsigned (uint32, bool, enum, flags). */
  uint32(end: number): number {
    const pos = this.pos;
    if (pos < end && this.buf[pos]! < 0x80) {
      this.pos = pos + 1;
      return this.buf[pos]!;
    }
    this.varint64(end);
    return this.lo;
  }

  /** Reads an int32/enum varint (sign-extended to 64 bits on the wire). */
  int32(end: number): number {
    return this.uint32(end) | 0;
  }

  /** Reads a uint64 varint as a float64 (exact up to 2^53). */
  uint64(end: number): number {
    this.varint64(end);
    return this.hi * TWO_32 + this.lo;
  }

  /** Reads an int64 varint (two's complement) as a float64 (exact within ±2^53). */
  int64(end: number): number {
    this.varint64(end);
    return (this.hi | 0) * TWO_32 + this.lo;
  }

  /** Reads a zigzag-encoded sint32. */
  sint32(end: number): number {
    const n = this.uint32(end);
    return (n >>> 1) ^ -(n & 1);
  }

  /** Reads a length prefix and checks the bytes it announces lie before `end`. */
  length(end: number, field?: string): number {
    const start = this.pos;
    this.varint64(end);
    const remaining = end - this.pos;
    if (this.hi !== 0 || this.lo > remaining) {
      this.fail(`length ${this.hi * TWO_32 + this.lo} overruns the ${remaining} bytes left`, start, field);
    }
    return this.lo;
  }

  #need(n: number, end: number, what: string): number {
    const pos = this.pos;
    if (end - pos < n) this.fail(`truncated ${what}`, pos);
    this.pos = pos + n;
    return pos;
  }

  /** Reads a fixed64 as an unsigned float64 (exact up to 2^53). */
  fixed64(end: number): number {
    const at = this.#need(8, end, 'fixed64');
    return this.#view.getUint32(at + 4, true) * TWO_32 + this.#view.getUint32(at, true);
  }

  /** Reads an sfixed64 as a float64 (exact within ±2^53). */
  sfixed64(end: number): number {
    const at = this.#need(8, end, 'sfixed64');
    return this.#view.getInt32(at + 4, true) * TWO_32 + this.#view.getUint32(at, true);
  }

  /** Reads a little-endian IEEE 754 double. */
  double(end: number): number {
    const at = this.#need(8, end, 'double');
    return this.#view.getFloat64(at, true);
  }

  /** Reads a fixed32, unsigned. */
  fixed32(end: number): number {
    const at = this.#need(4, end, 'fixed32');
    return this.#view.getUint32(at, true);
  }

  /** Reads the double at absolute offset `at` (the caller checked the bounds). */
  doubleAt(at: number): number {
    return this.#view.getFloat64(at, true);
  }

  /** Reads the unsigned fixed64 at absolute offset `at` (the caller checked the bounds). */
  fixed64At(at: number): number {
    return this.#view.getUint32(at + 4, true) * TWO_32 + this.#view.getUint32(at, true);
  }

  /** Skips the value of a field whose tag was just read. */
  skip(tag: number, end: number): void {
    switch (tag & 7) {
      case WireType.Varint:
        this.varint64(end);
        return;
      case WireType.Fixed64:
        this.#need(8, end, 'fixed64');
        return;
      case WireType.LengthDelimited: {
        const length = this.length(end, `field ${tag >>> 3}`);
        this.pos += length;
        return;
      }
      case WireType.Fixed32:
        this.#need(4, end, 'fixed32');
        return;
      default:
        // tag() already rejected groups and wire types 6 and 7.
        this.fail(`unexpected wire type ${tag & 7}`, this.pos);
    }
  }

  /** Fails for a known field sent with the wrong wire type. */
  wrongType(tag: number, field: string): never {
    return this.fail(`wrong wire type ${tag & 7} for field ${tag >>> 3}`, this.pos, field);
  }
}
