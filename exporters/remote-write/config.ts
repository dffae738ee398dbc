// The component's configuration: one validated `remote_write[]` entry per endpoint
// (daemon/config/remote-write-schema.ts parses and checks the YAML and holds the defaults).

export type { RemoteWriteSettings } from '../../daemon/config/types.js';
