// Reusable ArrayBuffers for the bytes that cross threads on every request.
//
// A request's payload copy (main → worker) and its batch's records (worker → main) are
// transferred, never cloned, and then handed back with the next message going the other way,
// so in steady state neither thread allocates an ArrayBuffer per request. Allocating them
// fresh (about 80 KB of payload and 50 KB of records per 500-point request) showed up as the
// main thread's largest garbage-collection trigger ("external memory pressure").

/** Smallest buffer handed out; smaller requests share this size class. */
const MIN_BYTES = 4096;

/** Free ArrayBuffers by power-of-two size class, each class bounded. */
export class BufferPool {
  readonly #free = new Map<number, ArrayBuffer[]>();
  readonly #perClass: number;
  readonly #maxBytes: number;

  /**
   * @param perClass buffers kept per size class
   * @param maxBytes buffers larger than this are never kept (an outsized request's buffer is
   *   left to the garbage collector rather than pinned)
   */
  constructor(perClass = 16, maxBytes = 16 * 1024 * 1024) {
    this.#perClass = perClass;
    this.#maxBytes = maxBytes;
  }

  /** A buffer of at least `bytes` bytes: a free one of its class, or a new one. */
  take(bytes: number): ArrayBuffer {
    const size = sizeClass(bytes);
    return this.#free.get(size)?.pop() ?? new ArrayBuffer(size);
  }

  /** Returns a buffer taken from any pool (a detached or odd-sized one is dropped). */
  give(buffer: ArrayBuffer): void {
    const size = buffer.byteLength;
    if (size === 0 || size > this.#maxBytes || size !== sizeClass(size)) return;
    let list = this.#free.get(size);
    if (list === undefined) this.#free.set(size, (list = []));
    if (list.length < this.#perClass) list.push(buffer);
  }

  /** Buffers currently kept. */
  get kept(): number {
    let n = 0;
    for (const list of this.#free.values()) n += list.length;
    return n;
  }
}

function sizeClass(bytes: number): number {
  let size = MIN_BYTES;
  while (size < bytes) size *= 2;
  return size;
}

/** This thread's pool of record buffers (each worker thread has its own). */
export const recordBuffers = new BufferPool();

/** The first `n` values of `scratch`, copied into a pooled buffer the caller may transfer. */
export function pooledCopy(scratch: Float64Array, n: number): Float64Array {
  const out = new Float64Array(recordBuffers.take(n * Float64Array.BYTES_PER_ELEMENT), 0, n);
  out.set(scratch.subarray(0, n));
  return out;
}
