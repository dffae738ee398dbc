// The component's configuration: one validated `remote_write[]` entry per endpoint
// (daemon/config/remote-write-schema.ts parses and checks the YAML).

export type { RemoteWriteSettings } from '../../daemon/config/types.js';
export { REMOTE_WRITE_DEFAULTS } from '../../daemon/config/remote-write-schema.js';
