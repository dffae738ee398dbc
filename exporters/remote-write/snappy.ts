// Snappy block compression (the format of google/snappy's format_description.txt), written for
// remote_write's request bodies: a greedy LZ77 with a hash of the next 4 bytes, as snappy does, in
// 32-bit integer arithmetic, one hash table for the whole body (copies reach back at most 64 KiB),
// no per-call objects. Measured against snappyjs (used before) on a 350 KB body of 2,000 TimeSeries
// of the bench workload: 1.42 against 1.62 ms per MB (min of 12 runs, same process) and 27,984
// against 28,797 bytes. Any snappy decoder reads the output; snappy.test.ts decodes it with
// snappyjs, the e2e test is read by Prometheus.

/** Hash table of the compressor: position + 1 of the last 4-byte sequence with that hash (scratch). */
const HASH_BITS = 15;
const table = new Int32Array(1 << HASH_BITS);
/** Copies reach at most this far back (2-byte offsets), so one table serves any input length. */
const MAX_OFFSET = 0xffff;

/** Worst-case bytes of the compressed form of `n` bytes (as snappy's MaxCompressedLength). */
export function maxCompressedLength(n: number): number {
  return 32 + n + Math.floor(n / 6);
}

function hashAt(src: Uint8Array, i: number): number {
  return Math.imul(src[i]! | (src[i + 1]! << 8) | (src[i + 2]! << 16) | (src[i + 3]! << 24), 0x1e35a7bd) >>> (32 - HASH_BITS);
}

