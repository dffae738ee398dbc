// Loading and validating the daemon's configuration: YAML file, then CLI flags on top.
// Everything is checked before anything binds a port, and every problem is reported at once.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { configSchema, crossCheck, formatIssue, formatPath, parseDuration, parseSize } from './schema.js';
import type { Config, Endpoint } from './types.js';
import { parseConfigYaml } from './yaml.js';

/** Values given on the command line; each replaces one config key (flags beat the file). */
interface CliOverrides {
  /** `--otlp-grpc HOST:PORT` → otlp.grpc.endpoint */
  otlpGrpc?: string;
  /** `--otlp-http HOST:PORT` → otlp.http.endpoint */
  otlpHttp?: string;
  /** `--metrics HOST:PORT` → prometheus.endpoint */
  metrics?: string;
  /** `--status HOST:PORT` → status.endpoint */
  status?: string;
  /** `--data-dir DIR` → storage.data_dir */
  dataDir?: string;
}

/** Which key each override replaces, and the flag named in its error messages. */
const OVERRIDES: readonly { option: keyof CliOverrides; flag: string; path: readonly string[] }[] = [
  { option: 'otlpGrpc', flag: '--otlp-grpc', path: ['otlp', 'grpc', 'endpoint'] },
  { option: 'otlpHttp', flag: '--otlp-http', path: ['otlp', 'http', 'endpoint'] },
  { option: 'metrics', flag: '--metrics', path: ['prometheus', 'endpoint'] },
  { option: 'status', flag: '--status', path: ['status', 'endpoint'] },
  { option: 'dataDir', flag: '--data-dir', path: ['storage', 'data_dir'] },
];

type Validation = { config: Config } | { errors: string[] };

/** Validates a parsed YAML document (any JS value) into a Config, or every error with its key path. */
function validateConfig(raw: unknown, source?: string): Validation {
  return validate(raw, source, new Map());
}

/** The configuration used when there is no file and no flags. */
function defaultConfig(): Config {
  const result = validateConfig(undefined);
  if ('errors' in result) throw new Error(`built-in defaults are invalid: ${result.errors.join('; ')}`);
  return result.config;
}

/**
 * Reads `file` (if given), applies `overrides` and validates the result.
 * Throws ConfigError with every problem: unreadable file, YAML syntax, schema, flags.
 */
function loadConfig(file: string | undefined, overrides: CliOverrides = {}): Config {
  const given = OVERRIDES.filter((o) => overrides[o.option] !== undefined);
  let raw: unknown;
  if (file !== undefined) {
    const parsed = readYaml(file);
    if ('errors' in parsed) {
      // The document is unusable, but the flags can still be checked on their own.
      const flagErrors = given.flatMap((o) => validateAlone(o, overrides[o.option]!));
      throw new ConfigError([...parsed.errors, ...flagErrors], file);
    }
    raw = parsed.value;
  }

  // The flags are set into the parsed tree itself: it is this call's own (no copy: structuredClone of
  // a 10,000-SLO tree cost about as much as parsing it).
  const merged = raw ?? {};
  const labels = new Map<string, string>();
  const flagErrors: string[] = [];
  for (const o of given) {
    if (setIn(merged, o.path, overrides[o.option])) labels.set(o.path.join('.'), o.flag);
    // A parent in the file is not a mapping: that is reported against the file; check the flag alone.
    else flagErrors.push(...validateAlone(o, overrides[o.option]!));
  }

  const result = validate(merged, file === undefined ? undefined : resolve(file), labels);
  const errors = [...flagErrors, ...('errors' in result ? result.errors : [])];
  if (errors.length > 0 || 'errors' in result) throw new ConfigError(errors, file);
  return result.config;
}

function validate(raw: unknown, source: string | undefined, labels: ReadonlyMap<string, string>): Validation {
  const label = (path: string) => labels.get(path) ?? path;
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) return { errors: result.error.issues.flatMap((issue) => formatIssue(issue, label)) };
  const errors = crossCheck(result.data, label);
  if (errors.length > 0) return { errors };
  return { config: source === undefined ? result.data : { ...result.data, source } };
}

/** One flag's value checked as if it were the only key in the file. */
function validateAlone(override: (typeof OVERRIDES)[number], value: string): string[] {
  const raw = {};
  setIn(raw, override.path, value);
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (result.success) return [];
  const key = override.path.join('.');
  return result.error.issues.filter((i) => formatPath(i.path) === key).flatMap((i) => formatIssue(i, () => override.flag));
}

/** Sets `path` in a plain-object tree, creating missing mappings; false if a parent is not a mapping. */
function setIn(tree: unknown, path: readonly string[], value: unknown): boolean {
  if (!isMapping(tree)) return false;
  let node: Record<string, unknown> = tree;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    if (child === undefined || child === null) node[key] = {};
    else if (!isMapping(child)) return false;
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
  return true;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The file's YAML as plain JS values, or its read / syntax errors (with line and column). */
function readYaml(file: string): { value: unknown } | { errors: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const absolute = resolve(file);
    if (code === 'ENOENT') return { errors: [`file not found: ${absolute}`] };
    if (code === 'EISDIR') return { errors: [`is a directory, not a file: ${absolute}`] };
    if (code === 'EACCES') return { errors: [`permission denied: ${absolute}`] };
    return { errors: [`cannot read ${absolute}: ${(error as Error).message}`] };
  }
  return parseConfigYaml(text);
}

export { ConfigError } from './errors.js';
export { defaultConfig, loadConfig, parseDuration, parseSize, validateConfig };
export type { CliOverrides, Config, Endpoint, Validation };
