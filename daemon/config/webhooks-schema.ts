// `status.webhooks:` — signed status-change webhooks (exporters/webhooks). Each problem is reported
// with its key path, e.g. `status.webhooks[1].secret: must be at least 16 characters`.

import { z } from 'zod';
import { describe, parseDuration } from './schema.js';
import type { WebhookSettings } from './types.js';

const KEYS = ['url', 'secret', 'max_attempts', 'timeout', 'max_queue'];
/** Defaults of the optional keys (exporters/webhooks/README.md mirrors them). */
export const WEBHOOK_DEFAULTS = { maxAttempts: 8, timeoutMs: 10_000, maxQueue: 1000 } as const;

/** The `status.webhooks` leaf: absent or null is no webhooks. */
export const webhooksSchema = z
  .unknown()
  .optional()
  .transform((value, ctx): WebhookSettings[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: `must be a list of { url, secret } (got ${describe(value)})`, input: value });
      return z.NEVER;
    }
    const out: WebhookSettings[] = [];
    let failed = false;
    const problem = (path: (string | number)[], message: string): void => {
      failed = true;
      ctx.addIssue({ code: 'custom', message, path, input: value });
    };
    value.forEach((item: unknown, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) return problem([i], `must be a mapping with url and secret (got ${describe(item)})`);
      const hook = item as Record<string, unknown>;
      const unknown = Object.keys(hook).filter((k) => !KEYS.includes(k));
      if (unknown.length > 0) {
        failed = true;
        ctx.addIssue({ code: 'unrecognized_keys', keys: unknown, path: [i], input: hook });
      }
      const url = hook['url'];
      let parsed: URL | undefined;
      try {
        parsed = typeof url === 'string' ? new URL(url) : undefined;
      } catch {
        parsed = undefined;
      }
      if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) problem([i, 'url'], `must be an http:// or https:// URL (got ${describe(url)})`);
      const secret = hook['secret'];
      if (typeof secret !== 'string' || secret.length < 16) problem([i, 'secret'], `must be a string of at least 16 characters (got ${typeof secret === 'string' ? `${secret.length} characters` : describe(secret)})`);
      const int = (key: string, fallback: number, max: number): number => {
        const v = hook[key] ?? fallback;
        if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= max) return v;
        problem([i, key], `must be an integer from 1 to ${max} (got ${describe(v)})`);
        return fallback;
      };
      const maxAttempts = int('max_attempts', WEBHOOK_DEFAULTS.maxAttempts, 20);
      const maxQueue = int('max_queue', WEBHOOK_DEFAULTS.maxQueue, 100_000);
      const timeoutText = hook['timeout'];
      const timeoutMs = timeoutText === undefined ? WEBHOOK_DEFAULTS.timeoutMs : typeof timeoutText === 'string' ? parseDuration(timeoutText) : undefined;
      if (timeoutMs === undefined || timeoutMs <= 0 || timeoutMs > 60_000) problem([i, 'timeout'], `must be a duration up to 1m, e.g. 10s (got ${describe(timeoutText)})`);
      if (typeof url === 'string' && typeof secret === 'string') out.push({ url, secret, maxAttempts, timeoutMs: timeoutMs ?? WEBHOOK_DEFAULTS.timeoutMs, maxQueue });
    });
    return failed ? z.NEVER : out;
  });
