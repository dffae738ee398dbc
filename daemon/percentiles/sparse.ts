// Sparse HDR counts: the payload of an HDR V2 encoding (ZigZag LEB128 varints; a positive value is
// the count of the next index, a negative one skips that many empty indices). A frozen slot holds
// one of these instead of a counts array: about one byte per populated HDR bucket, against 4–8
// bytes per bucket (populated or not) for a dense array and ~3 KB for hdr-histogram-js's packed
// array at two digits. hdr-histogram-js decodes these payloads too (see sparse.test.ts, the oracle).

/** A growable sparse payload and the totals of the values it holds. */
export class Slot {
  /** V2 payload bytes; only the first `length` are meaningful. */
  bytes: Uint8Array = EMPTY;
  length = 0;
  count = 0;
  /** Sum of the recorded values, in the source's unit. */
  sum = 0;
  /** Which interval this slot covers: floor(time / slot width). */
  epoch = 0;

  clear(epoch: number): void {
    this.length = 0;
    this.count = 0;
    this.sum = 0;
    this.epoch = epoch;
  }
}

const EMPTY = new Uint8Array(0);

/** Bytes a Slot object costs beyond its payload (object header and four number fields, V8 x64). */
export const SLOT_OVERHEAD_BYTES = 56;

let scratch = new Uint8Array(4096);
/** Position after the varint read last (module state keeps the readers allocation-free). */
let readAt = 0;

function readVarint(b: Uint8Array, at: number): number {
  let z = 0;
  let scale = 1;
  let byte: number;
  do {
    byte = b[at++]!;
    z += (byte & 127) * scale;
    scale *= 128;
  } while (byte >= 128);
  readAt = at;
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 128) {
    out[at++] = (z % 128) | 128;
    z = Math.floor(z / 128);
  }
  out[at++] = z;
  return at;
}

function ensureScratch(bytes: number): void {
  if (scratch.length < bytes) scratch = new Uint8Array(Math.max(bytes, scratch.length * 2));
}

/** Writes `count` at `index` after `next` (the index following the last one written). */
function writeEntry(at: number, next: number, index: number, count: number): number {
  if (at + 24 > scratch.length) {
    const grown = new Uint8Array(scratch.length * 2);
    grown.set(scratch.subarray(0, at));
    scratch = grown;
  }
  if (index > next) at = writeVarint(scratch, at, next - index);
  return writeVarint(scratch, at, count);
}

/** Copies scratch[0, length) into `slot`, growing its buffer with `slack` headroom when needed. */
function takeScratch(slot: Slot, length: number, slack: boolean): void {
  if (slot.bytes.length < length) slot.bytes = new Uint8Array(slack ? length + (length >> 2) + 16 : length);
  slot.bytes.set(scratch.subarray(0, length));
  slot.length = length;
}

/**
 * Merges `n` (index, count) pairs into `slot`'s payload. `indices` must be sorted ascending with no
 * repeats. Totals are the caller's business.
 */
export function mergeEntries(slot: Slot, indices: Int32Array, counts: Float64Array, n: number): void {
  ensureScratch(slot.length + n * 12 + 16);
  const b = slot.bytes;
  const end = slot.length;
  let at = 0;
  let next = 0;
  let pos = 0;
  let index = 0;
  let i = 0;
  while (pos < end || i < n) {
    // The next populated entry of the payload, if any left.
    let pIndex = Number.MAX_SAFE_INTEGER;
    let pCount = 0;
    while (pos < end) {
      const v = readVarint(b, pos);
      if (v < 0) {
        index -= v;
        pos = readAt;
      } else if (v === 0) {
        index++;
        pos = readAt;
      } else {
        pIndex = index;
        pCount = v;
        break;
      }
    }
    const lIndex = i < n ? indices[i]! : Number.MAX_SAFE_INTEGER;
    if (pIndex === Number.MAX_SAFE_INTEGER && lIndex === Number.MAX_SAFE_INTEGER) break;
    if (pIndex <= lIndex) {
      pos = readAt;
      index++;
      let count = pCount;
      if (pIndex === lIndex) count += counts[i++]!;
      at = writeEntry(at, next, pIndex, count);
      next = pIndex + 1;
    } else {
      at = writeEntry(at, next, lIndex, counts[i++]!);
      next = lIndex + 1;
    }
  }
  takeScratch(slot, at, true);
}

