// vigild's log destination: stdout through a bounded, never-blocking buffer (README.md).

import { LogSink } from './sink.js';
import type { DropReason, LogSinkOptions, LogStream } from './sink.js';

/** Creates the destination pino writes to. */
function createLogSink(options: LogSinkOptions): LogSink {
  return new LogSink(options);
}

export { createLogSink, LogSink };
export type { DropReason, LogSinkOptions, LogStream };
