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

/** Counts requests being processed, so a shutdown can wait for them to finish. */
export class InFlight {
  #count = 0;
  #idle: (() => void) | null = null;

  /** Requests being processed now. */
  get count(): number {
    return this.#count;
  }

  enter(): void {
    this.#count++;
  }

  leave(): void {
    this.#count--;
    if (this.#count === 0 && this.#idle !== null) this.#idle();
  }

  /** Resolves when no request is in flight, or after `timeoutMs`, whichever comes first. */
  drained(timeoutMs: number): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, timeoutMs));
      this.#idle = () => {
        clearTimeout(timer);
        this.#idle = null;
        resolve();
      };
    });
  }
}