/** Adds `from`'s payload and totals into `into`. With `exact`, `into`'s buffer gets no headroom. */
export function mergeSlot(into: Slot, from: Slot, exact = false): void {
  into.count += from.count;
  into.sum += from.sum;
  if (from.length === 0) return;
  if (into.length === 0 && into.bytes.length >= from.length) {
    into.bytes.set(from.bytes.subarray(0, from.length));
    into.length = from.length;
    return;
  }
  ensureScratch(into.length + from.length + 16);
  const a = into.bytes;
  const aEnd = into.length;
  const c = from.bytes;
  const cEnd = from.length;
  let at = 0;
  let next = 0;
  let aPos = 0;
  let aIndex = 0;
  let cPos = 0;
  let cIndex = 0;
  let aHead = -1;
  let aCount = 0;
  let cHead = -1;
  let cCount = 0;
  for (;;) {
    while (aHead < 0 && aPos < aEnd) {
      const v = readVarint(a, aPos);
      aPos = readAt;
      if (v < 0) aIndex -= v;
      else if (v === 0) aIndex++;
      else {
        aHead = aIndex++;
        aCount = v;
      }
    }
    while (cHead < 0 && cPos < cEnd) {
      const v = readVarint(c, cPos);
      cPos = readAt;
      if (v < 0) cIndex -= v;
      else if (v === 0) cIndex++;
      else {
        cHead = cIndex++;
        cCount = v;
      }
    }
    if (aHead < 0 && cHead < 0) break;
    if (cHead < 0 || (aHead >= 0 && aHead < cHead)) {
      at = writeEntry(at, next, aHead, aCount);
      next = aHead + 1;
      aHead = -1;
    } else if (aHead < 0 || cHead < aHead) {
      at = writeEntry(at, next, cHead, cCount);
      next = cHead + 1;
      cHead = -1;
    } else {
      at = writeEntry(at, next, aHead, aCount + cCount);
      next = aHead + 1;
      aHead = -1;
      cHead = -1;
    }
  }
  takeScratch(into, at, !exact);
}

/** Index range touched by the last addToDense calls (callers reset it). */
export const touched = { low: Number.MAX_SAFE_INTEGER, high: -1 };

/** Adds a payload's counts into a dense counts array, widening `touched`. */
export function addToDense(dense: Float64Array, bytes: Uint8Array, length: number): void {
  let pos = 0;
  let index = 0;
  while (pos < length) {
    const v = readVarint(bytes, pos);
    pos = readAt;
    if (v < 0) index -= v;
    else {
      if (v > 0) {
        dense[index] = dense[index]! + v;
        if (index < touched.low) touched.low = index;
        if (index > touched.high) touched.high = index;
      }
      index++;
    }
  }
}

/** Writes the (index, count) pairs of `slot` into the arrays (long enough: slot.length); returns how many. */
export function readEntries(slot: Slot, indices: Int32Array, counts: Float64Array): number {
  let pos = 0;
  let index = 0;
  let n = 0;
  while (pos < slot.length) {
    const v = readVarint(slot.bytes, pos);
    pos = readAt;
    if (v < 0) index -= v;
    else {
      if (v > 0) {
        indices[n] = index;
        counts[n++] = v;
      }
      index++;
    }
  }
  return n;
}

/** The (index, count) pairs of a payload, for tests and debugging. */
export function entriesOf(slot: Slot): [number, number][] {
  const out: [number, number][] = [];
  let pos = 0;
  let index = 0;
  while (pos < slot.length) {
    const v = readVarint(slot.bytes, pos);
    pos = readAt;
    if (v < 0) index -= v;
    else {
      if (v > 0) out.push([index, v]);
      index++;
    }
  }
  return out;
}
