import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { MalformedPayloadError } from '../errors.js';
import { MAX_DEPTH, WireReader, WireType, tagOf } from './wire.js';

const TWO_32 = 4294967296;

/** Asserts `fn` throws a MalformedPayloadError whose message matches `pattern`. */
function assertMalformed(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MalformedPayloadError, `expected MalformedPayloadError, got ${String(err)}`);
    assert.equal(err.code, 'VIGIL_MALFORMED_PAYLOAD');
    assert.equal(err.reason, 'malformed');
    assert.match(err.message, pattern);
    return true;
  });
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

describe('WireReader varints', () => {
  const cases: Array<[string, bigint]> = [
    ['0', 0n],
    ['1', 1n],
    ['127', 127n],
    ['128', 128n],
    ['2^28 - 1', 2n ** 28n - 1n],
    ['2^28', 2n ** 28n],
    ['2^32 - 1', 2n ** 32n - 1n],
    ['2^32', 2n ** 32n],
    ['2^35 + 5', 2n ** 35n + 5n],
    ['2^53 - 1', 2n ** 53n - 1n],
    ['2^63', 2n ** 63n],
    ['2^64 - 1', 2n ** 64n - 1n],
  ];
  for (const [name, value] of cases) {
    it(`reads ${name} as encoded by protobufjs`, () => {
      const encoded = protobuf.Writer.create().uint64(value.toString()).finish();
      const r = new WireReader(encoded);
      r.varint64(encoded.length);
      assert.equal(r.pos, encoded.length);
      assert.equal(r.lo, Number(value & 0xffffffffn));
      assert.equal(r.hi, Number(value >> 32n));
      r.pos = 0;
      assert.equal(r.uint64(encoded.length), Number(value));
      r.pos = 0;
      assert.equal(r.uint32(encoded.length), Number(value & 0xffffffffn));
    });
  }

  it('reads negative int64 and int32 (10-byte sign extension)', () => {
    for (const v of [-1, -2, -300, -(2 ** 31), -(2 ** 53) + 1]) {
      const encoded = protobuf.Writer.create().int64(v).finish();
      assert.equal(encoded.length, 10);
      const r = new WireReader(encoded);
      assert.equal(r.int64(encoded.length), v);
      if (v >= -(2 ** 31)) {
        r.pos = 0;
        assert.equal(r.int32(encoded.length), v);
      }
    }
  });

  it('reads zigzag sint32', () => {
    for (const v of [0, -1, 1, -64, 64, 2147483647, -2147483648]) {
      const encoded = protobuf.Writer.create().sint32(v).finish();
      assert.equal(new WireReader(encoded).sint32(encoded.length), v);
    }
  });

  it('rejects a varint longer than 10 bytes', () => {
    const encoded = bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    assertMalformed(() => new WireReader(encoded).varint64(encoded.length), /varint longer than 10 bytes at byte 0/);
  });

  it('rejects a varint truncated by the buffer or by the enclosing message', () => {
    assertMalformed(() => new WireReader(bytes(0x80, 0x80)).varint64(2), /truncated varint at byte 0/);
    // Complete in the buffer, but it would cross the end of the enclosing message.
    assertMalformed(() => new WireReader(bytes(0x80, 0x01)).varint64(1), /truncated varint/);
    assertMalformed(() => new WireReader(bytes()).uint32(0), /truncated varint/);
  });
});

describe('WireReader fixed-width values', () => {
  it('reads fixed64, sfixed64, double and fixed32 as protobufjs writes them', () => {
    const w = protobuf.Writer.create();
    w.fixed64('1700000000123456789').sfixed64(-5).sfixed64('-9007199254740993').double(-1.25).double(Number.NaN).fixed32(0xdeadbeef);
    const encoded = w.finish();
    const r = new WireReader(encoded);
    const end = encoded.length;
    const ns = 1700000000123456789n;
    assert.equal(r.fixed64(end), Number(ns >> 32n) * TWO_32 + Number(ns & 0xffffffffn));
    assert.equal(r.sfixed64(end), -5);
    assert.equal(r.sfixed64(end), -9007199254740992); // rounded: precision loss above 2^53
    assert.equal(r.double(end), -1.25);
    assert.ok(Number.isNaN(r.double(end)));
    assert.equal(r.fixed32(end), 0xdeadbeef);
    assert.equal(r.pos, end);
  });

  it('works on a view into a larger buffer', () => {
    const backing = new Uint8Array(16);
    new DataView(backing.buffer).setFloat64(5, 3.5, true);
    const view = backing.subarray(5, 13);
    assert.equal(new WireReader(view).double(8), 3.5);
  });

  it('rejects truncated fixed-width values', () => {
    assertMalformed(() => new WireReader(new Uint8Array(7)).fixed64(7), /truncated fixed64 at byte 0/);
    assertMalformed(() => new WireReader(new Uint8Array(8)).double(4), /truncated double/);
    assertMalformed(() => new WireReader(new Uint8Array(3)).fixed32(3), /truncated fixed32/);
  });
});

