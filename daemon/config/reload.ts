// What a SIGHUP reload may change while running, and what needs a restart.
//
// Reloadable keys are applied in place by the daemon (vigild.ts); every other key that changed
// is named in one log line and keeps its old value until the next start.

import type { Config } from './types.js';

/** YAML keys SIGHUP applies while running (docs/operations.md, "Reloading the configuration"). */
const RELOADABLE_KEYS: ReadonlySet<string> = new Set([
  'log.level',
  'series.limit',
  'series.staleness',
  'otlp.max_inflight_size',
  'limits.memory_soft',
  'limits.memory_hard',
  'limits.check_interval',
]);

/** Changed YAML keys of a reload, split by whether they take effect without a restart. */
interface ConfigChanges {
  reloadable: string[];
  restartRequired: string[];
}

/** Internal leaf names whose YAML key is not their snake_case form. */
const YAML_LEAF: Record<string, string> = {
  host: 'endpoint',
  port: 'endpoint',
  maxMessageBytes: 'max_message_size',
  maxInflightBytes: 'max_inflight_size',
  windowsMs: 'windows',
  windowLabels: 'windows',
  errorOnHttp5xx: 'error_on_http_5xx',
};

/** The YAML key of a normalised Config path, e.g. otlp.grpc.port → otlp.grpc.endpoint. */
function yamlKey(path: readonly string[]): string {
  return path
    .map((part, i) => {
      if (i < path.length - 1) return part;
      const special = YAML_LEAF[part];
      if (special !== undefined) return special;
      return part.replace(/(?:Ms|Bytes|Seconds)$/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    })
    .join('.');
}

/** Every YAML key whose value differs between `before` and `after` (the file path aside). */
function diffConfig(before: Config, after: Config): ConfigChanges {
  const changed = new Set<string>();
  const walk = (a: unknown, b: unknown, path: string[]): void => {
    if (isRecord(a) && isRecord(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        if (path.length === 0 && key === 'source') continue;
        walk(a[key], b[key], [...path, key]);
      }
      return;
    }
    // Lists (slos, components, buckets) compare whole.
    if (JSON.stringify(a) !== JSON.stringify(b)) changed.add(yamlKey(path));
  };
  walk(before, after, []);
  const keys = [...changed].sort();
  return { reloadable: keys.filter((k) => RELOADABLE_KEYS.has(k)), restartRequired: keys.filter((k) => !RELOADABLE_KEYS.has(k)) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export { diffConfig, RELOADABLE_KEYS };
export type { ConfigChanges };
