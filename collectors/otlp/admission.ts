// Byte-weighted admission: a request is admitted only while the bytes of admitted but not yet
// merged requests stay within the budget. Over it, the client is told to retry later.

import { getHeapStatistics } from 'node:v8';

/** A counting budget of in-flight request bytes. */
export class ByteBudget {
  /** Bytes admitted at most; may be changed while running (SIGHUP), bytes already admitted stay. */
  limit: number;
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

/** Where resident memory stands against the limits: 'ok', over 'soft', or over 'hard'. */
export type MemoryState = 'ok' | 'soft' | 'hard';

/** Settings of the memory guard (the `limits` config section). */
export interface MemoryGuardOptions {
  softBytes: number;
  hardBytes: number;
  checkIntervalMs: number;
  /** The measured figure; liveMemoryBytes() unless a test gives another. */
  measure?: () => number;
  /** Told on every change of state, with the figure that caused it. */
  onChange?: (state: MemoryState, previous: MemoryState, usedBytes: number) => void;
  /**
   * Runs a full garbage collection; called at most once a second while over the soft limit.
   * Refusing requests stops allocation, and without allocation V8 may not collect the garbage
   * of the burst, so RSS would stay over the limit and the refusals would never end.
   */
  collectGarbage?: (() => void) | undefined;
}

/**
 * Live memory: the V8 heap in use plus memory outside it that V8 tracks (Buffers and
 * ArrayBuffers: request bodies, batches, gRPC frames). Unlike RSS it falls after a garbage
 * collection; RSS keeps pages the allocator retains after a burst, and a limit on RSS could
 * then refuse requests forever with nothing left to free (measured: 240 MiB RSS, 45 MiB live).
 */
export function liveMemoryBytes(): number {
  // Not process.memoryUsage(): it also reads RSS from /proc/self/stat, which needs a file
  // descriptor, and out of descriptors (a connection flood) it threw EMFILE from this timer and
  // killed vigild. V8's own statistics are the same two figures and open nothing.
  const heap = getHeapStatistics();
  return heap.used_heap_size + heap.external_memory;
}

/**
 * Samples live memory on a timer (never per request: the hot path reads one field) and says
 * whether new requests must be refused.
 */
export class MemoryGuard {
  #soft: number;
  #hard: number;
  #state: MemoryState = 'ok';
  #used = 0;
  #timer: NodeJS.Timeout | null = null;
  readonly #measure: () => number;
  readonly #onChange: MemoryGuardOptions['onChange'];
  #intervalMs: number;
  readonly #collectGarbage: (() => void) | undefined;
  #lastCollect = 0;
  /** Bytes admitted since the last measurement, which it cannot have seen yet. */
  #reserved = 0;
  /** Bytes admitted in the interval before: a gRPC body admitted on its headers may arrive after the measurement. */
  #reservedBefore = 0;

  constructor(options: MemoryGuardOptions) {
    this.#soft = options.softBytes;
    this.#hard = options.hardBytes;
    this.#intervalMs = options.checkIntervalMs;
    this.#measure = options.measure ?? liveMemoryBytes;
    this.#onChange = options.onChange;
    this.#collectGarbage = options.collectGarbage;
  }

  /** Samples once now, then every check interval. */
  start(): void {
    this.check();
    this.#schedule();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** New limits (SIGHUP); takes effect at once. */
  setLimits(softBytes: number, hardBytes: number, checkIntervalMs: number): void {
    this.#soft = softBytes;
    this.#hard = hardBytes;
    if (checkIntervalMs !== this.#intervalMs) {
      this.#intervalMs = checkIntervalMs;
      if (this.#timer !== null) this.#schedule();
    }
    this.check();
  }

  /** Measures and updates the state; returns it. */
  check(): MemoryState {
    this.#reservedBefore = this.#reserved;
    this.#reserved = 0;
    this.#used = this.#sample();
    let next: MemoryState = this.#used >= this.#hard ? 'hard' : this.#used >= this.#soft ? 'soft' : 'ok';
    if (next !== 'ok' && this.#collectGarbage !== undefined && Date.now() - this.#lastCollect >= 1000) {
      this.#lastCollect = Date.now();
      this.#collectGarbage();
      this.#used = this.#sample();
      next = this.#used >= this.#hard ? 'hard' : this.#used >= this.#soft ? 'soft' : 'ok';
    }
    const previous = this.#state;
    this.#state = next;
    if (next !== previous) this.#onChange?.(next, previous, this.#used);
    return next;
  }

  /** True while over the soft (or hard) limit: new requests are refused, retryable. */
  get refusing(): boolean {
    return this.#state !== 'ok';
  }

  /**
   * Admits a request expected to bring `bytes`, reserving them until the next measurements can
   * see them: refused when over the soft limit, or when the bytes admitted since the last
   * measurement would take it there. Without the reservation every request arriving within one
   * check interval is admitted, and a burst of synchronized retries overshot the hard limit.
   * The first request after a measurement is admitted whatever its size, so a request larger
   * than the headroom is not refused forever.
   */
  admit(bytes: number): boolean {
    if (this.#state !== 'ok') return false;
    const pending = this.#reserved + this.#reservedBefore;
    if (pending > 0 && this.#used + pending + bytes > this.#soft) return false;
    this.#reserved += bytes;
    return true;
  }

  /** Bytes admitted and reserved in the last two check intervals. */
  get reservedBytes(): number {
    return this.#reserved + this.#reservedBefore;
  }

  get state(): MemoryState {
    return this.#state;
  }

  /** The figure measured last, bytes. */
  get usedBytes(): number {
    return this.#used;
  }

  get softBytes(): number {
    return this.#soft;
  }

  get hardBytes(): number {
    return this.#hard;
  }

  /** The measured figure; if measuring fails, the last one (a timer that throws would kill the daemon). */
  #sample(): number {
    try {
      return this.#measure();
    } catch {
      return this.#used;
    }
  }

  #schedule(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = setInterval(() => this.check(), this.#intervalMs);
    this.#timer.unref();
  }
}

/** The refusal message for a request turned away by the memory guard. */
export function memoryRefusal(guard: MemoryGuard): string {
  if (guard.state === 'ok') {
    return `vigild memory (${guard.usedBytes} bytes live, ${guard.reservedBytes} bytes of requests just admitted) would exceed its soft limit limits.memory_soft (${guard.softBytes} bytes); retry later`;
  }
  const limit = guard.state === 'hard' ? `hard limit limits.memory_hard (${guard.hardBytes} bytes)` : `soft limit limits.memory_soft (${guard.softBytes} bytes)`;
  return `vigild memory (${guard.usedBytes} bytes live) is over its ${limit}; retry later`;
}

/**
 * The retry delay told to a refused client: 1 s ± 50 %, so clients refused together do not
 * all come back in the same millisecond (measured: such herds were admitted whole, within one
 * memory check interval, and overshot the hard limit).
 */
export function retryDelayMs(): number {
  return Math.round(500 + Math.random() * 1000);
}
