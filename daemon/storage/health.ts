// Whether the data directory can be written, as the daemon's writers find it: the SLO flush and
// rollup, the status store (admin API) and the heartbeats' state. A failure is counted on every write, logged only when
// the state changes (a flush every second must not write a log line every second on a full disk),
// and turns /-/ready to 503 with the reason until a write succeeds again. A probe every few seconds
// also finds a data dir that was removed, replaced or made read-only while nothing was written.
// The integrity of the database file is tracked here too: the full check after ready, and damage a
// read or write meets (Storage.onIntegrity); damage keeps /-/ready at 503 until the file is replaced.

import { closeSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { DB_FILE } from './storage.js';
import type { IntegrityEvent } from './storage.js';
import { StaticFamily } from '../model/index.js';
import type { FamilyView } from '../model/index.js';

/** Who writes to the data dir. */
export type StorageWriter = 'slo_flush' | 'slo_rollup' | 'status' | 'heartbeat' | 'probe';
/** Why a write failed, as counted in vigil_storage_write_failures_total{reason}. */
export type StorageFault = 'disk_full' | 'read_only' | 'removed' | 'io_error' | 'corrupt';

export const STORAGE_WRITERS: readonly StorageWriter[] = ['slo_flush', 'slo_rollup', 'status', 'heartbeat', 'probe'];
export const STORAGE_FAULTS: readonly StorageFault[] = ['disk_full', 'read_only', 'removed', 'io_error', 'corrupt'];

/** The probe file written and removed in the data dir on every check. */
export const PROBE_FILE = '.vigil-write-probe';

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Maps a SQLite or file-system error to the fault it means for the operator. */
export function classifyStorageError(err: unknown): StorageFault {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  if (code === 'VIGIL_STORAGE_CORRUPT' || code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return 'corrupt';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return 'disk_full';
  if (code === 'SQLITE_READONLY_DBMOVED' || code === 'ENOENT' || code === 'SQLITE_CANTOPEN' || code === 'ENOTDIR') return 'removed';
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === 'EACCES' || code === 'EPERM' || code === 'SQLITE_PERM') return 'read_only';
  return 'io_error';
}

const WHAT: Record<StorageFault, string> = {
  disk_full: 'the disk is full',
  read_only: 'the data dir is read-only',
  removed: 'the data dir or its database was removed or replaced',
  io_error: 'an I/O error',
  corrupt: 'the database file is damaged',
};

/** vigil_storage_integrity_state: 0 checking, 1 passed, 2 damage found, 3 the check could not run. */
const INTEGRITY_STATES = { checking: 0, ok: 1, corrupt: 2, failed: 3 } as const;

const CONSEQUENCE: Record<StorageWriter, string> = {
  slo_flush: 'SLO minute counts stay in memory and are written by the next flush that succeeds',
  slo_rollup: 'hourly rollups are recomputed from the minutes on the next rollup that succeeds',
  status: 'admin API changes are refused with 503 (nothing is half applied); retry them once space is back',
  heartbeat: 'heartbeat states and outages stay in memory and are written by the next try (every 5 s) that succeeds',
  probe: 'nothing can be persisted until it is fixed',
};

interface WriterState {
  fault: StorageFault | null;
  sinceMs: number;
  detail: string;
}

/** Settings of StorageHealth. */
export interface StorageHealthOptions {
  dataDir: string;
  logger?: Logger;
  now?: () => number;
  /** How often the probe runs; 0 = never (tests drive check()). */
  checkIntervalMs?: number;
  /**
   * Called when the database file is gone but its directory exists again (removed, then re-created
   * or remounted): rewrites the file from the connections still open on the removed one.
   */
  restore?: () => void;
}

/** Tracks the data dir's writability; see the file comment. */
export class StorageHealth {
  readonly dataDir: string;
  readonly #dbPath: string;
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  readonly #interval: number;
  readonly #restore: (() => void) | undefined;
  readonly #states = new Map<StorageWriter, WriterState>();
  readonly #failures = new Map<string, number>();
  #dbIno: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  #integrity: keyof typeof INTEGRITY_STATES = 'checking';
  #integritySeconds = 0;
  #damage: Error | null = null;

  constructor(options: StorageHealthOptions) {
    this.dataDir = resolve(options.dataDir);
    this.#dbPath = join(this.dataDir, DB_FILE);
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
    this.#interval = options.checkIntervalMs ?? 5000;
    this.#restore = options.restore;
    for (const w of STORAGE_WRITERS) this.#states.set(w, { fault: null, sinceMs: this.#now(), detail: '' });
    for (const w of STORAGE_WRITERS) for (const f of STORAGE_FAULTS) this.#failures.set(`${w}|${f}`, 0);
  }

  /** Remembers the database file the daemon opened (its inode), then probes every interval. */
  start(): void {
    try {
      this.#dbIno = statSync(this.#dbPath).ino;
    } catch {
      this.#dbIno = null;
    }
    if (this.#interval > 0 && this.#timer === null) {
      this.#timer = setInterval(() => this.check(), this.#interval);
      this.#timer.unref();
    }
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** A write by `writer` succeeded. */
  succeeded(writer: StorageWriter): void {
    const s = this.#states.get(writer)!;
    if (s.fault === null) return;
    const fields = { writer, path: this.dataDir, fault: s.fault, failingForMs: this.#now() - s.sinceMs };
    s.fault = null;
    s.sinceMs = this.#now();
    s.detail = '';
    this.#log?.info(fields, `storage: ${writer} writes to ${this.dataDir} again`);
  }

  /** A write by `writer` failed with `err`: counted every time, logged when the fault changes. */
  failed(writer: StorageWriter, err: unknown): StorageFault {
    let fault = classifyStorageError(err);
    // SQLite reports a read-only or vanished file system as a plain I/O error (SQLITE_IOERR_WRITE):
    // a small write beside it tells which.
    if (fault === 'io_error' && writer !== 'probe') fault = this.#probe() ?? fault;
    const key = `${writer}|${fault}`;
    this.#failures.set(key, (this.#failures.get(key) ?? 0) + 1);
    const s = this.#states.get(writer)!;
    const detail = `${String((err as { code?: unknown } | null)?.code ?? 'error')}: ${(err as Error)?.message ?? String(err)}`;
    if (s.fault !== fault) {
      s.fault = fault;
      s.sinceMs = this.#now();
      this.#log?.error({ writer, path: this.dataDir, fault, err }, `storage: ${writer} cannot write to ${this.dataDir}: ${WHAT[fault]} (${detail}); ${CONSEQUENCE[writer]}. Counted in vigil_storage_write_failures_total; logged again only when this changes (docs/operations.md)`);
    }
    s.detail = detail;
    return fault;
  }

  /** What the integrity check found (Storage.onIntegrity): logged, and damage makes the daemon not ready. */
  integrity(event: IntegrityEvent): void {
    const path = this.#dbPath;
    if (event.state === 'ok') {
      if (this.#integrity === 'corrupt') return;
      this.#integrity = 'ok';
      this.#integritySeconds = event.seconds;
      const mib = (event.bytes / 1024 / 1024).toFixed(1);
      this.#log?.info({ path, seconds: event.seconds, cpuSeconds: event.cpuSeconds, bytes: event.bytes }, `storage: the integrity check of ${path} passed (${mib} MiB in ${event.seconds.toFixed(1)} s, ${event.cpuSeconds.toFixed(1)} CPU s)`);
    } else if (event.state === 'corrupt') {
      if (this.#integrity === 'corrupt') return;
      this.#integrity = 'corrupt';
      if (event.seconds !== null) this.#integritySeconds = event.seconds;
      this.#damage = event.error;
      this.#log?.error({ path, code: 'VIGIL_STORAGE_CORRUPT', err: event.error }, `${event.error.message} vigild keeps serving from memory, reports not ready and writes nothing more to it (docs/errors.md)`);
    } else {
      if (this.#integrity === 'corrupt') return;
      this.#integrity = 'failed';
      this.#log?.warn({ path, err: event.error }, `storage: ${event.error.message}; the file was only checked at open (docs/operations.md)`);
    }
  }

  /** Writes and removes the probe file; the fault it met, or null when it worked. */
  #probe(): StorageFault | null {
    try {
      const probe = join(this.dataDir, PROBE_FILE);
      const fd = openSync(probe, 'w');
      try {
        writeSync(fd, 'vigil');
      } finally {
        closeSync(fd);
      }
      unlinkSync(probe);
      return null;
    } catch (err) {
      return classifyStorageError(err);
    }
  }

  /**
   * Probes the data dir: writes and removes a small file, and checks that the database file is the
   * one opened (a removed or replaced file keeps taking SQLite's writes, then vanishes on restart).
   */
  check(): void {
    try {
      let st;
      try {
        st = statSync(this.#dbPath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || this.#restore === undefined || !isDirectory(this.dataDir)) throw err;
        // The directory is back without the database: write it again from the open connections.
        this.#restore();
        st = statSync(this.#dbPath);
        this.#dbIno = st.ino;
        this.#log?.warn({ path: this.#dbPath }, `storage: ${this.#dbPath} was removed while vigild ran; its directory is back, and the database was written there again from the open file (nothing lost)`);
      }
      if (this.#dbIno !== null && st.ino !== this.#dbIno) {
        throw Object.assign(new Error(`${this.#dbPath} is no longer the database file vigild opened (replaced)`), { code: 'SQLITE_READONLY_DBMOVED' });
      }
      const probe = join(this.dataDir, PROBE_FILE);
      const fd = openSync(probe, 'w');
      try {
        writeSync(fd, 'vigil');
      } finally {
        closeSync(fd);
      }
      unlinkSync(probe);
      this.succeeded('probe');
      // Refused admin changes are not queued (their clients got 503): nothing is pending for the
      // status writer, so a data dir that takes writes again ends its failing state too.
      this.succeeded('status');
    } catch (err) {
      this.failed('probe', err);
    }
  }

  /** The current fault of each failing writer. */
  faults(): { writer: StorageWriter; fault: StorageFault; sinceMs: number; detail: string }[] {
    const out: { writer: StorageWriter; fault: StorageFault; sinceMs: number; detail: string }[] = [];
    for (const [writer, s] of this.#states) if (s.fault !== null) out.push({ writer, fault: s.fault, sinceMs: s.sinceMs, detail: s.detail });
    return out;
  }

  /** Why nothing can be persisted now, or null when the data dir takes writes. */
  notReadyReason(): string | null {
    if (this.#damage !== null) return `VIGIL_STORAGE_CORRUPT: ${this.#damage.message}`;
    const faults = this.faults();
    if (faults.length === 0) return null;
    const f = faults[0]!;
    return `storage: ${WHAT[f.fault]} (${this.dataDir}; ${faults.map((x) => x.writer).join(', ')} failing since ${new Date(f.sinceMs).toISOString()}; ${f.detail})`;
  }

  /** Failures counted so far for one writer and fault. */
  failures(writer: StorageWriter, fault: StorageFault): number {
    return this.#failures.get(`${writer}|${fault}`) ?? 0;
  }

  /** vigil_storage_write_failures_total and vigil_storage_writable for the read model (daemon/model). */
  collect(): FamilyView[] {
    const failures = new StaticFamily('vigil_storage_write_failures', 'counter', 'Writes to the data dir that failed, by writer and reason (disk_full, read_only, removed, io_error).');
    for (const [key, n] of this.#failures) {
      const [writer, reason] = key.split('|') as [string, string];
      failures.add(['writer', writer, 'reason', reason], n);
    }
    const writable = new StaticFamily('vigil_storage_writable', 'gauge', '1 while the data dir takes writes, 0 while a writer is failing (then /-/ready answers 503 with the reason).');
    writable.add([], this.faults().length === 0 ? 1 : 0);
    const integrity = new StaticFamily('vigil_storage_integrity_state', 'gauge', 'The database file check after ready: 0 running (or not started), 1 passed, 2 damage found (then /-/ready answers 503 and nothing more is written to it), 3 the check could not run.');
    integrity.add([], INTEGRITY_STATES[this.#integrity]);
    const took = new StaticFamily('vigil_storage_integrity_check_seconds', 'gauge', 'How long the full integrity check of the database file took (0 until it ends).');
    took.add([], this.#integritySeconds);
    return [failures, writable, integrity, took];
  }
}
