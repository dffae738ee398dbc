// Fast non-cryptographic hashing for series identity.
//
// Two independent 32-bit lanes (Math.imul mixing, murmur3-style finaliser) give a 64-bit
// state; results are 53-bit integers (hi 21 bits × 2^32 + lo 32 bits) so they are exact JS
// numbers, usable as Set/Map keys and in Float64Array records. Not for adversarial inputs:
// a client that wants to collide its own series can, and gains nothing.

const TWO_32 = 4294967296;
const HI_MASK = 0x1fffff;

const M1 = 0x9e3779b1;
const M2 = 0x85ebca77;
const M3 = 0xc2b2ae3d;
const M4 = 0x27d4eb2f;

// Lane state of the word mixer; module-level so hashing allocates nothing.
let laneA = 0;
let laneB = 0;

function begin(seed: number, length: number): void {
  laneA = (seed ^ Math.imul(length, M3)) | 0;
  laneB = (Math.imul(seed, M4) + length) | 0;
}

function word(k: number): void {
  const a = laneA ^ k;
  laneA = Math.imul((a << 13) | (a >>> 19), M1);
  const b = (laneB + k) | 0;
  laneB = Math.imul((b << 17) | (b >>> 15), M2);
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

// Finalises both lanes into laneA (low) / laneB (high), each fully avalanched.
function finish(): void {
  const a = fmix((laneA + Math.imul(laneB, M3)) | 0);
  laneB = fmix(laneB ^ Math.imul(a, M4));
  laneA = a;
}

function digest53(): number {
  return (laneB & HI_MASK) * TWO_32 + (laneA >>> 0);
}

const SEED_BYTES = 0x5bd1e995;
const SEED_ORDERED = 0x1b873593;
const SEED_SET = 0x3c6ef372;

// Reads little-endian words with one load each; rebuilt when the buffer changes (once per request).
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
let viewOf: Uint8Array | null = null;

function mixBytes(buf: Uint8Array, start: number, end: number): void {
  begin(SEED_BYTES, end - start);
  if (viewOf !== buf) {
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    viewOf = buf;
  }
  const v = view;
  let i = start;
  for (; i + 4 <= end; i += 4) word(v.getInt32(i, true));
  if (i < end) {
    let k = buf[i]!;
    if (i + 1 < end) k |= buf[i + 1]! << 8;
    if (i + 2 < end) k |= buf[i + 2]! << 16;
    word(k);
  }
  finish();
}

/** Hash of the bytes `buf[start, end)` as a 53-bit integer. */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  mixBytes(buf, start, end);
  return digest53();
}

const utf8 = new TextEncoder();

/** Hash of a string's UTF-8 bytes: `hashString(s)` equals `hashBytes` over `s` encoded. Not for hot paths. */
export function hashString(s: string): number {
  const bytes = utf8.encode(s);
  return hashBytes(bytes, 0, bytes.length);
}

/** Order-dependent combination of two 53-bit hashes: `combineOrdered(a, b) !== combineOrdered(b, a)`. */
export function combineOrdered(a: number, b: number): number {
  begin(SEED_ORDERED, 4);
  word(a >>> 0);
  word((a / TWO_32) | 0);
  word(b >>> 0);
  word((b / TWO_32) | 0);
  finish();
  return digest53();
}

/**
 * Order-independent hash of a set (e.g. attributes): each element is hashed on its own and the
 * 64-bit element hashes are added lane-wise mod 2^32, so any order gives the same digest.
 * Reusable: `reset()` between sets; allocates nothing.
 */
export class UnorderedHash {
  #lo = 0;
  #hi = 0;
  #count = 0;

  /** Starts a new, empty set. */
  reset(): void {
    this.#lo = 0;
    this.#hi = 0;
    this.#count = 0;
  }

  /** Adds the element whose encoding is `buf[start, end)`. */
  addBytes(buf: Uint8Array, start: number, end: number): void {
    mixBytes(buf, start, end);
    this.#lo = (this.#lo + laneA) | 0;
    this.#hi = (this.#hi + laneB) | 0;
    this.#count++;
  }

  /** Adds an element given as a 53-bit hash (already well mixed). */
  addHash(hash: number): void {
    this.#lo = (this.#lo + (hash >>> 0)) | 0;
    this.#hi = (this.#hi + ((hash / TWO_32) | 0)) | 0;
    this.#count++;
  }

  /** Number of elements added since `reset()`. */
  get count(): number {
    return this.#count;
  }

  /** The set's hash as a 53-bit integer. */
  digest(): number {
    begin(SEED_SET, 3);
    word(this.#lo);
    word(this.#hi);
    word(this.#count);
    finish();
    return digest53();
  }
}
