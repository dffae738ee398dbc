// The durable queue of one remote_write endpoint: every sampled batch is appended here before it
// is sent, and forgotten only once the endpoint has taken it (or refused it for good).
//
// On disk: `<dir>/NNNNNNNN.seg` segment files of records, and `<dir>/cursor` naming the first
// record not yet acknowledged. A record is `u32 length | u32 crc32(payload) | payload` (little-endian).
// A new segment starts at every start and whenever the current one passes `segmentBytes`.
//
// Start: every segment is read in order; a record whose length runs past the file's end or whose
// checksum does not match ends that segment: the file is truncated there (a torn write after a
// crash, or corruption), which is logged and counted, and the start goes on. Records before the
// cursor are skipped; the rest is replayed in order.
//
// Bounds: segments plus records held only in memory stay under `maxBytes`; past it the oldest
// segment is deleted (its unsent samples counted as dropped, reason wal_full).
//
// Failures: when the directory or a segment cannot be written (permissions, a full disk), the
// record is kept in memory instead (same bound), the error is counted and logged at most once a
// minute, and the next append tries a new segment. Nothing here throws into the sampler.
//
// fsync: with `fsync: always` (the default) each append is fdatasync'ed before it is acknowledged,
// so a power loss loses nothing appended; `never` leaves it to the OS (a kill -9 still loses
// nothing: the page cache outlives the process).