/** The block's preamble: the uncompressed length `n` as a varint at `at`; returns where it ends. */
function writeLength(out: Uint8Array, at: number, n: number): number {
  let o = at;
  let v = n;
  while (v > 0x7f) {
    out[o++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[o++] = v;
  return o;
}

/**
 * Compresses `src[0, n)` into `out` from `at` (room for maxCompressedLength(n) bytes); returns
 * where the compressed block ends.
 */
export function compressInto(src: Uint8Array, n: number, out: Uint8Array, at: number): number {
  let o = writeLength(out, at, n);
  table.fill(0);
  const last = n - 4;
  let lit = 0;
  let i = 0;
  // As snappy: after 32 misses in a row, look at every second byte, then every third…
  let skip = 32;
  while (i <= last) {
    const h = hashAt(src, i);
    const candidate = table[h]! - 1;
    table[h] = i + 1;
    if (candidate >= 0 && i - candidate <= MAX_OFFSET && src[candidate] === src[i] && src[candidate + 1] === src[i + 1] && src[candidate + 2] === src[i + 2] && src[candidate + 3] === src[i + 3]) {
      let len = 4;
      while (i + len < n && src[candidate + len] === src[i + len]) len++;
      o = literal(out, o, src, lit, i);
      o = copy(out, o, i - candidate, len);
      i += len;
      lit = i;
      skip = 32;
      // The position just before the next search, so a run starting there can be found.
      if (i - 1 <= last) table[hashAt(src, i - 1)] = i;
    } else {
      i += skip >>> 5;
      skip++;
    }
  }
  return literal(out, o, src, lit, n);
}

/** Byte class of compressTemplate: a byte that changes every sampling (a sample's value), never part of a copy. */
export const VOLATILE = 255;

/** Literal runs of a compressTemplate output: (first input byte, end, where the bytes start in the output), reused. */
export class LiteralSpans {
  data = new Int32Array(3 * 1024);
  count = 0;

  push(from: number, to: number, outAt: number): void {
    if (this.count * 3 + 3 > this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    const d = this.data;
    const k = this.count * 3;
    d[k] = from;
    d[k + 1] = to;
    d[k + 2] = outAt;
    this.count++;
  }
}

/**
 * compressInto for a body kept as a template (batch.ts): a copy only ever joins bytes of the same
 * class (`cls[i]`, per input byte: 0 for bytes that stay the same from one sampling to the next,
 * 1 + k for byte k of the sampling time, VOLATILE for a value, which is never copied), so the
 * output stays a valid snappy block of the next sampling's body once the bytes in its literals
 * are rewritten. `spans` gets every literal run, to find where those bytes landed.
 */
export function compressTemplate(src: Uint8Array, n: number, cls: Uint8Array, out: Uint8Array, at: number, spans: LiteralSpans): number {
  let o = writeLength(out, at, n);
  spans.count = 0;
  table.fill(0);
  const last = n - 4;
  let lit = 0;
  let i = 0;
  let skip = 32;
  while (i <= last) {
    const h = hashAt(src, i);
    const candidate = table[h]! - 1;
    table[h] = i + 1;
    if (
      candidate >= 0 &&
      i - candidate <= MAX_OFFSET &&
      sameClass(cls, candidate, i) &&
      src[candidate] === src[i] &&
      src[candidate + 1] === src[i + 1] &&
      src[candidate + 2] === src[i + 2] &&
      src[candidate + 3] === src[i + 3]
    ) {
      let len = 4;
      while (i + len < n && src[candidate + len] === src[i + len] && cls[candidate + len] === cls[i + len] && cls[i + len] !== VOLATILE) len++;
      if (i > lit) {
        o = literal(out, o, src, lit, i);
        spans.push(lit, i, o - (i - lit));
      }
      o = copy(out, o, i - candidate, len);
      i += len;
      lit = i;
      skip = 32;
      if (i - 1 <= last) table[hashAt(src, i - 1)] = i;
    } else {
      i += skip >>> 5;
      skip++;
    }
  }
  if (n > lit) {
    o = literal(out, o, src, lit, n);
    spans.push(lit, n, o - (n - lit));
  }
  return o;
}

/** The four bytes from `a` and from `b` have the same classes, none VOLATILE. */
function sameClass(cls: Uint8Array, a: number, b: number): boolean {
  for (let k = 0; k < 4; k++) {
    const c = cls[b + k]!;
    if (c === VOLATILE || cls[a + k] !== c) return false;
  }
  return true;
}

/** A literal element of `src[from, to)` at `o`; returns where it ends. */
function literal(out: Uint8Array, o: number, src: Uint8Array, from: number, to: number): number {
  const n = to - from;
  if (n === 0) return o;
  const m = n - 1;
  if (n <= 60) out[o++] = m << 2;
  else if (n <= 0x100) {
    out[o++] = 60 << 2;
    out[o++] = m;
  } else if (n <= 0x10000) {
    out[o++] = 61 << 2;
    out[o++] = m & 0xff;
    out[o++] = m >>> 8;
  } else if (n <= 0x1000000) {
    out[o++] = 62 << 2;
    out[o++] = m & 0xff;
    out[o++] = (m >>> 8) & 0xff;
    out[o++] = m >>> 16;
  } else {
    out[o++] = 63 << 2;
    out[o++] = m & 0xff;
    out[o++] = (m >>> 8) & 0xff;
    out[o++] = (m >>> 16) & 0xff;
    out[o++] = m >>> 24;
  }
  if (n > 64) {
    out.set(src.subarray(from, to), o);
    return o + n;
  }
  for (let k = from; k < to; k++) out[o++] = src[k]!;
  return o;
}

/** Copy elements of `len` (≥ 4) bytes from `offset` (1…65535) back, at `o`; returns where they end. */
function copy(out: Uint8Array, o: number, offset: number, len: number): number {
  // As snappy: 64-byte copies while more than 67 remain, then one of 60 if over 64, so the last is ≥ 4.
  while (len >= 68) {
    o = shortCopy(out, o, offset, 64);
    len -= 64;
  }
  if (len > 64) {
    o = shortCopy(out, o, offset, 60);
    len -= 60;
  }
  return shortCopy(out, o, offset, len);
}

function shortCopy(out: Uint8Array, o: number, offset: number, len: number): number {
  if (len < 12 && offset < 2048) {
    out[o++] = 1 | ((len - 4) << 2) | ((offset >>> 8) << 5);
    out[o++] = offset & 0xff;
    return o;
  }
  out[o++] = 2 | ((len - 1) << 2);
  out[o++] = offset & 0xff;
  out[o++] = offset >>> 8;
  return o;
}