describe('WireReader tags, lengths and skipping', () => {
  it('splits tags into field number and wire type', () => {
    const encoded = protobuf.Writer.create().uint32(tagOf(12345, WireType.LengthDelimited)).finish();
    const tag = new WireReader(encoded).tag(encoded.length);
    assert.equal(tag >>> 3, 12345);
    assert.equal(tag & 7, WireType.LengthDelimited);
  });

  it('rejects groups, wire types 6 and 7, and field number 0', () => {
    assertMalformed(() => new WireReader(bytes(tagOf(1, WireType.StartGroup))).tag(1), /group \(wire type 3\) in field 1/);
    assertMalformed(() => new WireReader(bytes(tagOf(2, WireType.EndGroup))).tag(1), /group \(wire type 4\) in field 2/);
    assertMalformed(() => new WireReader(bytes(3 * 8 + 6)).tag(1), /invalid wire type 6/);
    assertMalformed(() => new WireReader(bytes(3 * 8 + 7)).tag(1), /invalid wire type 7/);
    assertMalformed(() => new WireReader(bytes(0x02)).tag(1), /field number 0/);
  });

  it('rejects a length that overruns the enclosing message', () => {
    assertMalformed(() => new WireReader(bytes(5, 1, 2, 3)).length(4), /length 5 overruns the 3 bytes left at byte 0/);
    // A length of 2^32 or more is never valid.
    const huge = protobuf.Writer.create().uint64('4294967296').finish();
    assertMalformed(() => new WireReader(huge).length(huge.length), /overruns/);
  });

  it('skips every wire type', () => {
    const w = protobuf.Writer.create();
    w.uint32(tagOf(1, WireType.Varint)).uint64('18446744073709551615');
    w.uint32(tagOf(2, WireType.Fixed64)).fixed64(7);
    w.uint32(tagOf(3, WireType.LengthDelimited)).bytes(new Uint8Array(300));
    w.uint32(tagOf(4, WireType.Fixed32)).fixed32(9);
    w.uint32(tagOf(5, WireType.Varint)).uint32(42);
    const encoded = w.finish();
    const r = new WireReader(encoded);
    const end = encoded.length;
    for (let field = 1; field <= 4; field++) {
      const tag = r.tag(end);
      assert.equal(tag >>> 3, field);
      r.skip(tag, end);
    }
    assert.equal(r.tag(end), tagOf(5, WireType.Varint));
    assert.equal(r.uint32(end), 42);
    assert.equal(r.pos, end);
  });

  it('rejects skipping past the end', () => {
    const w = protobuf.Writer.create().uint32(tagOf(3, WireType.LengthDelimited)).uint32(10).finish();
    const r = new WireReader(w);
    const tag = r.tag(w.length);
    assertMalformed(() => r.skip(tag, w.length), /length 10 overruns the 0 bytes left at byte 1 \(in field 3\)/);
  });
});

describe('WireReader nesting and error paths', () => {
  it(`accepts nesting up to ${MAX_DEPTH} and rejects deeper`, () => {
    const r = new WireReader(new Uint8Array(1));
    for (let i = 0; i < MAX_DEPTH; i++) r.enter('values', i);
    assert.equal(r.depth, MAX_DEPTH);
    assertMalformed(() => r.enter('values', MAX_DEPTH), /nesting deeper than 32/);
  });

  it('names the field path and byte offset', () => {
    const r = new WireReader(new Uint8Array(8));
    r.enter('resource_metrics', 0);
    r.enter('resource', -1);
    r.enter('attributes', 2);
    r.pos = 6;
    assertMalformed(() => r.fixed64(8), /^truncated fixed64 at byte 6 \(in resource_metrics\[0\]\.resource\.attributes\[2\]\)$/);
    r.leave();
    assert.equal(r.path('key'), 'resource_metrics[0].resource.key');
  });
});
