// Durable SLO history: SQLite in storage.data_dir (see README.md).

export { DB_FILE, LOCK_FILE, HOUR_RETENTION_HOURS, MIN_MINUTE_RETENTION_MINUTES, Storage } from './storage.js';
export type { Bucket, ComponentStateRow, IntegrityEvent, MinuteDelta, RollupResult, SloStateRow, StorageOptions } from './storage.js';
export { StorageCorruptError, StorageError, StorageLockedError, StorageSchemaTooNewError, StorageUnavailableError, StorageUnwritableError } from './errors.js';
export { PROBE_FILE, STORAGE_FAULTS, STORAGE_WRITERS, StorageHealth, classifyStorageError } from './health.js';
export type { StorageFault, StorageHealthOptions, StorageWriter } from './health.js';
export { MIGRATIONS, SCHEMA_VERSION, currentVersion, migrate } from './migrations.js';
