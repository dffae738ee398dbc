// Compact payloads of finished slots: the populated (index, count) entries of a dense counts array,
// coded as bits in blocks of 16 entries. Each block has a 9-bit header — gap code (3 bits: k of an
// order-k Exp-Golomb code for the index gaps, 7 = every gap is 0), count mode (1 bit: count − 1, or
// the ZigZag difference from the previous count) and the count code's k (5 bits) — then per entry
// the gap (if coded) and the count. Against V2's LEB128 (sparse.ts) this is ~0.6× on busy slots
// (counts of 64+ cost V2 two bytes) and ~0.5× on sparse ones; see README.md, "Memory".

import { touched } from './sparse.js';

const BLOCK = 16;
const GAPS_ALL_ZERO = 7;

let out = new Uint8Array(4096);
let outAt = 0;
/** Pending bits (a number, not an int32: up to 31 bits) and how many. */
let acc = 0;
let accBits = 0;

function writeBits(value: number, n: number): void {
  if (n > 23) {
    writeBits(Math.floor(value / 8_388_608), n - 23);
    writeBits(value % 8_388_608, 23);
    return;
  }
  // accBits ≤ 7 before, so acc stays below 2^31: int32 arithmetic is exact.
  acc = (acc << n) | value;
  accBits += n;
  while (accBits >= 8) {
    accBits -= 8;
    const byte = acc >>> accBits;
    acc &= (1 << accBits) - 1;
    if (outAt === out.length) {
      const grown = new Uint8Array(out.length * 2);
      grown.set(out);
      out = grown;
    }
    out[outAt++] = byte;
  }
}

function log2Floor(x: number): number {
  return x < 2_147_483_648 ? 31 - Math.clz32(x) : Math.floor(Math.log2(x));
}

/** Bits of `v` ≥ 0 in order-k Exp-Golomb. */
function egBits(v: number, k: number): number {
  return 2 * log2Floor(v + POW2[k]!) - k + 1;
}
const POW2 = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);

function writeEg(v: number, k: number): void {
  const x = v + POW2[k]!;
  const w = log2Floor(x);
  if (w > k) writeBits(0, w - k);
  writeBits(x, w + 1);
}

function writeVarint(n: number): void {
  while (n >= 128) {
    writeBits((n % 128) | 128, 8);
    n = Math.floor(n / 128);
  }
  writeBits(n, 8);
}

let entryIndex = new Int32Array(1024);
let entryCount = new Float64Array(1024);
const gapValue = new Float64Array(BLOCK);
const absValue = new Float64Array(BLOCK);
const deltaValue = new Float64Array(BLOCK);

/** The cheapest k near the one the mean suggests, and its total bits, for `n` values. */
function bestK(values: Float64Array, n: number, maxK: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const guess = Math.max(0, Math.min(maxK, log2Floor(sum / n + 1) - 1));
  let best = -1;
  let bestBits = Infinity;
  for (let k = Math.max(0, guess - 1); k <= Math.min(maxK, guess + 2); k++) {
    let bits = 0;
    for (let i = 0; i < n; i++) bits += egBits(values[i]!, k);
    if (bits < bestBits) {
      bestBits = bits;
      best = k;
    }
  }
  kBits = bestBits;
  return best;
}
let kBits = 0;

function growEntries(n: number): void {
  if (n <= entryIndex.length) return;
  const size = Math.max(n, entryIndex.length * 2);
  const index = new Int32Array(size);
  index.set(entryIndex);
  entryIndex = index;
  const count = new Float64Array(size);
  count.set(entryCount);
  entryCount = count;
}

/** Encodes the populated entries of dense[low … high] and returns the payload (exact length). */
export function encodeDense(dense: Float64Array, low: number, high: number): Uint8Array {
  let n = 0;
  for (let i = low; i <= high; i++) {
    const c = dense[i]!;
    if (c <= 0) continue;
    if (n === entryIndex.length) growEntries(n + 1);
    entryIndex[n] = i;
    entryCount[n++] = c;
  }
  return encode(n);
}

/** Encodes `n` (index, count) pairs, indices ascending and distinct, counts > 0. */
export function encodeEntries(indices: ArrayLike<number>, counts: ArrayLike<number>, n: number): Uint8Array {
  growEntries(n);
  for (let i = 0; i < n; i++) {
    entryIndex[i] = indices[i]!;
    entryCount[i] = counts[i]!;
  }
  return encode(n);
}

