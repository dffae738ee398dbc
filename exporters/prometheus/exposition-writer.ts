// Collects an exposition as UTF-8 bytes. Renderers append short strings (a line, a series'
// lines); every FLUSH_CHARS characters the pending text is encoded into one Buffer.
//
// Why not one string: building the whole exposition as one string kept every line alive until
// the end, so on 100k series the young-generation collector copied and promoted ~20 MB per
// scrape. Flushed chunks die young. Why a pool: a fresh 20 MB Buffer per scrape is external
// memory V8 answers with full collections of the whole heap; the buffer of the last scrape is
// handed to the next one instead, once its response has been written (`release()`), up to
// MAX_KEPT_BYTES.

/** Pending characters before they are encoded (about a dozen series' lines). */
const FLUSH_CHARS = 16 * 1024;
const MIN_CAPACITY = 64 * 1024;

/**
 * The largest buffer kept between scrapes. Keeping one the size of the exposition is memory
 * held for good: ~21 MB at 100k series, but ~190 MB at 1M, which the memory benchmark measured
 * as +258 B per series. Larger expositions get a fresh buffer per scrape, as one string did before.
 */
export const MAX_KEPT_BYTES = 32 * 1024 * 1024;

/** Buffers kept between scrapes; a scrape that finds none free allocates its own. */
export class ExpositionBuffers {
  readonly #free: Buffer[] = [];
  readonly #maxFree: number;
  readonly #maxBytes: number;

  constructor(maxFree = 1, maxBytes = MAX_KEPT_BYTES) {
    this.#maxFree = maxFree;
    this.#maxBytes = maxBytes;
  }

  /** A buffer of at least `bytes` (content undefined). */
  acquire(bytes: number): Buffer {
    const i = this.#free.findIndex((b) => b.length >= bytes);
    if (i >= 0) return this.#free.splice(i, 1)[0]!;
    return Buffer.allocUnsafeSlow(Math.max(MIN_CAPACITY, bytes));
  }

  /** Returns a buffer for reuse; `used` bytes of it were needed, so a far larger one is dropped. */
  release(buffer: Buffer, used: number): void {
    if (this.#free.length >= this.#maxFree || buffer.length > this.#maxBytes || buffer.length > Math.max(MIN_CAPACITY, used * 4)) return;
    this.#free.push(buffer);
  }
}

/** A rendered exposition: its bytes, valid until `release()` hands the buffer to the next scrape. */
export interface RenderedExposition {
  readonly bytes: Buffer;
  release(): void;
}

/** An append-only UTF-8 exposition; `finish()` returns the bytes. */
export class ExpositionWriter {
  readonly #pool: ExpositionBuffers | null;
  #buf: Buffer;
  #bytes = 0;
  #pending = '';

  /** `sizeHint`: expected bytes (e.g. the previous scrape's size); `pool`: where buffers come from and go back to. */
  constructor(sizeHint = 0, pool: ExpositionBuffers | null = null) {
    const capacity = Math.max(MIN_CAPACITY, Math.ceil(sizeHint * 1.125));
    this.#pool = pool;
    this.#buf = pool === null ? Buffer.allocUnsafeSlow(capacity) : pool.acquire(capacity);
  }

  /** Appends text. */
  write(text: string): void {
    this.#pending += text;
    if (this.#pending.length >= FLUSH_CHARS) this.#flush();
  }

  /** The exposition as bytes; with a pool, call `release()` once they have been sent. */
  finish(): RenderedExposition {
    this.#flush();
    const buffer = this.#buf;
    const used = this.#bytes;
    const pool = this.#pool;
    let released = false;
    return {
      bytes: buffer.subarray(0, used),
      release: () => {
        if (released || pool === null) return;
        released = true;
        pool.release(buffer, used);
      },
    };
  }

  #flush(): void {
    const text = this.#pending;
    if (text === '') return;
    this.#pending = '';
    // A UTF-16 code unit encodes to at most 3 UTF-8 bytes.
    const worst = this.#bytes + text.length * 3;
    if (worst > this.#buf.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(worst, this.#buf.length * 2));
      this.#buf.copy(grown, 0, 0, this.#bytes);
      this.#buf = grown;
    }
    this.#bytes += this.#buf.write(text, this.#bytes, 'utf8');
  }
}
