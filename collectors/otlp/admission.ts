// Byte-weighted admission: a request is admitted only while the bytes of admitted but not yet
// merged requests stay within the budget. Over it, the client is told to retry later.

/** A counting budget of in-flight request bytes. */
export class ByteBudget {
  readonly limit: number;
  #inUse = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes currently admitted. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Admits `bytes` if they fit; a single request larger than the whole budget never fits. */
  tryAcquire(bytes: number): boolean {
    if (this.#inUse + bytes > this.limit) return false;
    this.#inUse += bytes;
    return true;
  }

  /** Returns bytes admitted by tryAcquire. */
  release(bytes: number): void {
    this.#inUse -= bytes;
  }
}