import { closeSync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { readCounts } from './batch.js';
import type { BatchCounts } from './batch.js';

const RECORD_HEADER = 8;
const SEGMENT_NAME = /^(\d{8})\.seg$/;
/** The cursor is persisted at most this often while acknowledging. */
const CURSOR_INTERVAL_MS = 1000;

/** fsync policy (`wal.fsync`). */
export type FsyncPolicy = 'always' | 'never';

/** WAL settings. */
export interface WalOptions {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  fsync: FsyncPolicy;
  /** Logs a problem; called at most once a minute per kind. */
  warn: (fields: Record<string, unknown>, message: string) => void;
}

/** One record not yet acknowledged. */
export interface WalRecord {
  readonly counts: BatchCounts;
  /** Segment id, or -1 when the record is held only in memory (its write failed). */
  readonly segment: number;
  readonly offset: number;
  /** Payload bytes. */
  readonly length: number;
  /** The payload, when held in memory. */
  payload: Buffer | null;
  /** The payload is the appender's own buffer, kept after the write so sending reads nothing back (see KEEP_BYTES). */
  readonly kept: boolean;
}

/**
 * Payloads written to disk whose buffer the appender handed over are also kept in memory, up to
 * this many bytes in all, so a sender that keeps up sends them without reading them back
 * (a 100k-series sampling read ~3 MB back and allocated buffers for it every 15 s); past it,
 * records are read back from their segment as before.
 */
export const KEEP_BYTES = 16 * 1024 * 1024;

/** What the WAL counts. */
export interface WalStats {
  bytes: number;
  segments: number;
  corruptions: number;
  /** Errors by operation: open, write, sync, read, truncate, delete, cursor. */
  errors: Map<string, number>;
  /** Unsent samples (floats + histograms) dropped, by reason: wal_full, wal_unreadable. */
  dropped: Map<string, number>;
  /** Records and samples replayed at start. */
  replayedRecords: number;
  replayedSamples: number;
}

interface Segment {
  id: number;
  bytes: number;
}

/** The write-ahead log of one endpoint. */
export class Wal {
  readonly #o: WalOptions;
  readonly #segments: Segment[] = [];
  readonly #records: WalRecord[] = [];
  /** Leading records handed to the sender and not yet acknowledged. */
  #inFlight = 0;
  #fd: number | null = null;
  #current: Segment | null = null;
  #nextId = 1;
  #memoryBytes = 0;
  /** Bytes of kept payloads of records on disk (see KEEP_BYTES). */
  #keptBytes = 0;
  #dirty = false;
  #cursorWrittenAt = 0;
  readonly #lastWarn = new Map<string, number>();
  readonly stats: WalStats = { bytes: 0, segments: 0, corruptions: 0, errors: new Map(), dropped: new Map(), replayedRecords: 0, replayedSamples: 0 };

  constructor(options: WalOptions) {
    this.#o = options;
  }

  /** Records waiting (not in flight). */
  get waiting(): number {
    return this.#records.length - this.#inFlight;
  }

  /** Floats + histograms not yet acknowledged. */
  get pendingSamples(): number {
    let n = 0;
    for (const r of this.#records) n += r.counts.floats + r.counts.histograms;
    return n;
  }

  /** Sampling time of the newest record held (0 when none). */
  newestSampledMs(): number {
    let newest = 0;
    for (const r of this.#records) if (r.counts.sampledAtMs > newest) newest = r.counts.sampledAtMs;
    return newest;
  }

  /** Reads what a previous run left: truncates torn tails, skips acknowledged records. Never throws. */
  open(): void {
    try {
      mkdirSync(this.#o.dir, { recursive: true });
    } catch (err) {
      this.#error('open', err, 'remote_write WAL directory cannot be created: queued samples are kept in memory only');
      return;
    }
    let names: string[];
    try {
      names = readdirSync(this.#o.dir);
    } catch (err) {
      this.#error('open', err, 'remote_write WAL directory cannot be read: queued samples are kept in memory only');
      return;
    }
    const cursor = this.#readCursor();
    const ids = names.map((n) => SEGMENT_NAME.exec(n)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
    for (const id of ids) {
      this.#nextId = Math.max(this.#nextId, id + 1);
      if (id < cursor.segment) {
        this.#unlink(id);
        continue;
      }
      this.#replaySegment(id, id === cursor.segment ? cursor.offset : 0);
    }
    this.#refreshStats();
  }

  #replaySegment(id: number, fromOffset: number): void {
    const path = this.#path(id);
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (err) {
      this.#error('read', err, 'a remote_write WAL segment cannot be read: skipped');
      return;
    }
    let at = 0;
    let bad: string | null = null;
    const found: WalRecord[] = [];
    while (at < data.length) {
      if (at + RECORD_HEADER > data.length) {
        bad = 'torn record header';
        break;
      }
      const length = data.readUInt32LE(at);
      const sum = data.readUInt32LE(at + 4);
      if (at + RECORD_HEADER + length > data.length) {
        bad = 'torn record';
        break;
      }
      const payload = data.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length);
      if (crc32(payload) !== sum) {
        bad = 'checksum mismatch';
        break;
      }
      let counts: BatchCounts;
      try {
        counts = readCounts(payload);
      } catch {
        bad = 'unreadable payload';
        break;
      }
      if (at >= fromOffset) found.push({ counts, segment: id, offset: at, length, payload: null, kept: false });
      at += RECORD_HEADER + length;
    }
    if (bad !== null) {
      this.stats.corruptions++;
      this.#o.warn({ segment: path, offset: at, bytesCut: data.length - at, reason: bad }, 'remote_write WAL segment is damaged (torn write or corruption): truncated there, the records before it are replayed');
      try {
        const fd = openSync(path, 'r+');
        try {
          ftruncateSync(fd, at);
        } finally {
          closeSync(fd);
        }
      } catch (err) {
        this.#error('truncate', err, 'a damaged remote_write WAL segment cannot be truncated');
      }
    }
    if (at === 0) {
      this.#unlink(id);
      return;
    }
    this.#segments.push({ id, bytes: at });
    for (const r of found) {
      this.#records.push(r);
      this.stats.replayedRecords++;
      this.stats.replayedSamples += r.counts.floats + r.counts.histograms;
    }
  }

  /**
   * Appends one payload. Not kept unless `handOver` (the caller never writes to the buffer again):
   * then it is kept within KEEP_BYTES. Kept in memory, copied, when it cannot be written. Enforces maxBytes.
   */
  append(payload: Buffer, counts: BatchCounts, handOver = false): void {
    const record = this.#write(payload, counts, handOver);
    this.#records.push(record);
    this.#enforceBound();
    this.#refreshStats();
  }

  #write(payload: Buffer, counts: BatchCounts, handOver: boolean): WalRecord {
    if (this.#fd === null || (this.#current !== null && this.#current.bytes >= this.#o.segmentBytes)) this.#rotate();
    const fd = this.#fd;
    const segment = this.#current;
    if (fd !== null && segment !== null) {
      const header = Buffer.allocUnsafe(RECORD_HEADER);
      header.writeUInt32LE(payload.length, 0);
      header.writeUInt32LE(crc32(payload), 4);
      const offset = segment.bytes;
      try {
        // Header and payload in one system call (one writev), then whatever it did not take.
        const wrote = writevSync(fd, [header, payload], offset);
        if (wrote < RECORD_HEADER) {
          writeAll(fd, header.subarray(wrote), offset + wrote);
          writeAll(fd, payload, offset + RECORD_HEADER);
        } else if (wrote < RECORD_HEADER + payload.length) {
          writeAll(fd, payload.subarray(wrote - RECORD_HEADER), offset + wrote);
        }
        segment.bytes += RECORD_HEADER + payload.length;
        this.#dirty = true;
        const kept = handOver && this.#keptBytes + payload.length <= KEEP_BYTES;
        if (kept) this.#keptBytes += payload.length;
        return { counts, segment: segment.id, offset, length: payload.length, payload: kept ? payload : null, kept };
      } catch (err) {
        this.#error('write', err, 'remote_write WAL append failed (disk full or unwritable?): this batch is kept in memory only, not durable');
        // Cut any partial write, then start a fresh segment on the next append.
        try {
          ftruncateSync(fd, offset);
        } catch {
          // the next start truncates the torn tail instead
        }
        this.#closeCurrent();
      }
    }
    // The caller's buffer is reused for the next payload: keep a copy.
    this.#memoryBytes += payload.length;
    return { counts, segment: -1, offset: 0, length: payload.length, payload: Buffer.from(payload), kept: false };
  }

  /** fdatasync of what was appended since the last sync (fsync: always). */
  sync(): void {
    if (!this.#dirty || this.#fd === null || this.#o.fsync === 'never') return;
    try {
      fdatasyncSync(this.#fd);
      this.#dirty = false;
    } catch (err) {
      this.#error('sync', err, 'remote_write WAL fsync failed');
    }
  }

  /**
   * Hands the oldest waiting records to the sender, at least one and up to `maxSamples` samples;
   * their payloads are loaded. Records that cannot be read are dropped (counted).
   */
  take(maxSamples: number): WalRecord[] {
    const out: WalRecord[] = [];
    let samples = 0;
    while (this.#inFlight < this.#records.length) {
      const r = this.#records[this.#inFlight]!;
      const n = r.counts.entries;
      if (out.length > 0 && samples + n > maxSamples) break;
      if (r.payload === null) {
        const payload = this.#read(r);
        if (payload === null) {
          this.#records.splice(this.#inFlight, 1);
          this.#drop('wal_unreadable', r.counts.floats + r.counts.histograms);
          continue;
        }
        r.payload = payload;
      }
      out.push(r);
      samples += n;
      this.#inFlight++;
    }
    return out;
  }

  #read(r: WalRecord): Buffer | null {
    let fd: number | null = null;
    try {
      fd = openSync(this.#path(r.segment), 'r');
      const buf = Buffer.allocUnsafe(r.length);
      let got = 0;
      while (got < r.length) {
        const n = readSync(fd, buf, got, r.length - got, r.offset + RECORD_HEADER + got);
        if (n === 0) throw new Error('segment shorter than its index');
        got += n;
      }
      return buf;
    } catch (err) {
      this.#error('read', err, 'a remote_write WAL record cannot be read back: dropped');
      return null;
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }

  /** The sender is done with the first `count` records handed out: forget them, persist the cursor, delete finished segments. */
  ack(count: number): void {
    const done = this.#records.splice(0, count);
    this.#inFlight -= count;
    for (const r of done) {
      if (r.segment === -1) this.#memoryBytes -= r.length;
      if (r.kept) this.#keptBytes -= r.length;
    }
    // At most once a second (and always when a segment can go): a crash before the next write
    // only sends some acknowledged records again, which receivers take as duplicates.
    const now = Date.now();
    const keep = this.#firstNeededSegment();
    if (now - this.#cursorWrittenAt >= CURSOR_INTERVAL_MS || (this.#segments.length > 0 && this.#segments[0]!.id < keep)) {
      this.#writeCursor();
      this.#cursorWrittenAt = now;
    }
    const keepFrom = this.#firstNeededSegment();
    while (this.#segments.length > 0 && this.#segments[0]!.id < keepFrom && this.#segments[0] !== this.#current) {
      const gone = this.#segments.shift()!;
      this.#unlink(gone.id);
    }
    this.#refreshStats();
  }

  /** Gives records handed out back to the queue (the sender stopped before finishing them). */
  release(): void {
    this.#inFlight = 0;
  }

  /** Closes the current segment (at shutdown). */
  close(): void {
    this.sync();
    if (this.#cursorWrittenAt !== 0) this.#writeCursor();
    this.#closeCurrent();
  }

  /** The first segment a waiting or in-flight record lives in (or the current one). */
  #firstNeededSegment(): number {
    for (const r of this.#records) if (r.segment !== -1) return r.segment;
    return this.#current?.id ?? this.#nextId;
  }

  #rotate(): void {
    this.#closeCurrent();
    const id = this.#nextId++;
    try {
      mkdirSync(this.#o.dir, { recursive: true });
      this.#fd = openSync(this.#path(id), 'wx');
      this.#current = { id, bytes: 0 };
      this.#segments.push(this.#current);
    } catch (err) {
      this.#error('open', err, 'a remote_write WAL segment cannot be created: queued samples are kept in memory only until it can');
    }
  }

  #closeCurrent(): void {
    if (this.#fd !== null) {
      try {
        if (this.#dirty && this.#o.fsync === 'always') fdatasyncSync(this.#fd);
        closeSync(this.#fd);
      } catch {
        // closing a failed segment: nothing more to save
      }
    }
    this.#fd = null;
    this.#dirty = false;
    if (this.#current !== null && this.#current.bytes === 0) {
      const empty = this.#current;
      this.#segments.splice(this.#segments.indexOf(empty), 1);
      this.#unlink(empty.id);
    }
    this.#current = null;
  }

  /** Past maxBytes: drop the oldest memory-held records or the oldest segment, never what is in flight. */
  #enforceBound(): void {
    while (this.#totalBytes() > this.#o.maxBytes) {
      const oldestWaiting = this.#records[this.#inFlight];
      if (oldestWaiting === undefined) return;
      if (oldestWaiting.segment === -1) {
        this.#records.splice(this.#inFlight, 1);
        this.#memoryBytes -= oldestWaiting.length;
        this.#drop('wal_full', oldestWaiting.counts.floats + oldestWaiting.counts.histograms);
        continue;
      }
      const oldest = this.#segments[0];
      if (oldest === undefined) return;
      if (oldest === this.#current) {
        // The only segment: start another so the old one can go.
        this.#closeCurrent();
        this.#rotate();
        if (this.#segments[0] === this.#current) return;
        continue;
      }
      this.#segments.shift();
      this.#unlink(oldest.id);
      // Waiting records of that segment are lost; in-flight ones are already in memory.
      for (let i = this.#inFlight; i < this.#records.length; ) {
        const r = this.#records[i]!;
        if (r.segment !== oldest.id) {
          i++;
          continue;
        }
        this.#records.splice(i, 1);
        if (r.kept) this.#keptBytes -= r.length;
        this.#drop('wal_full', r.counts.floats + r.counts.histograms);
      }
      this.#o.warn({ dir: this.#o.dir, maxBytes: this.#o.maxBytes }, 'remote_write WAL is over wal.max_size: the oldest segment was dropped (the endpoint is down or too slow)');
    }
  }

  #totalBytes(): number {
    let bytes = this.#memoryBytes;
    for (const s of this.#segments) bytes += s.bytes;
    return bytes;
  }

  #drop(reason: string, samples: number): void {
    this.stats.dropped.set(reason, (this.stats.dropped.get(reason) ?? 0) + samples);
  }

  #refreshStats(): void {
    this.stats.bytes = this.#totalBytes();
    this.stats.segments = this.#segments.length;
  }

  #readCursor(): { segment: number; offset: number } {
    try {
      const [segment, offset] = readFileSync(join(this.#o.dir, 'cursor'), 'utf8').trim().split(' ').map(Number);
      if (Number.isSafeInteger(segment) && Number.isSafeInteger(offset)) return { segment: segment!, offset: offset! };
    } catch {
      // no cursor yet: everything is unsent
    }
    return { segment: 0, offset: 0 };
  }

  /** `segment offset` of the first record not acknowledged; written aside and renamed, so it is never torn. */
  #writeCursor(): void {
    const first = this.#records.find((r) => r.segment !== -1);
    const at = first !== undefined ? `${first.segment} ${first.offset}` : `${this.#current?.id ?? this.#nextId} ${this.#current?.bytes ?? 0}`;
    const path = join(this.#o.dir, 'cursor');
    try {
      writeFileSync(`${path}.tmp`, at);
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      this.#error('cursor', err, 'remote_write WAL cursor cannot be written: a restart may send some samples again');
    }
  }

  #unlink(id: number): void {
    try {
      unlinkSync(this.#path(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#error('delete', err, 'a remote_write WAL segment cannot be deleted');
    }
  }

  #path(id: number): string {
    return join(this.#o.dir, `${String(id).padStart(8, '0')}.seg`);
  }

  #error(op: string, err: unknown, message: string): void {
    this.stats.errors.set(op, (this.stats.errors.get(op) ?? 0) + 1);
    const now = Date.now();
    if ((this.#lastWarn.get(op) ?? -Infinity) + 60_000 > now) return;
    this.#lastWarn.set(op, now);
    this.#o.warn({ dir: this.#o.dir, op, err: (err as Error).message }, message);
  }
}

/** Writes all of `data` at `position` (writeSync may write less than asked). */
function writeAll(fd: number, data: Buffer, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}

/** Size of a WAL directory's segments (for tests and tools). */
export function segmentFiles(dir: string): { name: string; bytes: number }[] {
  return readdirSync(dir)
    .filter((n) => SEGMENT_NAME.test(n))
    .sort()
    .map((name) => ({ name, bytes: statSync(join(dir, name)).size }));
}
