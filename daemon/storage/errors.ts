// Errors raised when opening or writing the SQLite store. Each names the file and what to do;
// the codes are listed in docs/errors.md.

import { VigilError } from '../../collectors/errors.js';

/** Base of every storage error: carries the database (or data directory) path. */
export class StorageError extends VigilError {
  override readonly name: string = 'StorageError';
  /** The file or directory concerned. */
  readonly path: string;

  constructor(message: string, code: string, path: string, options?: ErrorOptions) {
    super(message, code, options);
    this.path = path;
  }
}

/** The database file exists but is not a valid SQLite database, or fails its integrity check. */
export class StorageCorruptError extends StorageError {
  override readonly name = 'StorageCorruptError';
  constructor(path: string, detail: string, options?: ErrorOptions) {
    super(
      `storage: ${path} is not a usable SQLite database (${detail}). It holds Vigil's SLO history: ` +
        `stop vigild and restore it from a backup, or move it aside with its -wal and -shm files ` +
        `(mv ${path} ${path}.corrupt) to start with empty history.`,
      'VIGIL_STORAGE_CORRUPT',
      path,
      options,
    );
  }
}

/** The database cannot be created, opened for writing, or written. */
export class StorageUnwritableError extends StorageError {
  override readonly name = 'StorageUnwritableError';
  constructor(path: string, detail: string, options?: ErrorOptions) {
    super(
      `storage: cannot write ${path} (${detail}). Make storage.data_dir writable by the user running vigild, ` +
        `or point storage.data_dir (--data-dir) at a writable directory.`,
      'VIGIL_STORAGE_UNWRITABLE',
      path,
      options,
    );
  }
}

/** Another process holds the database's exclusive lock. */
export class StorageLockedError extends StorageError {
  override readonly name = 'StorageLockedError';
  constructor(path: string, options?: ErrorOptions) {
    super(
      `storage: ${path} is locked by another process; is another vigild running with the same storage.data_dir? ` +
        `Stop it, or give this one its own --data-dir.`,
      'VIGIL_STORAGE_LOCKED',
      path,
      options,
    );
  }
}

/** The database was written by a newer Vigil with a schema this build does not know. */
export class StorageSchemaTooNewError extends StorageError {
  override readonly name = 'StorageSchemaTooNewError';
  constructor(path: string, found: number, known: number) {
    super(
      `storage: ${path} has schema version ${found}, but this vigild knows versions up to ${known}. ` +
        `Run the newer Vigil that wrote it, or use another storage.data_dir.`,
      'VIGIL_STORAGE_SCHEMA_TOO_NEW',
      path,
    );
  }
}

/** A write was refused because the data dir cannot take it now (full, read-only, removed): retry later. */
export class StorageUnavailableError extends StorageError {
  override readonly name = 'StorageUnavailableError';
  /** disk_full, read_only, removed or io_error (daemon/storage/health.ts). */
  readonly fault: string;
  constructor(path: string, fault: string, detail: string, options?: ErrorOptions) {
    super(
      `storage: the change was not saved because ${path} cannot be written now (${fault}: ${detail}); nothing was applied. ` +
        `Free space or make the data dir writable again, then retry.`,
      'VIGIL_STORAGE_UNAVAILABLE',
      path,
      options,
    );
    this.fault = fault;
  }
}