function encode(n: number): Uint8Array {
  outAt = 0;
  acc = 0;
  accBits = 0;
  writeVarint(n);
  let previousIndex = -1;
  let previousCount = 0;
  for (let start = 0; start < n; start += BLOCK) {
    const m = Math.min(BLOCK, n - start);
    let allZero = true;
    let pi = previousIndex;
    let pc = previousCount;
    for (let j = 0; j < m; j++) {
      const index = entryIndex[start + j]!;
      const count = entryCount[start + j]!;
      const gap = index - pi - 1;
      if (gap !== 0) allZero = false;
      gapValue[j] = gap;
      absValue[j] = count - 1;
      const d = count - pc;
      deltaValue[j] = d >= 0 ? 2 * d : -2 * d - 1;
      pi = index;
      pc = count;
    }
    const kGap = allZero ? GAPS_ALL_ZERO : bestK(gapValue, m, GAPS_ALL_ZERO - 1);
    const kAbs = bestK(absValue, m, 31);
    const absBits = kBits;
    const kDelta = bestK(deltaValue, m, 31);
    const delta = kBits < absBits;
    const kCount = delta ? kDelta : kAbs;
    const counts = delta ? deltaValue : absValue;
    writeBits(kGap * 64 + (delta ? 32 : 0) + kCount, 9);
    for (let j = 0; j < m; j++) {
      if (kGap !== GAPS_ALL_ZERO) writeEg(gapValue[j]!, kGap);
      writeEg(counts[j]!, kCount);
    }
    previousIndex = pi;
    previousCount = pc;
  }
  if (accBits > 0) writeBits(0, 8 - accBits);
  return out.slice(0, outAt);
}

let bytes: Uint8Array = out;
let bitAt = 0;

function readBit(): number {
  const bit = (bytes[bitAt >>> 3]! >>> (7 - (bitAt & 7))) & 1;
  bitAt++;
  return bit;
}

function readBits(n: number): number {
  let v = 0;
  while (n > 0) {
    const avail = 8 - (bitAt & 7);
    const take = avail < n ? avail : n;
    const bits = (bytes[bitAt >>> 3]! >>> (avail - take)) & ((1 << take) - 1);
    v = v * (1 << take) + bits;
    bitAt += take;
    n -= take;
  }
  return v;
}

function readEg(k: number): number {
  let zeros = 0;
  while (readBit() === 0) zeros++;
  const w = zeros + k;
  return POW2[w]! + readBits(w) - POW2[k]!;
}

function readVarint(): number {
  let v = 0;
  let scale = 1;
  let byte: number;
  do {
    byte = readBits(8);
    v += (byte & 127) * scale;
    scale *= 128;
  } while (byte >= 128);
  return v;
}

/** Decodes `payload` into the entry arrays; returns the number of entries. */
function decode(payload: Uint8Array, at: number): number {
  bytes = payload;
  bitAt = at * 8;
  const n = readVarint();
  growEntries(n);
  let index = -1;
  let count = 0;
  for (let start = 0; start < n; start += BLOCK) {
    const m = Math.min(BLOCK, n - start);
    const header = readBits(9);
    const kGap = header >>> 6;
    const delta = (header & 32) !== 0;
    const kCount = header & 31;
    for (let j = 0; j < m; j++) {
      index += kGap === GAPS_ALL_ZERO ? 1 : readEg(kGap) + 1;
      const v = readEg(kCount);
      count = delta ? count + (v % 2 === 0 ? v / 2 : -(v + 1) / 2) : v + 1;
      entryIndex[start + j] = index;
      entryCount[start + j] = count;
    }
  }
  return n;
}

/** Adds the counts of the payload at `payload[at …]` into a dense counts array, widening `touched`. */
export function addPayloadToDense(dense: Float64Array, payload: Uint8Array, at = 0): void {
  const n = decode(payload, at);
  if (n === 0) return;
  for (let i = 0; i < n; i++) {
    const index = entryIndex[i]!;
    dense[index] = dense[index]! + entryCount[i]!;
  }
  if (entryIndex[0]! < touched.low) touched.low = entryIndex[0]!;
  if (entryIndex[n - 1]! > touched.high) touched.high = entryIndex[n - 1]!;
}

/** The (index, count) pairs of a payload, for tests. */
export function payloadEntries(payload: Uint8Array): [number, number][] {
  const n = decode(payload, 0);
  const entries: [number, number][] = [];
  for (let i = 0; i < n; i++) entries.push([entryIndex[i]!, entryCount[i]!]);
  return entries;
}
