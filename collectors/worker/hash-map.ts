// A map keyed by 53-bit series hashes (hash.ts), for the per-point lookups of the hot paths.
//
// A JS Map or Set keyed by such a number boxes the key on every call (it is not a small
// integer), which made `Map.get` the single largest cost of the store's merge loop and
// `Set.has` + `Set.add` the largest of the worker's. Here keys live unboxed in a Float64Array,
// probed linearly from the hash's low bits (the hash is fully avalanched, so they are as good
// as any); values sit in a parallel array. Deletion shifts the run back (no tombstones), so a
// long-lived map under churn never degrades.

/** Marks an empty slot; series hashes are non-negative. */
const EMPTY = -1;
const MIN_CAPACITY = 16;
/** Grow past this share of slots used. */
const MAX_LOAD = 0.75;

export class HashMap53<T> {
  #keys: Float64Array;
  #values: (T | undefined)[];
  #mask: number;
  #size = 0;

  constructor(capacity = MIN_CAPACITY) {
    let slots = MIN_CAPACITY;
    while (slots * MAX_LOAD < capacity) slots *= 2;
    this.#keys = new Float64Array(slots).fill(EMPTY);
    this.#values = new Array<T | undefined>(slots).fill(undefined);
    this.#mask = slots - 1;
  }

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /** The slot holding `hash`, or -1. */
  #find(hash: number): number {
    const keys = this.#keys;
    const mask = this.#mask;
    let i = (hash >>> 0) & mask;
    for (;;) {
      const k = keys[i]!;
      if (k === hash) return i;
      if (k === EMPTY) return -1;
      i = (i + 1) & mask;
    }
  }

  get(hash: number): T | undefined {
    const i = this.#find(hash);
    return i < 0 ? undefined : this.#values[i];
  }

  has(hash: number): boolean {
    return this.#find(hash) >= 0;
  }

  /** Sets `hash` to `value`; true when `hash` was not present before. */
  set(hash: number, value: T): boolean {
    const keys = this.#keys;
    const mask = this.#mask;
    let i = (hash >>> 0) & mask;
    for (;;) {
      const k = keys[i]!;
      if (k === hash) {
        this.#values[i] = value;
        return false;
      }
      if (k === EMPTY) break;
      i = (i + 1) & mask;
    }
    if (this.#size + 1 > (mask + 1) * MAX_LOAD) {
      this.#grow();
      return this.set(hash, value);
    }
    keys[i] = hash;
    this.#values[i] = value;
    this.#size++;
    return true;
  }

  /** Removes `hash`; true when it was present. */
  delete(hash: number): boolean {
    let hole = this.#find(hash);
    if (hole < 0) return false;
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    // Shift back every later entry of the run that may live in the hole.
    for (let j = (hole + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      const home = (keys[j]! >>> 0) & mask;
      // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
      const staysPut = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (staysPut) continue;
      keys[hole] = keys[j]!;
      values[hole] = values[j];
      hole = j;
    }
    keys[hole] = EMPTY;
    values[hole] = undefined;
    this.#size--;
    return true;
  }

  /** Removes every entry and returns to the initial capacity. */
  clear(): void {
    if (this.#size === 0) return;
    this.#keys = new Float64Array(MIN_CAPACITY).fill(EMPTY);
    this.#values = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
    this.#mask = MIN_CAPACITY - 1;
    this.#size = 0;
  }

  /** Calls `fn` for every entry. `fn` must not change the map; collect keys to delete instead. */
  forEach(fn: (value: T, hash: number) => void): void {
    const keys = this.#keys;
    const values = this.#values;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) fn(values[i] as T, keys[i]!);
  }

  /** Bytes held by the table itself (not by the values it points to). */
  byteSize(): number {
    return this.#keys.byteLength + this.#values.length * 8;
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldValues = this.#values;
    const slots = oldKeys.length * 2;
    const keys = new Float64Array(slots).fill(EMPTY);
    const values = new Array<T | undefined>(slots).fill(undefined);
    const mask = slots - 1;
    for (let j = 0; j < oldKeys.length; j++) {
      const k = oldKeys[j]!;
      if (k === EMPTY) continue;
      let i = (k >>> 0) & mask;
      while (keys[i] !== EMPTY) i = (i + 1) & mask;
      keys[i] = k;
      values[i] = oldValues[j];
    }
    this.#keys = keys;
    this.#values = values;
    this.#mask = mask;
  }
}
