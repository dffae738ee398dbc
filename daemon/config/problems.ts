// The hand-written list sections of the config (components, slos, probes): one parse collects every
// problem with its key path below the section, then reports them as zod issues, so they read like
// the rest of the schema's errors.

import { z } from 'zod';
import { describe } from './schema.js';

/** A key path below the section: keys and list indexes. */
export type Path = (string | number)[];

/** Collects problems during one parse; each becomes a zod issue under the section's path. */
export class Problems {
  readonly issues: ({ path: Path; message: string } | { path: Path; keys: string[] })[] = [];
  add(path: Path, message: string): void {
    this.issues.push({ path, message });
  }
  /** Reports keys of `value` not in `allowed`; false when `value` is not a mapping (reported). */
  mapping(path: Path, value: unknown, allowed: readonly string[]): value is Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.add(path, `must be a mapping (got ${describe(value)})`);
      return false;
    }
    const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
    if (unknown.length > 0) this.issues.push({ path, keys: unknown });
    return true;
  }
}

/**
 * Wraps a list parser as a schema leaf: absent or null is an empty list; anything but a list is
 * `must be ${what}`; every item's problems are reported, and then the section is rejected.
 */
export function listSection<T>(parseItem: (value: unknown, path: Path, problems: Problems) => T | undefined, what = 'a list') {
  return z
    .unknown()
    .optional()
    .transform((value, ctx): T[] => {
      const problems = new Problems();
      const items: T[] = [];
      if (value === undefined || value === null) return items;
      if (!Array.isArray(value)) {
        ctx.addIssue({ code: 'custom', message: `must be ${what} (got ${describe(value)})`, input: value });
        return z.NEVER;
      }
      value.forEach((item, i) => {
        const parsed = parseItem(item, [i], problems);
        if (parsed !== undefined) items.push(parsed);
      });
      for (const issue of problems.issues) {
        if ('keys' in issue) ctx.addIssue({ code: 'unrecognized_keys', keys: issue.keys, path: issue.path, input: {} });
        else ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path, input: value });
      }
      return problems.issues.length > 0 ? z.NEVER : items;
    });
}
