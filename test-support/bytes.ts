// Byte builders for tests that send hand-made protobuf.

/** Deterministic bytes (xorshift32), so a failure reproduces. */
export function pseudoRandomBytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A protobuf base-128 varint. */
export function varint(value: number): Buffer {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

/** A length-delimited field with a number the schema does not define: valid protobuf, skipped by decoders. */
export function unknownBytesField(length: number): Buffer {
  return Buffer.concat([varint((100 << 3) | 2), varint(length), Buffer.alloc(length)]);
}
