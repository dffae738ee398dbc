// Collects an exposition as UTF-8 bytes. Renderers append short strings (a line, a series'
// lines); every FLUSH_CHARS characters the pending text is encoded into one growing Buffer.
// Building the whole exposition as one string kept every line alive until the end: on 100k
// series the young-generation collector copied and promoted ~20 MB per scrape, and that, not the
// formatting, was most of the scrape's time. Flushed chunks die young.

/** Pending characters before they are encoded (about a dozen series' lines). */
const FLUSH_CHARS = 16 * 1024;
const MIN_CAPACITY = 64 * 1024;

/** An append-only UTF-8 exposition; `finish()` returns the bytes. */
export class ExpositionWriter {
  #buf: Buffer;
  #bytes = 0;
  #pending = '';

  /** `sizeHint`: expected bytes (e.g. the previous scrape's size), to allocate once. */
  constructor(sizeHint = 0) {
    this.#buf = Buffer.allocUnsafeSlow(Math.max(MIN_CAPACITY, Math.ceil(sizeHint * 1.125)));
  }

  /** Appends text. */
  write(text: string): void {
    this.#pending += text;
    if (this.#pending.length >= FLUSH_CHARS) this.#flush();
  }

  /** The exposition so far as bytes (a view of the writer's buffer; the writer must not be reused). */
  finish(): Buffer {
    this.#flush();
    return this.#buf.subarray(0, this.#bytes);
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
