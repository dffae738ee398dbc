// Where vigild's log lines go: stdout, through a bounded buffer that never blocks the event loop
// and never blocks exit. pino's default destination (SonicBoom on fd 1) kept every line it could
// not write in an unbounded in-heap list, retried EAGAIN every 100 ms, and at exit flushed that
// list synchronously, sleeping on EAGAIN for as long as the pipe stayed full: with a stalled log
// reader vigild answered SIGTERM by closing its listeners and then never exiting.

/** The stream lines are written to: process.stdout unless a test gives another. */
export interface LogStream {
  write(chunk: string, callback?: (err?: Error | null) => void): boolean;
  /** Bytes accepted by write() and not yet handed to the kernel. */
  readonly writableLength: number;
  readonly destroyed?: boolean;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** Why a line was dropped instead of written (the `reason` of vigil_log_lines_dropped_total). */
export type DropReason = 'buffer_full' | 'closed' | 'error';

/** Settings of a LogSink. */
export interface LogSinkOptions {
  /** Bytes of lines held while the reader is slow (log.buffer_size); beyond it lines are dropped and counted. */
  maxBufferedBytes: number;
  stream?: LogStream;
}

/** What each stream is known to be: one error listener per stream, whatever number of sinks write to it. */
interface StreamState {
  /** The reader is gone (EPIPE and the like): nothing will ever be written again. */
  closed: boolean;
  lastError: string;
}
const states = new WeakMap<LogStream, StreamState>();

function stateOf(stream: LogStream): StreamState {
  let state = states.get(stream);
  if (state === undefined) {
    const created: StreamState = { closed: false, lastError: '' };
    // Without a listener an EPIPE on stdout is an uncaught exception: the daemon would die of its log reader.
    stream.on('error', (err: Error) => {
      created.closed = true;
      created.lastError = (err as NodeJS.ErrnoException).code ?? err.message;
    });
    states.set(stream, created);
    state = created;
  }
  return state;
}

/**
 * A pino destination (it calls write with one serialised line). Lines go to the stream at once
 * when it has room; the stream's own queue (Node's writable buffer plus libuv's write queue of a
 * non-blocking pipe) is the only buffer, and it is bounded here by `maxBufferedBytes`.
 */
export class LogSink {
  readonly #stream: LogStream;
  readonly #state: StreamState;
  #maxBufferedBytes: number;
  readonly #dropped: Record<DropReason, number> = { buffer_full: 0, closed: 0, error: 0 };
  /** Lines dropped since the last notice line; told to the reader once it keeps up again. */
  #unreported = 0;
  #written = 0;

  constructor(options: LogSinkOptions) {
    this.#stream = options.stream ?? (process.stdout as unknown as LogStream);
    this.#state = stateOf(this.#stream);
    this.#maxBufferedBytes = options.maxBufferedBytes;
  }

  /** Writes one line, or drops and counts it; never throws and never waits. */
  write(line: string): void {
    if (this.#state.closed || this.#stream.destroyed === true) {
      this.#drop('closed');
      return;
    }
    const queued = this.#stream.writableLength;
    // Lengths in UTF-16 units undercount multi-byte characters by at most 3x; the bound is on bytes the
    // stream reports, which is exact for what is already queued.
    if (queued + line.length > this.#maxBufferedBytes) {
      this.#drop('buffer_full');
      return;
    }
    if (this.#unreported > 0 && queued === 0) {
      const notice = `${JSON.stringify({ level: 40, time: Date.now(), msg: 'log lines were dropped: the log reader did not keep up (vigil_log_lines_dropped_total)', dropped: this.#unreported })}\n`;
      this.#unreported = 0;
      this.#send(notice);
    }
    this.#send(line);
  }

  #send(line: string): void {
    try {
      this.#stream.write(line);
      this.#written++;
    } catch (err) {
      // A file destination writes synchronously: ENOSPC and the like throw here.
      this.#state.lastError = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      this.#drop('error');
    }
  }

  #drop(reason: DropReason): void {
    this.#dropped[reason]++;
    this.#unreported++;
  }

  /** The bound (log.buffer_size), bytes. */
  get maxBufferedBytes(): number {
    return this.#maxBufferedBytes;
  }

  set maxBufferedBytes(bytes: number) {
    this.#maxBufferedBytes = bytes;
  }

  /** Bytes written to the stream and not yet taken by the reader's pipe. */
  get bufferedBytes(): number {
    return this.#state.closed ? 0 : this.#stream.writableLength;
  }

  /** Lines dropped so far, by reason. */
  get dropped(): Readonly<Record<DropReason, number>> {
    return this.#dropped;
  }

  /** Lines handed to the stream. */
  get written(): number {
    return this.#written;
  }

  /** Whether the reader is gone, and the error that said so. */
  get closed(): { closed: boolean; error: string } {
    return { closed: this.#state.closed, error: this.#state.lastError };
  }
}
