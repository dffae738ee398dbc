// LogSink against a stream whose reader we control: what is written, dropped and counted.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { LogSink } from './sink.js';
import type { LogStream } from './sink.js';

/** A stream whose queue only drains when `drain()` is called; `throwOnWrite` makes write() throw as a file write does on ENOSPC. */
class StalledStream extends EventEmitter implements LogStream {
  written: string[] = [];
  queued = 0;
  destroyed = false;
  throwOnWrite: Error | null = null;
  get writableLength(): number {
    return this.queued;
  }
  write(chunk: string): boolean {
    if (this.throwOnWrite !== null) throw this.throwOnWrite;
    this.written.push(chunk);
    this.queued += chunk.length;
    return false;
  }
  drain(): void {
    this.queued = 0;
  }
}

const line = (n: number): string => `${JSON.stringify({ level: 30, msg: `line ${n}`, pad: 'x'.repeat(80) })}\n`;

describe('LogSink', () => {
  it('writes while the queue has room, then drops and counts, never holding more than the bound', () => {
    const stream = new StalledStream();
    const sink = new LogSink({ maxBufferedBytes: 1000, stream });
    for (let i = 0; i < 100; i++) sink.write(line(i));
    assert.ok(stream.queued <= 1000, `queued ${stream.queued}`);
    assert.equal(sink.written + sink.dropped.buffer_full, 100);
    assert.ok(sink.dropped.buffer_full > 80);
    assert.equal(sink.bufferedBytes, stream.queued);
  });

  it('says how many lines were dropped once the reader caught up', () => {
    const stream = new StalledStream();
    const sink = new LogSink({ maxBufferedBytes: 500, stream });
    for (let i = 0; i < 20; i++) sink.write(line(i));
    const dropped = sink.dropped.buffer_full;
    stream.drain();
    sink.write(line(99));
    const notice = JSON.parse(stream.written.at(-2)!) as { msg: string; dropped: number; level: number };
    assert.match(notice.msg, /log lines were dropped/);
    assert.equal(notice.dropped, dropped);
    assert.equal(notice.level, 40);
    assert.equal(stream.written.at(-1), line(99));
  });

  it('counts every line as closed after the stream reported an error (EPIPE), and never throws', () => {
    const stream = new StalledStream();
    const sink = new LogSink({ maxBufferedBytes: 10_000, stream });
    sink.write(line(1));
    stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    sink.write(line(2));
    sink.write(line(3));
    assert.equal(sink.dropped.closed, 2);
    assert.deepEqual(sink.closed, { closed: true, error: 'EPIPE' });
    assert.equal(sink.bufferedBytes, 0);
  });

  it('counts a write that throws (a full disk under a file) as error instead of throwing into the caller', () => {
    const stream = new StalledStream();
    stream.throwOnWrite = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    const sink = new LogSink({ maxBufferedBytes: 10_000, stream });
    assert.doesNotThrow(() => sink.write(line(1)));
    assert.equal(sink.dropped.error, 1);
  });
});
