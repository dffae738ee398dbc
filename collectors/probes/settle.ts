// One probe run ends once: with its answer, its first failure, or the timeout (the abort signal),
// whichever comes first. A late error or answer after that (a socket's last events) changes nothing.
// Shared by the http, tcp, dns and grpc runners, which each kept a copy of this.

import type { ProbeOutcome } from './types.js';

/** The end of one probe run. */
export interface RunEnd<T> {
  /** True once the run ended. */
  readonly settled: boolean;
  /** Ends the run with `value`. */
  succeed(value: T): void;
  /** Ends the run as failed: `code` and `detail` go to `out`, unless a failure is there already. */
  fail(code: string, detail: string): void;
  /** Runs `onAbort` at the timeout; at once when the signal is already aborted, then false. */
  watch(onAbort: () => void): boolean;
}

/**
 * The end of a run writing into `out`: at the end the abort listener is removed, `close(failed)`
 * releases what the run opened, and `resolve` gets the value (`failedValue` after a failure).
 */
export function settleOnce<T>(out: ProbeOutcome, signal: AbortSignal, close: (failed: boolean) => void, resolve: (value: T) => void, failedValue: T): RunEnd<T> {
  let settled = false;
  let onAbort: (() => void) | null = null;
  const end = (failed: boolean, value: T): void => {
    settled = true;
    if (onAbort !== null) signal.removeEventListener('abort', onAbort);
    close(failed);
    resolve(value);
  };
  return {
    get settled() {
      return settled;
    },
    succeed(value: T): void {
      if (!settled) end(false, value);
    },
    fail(code: string, detail: string): void {
      if (settled) return;
      if (out.error === null) {
        out.error = code;
        out.detail = detail;
      }
      end(true, failedValue);
    },
    watch(abort: () => void): boolean {
      if (signal.aborted) {
        abort();
        return false;
      }
      onAbort = abort;
      signal.addEventListener('abort', abort);
      return true;
    },
  };
}
