// A set of series hashes (53-bit integers) in one Float64Array: open addressing, linear probing,
// backward-shift deletion. The worker remembers every series it has described to the main thread;
// a Set<number> spends ~37 bytes on each (a boxed double plus its table entry), this 11–21
// (8 bytes per slot at a load factor between 3/8 and 3/4). native-bench/memory.mjs measures it.

const INITIAL_CAPACITY = 1024;
const EMPTY = Number.NaN;

/** A set of finite numbers (series hashes); NaN cannot be a member. */
export class HashSet53 {
  #keys = new Float64Array(INITIAL_CAPACITY).fill(EMPTY);
  #mask = INITIAL_CAPACITY - 1;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  has(key: number): boolean {
    const keys = this.#keys;
    for (let i = this.#home(key); ; i = (i + 1) & this.#mask) {
      const k = keys[i]!;
      if (k === key) return true;
      if (k !== k) return false; // empty slot (NaN)
    }
  }

  /** Adds `key`; false when it was already there. */
  add(key: number): boolean {
    if (key !== key) throw new RangeError('HashSet53: NaN cannot be a member');
    if ((this.#size + 1) * 4 > this.#keys.length * 3) this.#grow();
    const keys = this.#keys;
    for (let i = this.#home(key); ; i = (i + 1) & this.#mask) {
      const k = keys[i]!;
      if (k === key) return false;
      if (k !== k) {
        keys[i] = key;
        this.#size++;
        return true;
      }
    }
  }

  /** Removes `key`; false when it was not there. */
  delete(key: number): boolean {
    const keys = this.#keys;
    const mask = this.#mask;
    let hole = this.#home(key);
    for (; ; hole = (hole + 1) & mask) {
      const k = keys[hole]!;
      if (k === key) break;
      if (k !== k) return false;
    }
    // Shift later members of the probe run back into the hole when their home allows it.
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const k = keys[j]!;
      if (k !== k) break;
      const home = this.#home(k);
      // k may move to `hole` unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!stays) {
        keys[hole] = k;
        hole = j;
      }
    }
    keys[hole] = EMPTY;
    this.#size--;
    return true;
  }

  /** Empties the set and gives its memory back. */
  clear(): void {
    this.#keys = new Float64Array(INITIAL_CAPACITY).fill(EMPTY);
    this.#mask = INITIAL_CAPACITY - 1;
    this.#size = 0;
  }

  #home(key: number): number {
    // Mix both 32-bit halves: hashes are 53-bit, and their low bits alone may be skewed.
    const low = key >>> 0;
    const high = Math.floor(key / 4294967296) | 0;
    let h = Math.imul(low ^ Math.imul(high, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.#mask;
  }

  #grow(): void {
    const old = this.#keys;
    this.#keys = new Float64Array(old.length * 2).fill(EMPTY);
    this.#mask = this.#keys.length - 1;
    this.#size = 0;
    for (let i = 0; i < old.length; i++) {
      const k = old[i]!;
      if (k === k) this.add(k);
    }
  }
}
